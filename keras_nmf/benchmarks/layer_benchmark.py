"""Cost of one CNMF2D layer: forward, approx and autodiff backward, GFLOP/s.

Default problem: the paper's block-2 layer (input 12x12x32, 5x5 kernel,
64 filters, batch 50, N = 20). Every step is a ``tf.function``; ``jit`` picks
XLA compilation.
"""

import tensorflow as tf

from keras_nmf import ops
from keras_nmf.benchmarks.timing import (
    matmul_gflops,
    median_ms,
    nmf_iteration_flops,
    paired_medians_ms,
)
from keras_nmf.layers import CNMF2D


def _layer_step_times(layer, images, jit, repeats):
    """(forward+backward ms, forward ms, backward ms) of a layer on ``images``."""
    forward = tf.function(layer, jit_compile=jit)

    @tf.function(jit_compile=jit)
    def forward_backward(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.square(layer(x)))
        return tape.gradient(loss, [x, layer.kernel])

    return paired_medians_ms(forward_backward, forward, images, repeats=repeats)


def run(
    batch=50,
    input_shape=(12, 12, 32),
    kernel_size=5,
    filters=64,
    iterations=20,
    jit=True,
    repeats=10,
):
    """Times the layer and returns a dict of figures (milliseconds, GFLOP/s)."""
    images = tf.random.uniform((batch,) + tuple(input_shape))
    figures = {
        "jit": jit,
        "batch": batch,
        "input_shape": list(input_shape),
        "kernel_size": kernel_size,
        "filters": filters,
        "iterations": iterations,
    }
    for backward in ("approx", "autodiff"):
        layer = CNMF2D(filters, kernel_size, iterations=iterations, backward=backward)
        layer.build(images.shape)
        total_ms, forward_ms, backward_ms = _layer_step_times(layer, images, jit, repeats)
        if backward == "approx":
            figures["forward_ms"] = forward_ms
        figures[f"backward_{backward}_ms"] = backward_ms
        figures[f"forward_backward_{backward}_ms"] = total_ms

    # The iterations alone, on the layer's own (P, S) x (S, I) problem.
    out_h = ops.conv_output_length(input_shape[0], kernel_size, 1, 1, "valid")
    out_w = ops.conv_output_length(input_shape[1], kernel_size, 1, 1, "valid")
    patterns = batch * out_h * out_w
    size = kernel_size * kernel_size * input_shape[2]
    x = ops.l1_normalize(tf.random.uniform((patterns, size)))
    w = ops.nmf_weights(tf.random.uniform((size, filters)))
    iterate = tf.function(lambda x, w: ops.nmf_iterations(x, w, ops.NMFOptions(iterations=iterations)), jit_compile=jit)
    iterations_ms = median_ms(iterate, x, w, repeats=repeats)
    flops = nmf_iteration_flops(patterns, size, filters, iterations)
    figures["iterations_ms"] = iterations_ms
    figures["nmf_gflops"] = flops / iterations_ms / 1e6
    figures["matmul_gflops"] = matmul_gflops()
    figures["nmf_fraction_of_matmul"] = figures["nmf_gflops"] / figures["matmul_gflops"]
    return figures
