"""``PatchNormalizedConv2D``: a Conv2D that sees each patch L1-normalised."""

import keras
import tensorflow as tf


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
        per_group = self.filters // self.groups
        shape = tf.shape(linear)
        grouped = tf.reshape(
            linear, tf.concat([shape[:3], [self.groups, per_group]], axis=0)
        )
        normalized = tf.math.divide_no_nan(grouped, patch_sums[..., tf.newaxis])
        outputs = tf.reshape(normalized, shape)
        if self.use_bias:
            outputs = outputs + self.bias
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    def _patch_sums(self, inputs):
        """Sum of each (kh, kw, C/groups) patch, by group: (B, H', W', groups)."""
        shape = tf.shape(inputs)
        per_group = self.kernel.shape[2]  # input channels of each group
        channel_sums = tf.reduce_sum(
            tf.reshape(inputs, tf.concat([shape[:3], [self.groups, per_group]], 0)),
            axis=-1,
        )
        ones = tf.ones(self.kernel_size + (1, 1), dtype=inputs.dtype)
        return tf.nn.depthwise_conv2d(
            channel_sums,
            tf.tile(ones, [1, 1, self.groups, 1]),
            strides=(1,) + tuple(self.strides) + (1,),
            padding=self.padding.upper(),
            dilations=self.dilation_rate,
        )
