"""Do the NMF iterations (eq. 6) keep their accuracy under TF32? Measured on a CPU by emulation.

On Ampere and newer NVIDIA GPUs TensorFlow runs float32 matmuls as TF32 by
default: the tensor cores read each input with a 10-bit mantissa (float32 has
23) and accumulate in float32. The iterations are two matmuls per step
(R = W h and W^T (x / R)), repeated N times, so TF32 could change h(N).

This module emulates TF32 in :func:`keras_nmf.ops.nmf_iterations`: every
matmul input is rounded to 10 mantissa bits (to nearest, ties away from zero,
as cuBLAS converts; or truncated, the worst case) and the product accumulated
in float32. The error of h(N) against the float64 iterations is set beside
what CNMF2D already accepts under mixed precision, where the layer's input
arrives rounded to bfloat16 or float16 and the iterations then run in
float32. ``tests/gpu/test_gpu.py`` measures the real TF32 on a GPU.

Error measures, over patterns (each h sums to 1):

* ``l1_median`` / ``l1_max``: sum_i |h_i - h64_i|, the mass moved, median and
  worst pattern;
* ``max_relative``: max |h - h64| / max |h64|, as ``tests/gpu`` reports it.
"""

import numpy as np
import tensorflow as tf

from keras_nmf.ops import NMFOptions, nmf_iterations
from keras_nmf.ops.patches import extract_patches

FLOAT32_MANTISSA_BITS = 23
TF32_MANTISSA_BITS = 10
ROUNDINGS = ("nearest", "truncate")


def round_mantissa(x, bits=TF32_MANTISSA_BITS, rounding="nearest"):
    """float32 ``x`` with its mantissa cut to ``bits`` bits (TF32: 10).

    ``rounding="nearest"`` rounds half away from zero (a carry into the
    exponent is exact, since float32 is sign-magnitude); ``"truncate"`` drops
    the low bits. Finite inputs only.
    """
    if rounding not in ROUNDINGS:
        raise ValueError(f"Unknown rounding {rounding!r}. Valid choices: {', '.join(ROUNDINGS)}.")
    dropped = FLOAT32_MANTISSA_BITS - bits
    as_int = tf.bitcast(tf.convert_to_tensor(x, tf.float32), tf.int32)
    if rounding == "nearest":
        as_int = as_int + (1 << (dropped - 1))
    return tf.bitcast(tf.bitwise.bitwise_and(as_int, -(1 << dropped)), tf.float32)


def tf32_matmul(rounding="nearest"):
    """A ``tf.matmul`` whose inputs are rounded as TF32 tensor cores read them, accumulated in float32."""

    def matmul(a, b, **kwargs):
        return tf.matmul(round_mantissa(a, rounding=rounding), round_mantissa(b, rounding=rounding), **kwargs)

    return matmul


def h_errors(h, reference):
    """The error measures of the module docstring, for h and the float64 h of the same patterns."""
    difference = np.abs(np.asarray(h, np.float64) - reference)
    per_pattern = difference.sum(axis=-1)
    return {
        "l1_median": float(np.median(per_pattern)),
        "l1_max": float(per_pattern.max()),
        "max_relative": float(difference.max() / np.abs(reference).max()),
    }


def iteration_errors(x, w, iterations=20):
    """h(N)'s error against the float64 iterations, per numeric mode.

    Args:
        x: (P, S) non-negative patterns (any scale: the iterations normalise them).
        w: (S, I) non-negative weights with unit column sums (eq. 20).
        iterations: N.

    Returns:
        ``{mode: h_errors}`` for ``float32``, ``tf32`` (nearest), ``tf32_truncate``,
        and the input rounding of the mixed policies, ``bfloat16_input`` and
        ``float16_input`` (x rounded, then float32 iterations).
    """
    x64, w64 = np.asarray(x, np.float64), np.asarray(w, np.float64)
    reference = nmf_iterations(tf.constant(x64), tf.constant(w64), NMFOptions(iterations=iterations)).numpy()
    x32, w32 = tf.constant(x64, tf.float32), tf.constant(w64, tf.float32)
    modes = {
        "float32": lambda: nmf_iterations(x32, w32, NMFOptions(iterations=iterations)),
        "tf32": lambda: nmf_iterations(x32, w32, NMFOptions(iterations=iterations), matmul=tf32_matmul("nearest")),
        "tf32_truncate": lambda: nmf_iterations(
            x32, w32, NMFOptions(iterations=iterations), matmul=tf32_matmul("truncate")
        ),
        "bfloat16_input": lambda: nmf_iterations(
            tf.cast(tf.cast(x32, tf.bfloat16), tf.float32), w32, NMFOptions(iterations=iterations)
        ),
        "float16_input": lambda: nmf_iterations(
            tf.cast(tf.cast(x32, tf.float16), tf.float32), w32, NMFOptions(iterations=iterations)
        ),
    }
    return {mode: h_errors(run().numpy(), reference) for mode, run in modes.items()}


def random_nmf_weights(patch_size, filters, seed=0):
    """W = |U| / sum|U| (eq. 20) for U drawn like CNMF2D's initial kernel (uniform, non-negative)."""
    kernel = np.random.default_rng(seed).random((patch_size, filters))
    return kernel / kernel.sum(axis=0, keepdims=True)


def image_patterns(images, kernel_size=5):
    """Every kernel_size x kernel_size patch (stride 1, valid) of float images (B, H, W, C), as (P, S)."""
    patches = extract_patches(
        tf.convert_to_tensor(images, tf.float32), (kernel_size, kernel_size), (1, 1), (1, 1), "valid"
    )  # as CNMF2D extracts them
    return patches.numpy().reshape(-1, patches.shape[-1])


def measure(images=None, iterations_list=(5, 20, 50), seed=0):
    """The paper's two NMF shapes, each over ``iterations_list``.

    * ``block1``: 5x5x3 patches (S = 75) of ``images`` (float in [0, 1], e.g.
      CIFAR-10 test images; random pixels when None), I = 32;
    * ``block2``: random non-negative patterns of block 2's size, S = 800
      (5x5x32), I = 64, 4,096 of them.

    Weights are random unit-column-sum matrices (eq. 20) at CNMF2D's initial
    scale. Returns a list of ``{"shape", "iterations", "mode", **h_errors}`` rows.
    """
    rng = np.random.default_rng(seed)
    if images is None:
        images = rng.random((16, 28, 28, 3))
    cases = {
        "block1 (S=75, I=32)": (image_patterns(images), random_nmf_weights(75, 32, seed)),
        "block2 (S=800, I=64)": (
            rng.random((4096, 800)) * (rng.random((4096, 800)) < 0.5),
            random_nmf_weights(800, 64, seed),
        ),
    }
    rows = []
    for shape, (x, w) in cases.items():
        for iterations in iterations_list:
            for mode, errors in iteration_errors(x, w, iterations).items():
                rows.append({"shape": shape, "patterns": len(x), "iterations": iterations, "mode": mode, **errors})
    return rows


def format_table(rows):
    """A Markdown table of :func:`measure`'s rows."""
    lines = ["| shape | N | mode | L1 error median | L1 error max | max relative |", "|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(
            f"| {row['shape']} | {row['iterations']} | {row['mode']} | {row['l1_median']:.1e} | "
            f"{row['l1_max']:.1e} | {row['max_relative']:.1e} |"
        )
    return "\n".join(lines)
