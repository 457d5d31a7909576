"""Helpers to read a layer's output and its gradients for a linear loss sum(out * phi)."""

import keras
import numpy as np

from tests.backend import layer_output_and_gradients, to_numpy


def output_and_gradients(layer, inputs, phi, mode="eager"):
    """Returns (output, dL/dinputs, dL/dkernel) as float64 arrays for L = sum(out * phi).

    ``mode``: ``"eager"``, ``"graph"`` (on TensorFlow a tf.function traced with
    an unknown batch size, as ``fit`` traces) or ``"xla"`` (see :mod:`tests.backend`).
    """
    phi = np.asarray(phi, np.float32)
    results = layer_output_and_gradients(
        layer, np.asarray(inputs, np.float32), lambda out: keras.ops.sum(keras.ops.multiply(out, phi)), mode)
    return tuple(to_numpy(value) for value in results)
