"""``ConvolutiveNMF2D``: convolutive NMF, one NMF problem per image (overlapping patches compete for pixels)."""

import dataclasses

import keras

from keras_nmf.layers.base_nmf import BaseNMF
from keras_nmf.layers.cnmf2d import PADDINGS, _int_pair
from keras_nmf.nmf_arguments import positive_int
from keras_nmf.ops import convolutive
from keras_nmf.ops import diagnostics
from keras_nmf.ops.nmf import initial_activations


@dataclasses.dataclass
class ConvolutiveFactorization:
    """One ``ConvolutiveNMF2D``'s factorisation of a batch, image by image (``layer.factorize``).

    Attributes:
        images: (B, H, W, C) the layer's input, each image L1-normalised.
        reconstruction: (B, H, W, C) conv_transpose(h, W), each image summing to 1.
        h, h_previous: (B, H', W', F) h(N) and h(N-1) (with a tolerance: each image's last two).
        iterations_used: int32 (B,): the updates each image used (N without a tolerance).
    """

    images: object
    reconstruction: object
    h: object
    h_previous: object
    iterations_used: object

    def reconstruction_error(self):
        """``|xhat - R|_1`` per image (0 for a perfect factorisation, at most 2)."""
        return keras.ops.sum(keras.ops.abs(self.images - self.reconstruction), axis=(1, 2, 3))

    def residual(self):
        """``|h(N) - h(N-1)|_1`` per image."""
        return keras.ops.sum(keras.ops.abs(self.h - self.h_previous), axis=(1, 2, 3))

    def sparsity(self):
        """Hoyer sparsity of each image's whole h map."""
        return diagnostics.hoyer_sparsity(keras.ops.reshape(self.h, (self.h.shape[0], -1)))


@keras.saving.register_keras_serializable(package="keras_nmf")
class ConvolutiveNMF2D(BaseNMF):
    """2D convolutive NMF layer: each whole image explained as conv_transpose(h, W) (:mod:`keras_nmf.ops.convolutive`).

    Where :class:`CNMF2D` explains every patch on its own (eq. 6 per patch), this layer solves one NMF problem per
    image: the feature maps h (H', W', filters) rebuild the image through the transposed convolution with the
    non-negative filters W = |U| / sum |U| (eq. 20, per filter over (kh, kw, C/groups)), so overlapping patches
    compete for the same pixels (convolutive NMF, Smaragdis 2004). Each of the ``iterations`` updates is eq. 3 (or
    eq. 6 with ``epsilon``) with a convolution in place of each matmul, from a uniform h(0), renormalised every step
    over the whole map (``normalize="image"``) or over the filters at each position (``"channels"``, the scale of
    ``CNMF2D``'s output). The input and the reconstruction are L1-normalised over (H, W, C).

    Gradients: ``backward="approx"`` is the gradient of one update at the final h held fixed (as eqs. 18-19 are for
    the patch layers), by automatic differentiation of that one update: nothing of the N iterations is kept.
    ``backward="autodiff"`` differentiates through all iterations. ``backward="implicit"`` is refused: the fixed
    point couples every position of an image, so its system has (H' W' F)^2 entries per image (3.4e8 for the first
    block of the paper's networks), not I^2 per patch.

    Args:
        filters: int, number of filters F (feature maps).
        kernel_size: int or pair of ints.
        strides: int or pair of ints. Defaults to 1.
        padding: ``"valid"`` or ``"same"``. The transposed convolution must rebuild the input's size exactly (an
            error otherwise names the sizes).
        groups: int: input channels and filters split into ``groups`` blocks; filter block g rebuilds channel
            block g only (a block-diagonal dictionary of one NMF problem per image).
        normalize: ``"image"`` (h sums to 1 over the whole map) or ``"channels"`` (over the filters at each
            position). Defaults to ``"image"``.
        kernel_initializer, check_inputs, return_reconstruction: as for :class:`CNMF2D`.
        **kwargs: the NMF options, by name, as for :class:`CNMF2D` (:class:`keras_nmf.NMFOptions`), with
            ``backward`` ``"approx"`` or ``"autodiff"``; those named in :attr:`UNSUPPORTED_OPTIONS` are taken at
            their defaults only (another value is refused with the reason there); and the base
            ``keras.layers.Layer`` arguments (``name``, ``dtype``...).

    Call arguments:
        inputs: non-negative tensor ``(batch, height, width, channels)``.
        initial_h: optional h(0) in the output's shape (a warm start), normalised like h(0) (uniform where it sums
            to 0); data: only ``backward="autodiff"`` differentiates it.

    Output shape:
        ``(batch, new_height, new_width, filters)`` as ``Conv2D``'s, in the layer's compute dtype (the iterations
        run in float32); with ``return_reconstruction``, also the reconstruction (L1-normalised, the input's shape).

    Example:

    >>> h = keras_nmf.layers.ConvolutiveNMF2D(32, 5, normalize="channels")(keras.Input((28, 28, 3)))
    >>> h.shape
    (None, 24, 24, 32)
    """

    UNSUPPORTED_OPTIONS = {
        "divergence": "its update is the KL one of eq. 3 with convolutions (the beta-divergence updates of CNMF2D "
        "are per patch)",
        "learning": "the local rule of section 4.2 is written for patches",
        "solver": "the accelerated solvers run on the patch layers' (P, I) activations; the images run the plain "
        "updates",
        "implicit_dtype": "it applies to backward='implicit' only, which this layer does not offer",
    }

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        groups=1,
        normalize="image",
        kernel_initializer=None,
        check_inputs=True,
        return_reconstruction=False,
        **kwargs,
    ):
        if kwargs.get("backward") == "implicit":
            raise ValueError(
                "ConvolutiveNMF2D does not offer backward='implicit': its fixed point couples every position of an "
                "image, so the implicit gradient needs a linear system of (H' W' filters)^2 entries per image. Use "
                "backward='approx' (one update at the final h) or 'autodiff'. Received: backward='implicit'"
            )
        super().__init__(
            kernel_initializer=kernel_initializer,
            check_inputs=check_inputs,
            return_reconstruction=return_reconstruction,
            **kwargs,
        )
        self.filters = positive_int(filters, "filters")
        self.groups = positive_int(groups, "groups")
        if self.filters % self.groups:
            raise ValueError(f"`filters` must be divisible by `groups`. Received: filters={filters}, groups={groups}")
        self.padding = str(padding).lower()
        if self.padding not in PADDINGS:
            raise ValueError(f"`padding` must be one of {PADDINGS}. Received: padding={padding!r}")
        if normalize not in convolutive.NORMALIZATIONS:
            raise ValueError(
                f"`normalize` must be one of {convolutive.NORMALIZATIONS}: h sums to 1 over the whole "
                f"map or over the filters at each position. Received: normalize={normalize!r}"
            )
        self.normalize = normalize
        self.kernel_size = _int_pair(kernel_size, "kernel_size")
        self.strides = _int_pair(strides, "strides")
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None or input_shape[1] is None or input_shape[2] is None:
            raise ValueError(
                f"Layer '{self.name}' needs static height, width and channels. Received: input_shape={input_shape}"
            )
        if channels % self.groups:
            raise ValueError(
                f"Layer '{self.name}': the input channels must be divisible by `groups`. "
                f"Received: groups={self.groups}, input_shape={input_shape}"
            )
        try:
            convolutive.check_rebuilds_input(input_shape[1:3], self.kernel_size, self.strides, self.padding)
        except ValueError as error:
            raise ValueError(f"Layer '{self.name}': {error} Received: input_shape={input_shape}") from None
        self._add_kernel(self.kernel_size + (channels // self.groups, self.filters))
        self._add_h0_kernel(self.filters)
        self.input_spec = keras.layers.InputSpec(ndim=4, axes={-1: channels})

    def _geometry(self):
        return dict(strides=self.strides, padding=self.padding, groups=self.groups)

    def _start(self, x, initial_h):
        """h(0): uniform, or ``initial_h`` (the call's or the learned one) normalised like h."""
        if initial_h is None:
            shape = (keras.ops.shape(x)[0],) + tuple(self._h_shape(x.shape)[1:])
            return convolutive.uniform_h(shape, self.normalize, "float32")
        return initial_activations(initial_h, axis=convolutive.h_axes(self.normalize))

    def _iterate(self, x, w, h, with_history=False):
        return convolutive.iterate(
            x,
            w,
            h,
            self.iterations,
            normalize=self.normalize,
            epsilon=self.epsilon,
            tolerance=self.tolerance,
            with_history=with_history,
            **self._geometry(),
        )

    def call(self, inputs, initial_h=None, training=None):
        h_shape = self._h_shape(inputs.shape)
        if inputs.shape[0] == 0:
            return self._empty_batch(inputs, h_shape)
        x = self._prepare_input(inputs, training)
        start = self._start(x, self._prepare_initial_h(initial_h, x, h_shape, training))
        w = convolutive.convolutive_weights(self.kernel.value)  # eq. 20
        if self.backward == "autodiff":
            h = self._iterate(x, w, start)
        else:
            fixed = [keras.ops.stop_gradient(value) for value in (x, w, start)]
            h = convolutive.one_step(x, w, self._iterate(*fixed), normalize=self.normalize, **self._geometry())
        return self._outputs(
            h, lambda: convolutive.reconstruction(h, w, image_shape=tuple(x.shape[1:3]), **self._geometry())
        )

    def factorize(self, inputs, observed=None, initial_h=None):
        """The layer's factorisation of ``inputs`` image by image (no gradient): :class:`ConvolutiveFactorization`.

        Raises:
            ValueError: ``observed`` (this layer has no weighted update).
        """
        if observed is not None:
            raise ValueError(
                "ConvolutiveNMF2D has no update for missing entries (`observed`); use CNMF2D for masked inputs."
            )
        x = self._prepare_input(inputs, training=False)
        if not self.built:
            self.build(tuple(x.shape))
        w = convolutive.convolutive_weights(self.kernel.value)
        start = self._start(x, self._prepare_initial_h(initial_h, x, self._h_shape(tuple(x.shape)), False))
        h, counts, previous = self._iterate(x, w, start, with_history=True)
        rebuilt = convolutive.reconstruction(h, w, image_shape=tuple(x.shape[1:3]), **self._geometry())
        images = keras.ops.divide_no_nan(x, keras.ops.sum(x, axis=(1, 2, 3), keepdims=True))
        return ConvolutiveFactorization(images, rebuilt, h, previous, counts)

    def compute_output_shape(self, input_shape):
        h_shape = self._h_shape(input_shape)
        return (h_shape, tuple(input_shape)) if self.return_reconstruction else h_shape

    def _h_shape(self, input_shape):
        sides = [
            None
            if input_shape[axis + 1] is None
            else convolutive.output_size(
                input_shape[axis + 1], self.kernel_size[axis], self.strides[axis], self.padding
            )
            for axis in (0, 1)
        ]
        return (input_shape[0], *sides, self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            strides=self.strides,
            padding=self.padding,
            groups=self.groups,
            normalize=self.normalize,
        )
        return config
