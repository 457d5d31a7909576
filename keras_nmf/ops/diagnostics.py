"""Per-pattern diagnostics of an NMF layer's inference, in ``keras.ops`` (any Keras backend).

* reconstruction error ``|xhat - W h|_1`` per pattern (xhat the L1-normalised
  input; 0 for a perfect factorisation, at most 2);
* fixed-point residual ``|h(N) - h(N-1)|_1`` per pattern: how far the N
  iterations of eq. 6 are from their fixed point, where the one-step backward
  (eqs. 18-19) is derived;
* Hoyer sparsity of h, ``(sqrt(I) - |h|_1 / |h|_2) / (sqrt(I) - 1)``: 0 for a
  uniform h, 1 for a single active unit.
"""

from keras import ops


def reconstruction(weights, h):
    """W h per pattern, ([G,] P, S): ``weights`` ([G,] S, I), ``h`` ([G,] P, I)."""
    return ops.matmul(h, ops.swapaxes(weights, -1, -2))


def reconstruction_error(patterns, weights, h, observed=None):
    """``|xhat - W h|_1`` per pattern: ``patterns`` ([G,] P, S) raw, ``weights`` ([G,] S, I), ``h`` ([G,] P, I).

    With ``observed`` (the patterns' mask) the sum runs over the observed entries, xhat normalised over them.
    """
    masked = patterns if observed is None else patterns * observed
    x_hat = ops.divide_no_nan(masked, ops.sum(masked, axis=-1, keepdims=True))
    error = ops.abs(x_hat - reconstruction(weights, h))
    return ops.sum(error if observed is None else error * observed, axis=-1)


def fixed_point_residual(h, h_previous):
    """``|h(N) - h(N-1)|_1`` per pattern."""
    return ops.sum(ops.abs(h - h_previous), axis=-1)


def hoyer_sparsity(h):
    """Hoyer's sparsity of each pattern's h (last axis); 0 for an all-zero h."""
    units = h.shape[-1]
    l1 = ops.sum(ops.abs(h), axis=-1)
    l2 = ops.sqrt(ops.sum(ops.square(h), axis=-1))
    ratio = ops.divide_no_nan(l1, l2)
    root = float(units) ** 0.5
    sparsity = (root - ratio) / (root - 1.0) if units > 1 else ops.zeros_like(l1)
    return ops.where(l2 > 0, sparsity, ops.zeros_like(sparsity))
