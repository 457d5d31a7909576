"""``CNMF2D``: convolutional NMF, one NMF problem per image patch."""

import numbers

import keras

from keras_nmf import ops
from keras_nmf.layers.base_nmf import BaseNMF
from keras_nmf.nmf_arguments import positive_int

PADDINGS = ("valid", "same")


def _int_pair(value, name):
    """An int or a pair of ints (Python or NumPy) -> a tuple of two positive ints."""
    pair = (value, value) if isinstance(value, numbers.Integral) else value
    try:
        pair = tuple(pair)
        if len(pair) != 2:
            raise ValueError
        return tuple(positive_int(v, name) for v in pair)
    except (TypeError, ValueError):
        raise ValueError(
            f"`{name}` must be a positive int or a pair of positive ints. Received: {name}={value}"
        ) from None


@keras.saving.register_keras_serializable(package="keras_nmf")
class CNMF2D(BaseNMF):
    """2D convolutional NMF layer (Nouri et al., convolutional NMF: one NMF problem per patch).

    Every ``kernel_size`` patch of the non-negative NHWC input, flattened in
    (kh, kw, C) order like a ``Conv2D`` kernel, is L1-normalised and explained
    by non-negative activations h (one per filter) through ``iterations``
    multiplicative updates from h(0) = 1/I (eq. 6), renormalised every step.
    All positions share the weights W = |U| / sum|U| (eq. 20), derived in every
    call from the free trainable ``kernel`` U. The output grid is exactly
    ``keras.layers.Conv2D``'s for the same ``strides``, ``padding`` and
    ``dilation_rate``. At each position the output sums to 1 over each group's
    filters, or is 0 where the patch is all zero (plain update).

    Gradients: ``backward="approx"`` uses the one-step approximation at the
    final h (eqs. 18-19, ``keras.ops.custom_gradient``). It keeps only the input, W
    and h, as a convolution keeps its input, kernel and output, and rebuilds
    the patches in the backward; forward and backward visit the batch in
    chunks of whole images (``chunk_elements``), so the iteration
    temporaries are one chunk's and memory is close to a CNN's.
    ``backward="autodiff"`` differentiates through all iterations (the
    baseline of the paper's Figure 1).

    Args:
        filters: int, number of NMF hidden units I per position.
        kernel_size: int or pair of ints, patch height and width.
        strides: int or pair of ints. Defaults to 1.
        padding: ``"valid"`` or ``"same"`` (zero padding). Defaults to ``"valid"``.
        dilation_rate: int or pair of ints. Defaults to 1.
        groups: int; input channels and filters split into ``groups``
            contiguous blocks, each an independent NMF problem (own L1
            normalisation, own h normalisation), like a grouped ``Conv2D``.
        chunk_elements: int or None. With ``backward="approx"``, the batch
            is processed in chunks of whole images whose patterns hold at most
            this many entries (patches x kh*kw*C; at least one image), which
            bounds each iteration temporary to ``4 * chunk_elements`` bytes.
            None processes the whole batch at once: faster for large batches
            on accelerators, more memory. Defaults to 2**20.
        kernel_initializer: initializer of U. Defaults to Uniform(0, 1).
        check_inputs: bool, check at call time that inputs are finite and
            >= 0. Defaults to True.
        return_reconstruction: also return the reconstruction of the input in
            its own shape: each patch's W h times the patch's L1 sum, the
            overlapping patches averaged, with gradients through both outputs.
        **kwargs: the NMF options, by name: the fields of :class:`keras_nmf.NMFOptions` (``iterations=20``,
            ``backward="approx"`` (eqs. 18-19), ``divergence`` ...: their defaults, checks and the table of all of
            them are its own and docs/nmf_options.md's; read back as ``layer.options`` and ``layer.iterations``
            ...), and the base ``keras.layers.Layer`` arguments (``name``, ``dtype``...).

    Call arguments:
        inputs: non-negative tensor ``(batch, height, width, channels)``.
        observed: optional mask of the input's shape, or with one channel
            (1 observed, 0 missing): each patch is normalised over, and
            explained by, its observed entries only (the weighted update);
            "same" padding counts as observed, as in the plain layer. Values
            in between weigh an entry by that fraction; outside [0, 1] or
            NaN/Inf is an error (with ``check_inputs``).
        initial_h: optional h(0) in the output's shape, e.g. the previous
            frame's h (a warm start): each position's (and group's) h(0) is scaled to unit sum (1/I where
            it sums to 0) and the updates start there. It must be finite and
            >= 0. It is data: only ``backward="autodiff"`` differentiates it.

    Input shape:
        4D tensor ``(batch, height, width, channels)``, static spatial size.

    Output shape:
        4D tensor ``(batch, new_height, new_width, filters)`` in the layer's
        compute dtype (the iterations always run in float32); with
        ``return_reconstruction``, that and the input's shape.

    Raises:
        ValueError: for invalid arguments, channels or filters not divisible
            by ``groups``, a kernel larger than a ``"valid"`` input, or (at call
            time) negative or non-finite inputs.

    Example:

    >>> x = keras.Input((28, 28, 3))
    >>> h = keras_nmf.layers.CNMF2D(32, 5, iterations=20)(x)
    >>> h.shape
    (None, 24, 24, 32)

    References:
        Nouri et al., "Including local feature interactions in deep
        non-negative matrix factorization networks improves performance".
        Update: eq. 6; weights: eq. 20; backward: eqs. 18-19.
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int | tuple,
        strides: int | tuple = 1,
        padding: str = "valid",
        dilation_rate: int | tuple = 1,
        groups: int = 1,
        chunk_elements: int | None = 2**20,
        kernel_initializer=None,
        check_inputs: bool = True,
        return_reconstruction: bool = False,
        **kwargs,
    ):
        super().__init__(
            kernel_initializer=kernel_initializer,
            check_inputs=check_inputs,
            return_reconstruction=return_reconstruction,
            **kwargs,
        )
        filters = positive_int(filters, "filters")
        groups = positive_int(groups, "groups")
        if filters % groups != 0:
            raise ValueError(
                "`filters` must be divisible by `groups` (each group owns "
                f"filters // groups filters). Received: filters={filters}, "
                f"groups={groups}"
            )
        padding = str(padding).lower()
        if padding not in PADDINGS:
            raise ValueError(f"`padding` must be one of {PADDINGS}. Received: padding={padding!r}")
        if chunk_elements is not None:
            chunk_elements = positive_int(
                chunk_elements, "chunk_elements", " (pattern entries processed at a time; or None)"
            )
        self.filters = filters
        self.kernel_size = _int_pair(kernel_size, "kernel_size")
        self.strides = _int_pair(strides, "strides")
        self.dilation_rate = _int_pair(dilation_rate, "dilation_rate")
        self.padding = padding
        self.groups = groups
        self.chunk_elements = chunk_elements
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None or input_shape[1] is None or input_shape[2] is None:
            raise ValueError(
                f"Layer '{self.name}' needs static height, width and channels. Received: input_shape={input_shape}"
            )
        if channels % self.groups != 0:
            raise ValueError(
                f"Layer '{self.name}': the input channels must be divisible by "
                f"`groups`. Received: groups={self.groups}, "
                f"input_shape={input_shape}"
            )
        for axis in (0, 1):
            effective = (self.kernel_size[axis] - 1) * self.dilation_rate[axis] + 1
            if self.padding == "valid" and effective > input_shape[axis + 1]:
                raise ValueError(
                    f"Layer '{self.name}': the kernel (kernel_size="
                    f"{self.kernel_size}, dilation_rate={self.dilation_rate}, "
                    f"effective size {effective}) is larger than the input with "
                    f"padding='valid'. Use a smaller kernel or padding='same'. "
                    f"Received: input_shape={input_shape}"
                )
        self._add_kernel(self.kernel_size + (channels // self.groups, self.filters))
        self._add_h0_kernel(self.filters)
        self.input_spec = keras.layers.InputSpec(ndim=4, axes={-1: channels})

    def _grouped_weights(self):
        """Eq. 20 on the kernel, as (kh*kw*C, filters), or (G, kh*kw*C/G, filters/G)."""
        weights = ops.nmf_weights(self.kernel.value)  # eq. 20
        taps_by_channels = weights.shape[0] * weights.shape[1] * weights.shape[2]
        if self.groups == 1:
            return keras.ops.reshape(weights, (taps_by_channels, self.filters))
        per_group = self.filters // self.groups
        weights = keras.ops.reshape(weights, (taps_by_channels, self.groups, per_group))
        return keras.ops.transpose(weights, (1, 0, 2))

    @property
    def geometry(self):
        """The layer's patches (:class:`keras_nmf.ops.PatchGeometry`), as the ops take them."""
        return ops.PatchGeometry(self.kernel_size, self.strides, self.dilation_rate, self.padding, self.groups)

    def _patterns(self, images):
        """(b, H, W, C) images -> ([G,] P, S) patterns (patches, split by group)."""
        return self.geometry.patterns(images)

    def _patterns_and_weights(self, x):
        return self._patterns(x), self._grouped_weights()

    def _observed_patterns(self, observed):
        return ops.observed_patterns(self.geometry, observed)

    def _h_patterns(self, h):
        return ops.split_groups(h, self.groups, self.filters)

    def _images_per_chunk(self, output_shape, channels):
        """Whole images per chunk within ``chunk_elements`` (at least one), or None."""
        if self.chunk_elements is None:
            return None
        entries_per_image = output_shape[1] * output_shape[2] * self.kernel_size[0] * self.kernel_size[1] * channels
        return max(1, self.chunk_elements // entries_per_image)

    def call(self, inputs, observed=None, initial_h=None, training=None):
        output_shape = self._h_shape(inputs.shape)
        if inputs.shape[0] == 0:
            return self._empty_batch(inputs, output_shape)
        x = self._prepare_input(inputs, training)
        observed = self._prepare_observed(observed, x, training)
        start = self._prepare_initial_h(initial_h, x, output_shape, training)
        weights = self._grouped_weights()
        h = ops.patchwise_nmf(
            x,
            weights,
            self.geometry,
            self.options,
            images_per_chunk=self._images_per_chunk(output_shape, x.shape[-1]),
            fallback_counter=self._fallback_counter(),
            observed=observed,
            initial_h=start,
        )
        return self._outputs(
            ops.merge_groups(h, output_shape[1:3]), lambda: self._reconstruction(x, observed, weights, h)
        )

    def _reconstruction(self, x, observed, weights, h):
        """Each patch's W h times its (observed) L1 sum, folded back onto the image; overlaps averaged."""
        patterns = self._patterns(x if observed is None else x * observed)
        scaled = keras.ops.matmul(h, keras.ops.swapaxes(weights, -1, -2)) * keras.ops.sum(patterns, -1, keepdims=True)
        return self.geometry.fold_averaged(scaled, keras.ops.shape(x))

    def compute_output_shape(self, input_shape):
        h_shape = self._h_shape(input_shape)
        return (h_shape, tuple(input_shape)) if self.return_reconstruction else h_shape

    def _h_shape(self, input_shape):
        rows, cols = (
            ops.conv_output_length(
                input_shape[axis + 1],
                self.kernel_size[axis],
                self.strides[axis],
                self.dilation_rate[axis],
                self.padding,
            )
            for axis in (0, 1)
        )
        return (input_shape[0], rows, cols, self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "strides": self.strides,
                "padding": self.padding,
                "dilation_rate": self.dilation_rate,
                "groups": self.groups,
                "chunk_elements": self.chunk_elements,
            }
        )
        return config
