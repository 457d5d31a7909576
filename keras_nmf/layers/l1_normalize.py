"""``L1Normalize``: divide by the sum along an axis (the between-block normalisation)."""

import numbers

import keras

from keras_nmf import ops


@keras.saving.register_keras_serializable(package="keras_nmf")
class L1Normalize(keras.layers.Layer):
    """Divides a non-negative input by its sum along ``axis``.

    Used between blocks of the paper's networks (after a ReLU, over channels).
    Where the sum is 0 the output and its gradient are 0 (divide-no-NaN), so a
    silenced position never produces NaN or a huge gradient.

    Args:
        axis: int, the axis to sum over. Defaults to -1 (channels).
        **kwargs: base ``keras.layers.Layer`` arguments.

    Input shape:
        Any; output has the same shape.
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
            raise ValueError(f"`axis` must be an int (the axis to sum over). Received: axis={axis!r}")
        self.axis = int(axis)

    def build(self, input_shape):
        rank = len(input_shape)
        if not -rank <= self.axis < rank:
            raise ValueError(
                f"Layer '{self.name}': `axis` must be an axis of the {rank}-D input (from {-rank} to "
                f"{rank - 1}). Received: axis={self.axis}, input_shape={tuple(input_shape)}"
            )

    def call(self, inputs):
        return ops.l1_normalize(inputs, axis=self.axis)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config
