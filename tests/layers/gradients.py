"""Helpers to read a layer's output and its gradients for a linear loss sum(out * phi)."""

import numpy as np
import tensorflow as tf


def output_and_gradients(layer, inputs, phi, mode="eager"):
    """Returns (output, dL/dinputs, dL/dkernel) as float64 arrays for L = sum(out * phi).

    ``mode``: ``"eager"``, ``"graph"`` (a tf.function traced with an unknown
    batch size, as ``fit`` traces) or ``"xla"`` (``jit_compile=True``).
    """

    def forward_backward(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = layer(x)
            loss = tf.reduce_sum(out * tf.constant(phi, tf.float32))
        return (out,) + tuple(tape.gradient(loss, [x, layer.kernel]))

    if mode != "eager":
        signature = [tf.TensorSpec((None,) + tuple(inputs.shape[1:]), tf.float32)]
        forward_backward = tf.function(
            forward_backward,
            input_signature=None if mode == "xla" else signature,
            jit_compile=mode == "xla",
        )
    out, grad_x, grad_u = forward_backward(tf.constant(inputs, tf.float32))
    return (
        out.numpy().astype(np.float64),
        grad_x.numpy().astype(np.float64),
        grad_u.numpy().astype(np.float64),
    )
