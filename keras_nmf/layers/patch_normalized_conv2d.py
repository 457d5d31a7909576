"""``PatchNormalizedConv2D``: a Conv2D that sees each patch L1-normalised."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_nmf")
class PatchNormalizedConv2D(keras.layers.Conv2D):
    """``Conv2D`` applied to L1-normalised patches (the paper's CNN baseline).

    The authors' CNN normalises every k x k x C patch to unit sum before the
    convolution, exactly as an NMF layer normalises its input, so that CNN and
    CNMF networks differ only in the module type (Nouri et al., Figure 4 and the authors' code). The
    convolution is linear, so this is computed without materialising patches:
    ``conv(x) / patch_sum(x) + bias``, where ``patch_sum`` is a box sum over
    each group's channels (0 where the patch is all zero: divide-no-NaN).

    Takes the arguments of ``keras.layers.Conv2D`` (``padding="valid"`` or
    ``"same"``; zero padding adds nothing to a patch sum).
    """

    def call(self, inputs):
        linear = self.convolution_op(inputs, self.kernel)
        patch_sums = self._patch_sums(inputs)  # (B, H', W', groups)
        shape = ops.shape(linear)
        grouped = ops.reshape(linear, tuple(shape[:3]) + (self.groups, self.filters // self.groups))
        normalized = ops.divide_no_nan(grouped, ops.expand_dims(patch_sums, -1))
        outputs = ops.reshape(normalized, shape)
        if self.use_bias:
            outputs = outputs + self.bias
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    def _patch_sums(self, inputs):
        """Sum of each (kh, kw, C/groups) patch, by group: (B, H', W', groups)."""
        shape = ops.shape(inputs)
        per_group = self.kernel.shape[2]  # input channels of each group
        channel_sums = ops.sum(ops.reshape(inputs, tuple(shape[:3]) + (self.groups, per_group)), axis=-1)
        return ops.depthwise_conv(
            channel_sums,
            ops.ones(self.kernel_size + (self.groups, 1), dtype=inputs.dtype),
            strides=self.strides,
            padding=self.padding,
            dilation_rate=self.dilation_rate,
        )
