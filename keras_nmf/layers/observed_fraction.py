"""``ObservedFraction``: how observed each patch of a mask is, the mask of the next NMF block."""

import keras

from keras_nmf.nmf_arguments import positive_int


@keras.saving.register_keras_serializable(package="keras_nmf")
class ObservedFraction(keras.layers.Layer):
    """The fraction of observed entries in each ``kernel_size`` patch (valid, stride 1) of a mask, over all channels.

    A ``CNMF2D`` feature at a position explains one patch of its input; it is
    as observed as that patch was. So the mask that the next NMF block
    receives (``CNMF2D(..., observed=...)``, weights in [0, 1]) is this
    fraction, one channel, on the layer's output grid, then average-pooled
    like the feature map (``pool``).

    Args:
        kernel_size: int, the patch side of the NMF layer whose output grid this follows.
        pool: int, the average pooling after that layer (1: none).

    Input shape:
        ``(batch, H, W, C)`` mask, 1 observed, 0 missing (or weights in [0, 1]).

    Output shape:
        ``(batch, (H - kernel_size + 1) // pool, (W - kernel_size + 1) // pool, 1)``.
    """

    def __init__(self, kernel_size, pool=1, **kwargs):
        super().__init__(**kwargs)
        self.kernel_size = positive_int(kernel_size, "kernel_size")
        self.pool = positive_int(pool, "pool")

    def call(self, observed):
        fraction = keras.ops.mean(keras.ops.cast(observed, "float32"), axis=-1, keepdims=True)
        fraction = keras.ops.average_pool(fraction, self.kernel_size, strides=1, padding="valid")
        if self.pool > 1:
            fraction = keras.ops.average_pool(fraction, self.pool, strides=self.pool, padding="valid")
        return fraction

    def compute_output_shape(self, input_shape):
        shrink = lambda size: None if size is None else (size - self.kernel_size + 1) // self.pool  # noqa: E731
        return (input_shape[0], shrink(input_shape[1]), shrink(input_shape[2]), 1)

    def get_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size, "pool": self.pool}
