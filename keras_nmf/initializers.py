"""Initializers of the paper's networks."""

import keras
import numpy as np


@keras.saving.register_keras_serializable(package="keras_nmf")
class NearIdentity(keras.initializers.Initializer):
    """A 1x1 convolution kernel that starts near the identity map.

    ``kernel[0, 0, i, f] = 1`` where input channel ``i`` is ``f`` modulo the
    kernel's input channels (for grouped kernels: the identity inside each
    group), plus Uniform(-noise, noise). The authors' 1x1 mixing convolutions
    start like this (PAPER.md section 5), so the local interactions begin as a
    pass-through of the NMF features.

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
        jitter = keras.random.uniform(
            shape, -self.noise, self.noise, dtype=dtype, seed=self.seed
        )
        return keras.ops.cast(identity, dtype) + jitter

    def get_config(self):
        return {"noise": self.noise, "seed": self.seed}
