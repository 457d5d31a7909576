"""Shared constructor, validation and math of the NMF layers."""

import keras
import tensorflow as tf

from keras_nmf import ops


def validate_nmf_arguments(iterations, epsilon, backward, learning):
    """Raises ``ValueError`` for NMF arguments outside their domain."""
    if not isinstance(iterations, int) or isinstance(iterations, bool) or iterations < 1:
        raise ValueError(
            "`iterations` (N, the number of eq. 6 updates) must be an integer >= 1. "
            f"Received: iterations={iterations}"
        )
    if epsilon is not None and not (0.0 < float(epsilon) <= 1.0):
        raise ValueError(
            "`epsilon` (eq. 6's step size) must be None (plain multiplicative "
            "update) or a float in (0, 1]; larger steps can make h negative. "
            f"Received: epsilon={epsilon}"
        )
    if backward not in ops.BACKWARD_MODES:
        raise ValueError(
            f"`backward` must be one of {ops.BACKWARD_MODES}. Received: backward={backward!r}"
        )
    if learning not in ops.LEARNING_MODES:
        raise ValueError(
            f"`learning` must be one of {ops.LEARNING_MODES}. Received: learning={learning!r}"
        )
    if learning == "local" and backward != "approx":
        raise ValueError(
            "`learning='local'` replaces the weight gradient of the one-step "
            "backward, so it needs `backward='approx'`. "
            f"Received: backward={backward!r}, learning={learning!r}"
        )


class BaseNMF(keras.layers.Layer):
    """Holds the arguments and math shared by ``NMFDense`` and ``CNMF2D``.

    Subclasses create ``self.kernel`` (the free kernel U, eq. 20) in ``build``
    and call :meth:`_infer` on per-group patterns.
    """

    def __init__(
        self,
        iterations=20,
        epsilon=None,
        backward="approx",
        learning="backprop",
        kernel_initializer=None,
        check_inputs=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        validate_nmf_arguments(iterations, epsilon, backward, learning)
        self.iterations = iterations
        self.epsilon = None if epsilon is None else float(epsilon)
        self.backward = backward
        self.learning = learning
        self.kernel_initializer = keras.initializers.get(
            kernel_initializer
            or keras.initializers.RandomUniform(minval=0.0, maxval=1.0)
        )
        self.check_inputs = bool(check_inputs)

    def _add_kernel(self, shape):
        # autocast=False: under mixed precision the kernel is read in float32,
        # so eq. 20 and the iterations never see a float16 W.
        self.kernel = self.add_weight(
            name="kernel",
            shape=shape,
            initializer=self.kernel_initializer,
            trainable=True,
            autocast=False,
        )

    def _prepare_input(self, inputs):
        """Casts to float32 and checks x >= 0 and finite."""
        x = tf.cast(inputs, tf.float32)
        if self.check_inputs:
            x = ops.check_non_negative_finite(x, self.name)
        return x

    def _infer(self, patterns, weights):
        """NMF of ([G,] P, S) patterns (L1-normalised inside) on ([G,] S, I) weights."""
        return ops.nmf(
            patterns,
            weights,
            self.iterations,
            self.epsilon,
            backward=self.backward,
            learning=self.learning,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "iterations": self.iterations,
                "epsilon": self.epsilon,
                "backward": self.backward,
                "learning": self.learning,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "check_inputs": self.check_inputs,
            }
        )
        return config
