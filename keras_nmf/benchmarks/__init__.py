"""Benchmarks behind scripts/bench_*.py (importable, so tests can run them quickly)."""
