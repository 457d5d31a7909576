"""Compile and step time of a ``CNMF2D`` training step against N: unrolled up to ``UNROLL_LIMIT``, a loop above.

Up to :data:`keras_nmf.ops.nmf.UNROLL_LIMIT` iterations the N updates (eq. 6)
are unrolled, one set of ops per step; above it they run as one
``keras.ops.fori_loop``, so the traced graph, and with it the compile time,
stays the same size however large N is. With a ``tolerance`` the updates run
as one ``keras.ops.while_loop`` whatever N. :func:`iteration_timings` measures
the three in one process.
"""

import contextlib
import importlib
import time

import keras
import numpy as np

from keras_nmf.benchmarks.timing import _block, median_ms
from keras_nmf.layers import CNMF2D

#: The module, not ``keras_nmf.ops.nmf`` (the package exports a function of that name).
nmf_module = importlib.import_module("keras_nmf.ops.nmf")


def _train_step(iterations, jit, tolerance=None):
    """A compiled train step of one ``CNMF2D(32, 5)`` layer on 28x28x3 images (block 1 of the paper's networks)."""
    inputs = keras.Input((28, 28, 3))
    layer = CNMF2D(32, 5, iterations=iterations, tolerance=tolerance)
    outputs = keras.layers.GlobalAveragePooling2D()(layer(inputs))
    model = keras.Model(inputs, keras.layers.Dense(10)(outputs))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=jit)
    return model


@contextlib.contextmanager
def _unrolled_always():
    limit = nmf_module.UNROLL_LIMIT
    nmf_module.UNROLL_LIMIT = float("inf")
    try:
        yield
    finally:
        nmf_module.UNROLL_LIMIT = limit


def iteration_timings(
    iterations=(20, 100, 1000), batch_size=50, jit=True, repeats=5, seed=0, unrolled=(), tolerance=None
):
    """One row per N: ``{"iterations", "loop", "tolerance", "compile_s", "step_ms"}``.

    ``compile_s``: the first ``train_on_batch`` (tracing and compiling, plus one
    step); ``step_ms``: the median of ``repeats`` later steps. ``unrolled``:
    further N timed with the updates unrolled whatever N (the side by side of
    the switch). ``tolerance``: every N timed again with this tolerance (the while loop).
    """
    rng = np.random.default_rng(seed)
    images = rng.random((batch_size, 28, 28, 3)).astype("float32")
    labels = rng.integers(0, 10, batch_size)
    plan = [(n, contextlib.nullcontext, None) for n in iterations] + [(n, _unrolled_always, None) for n in unrolled]
    plan += [(n, contextlib.nullcontext, tolerance) for n in iterations] if tolerance is not None else []
    rows = []
    for n, mode, stop in plan:
        with mode():
            loop = n > nmf_module.UNROLL_LIMIT
            keras.backend.clear_session()
            model = _train_step(n, jit, stop)
            start = time.perf_counter()
            _block(model.train_on_batch(images, labels))
            compile_s = time.perf_counter() - start
            step_ms = median_ms(model.train_on_batch, images, labels, warmup=1, repeats=repeats)
        rows.append({"iterations": n, "loop": loop, "tolerance": stop, "compile_s": compile_s, "step_ms": step_ms})
    return rows


def markdown_table(rows):
    lines = ["| N | iterations run as | first step (trace + compile + step), s | step, ms |", "|---|---|---|---|"]
    for row in rows:
        kind = "fori_loop" if row["loop"] else "unrolled"
        if row.get("tolerance") is not None:
            kind = f"while_loop, tolerance {row['tolerance']:g}"
        lines.append(f"| {row['iterations']} | {kind} | {row['compile_s']:.1f} | {row['step_ms']:.0f} |")
    return "\n".join(lines)
