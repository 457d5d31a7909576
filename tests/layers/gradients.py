"""Helpers to read a layer's output and its gradients for a linear loss sum(out * phi)."""

import numpy as np
import tensorflow as tf


def output_and_gradients(layer, inputs, phi):
    """Returns (output, dL/dinputs, dL/dkernel) as float64 arrays for L = sum(out * phi)."""
    x = tf.constant(inputs, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = layer(x)
        loss = tf.reduce_sum(out * tf.constant(phi, tf.float32))
    grad_x, grad_u = tape.gradient(loss, [x, layer.kernel])
    return (
        out.numpy().astype(np.float64),
        grad_x.numpy().astype(np.float64),
        grad_u.numpy().astype(np.float64),
    )
