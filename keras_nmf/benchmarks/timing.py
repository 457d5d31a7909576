"""Honest timing: warm-up calls absorb tracing and compilation, then medians."""

import statistics
import time

import keras

from keras_nmf import backend


def _block(result):
    """Waits for every tensor in ``result`` (JAX and CUDA dispatch asynchronously)."""
    backend.block_until_ready(result)


def median_ms(fn, *args, warmup=2, repeats=10):
    """Median wall time of ``fn(*args)`` in milliseconds, results materialised."""
    for _ in range(warmup):
        _block(fn(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        _block(fn(*args))
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def paired_medians_ms(fn_long, fn_short, *args, warmup=2, repeats=10):
    """Times ``fn_long`` and ``fn_short`` alternately, back to back.

    Returns (median of fn_long, median of fn_short, median of the pairwise
    differences) in milliseconds. Differencing each pair cancels the drift of
    a shared machine, which the difference of two separate medians would add.
    """
    for _ in range(warmup):
        _block(fn_long(*args))
        _block(fn_short(*args))
    long_times, short_times = [], []
    for _ in range(repeats):
        for fn, times in ((fn_long, long_times), (fn_short, short_times)):
            start = time.perf_counter()
            _block(fn(*args))
            times.append((time.perf_counter() - start) * 1e3)
    differences = [a - b for a, b in zip(long_times, short_times)]
    return (
        statistics.median(long_times),
        statistics.median(short_times),
        statistics.median(differences),
    )


def compiled(fn, jit=True):
    """``fn`` compiled by the active backend: ``tf.function`` (XLA if ``jit``), ``jax.jit``; PyTorch: as it is."""
    return backend.compile_function(fn, jit)


def matmul_gflops(size=2048, repeats=10):
    """This machine's float32 matmul rate (GFLOP/s) on a square ``size`` product."""
    a = keras.random.uniform((size, size))
    b = keras.random.uniform((size, size))
    return 2 * size**3 / median_ms(compiled(keras.ops.matmul, jit=False), a, b, repeats=repeats) / 1e6


def nmf_iteration_flops(patterns, pattern_size, filters, iterations):
    """FLOPs of N NMF updates (eq. 6): two (P x S) by (S x I) matmuls per step."""
    return iterations * 2 * (2 * patterns * pattern_size * filters)
