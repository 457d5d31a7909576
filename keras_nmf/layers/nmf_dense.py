"""``NMFDense``: one NMF problem per input vector."""

import keras

from keras_nmf import ops
from keras_nmf.layers.base_nmf import BaseNMF
from keras_nmf.nmf_arguments import positive_int


@keras.saving.register_keras_serializable(package="keras_nmf")
class NMFDense(BaseNMF):
    """Fully connected NMF layer: infers non-negative activations for each input.

    Each input vector x (S entries, non-negative) is L1-normalised and explained
    as x ~ W h with non-negative weights W (S x units, unit column sums). h starts
    at 1/units and is refined by ``iterations`` multiplicative updates (eq. 6),
    renormalised every step; the output is h(N), which sums to 1 (or is 0 for
    an all-zero input).

    W is derived in every call from the free trainable ``kernel`` U as
    W = |U| / sum_s |U| (eq. 20). With ``backward="approx"`` the gradients are
    the one-step approximations of eqs. 18-19 at the final h (via
    ``keras.ops.custom_gradient``), so training costs about what a dense layer does;
    ``backward="autodiff"`` differentiates through all N iterations.

    Args:
        units: int, number of hidden units I.
        kernel_initializer: initializer of U. Defaults to Uniform(0, 1).
        check_inputs: bool, check that inputs are finite and >= 0 (raises a
            clear error otherwise). Defaults to True.
        return_reconstruction: also return W h * sum(x), the reconstruction of
            the input in its own scale, with gradients through both outputs.
        **kwargs: the NMF options, by name: the fields of :class:`keras_nmf.NMFOptions` (``iterations=20``,
            ``backward="approx"`` (eqs. 18-19), ``divergence`` ...: their defaults, checks and the table of all of
            them are its own and docs/nmf_options.md's; read back as ``layer.options`` and ``layer.iterations``
            ...), and the base ``keras.layers.Layer`` arguments (``name``, ``dtype``...).

    Call arguments:
        inputs: ``(batch, S)``, non-negative.
        observed: optional mask broadcastable to the input (1 observed, 0
            missing): each input is normalised over, and explained by, its
            observed entries only (the weighted update). Values in between
            weigh an entry by that fraction; outside [0, 1] or NaN/Inf is an
            error (with ``check_inputs``).
        initial_h: optional h(0) in the output's shape, e.g. the previous
            frame's h (a warm start): each input's is scaled to unit sum (1/I where
            it sums to 0) and the updates start there. It must be finite and
            >= 0. It is data: only ``backward="autodiff"`` differentiates it.

    Input shape:
        ``(batch, S)``, non-negative.

    Output shape:
        ``(batch, units)`` in the layer's compute dtype; with
        ``return_reconstruction``, ``((batch, units), (batch, S))``.

    Raises:
        ValueError: for invalid arguments, a non-2D input, or (at call time)
            negative or non-finite inputs.

    Example:

    >>> layer = NMFDense(16, iterations=20)
    >>> h = layer(np.random.rand(4, 64).astype("float32"))
    >>> h.shape
    TensorShape([4, 16])

    References:
        Nouri et al., "Including local feature interactions in deep
        non-negative matrix factorization networks improves performance",
        eqs. 6, 18-20.
    """

    def __init__(
        self,
        units: int,
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
        self.units = positive_int(units, "units")
        self.input_spec = keras.layers.InputSpec(min_ndim=2, max_ndim=2)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f"Layer '{self.name}' needs a known last dimension. Received: input_shape={input_shape}")
        self._add_kernel((input_dim, self.units))
        self._add_h0_kernel(self.units)
        self.input_spec = keras.layers.InputSpec(ndim=2, axes={-1: input_dim})

    def call(self, inputs, observed=None, initial_h=None, training=None):
        if inputs.shape[0] == 0:
            return self._empty_batch(inputs, (0, self.units))
        x = self._prepare_input(inputs, training)
        observed = self._prepare_observed(observed, x, training)
        start = self._prepare_initial_h(initial_h, x, self._h_shape(tuple(x.shape)), training)
        weights = ops.nmf_weights(self.kernel.value)  # eq. 20
        h = ops.nmf(x, weights, self.options, self._fallback_counter(), observed, start)

        def reconstruction():  # W h in the input's scale, sum(m x)
            scale = keras.ops.sum(x if observed is None else x * observed, axis=-1, keepdims=True)
            return keras.ops.matmul(h, keras.ops.transpose(weights)) * scale

        return self._outputs(h, reconstruction)

    def _patterns_and_weights(self, x):
        return x, ops.nmf_weights(self.kernel.value)

    def _observed_patterns(self, observed):
        return observed

    def _h_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def _h_patterns(self, h):
        return h

    def compute_output_shape(self, input_shape):
        h_shape = self._h_shape(input_shape)
        return (h_shape, tuple(input_shape)) if self.return_reconstruction else h_shape

    def get_config(self):
        config = super().get_config()
        config["units"] = self.units
        return config
