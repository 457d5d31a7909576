"""Initializers of the paper's networks."""

import keras
import numpy as np


@keras.saving.register_keras_serializable(package="keras_nmf")
class NearIdentity(keras.initializers.Initializer):
    """A 1x1 convolution kernel that starts near the identity map.

    ``kernel[0, 0, i, f] = 1`` where input channel ``i`` is ``f`` modulo the
    kernel's input channels (for grouped kernels: the identity inside each
    group), plus Uniform(-noise, noise). The authors' 1x1 mixing convolutions
    start like this (Nouri et al., Figure 4 and the authors' code), so the local
    interactions begin as a pass-through of the NMF features.

    Args:
        noise: float >= 0, amplitude of the uniform perturbation.
        seed: int or None.
    """

    def __init__(self, noise=1e-3, seed=None):
        self.noise = float(noise)
        self.seed = seed

    def __call__(self, shape, dtype=None):
        *spatial, in_channels, out_channels = shape
        identity = np.zeros(shape, "float32")
        centre = tuple(size // 2 for size in spatial)
        for f in range(out_channels):
            identity[centre + (f % in_channels, f)] = 1.0
        jitter = keras.random.uniform(shape, -self.noise, self.noise, dtype=dtype, seed=self.seed)
        return keras.ops.cast(identity, dtype) + jitter

    def get_config(self):
        return {"noise": self.noise, "seed": self.seed}


@keras.saving.register_keras_serializable(package="keras_nmf")
class FanInUniform(keras.initializers.Initializer):
    """Uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's default initialisation of a convolution's bias.

    A bias has no fan-in in its own shape, so the layer's fan-in (kernel
    height x width x input channels per group) is given.

    Args:
        fan_in: the convolution's inputs per output unit.
        seed: int or None.
    """

    def __init__(self, fan_in, seed=None):
        if fan_in < 1:
            raise ValueError(f"`fan_in` must be >= 1. Received: fan_in={fan_in!r}")
        self.fan_in = int(fan_in)
        self.seed = seed

    def __call__(self, shape, dtype=None):
        limit = 1.0 / np.sqrt(self.fan_in)
        return keras.random.uniform(shape, -limit, limit, dtype=dtype, seed=self.seed)

    def get_config(self):
        return {"fan_in": self.fan_in, "seed": self.seed}
