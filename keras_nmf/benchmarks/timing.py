"""Honest timing: warm-up calls absorb tracing and compilation, then medians."""

import statistics
import time

import tensorflow as tf


def _block(result):
    for value in tf.nest.flatten(result):
        if hasattr(value, "numpy"):
            value.numpy()


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


def paired_difference_ms(fn_long, fn_short, *args, warmup=2, repeats=10):
    """Median over ``repeats`` of time(fn_long) - time(fn_short), measured back to back.

    Timing the two alternately and differencing each pair cancels the drift
    of a shared machine, which two separate medians would add up.
    """
    for _ in range(warmup):
        _block(fn_long(*args))
        _block(fn_short(*args))
    differences = []
    for _ in range(repeats):
        times = []
        for fn in (fn_long, fn_short):
            start = time.perf_counter()
            _block(fn(*args))
            times.append((time.perf_counter() - start) * 1e3)
        differences.append(times[0] - times[1])
    return statistics.median(differences)


def matmul_gflops(size=2048, repeats=10):
    """This machine's float32 matmul rate (GFLOP/s) on a square ``size`` product."""
    a = tf.random.uniform((size, size))
    b = tf.random.uniform((size, size))
    matmul = tf.function(tf.matmul)
    return 2 * size**3 / median_ms(matmul, a, b, repeats=repeats) / 1e6


def nmf_iteration_flops(patterns, pattern_size, filters, iterations):
    """FLOPs of N NMF updates (eq. 6): two (P x S) by (S x I) matmuls per step."""
    return iterations * 2 * (2 * patterns * pattern_size * filters)
