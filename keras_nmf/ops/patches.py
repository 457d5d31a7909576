"""Patch extraction for convolutional NMF (Nouri et al., convolutional NMF: one NMF problem per patch).

Patches are flattened in (kh, kw, C) order, the order of a ``Conv2D`` kernel,
and the output grid is exactly ``keras.layers.Conv2D``'s for the same
``strides``, ``padding`` and ``dilation_rate``.
"""

import dataclasses
import math

from keras import ops

from keras_nmf import backend


def conv_output_length(input_length, kernel_size, stride, dilation, padding):
    """Output length of one spatial axis, as ``keras.layers.Conv2D`` computes it."""
    if input_length is None:
        return None
    effective_kernel = (kernel_size - 1) * dilation + 1
    if padding == "same":
        return math.ceil(input_length / stride)
    return (input_length - effective_kernel) // stride + 1


def _same_padding(input_length, kernel_size, stride, dilation):
    """(before, after) zero padding of TensorFlow's 'SAME' convolution."""
    effective_kernel = (kernel_size - 1) * dilation + 1
    output_length = math.ceil(input_length / stride)
    total = max((output_length - 1) * stride + effective_kernel - input_length, 0)
    return total // 2, total - total // 2


def extract_patches(images, kernel_size, strides, dilation_rate, padding):
    """Every k x k patch of an NHWC batch, flattened in (kh, kw, C) order.

    Built from kh * kw strided slices stacked on a new axis: no gather, an
    inexpensive gradient (the slices' adjoints), and it compiles under XLA.

    Args:
        images: tensor (B, H, W, C) with static H, W and C.
        kernel_size, strides, dilation_rate: pairs of ints.
        padding: ``"valid"`` or ``"same"`` (zero padding, as Conv2D).

    Returns:
        tensor (B, H', W', kh * kw * C).
    """
    (kh, kw), (sh, sw), (dh, dw) = kernel_size, strides, dilation_rate
    height, width, channels = images.shape[1], images.shape[2], images.shape[3]
    if padding == "same":
        images = ops.pad(
            images,
            [
                [0, 0],
                _same_padding(height, kh, sh, dh),
                _same_padding(width, kw, sw, dw),
                [0, 0],
            ],
        )
    out_h = conv_output_length(height, kh, sh, dh, padding)
    out_w = conv_output_length(width, kw, sw, dw, padding)
    if kh == kw == 1 and sh == sw == 1:
        return images
    slices = [
        images[
            :,
            i * dh : i * dh + (out_h - 1) * sh + 1 : sh,
            j * dw : j * dw + (out_w - 1) * sw + 1 : sw,
            :,
        ]
        for i in range(kh)
        for j in range(kw)
    ]
    patches = ops.stack(slices, axis=3)  # (B, H', W', kh * kw, C)
    return ops.reshape(patches, (-1, out_h, out_w, kh * kw * channels))


def split_groups(patches, groups, channels):
    """(B, H', W', kh*kw*C) patches -> (G, P, kh*kw*C/G) per-group patterns.

    Group g holds the contiguous input channels [g*C/G, (g+1)*C/G), as in a
    grouped ``Conv2D``. With one group the result is 2-D, (P, kh*kw*C), a free
    reshape (see ``keras_nmf.ops.nmf`` on 2-D problems).
    """
    if groups == 1:
        return ops.reshape(patches, (-1, patches.shape[-1]))
    taps = patches.shape[-1] // channels
    grouped = ops.reshape(patches, (-1, taps, groups, channels // groups))
    grouped = ops.transpose(grouped, (2, 0, 1, 3))  # (G, P, taps, C/G)
    return ops.reshape(grouped, (groups, -1, taps * (channels // groups)))


@dataclasses.dataclass(frozen=True)
class PatchGeometry:
    """Which patches of an image a convolutional NMF layer factorises: a ``Conv2D``'s geometry, as data.

    ``patterns(images)`` turns a (b, H, W, C) batch into its ([G,] b*Q, S)
    patterns: the patches (:func:`extract_patches`) split by group
    (:func:`split_groups`); the L1 normalisation is part of the iterations.
    """

    kernel_size: tuple
    strides: tuple = (1, 1)
    dilation_rate: tuple = (1, 1)
    padding: str = "valid"
    groups: int = 1

    def patterns(self, images):
        patches = extract_patches(images, self.kernel_size, self.strides, self.dilation_rate, self.padding)
        return split_groups(patches, self.groups, images.shape[-1])

    def fold(self, patterns, image_shape):
        """The adjoint of :meth:`patterns`: each pattern entry added back onto its pixel (overlaps summed).

        ``image_shape`` is the (b, H, W, C) shape the patterns came from. Differentiable on every
        backend: its gradient is :meth:`patterns` of the upstream gradient (the map is linear).
        """

        @backend.custom_gradient
        def _fold(patterns):
            folded = backend.vjp(self.patterns, ops.zeros(image_shape, patterns.dtype), patterns)

            def grad(*args, upstream=None):  # PyTorch passes upstream by keyword, TensorFlow and JAX as args[0]
                return self.patterns(args[0] if upstream is None else upstream)

            return folded, grad

        return _fold(patterns)

    def fold_averaged(self, patterns, image_shape):
        """Each pixel the mean of the pattern entries over it (:meth:`fold`, divided by how many patches cover the
        pixel); 0 where no patch covers it (a pixel that "valid" padding with strides skips)."""
        covering = self.fold(ops.ones_like(patterns), image_shape)
        return ops.divide_no_nan(self.fold(patterns, image_shape), covering)


def merge_groups(h, spatial_shape):
    """(G, P, I/G) or 2-D (P, I) activations -> (B, H', W', I).

    Group g owns filters [g*I/G, (g+1)*I/G). ``spatial_shape`` is (H', W');
    the batch size is inferred.
    """
    if len(h.shape) == 3:
        h = ops.transpose(h, (1, 0, 2))  # (P, G, I/G)
    filters = h.shape[-1] * (h.shape[-2] if len(h.shape) == 3 else 1)
    return ops.reshape(h, (-1, spatial_shape[0], spatial_shape[1], filters))
