"""NMF inference (eq. 6) and its one-step approximate backward (eqs. 18-19).

Every function here is a pure function of tensors, for one NMF problem (2-D
tensors) or a batch of G independent ones (a leading group axis, one batched
matmul per step). Ungrouped layers pass 2-D tensors: on CPU a plain matmul is
about 1.4x faster than a batched one with G = 1.

* ``x``: ``([G,] P, S)`` non-negative, L1-normalised input patterns (P patterns
  of S entries),
* ``w``: ``([G,] S, I)`` non-negative NMF weights whose columns sum to 1 (eq. 20),
* ``h``: ``([G,] P, I)`` the hidden activations, each pattern's ``h`` summing to 1.

All arithmetic runs in float32; callers cast in and out (mixed precision).
Divisions are guarded by :data:`TINY` and otherwise literal, so an all-zero
pattern gives ``h = 0`` under the plain update (PAPER.md section 1).
"""

import tensorflow as tf

#: Guard added to every denominator of the NMF iterations (R + TINY, sum + TINY).
TINY = 1e-20

BACKWARD_MODES = ("approx", "autodiff")
LEARNING_MODES = ("backprop", "local")


def _reconstruction(h, w):
    """R_ps = sum_j W_sj h_pj, shape ([G,] P, S)."""
    return tf.matmul(h, w, transpose_b=True)


def nmf_iterations(x, w, iterations, epsilon=None):
    """Runs ``iterations`` NMF updates from h(0) = 1/I (eq. 6, renormalised).

    Per step: R = W h, u_i = sum_s x_s W_si / R_s, then
    h <- h * u (eq. 3, ``epsilon=None``) or h <- h + eps * h * (u - 1) (eq. 6),
    then h <- h / sum_i h_i.

    Args:
        x: float32 tensor ([G,] P, S), L1-normalised, non-negative.
        w: float32 tensor ([G,] S, I), non-negative, unit column sums.
        iterations: int >= 1, number of updates N.
        epsilon: None for the plain multiplicative update, else a float in (0, 1].

    Returns:
        float32 tensor ([G,] P, I): h(N).
    """
    num_hidden = tf.shape(w)[-1]
    pattern_shape = tf.shape(x)[:-1]
    h = tf.fill(
        tf.concat([pattern_shape, [num_hidden]], axis=0),
        1.0 / tf.cast(num_hidden, tf.float32),
    )
    # h(0) = 1/I is the same for every pattern, so R(0) = W h(0) is one row
    # (the row sums of W over I), broadcast: the first step skips a matmul.
    reconstruction = tf.reduce_mean(w, axis=-1)[..., tf.newaxis, :]
    for step in range(iterations):
        if step:
            reconstruction = _reconstruction(h, w)
        u = tf.matmul(x / (reconstruction + TINY), w)
        if epsilon is None:
            h = h * u  # eq. 3 (eq. 6 with eps = 1)
        else:
            h = h + epsilon * h * (u - 1.0)  # eq. 6
        h = h / (tf.reduce_sum(h, axis=-1, keepdims=True) + TINY)
    return h


def approx_input_gradient(x, w, h, upstream):
    """Eq. 19: dL/dx_s ~= sum_i Phi_i W_si h_i / R_s, at the final h.

    Returns the gradient and R + TINY, both shaped like x; eq. 18 reuses R.
    """
    reconstruction = _reconstruction(h, w) + TINY
    grad_x = _reconstruction(upstream * h, w) / reconstruction  # eq. 19
    return grad_x, reconstruction


def approx_weight_gradient(x, h, upstream, grad_x, reconstruction):
    """Eq. 18: dL/dW_si ~= sum_p h_i x_s / R_s * (Phi_i - dL/dx_s).

    Written as two matmuls over the pattern axis:
    (x/R)^T (h * Phi) - (x * dL/dx / R)^T h.
    """
    x_over_r = x / reconstruction
    return tf.matmul(x_over_r, h * upstream, transpose_a=True) - tf.matmul(
        x_over_r * grad_x, h, transpose_a=True
    )  # eq. 18


def local_weight_gradient(x, h, reconstruction):
    """The Lee-Seung KL direction as a gradient: -sum_p h_i x_s / R_s (eqs. 4-5).

    Handed to the optimizer in place of eq. 18 when ``learning="local"``;
    descending it grows W_si where the multiplicative rule would.
    """
    return -tf.matmul(x / reconstruction, h, transpose_a=True)


def nmf_approx(x, w, iterations, epsilon=None, learning="backprop"):
    """NMF inference with the one-step approximate backward (eqs. 18-19).

    The forward is :func:`nmf_iterations`; the gradient is computed from x, W
    and the final h only, so nothing from the N iterations is kept.

    ``learning="backprop"`` returns eq. 18 for W; ``learning="local"`` returns
    the unsupervised NMF direction (:func:`local_weight_gradient`). The input
    gradient is eq. 19 in both cases.
    """

    @tf.custom_gradient
    def _nmf(x, w):
        h = nmf_iterations(x, w, iterations, epsilon)

        def grad(upstream):
            grad_x, reconstruction = approx_input_gradient(x, w, h, upstream)
            if learning == "local":
                grad_w = local_weight_gradient(x, h, reconstruction)
            else:
                grad_w = approx_weight_gradient(
                    x, h, upstream, grad_x, reconstruction
                )
            return grad_x, grad_w

        return h, grad

    return _nmf(x, w)


def nmf(x, w, iterations, epsilon=None, backward="approx", learning="backprop"):
    """Dispatches to the approximate backward or plain autodiff.

    Args:
        x: float32 ([G,] P, S) L1-normalised non-negative patterns.
        w: float32 ([G,] S, I) NMF weights (eq. 20).
        iterations: number of eq. 6 updates.
        epsilon: eq. 6's step size, None for the plain update.
        backward: ``"approx"`` (eqs. 18-19) or ``"autodiff"`` (through all
            iterations, the baseline of the paper's Figure 1).
        learning: ``"backprop"`` or ``"local"`` (needs ``backward="approx"``).

    Returns:
        float32 ([G,] P, I) activations h(N).
    """
    if backward == "autodiff":
        return nmf_iterations(x, w, iterations, epsilon)
    return nmf_approx(x, w, iterations, epsilon, learning)


def l1_normalize(x, axis=-1):
    """x / sum(x) along ``axis``; 0 (value and gradient) where the sum is 0.

    Uses divide-no-NaN rather than ``sum + tiny``: the latter would hand an
    all-zero pattern a gradient of dL/dx / tiny (~1e20), which wrecks training
    after any ReLU that silences a patch.
    """
    return tf.math.divide_no_nan(x, tf.reduce_sum(x, axis=axis, keepdims=True))


def nmf_weights(kernel):
    """Eq. 20: W = |U| / sum|U|, summed over every axis but the last (filters).

    A reparametrisation computed in each forward pass, so gradients reach the
    free kernel U through the abs and the normalisation.
    """
    magnitude = tf.abs(kernel)
    reduce_axes = list(range(len(kernel.shape) - 1))
    return tf.math.divide_no_nan(
        magnitude, tf.reduce_sum(magnitude, axis=reduce_axes, keepdims=True)
    )  # eq. 20
