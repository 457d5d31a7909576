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
        layer, np.asarray(inputs, np.float32), lambda out: keras.ops.sum(keras.ops.multiply(out, phi)), mode
    )
    return tuple(to_numpy(value) for value in results)


class CalledWith(keras.layers.Layer):
    """An NMF layer called with fixed call arguments (``observed``, ``initial_h``; None ones left out), one of its
    outputs taken: what :func:`output_and_gradients` differentiates."""

    def __init__(self, layer, output=0, **call_arguments):
        super().__init__()
        self.layer, self.which = layer, output
        self.call_arguments = {name: value for name, value in call_arguments.items() if value is not None}

    @property
    def kernel(self):
        return self.layer.kernel

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build(input_shape)

    def call(self, x):
        arguments = {name: keras.ops.convert_to_tensor(value) for name, value in self.call_arguments.items()}
        out = self.layer(x, **arguments)
        return out[self.which] if isinstance(out, tuple) else out
