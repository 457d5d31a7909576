"""The beta-divergence family and missing entries: the general multiplicative update and its one-step backward.

With W fixed, Févotte and Idier (2011) minimise the beta-divergence
D_beta(xhat | W h) by

    h <- h * W^T(m * xhat * R^(beta-2)) / W^T(m * R^(beta-1)),   R = W h,

beta = 1 (KL, the paper's eq. 3), 2 (Frobenius) and 0 (Itakura-Saito). The
weights m (1 observed, 0 missing) make every sum run over the observed
entries only: the pattern is L1-normalised over them, xhat = m x / sum(m x),
and a missing entry neither pulls on h nor counts in the denominator. For KL
with m = 1 the denominator is W's column sums, 1 by eq. 20, and the update is
eq. 3. KL keeps the paper's renormalisation of h after each step; the other
divergences do not renormalise (their h carries the pattern's scale).

The one-step backward (:func:`one_step_gradients`) is the gradient of one
such update at the final h, h held fixed, carried through the normalisation
of x: for KL with m = 1 it is eqs. 18-19 (up to a constant per column of
dL/dW, which eq. 20's normalisation removes; tests/ops/test_divergences.py).

An L1 penalty on h (``options.l1_penalty``, alpha) minimises
D_beta(xhat | W h) + alpha sum_i h_i instead: its gradient alpha joins the
denominator, h <- h * N / (D + alpha) (as scikit-learn's multiplicative
update adds its L1 term ``alpha_H``), and the one-step and
implicit backwards, written in N and D, are this update's. KL refuses it: its
h is renormalised to unit sum, where the penalty is a constant.

Every power of R is taken of max(R, :data:`R_FLOOR`), so an all-zero
pattern, or a missing one, gives h = 0 and zero gradients, never NaN.
"""

from keras import ops


#: R = W h is floored at this value before any power: R^(beta-3), the largest power in the backward
#: (Itakura-Saito), stays below 1e24, far from float32's overflow.
R_FLOOR = 1e-8


def _transpose(a):
    return ops.swapaxes(a, -1, -2)


def paper_update(options, observed):
    """Whether the paper's KL update (eq. 3/6, and its eqs. 18-19) applies, rather than this module's weighted
    beta-divergence update: KL without missing entries."""
    return options.divergence == "kl" and observed is None


def normalised_patterns(x, observed=None):
    """xhat = m x / sum_s(m x) per pattern and 1 / sum_s(m x), ([G,] P, 1); 0 for a pattern with nothing observed."""
    masked = x if observed is None else x * observed
    inverse_sum = ops.divide_no_nan(1.0, ops.sum(masked, axis=-1, keepdims=True))
    return masked * inverse_sum, inverse_sum


def _power(base, exponent):
    """base ** exponent; the exponents of the three divergences (-2, -1, 0, 1) as a division and a product.

    A general power is exp(exponent * log(base)) per entry. One XLA training step of a
    CNMF2D(32, 5) on 50 images, Itakura-Saito: 784 ms with ops.power, 323 ms so (KL: 241 ms).
    """
    if exponent == 0.0:
        return ops.ones_like(base)
    if exponent == 1.0:
        return base
    if exponent == -1.0:
        return 1.0 / base
    if exponent == -2.0:
        inverse = 1.0 / base
        return inverse * inverse
    return ops.power(base, exponent)


def _weighted(tensor, observed):
    return tensor if observed is None else tensor * observed


def objective(x_hat, w, h, options, observed=None):
    """D_beta(xhat | W h) per pattern, ([G,] P), up to terms that do not depend on h (R floored at R_FLOOR), for
    ``options.divergence`` (an :class:`~keras_nmf.nmf_arguments.NMFOptions`).

    KL: sum_s m (R - xhat log R); Frobenius: sum_s m (R^2 / 2 - xhat R); Itakura-Saito: sum_s m (xhat / R + log R);
    plus alpha sum_i h_i with an L1 penalty. What the multiplicative updates decrease (Févotte and Idier 2011): the
    accelerated solvers' safeguards compare it.
    """
    beta = options.beta
    r = ops.maximum(ops.matmul(h, _transpose(w)), R_FLOOR)
    if beta == 1.0:
        terms = r - x_hat * ops.log(r)
    elif beta == 2.0:
        terms = 0.5 * r * r - x_hat * r
    else:
        terms = x_hat / r + ops.log(r)
    value = ops.sum(_weighted(terms, observed), axis=-1)
    return value + options.l1_penalty * ops.sum(h, axis=-1) if options.l1_penalty else value


def update_terms(x_hat, w, h, options, observed=None, matmul=ops.matmul):
    """The pieces of the update at h for ``options.divergence``; h None means h(0) = 1/I (one row of R).

    Returns ``(R, floored R, m R^(beta-2), m R^(beta-1), N, D)``, with N = W^T(m xhat R^(beta-2)) and
    D = W^T(m R^(beta-1)) (+ alpha with an L1 penalty); the powers broadcast over the patterns.
    """
    if h is None:
        reconstruction = ops.expand_dims(ops.mean(w, axis=-1), -2)  # W h(0), the same row for every pattern
    else:
        reconstruction = matmul(h, _transpose(w))
    beta = options.beta
    floored = ops.maximum(reconstruction, R_FLOOR)
    zeros = ops.zeros_like(x_hat) if h is None else 0.0  # broadcasts h(0)'s row of R over the patterns
    below_minus_2 = _weighted(_power(floored, beta - 2.0) + zeros, observed)
    below_minus_1 = _weighted(_power(floored, beta - 1.0) + zeros, observed)
    numerator = matmul(x_hat * below_minus_2, w)
    denominator = matmul(below_minus_1, w)
    if options.l1_penalty:
        denominator = denominator + options.l1_penalty  # the penalty's gradient alpha (module docstring)
    return reconstruction, floored, below_minus_2, below_minus_1, numerator, denominator


def beta_update(x_hat, w, h, options, observed=None, matmul=ops.matmul):
    """One multiplicative update of h (module docstring) for ``options``, from h = None meaning h(0) = 1/I.

    ``options.epsilon`` damps it as eq. 6 does: h <- h + eps * h * (u - 1), u = N / D.
    KL (beta = 1) renormalises h to unit sum, as the paper's layer does.
    """
    *_, numerator, denominator = update_terms(x_hat, w, h, options, observed, matmul)
    ratio = ops.divide_no_nan(numerator, denominator)
    if h is None:
        h = ops.full_like(ratio, 1.0 / w.shape[-1])
    epsilon = options.epsilon
    h = h * ratio if epsilon is None else h + epsilon * h * (ratio - 1.0)
    if options.beta == 1.0:
        h = ops.divide_no_nan(h, ops.sum(h, axis=-1, keepdims=True))
    return h


def one_step_gradients(x, w, h, upstream, options, observed=None):
    """(dL/dx, dL/dW) of one update g = h * N / D at the final h, h held fixed (module docstring).

    With a = Phi h / D and b = -a N / D (Phi = dL/dh):

    * dL/dxhat = m R^(beta-2) (W a),
    * dL/dR = (beta-2) m xhat R^(beta-3) (W a) + (beta-1) m R^(beta-2) (W b) (0 where R was floored),
    * dL/dW = sum_p [(m xhat R^(beta-2)) a^T + (m R^(beta-1)) b^T + (dL/dR) h^T],
    * dL/dx = m (dL/dxhat - sum_t dL/dxhat_t xhat_t) / sum(m x).

    ``options.learning == "local"`` replaces dL/dW by the gradient of D_beta(xhat | W h) itself,
    sum_p (m R^(beta-1) - m xhat R^(beta-2)) h^T (for KL the Lee-Seung direction of eqs. 4-5).
    The update's epsilon does not enter, as in eqs. 18-19.
    """
    x_hat, inverse_sum = normalised_patterns(x, observed)
    terms = update_terms(x_hat, w, h, options, observed)
    beta = options.beta
    reconstruction, floored, below_minus_2, below_minus_1, numerator, denominator = terms
    a = ops.divide_no_nan(upstream * h, denominator)
    b = -ops.divide_no_nan(a * numerator, denominator)
    w_a, w_b = ops.matmul(a, _transpose(w)), ops.matmul(b, _transpose(w))
    grad_x_hat = below_minus_2 * w_a
    projection = ops.sum(grad_x_hat * x_hat, axis=-1, keepdims=True)
    grad_x = _weighted(grad_x_hat - projection, observed) * inverse_sum
    if options.learning == "local":
        return grad_x, ops.matmul(_transpose(below_minus_1 - x_hat * below_minus_2), h)
    not_floored = ops.cast(reconstruction > R_FLOOR, reconstruction.dtype)
    grad_r = not_floored * ((beta - 2.0) * x_hat * below_minus_2 / floored * w_a + (beta - 1.0) * below_minus_2 * w_b)
    grad_w = (
        ops.matmul(_transpose(x_hat * below_minus_2), a)
        + ops.matmul(_transpose(below_minus_1), b)
        + ops.matmul(_transpose(grad_r), h)
    )
    return grad_x, grad_w
