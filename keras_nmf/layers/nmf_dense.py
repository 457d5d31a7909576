"""``NMFDense``: one NMF problem per input vector."""

import keras

from keras_nmf import ops
from keras_nmf.layers.base_nmf import BaseNMF, positive_int


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
        iterations: int >= 1, number N of eq. 6 updates. Defaults to 20.
        epsilon: None (plain update h <- h * u, eq. 3) or float in (0, 1],
            the step size of eq. 6.
        backward: ``"approx"`` (eqs. 18-19), ``"autodiff"`` or ``"implicit"``
            (the exact gradient at the fixed point; see ``CNMF2D``).
        learning: ``"backprop"``, or ``"local"``: the kernel receives the
            unsupervised Lee-Seung KL direction -sum h x / R (paper section 4.2)
            instead of the task gradient, while eq. 19 still sends the task
            gradient to earlier layers.
        kernel_initializer: initializer of U. Defaults to Uniform(0, 1).
        check_inputs: bool, check that inputs are finite and >= 0 (raises a
            clear error otherwise). Defaults to True.
        **kwargs: base ``keras.layers.Layer`` arguments (``name``, ``dtype``...).

    Input shape:
        ``(batch, S)``, non-negative.

    Output shape:
        ``(batch, units)`` in the layer's compute dtype.

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
        iterations: int = 20,
        epsilon: float | None = None,
        backward: str = "approx",
        learning: str = "backprop",
        kernel_initializer=None,
        check_inputs: bool = True,
        implicit_dtype: str = "float32",
        **kwargs,
    ):
        super().__init__(iterations=iterations, epsilon=epsilon, backward=backward, learning=learning,
                         kernel_initializer=kernel_initializer, check_inputs=check_inputs,
                         implicit_dtype=implicit_dtype, **kwargs)
        self.units = positive_int(units, "units")
        self.input_spec = keras.layers.InputSpec(min_ndim=2, max_ndim=2)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                f"Layer '{self.name}' needs a known last dimension. "
                f"Received: input_shape={input_shape}"
            )
        self._add_kernel((input_dim, self.units))
        self.input_spec = keras.layers.InputSpec(ndim=2, axes={-1: input_dim})

    def call(self, inputs):
        if inputs.shape[0] == 0:
            return self._empty_batch(inputs, self.compute_output_shape(inputs.shape))
        x = self._prepare_input(inputs)
        weights = ops.nmf_weights(self.kernel.value)  # eq. 20
        h = self._infer(x, weights)
        return keras.ops.cast(h, self.compute_dtype)

    def _patterns_and_weights(self, x):
        return x, ops.nmf_weights(self.kernel.value)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config["units"] = self.units
        return config
