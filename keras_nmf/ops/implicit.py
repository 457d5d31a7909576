"""The exact gradient at the fixed point of the NMF iterations (implicit function theorem), in ``keras.ops``.

The iterations (Nouri et al., eq. 6, renormalised) are a map h <- F(h; x, W)
whose output h* satisfies h* = F(h*; x, W) once converged. The implicit
function theorem gives the exact gradient of h* without going through the
iterations: with J = dF/dh at h* and the upstream gradient Phi = dL/dh*,

    solve (I - J^T) v = Phi,   then   dL/d(x, W) = v^T dF/d(x, W).

One update without its renormalisation is g = h * u (eq. 3) or
g = h + eps h (u - 1) (eq. 6), with u_i = sum_s xhat_s W_si / R_s and
R = W h. Its vector-Jacobian product in (x, W) at h*, times eps, is exactly
the paper's one-step backward (eqs. 18-19) applied to v; the renormalisation
only adds multiples of (1, ..., 1) to v, which eqs. 18-19 cancel. So the
one-step backward is the first term (v ~= Phi) of the Neumann series
v = Phi + J^T Phi + (J^T)^2 Phi + ..., and this module only has to find v:

    dg_i/dh_j = delta_ij a_i - c h_i M_ij,   M_ij = sum_s xhat_s W_si W_sj / R_s^2,
    a = u (plain update) or 1 + eps (u - 1), c = 1 or eps,
    J = (I - F 1^T) (dg/dh) / sum(g).

Per pattern this is an I x I linear solve, batched over the patterns (memory
P x I x I per chunk of patterns; the layers chunk it as the one-step backward). A
pattern whose system is singular or ill-conditioned (the solve is not finite,
or its residual or growth is too large) keeps v = Phi, the one-step gradient,
and is counted; nothing becomes NaN.

The other divergences and missing entries (:mod:`keras_nmf.ops.divergences`)
use the same theorem with the general update g = h * u, u = N / D,
N = W^T(m xhat R^(beta-2)), D = W^T(m R^(beta-1)):

    dg_i/dh_j = delta_ij a_i + c h_i / D_i sum_s W_si W_sj m_s
                ((beta-2) xhat_s R_s^(beta-3) - (beta-1) u_i R_s^(beta-2)),

(0 where R was floored), with J = (I - F 1^T) (dg/dh) / sum(g) for KL (which
renormalises) and J = dg/dh for beta != 1 (which does not). For beta = 1 and
m = 1 this is the formula above (D = 1 by eq. 20). The gradient in (x, W) is
then the one-step backward of the update (its gradient at h held fixed)
applied to the cotangent of g, :func:`update_cotangent`.
"""

from keras import ops

from keras_nmf.ops.divergences import R_FLOOR, normalised_patterns, paper_update, update_terms

#: A solution is accepted when |A v - Phi| <= RESIDUAL_TOLERANCE * |Phi| (per pattern, max norm) ...
RESIDUAL_TOLERANCE = 1e-3
#: ... and |v| <= MAX_GROWTH * |Phi|: larger means an ill-conditioned system (a barely contracting fixed point).
MAX_GROWTH = 1e4
#: Guard on R, as in the one-step backward.
TINY = 1e-20
#: The solve uses I - J^T + RIDGE * I: an exactly singular system (whose LU solve would raise) gets a huge or
#: inconsistent v, which the checks then reject; a well-conditioned one moves by ~RIDGE relative.
RIDGE = {"float32": 1e-7, "float64": 1e-13}


def _pairs(weights, w):
    """W^T diag(weights) W per pattern: ([G,] P, I, I) from weights ([G,] P, S) and w ([G,] S, I)."""
    if len(weights.shape) == 2:
        return ops.einsum("ps,si,sj->pij", weights, w, w)
    return ops.einsum("gps,gsi,gsj->gpij", weights, w, w)


def _renormalised(dg, g):
    """dF/dh of F = g / sum(g): (I - F 1^T) (dg/dh) / sum(g)."""
    g_sum = ops.sum(g, axis=-1, keepdims=True)
    f = ops.divide_no_nan(g, g_sum)
    identity = ops.eye(g.shape[-1], dtype=g.dtype)
    return ops.matmul((identity - ops.expand_dims(f, -1)) / ops.expand_dims(g_sum + TINY, -1), dg)


def _update(x, w, h, options, observed):
    """xhat, the update's terms (:func:`keras_nmf.ops.divergences.update_terms`), u = N / D and g at ``h``."""
    x_hat, _ = normalised_patterns(x, observed)
    terms = update_terms(x_hat, w, h, options, observed)
    u = ops.divide_no_nan(terms[-2], terms[-1])
    epsilon = options.epsilon
    g = h * u if epsilon is None else h + epsilon * h * (u - 1.0)
    return x_hat, terms, u, g


def update_jacobian(x, w, h, options, observed=None):
    """(dg/dh, g) of the general update g (module docstring) at ``h``: ([G,] P, I, I) and ([G,] P, I)."""
    x_hat, (reconstruction, floored, below_minus_2, _, _, denominator), u, g = _update(x, w, h, options, observed)
    beta, epsilon = options.beta, options.epsilon
    not_floored = ops.cast(reconstruction > R_FLOOR, x.dtype)
    pulls = _pairs((beta - 2.0) * x_hat * below_minus_2 / floored * not_floored, w)  # dN/dh
    pushes = _pairs((beta - 1.0) * below_minus_2 * not_floored, w)  # dD/dh
    du = ops.divide_no_nan(pulls - ops.expand_dims(u, -1) * pushes, ops.expand_dims(denominator, -1))
    a, c = (u, 1.0) if epsilon is None else (1.0 + epsilon * (u - 1.0), epsilon)
    identity = ops.eye(h.shape[-1], dtype=x.dtype)
    return identity * ops.expand_dims(a, -1) + c * ops.expand_dims(h, -1) * du, g


def update_cotangent(x, w, h, v, options, observed=None):
    """The cotangent of the update g for the cotangent ``v`` of F: v itself for beta != 1 (F = g), else
    (v - (v . F) 1) / sum(g), the renormalisation's vector-Jacobian product."""
    if options.beta != 1.0:
        return v
    g = _update(x, w, h, options, observed)[-1]
    g_sum = ops.sum(g, axis=-1, keepdims=True)
    f = ops.divide_no_nan(g, g_sum)
    return ops.divide_no_nan(v - ops.sum(v * f, axis=-1, keepdims=True), g_sum)


def fixed_point_jacobian(x, w, h, options, observed=None):
    """J = dF/dh at ``h`` for every pattern: ([G,] P, I, I), in ``x``'s dtype.

    Args:
        x: ([G,] P, S) raw non-negative patterns (L1-normalised here, as in the iterations).
        w: ([G,] S, I) NMF weights (eq. 20).
        h: ([G,] P, I) the iterations' h(N).
        options: the layer's :class:`~keras_nmf.nmf_arguments.NMFOptions` (its divergence and eq. 6's epsilon).
        observed: None, or x's shape: 1 observed, 0 missing.
    """
    if not paper_update(options, observed):
        dg, g = update_jacobian(x, w, h, options, observed)
        return _renormalised(dg, g) if options.beta == 1.0 else dg
    epsilon = options.epsilon
    sums = ops.sum(x, axis=-1, keepdims=True)
    x_hat = ops.divide_no_nan(x, sums)
    reconstruction = ops.matmul(h, ops.swapaxes(w, -1, -2)) + TINY  # R, ([G,] P, S)
    u = ops.matmul(x_hat / reconstruction, w)  # ([G,] P, I)
    weights = x_hat / ops.square(reconstruction)  # xhat_s / R_s^2
    m = _pairs(weights, w)  # M = W^T diag(xhat / R^2) W per pattern
    if epsilon is None:
        a, c = u, 1.0
        g = h * u
    else:
        a, c = 1.0 + epsilon * (u - 1.0), epsilon
        g = h + epsilon * h * (u - 1.0)
    identity = ops.eye(h.shape[-1], dtype=x.dtype)
    return _renormalised(identity * ops.expand_dims(a, -1) - c * ops.expand_dims(h, -1) * m, g)  # dg_i/dh_j


def implicit_cotangent(x, w, h, upstream, options, observed=None):
    """v solving (I - J^T) v = upstream per pattern, and a mask of the patterns that fell back to v = upstream.

    Args:
        x, w, h, options, observed: as :func:`fixed_point_jacobian`; the solve runs in ``options.implicit_dtype``
            (``"float64"`` for ill-conditioned problems).
        upstream: dL/dh, shaped like ``h``.

    Returns:
        ``(v, fell_back)``: v shaped and typed like ``upstream``; ``fell_back`` a
        ([G,] P) boolean tensor, True where the system was singular or ill-conditioned.
    """
    dtype = options.implicit_dtype
    x64, w64, h64, phi = [ops.cast(t, dtype) for t in (x, w, h, upstream)]
    mask = None if observed is None else ops.cast(observed, dtype)
    jacobian = fixed_point_jacobian(x64, w64, h64, options, mask)
    identity = ops.eye(h.shape[-1], dtype=dtype)
    system = identity - ops.swapaxes(jacobian, -1, -2)
    # A non-finite system (R underflows to 0 where a pattern is zero or nearly so) would make TensorFlow's
    # solve raise "Input matrix is not invertible" outside XLA: such a pattern solves I v = Phi instead and
    # is counted as a fallback below.
    finite_system = ops.all(ops.isfinite(system), axis=(-2, -1))
    system = ops.where(finite_system[..., None, None], system, identity)
    v = ops.squeeze(ops.solve(system + RIDGE[dtype] * identity, ops.expand_dims(phi, -1)), -1)
    residual = ops.squeeze(ops.matmul(system, ops.expand_dims(v, -1)), -1) - phi
    scale = ops.max(ops.abs(phi), axis=-1)
    finite = ops.all(ops.isfinite(v), axis=-1)
    safe_v = ops.where(ops.expand_dims(finite, -1), v, ops.zeros_like(v))
    accurate = ops.max(ops.abs(ops.where(ops.expand_dims(finite, -1), residual, 0.0)), axis=-1) <= (
        RESIDUAL_TOLERANCE * scale + TINY
    )
    bounded = ops.max(ops.abs(safe_v), axis=-1) <= MAX_GROWTH * scale + TINY
    good = ops.logical_and(ops.logical_and(finite, finite_system), ops.logical_and(accurate, bounded))
    v = ops.where(ops.expand_dims(good, -1), safe_v, phi)
    return ops.cast(v, upstream.dtype), ops.logical_not(good)
