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
"""

from keras import ops

#: A solution is accepted when |A v - Phi| <= RESIDUAL_TOLERANCE * |Phi| (per pattern, max norm) ...
RESIDUAL_TOLERANCE = 1e-3
#: ... and |v| <= MAX_GROWTH * |Phi|: larger means an ill-conditioned system (a barely contracting fixed point).
MAX_GROWTH = 1e4
#: Guard on R, as in the one-step backward.
TINY = 1e-20
#: The solve uses I - J^T + RIDGE * I: an exactly singular system (whose LU solve would raise) gets a huge or
#: inconsistent v, which the checks then reject; a well-conditioned one moves by ~RIDGE relative.
RIDGE = {"float32": 1e-7, "float64": 1e-13}


def fixed_point_jacobian(x, w, h, epsilon=None):
    """J = dF/dh at ``h`` for every pattern: ([G,] P, I, I), in ``x``'s dtype.

    Args:
        x: ([G,] P, S) raw non-negative patterns (L1-normalised here, as in the iterations).
        w: ([G,] S, I) NMF weights (eq. 20).
        h: ([G,] P, I) the iterations' h(N).
        epsilon: eq. 6's step size, None for the plain update.
    """
    sums = ops.sum(x, axis=-1, keepdims=True)
    x_hat = ops.divide_no_nan(x, sums)
    reconstruction = ops.matmul(h, ops.swapaxes(w, -1, -2)) + TINY  # R, ([G,] P, S)
    u = ops.matmul(x_hat / reconstruction, w)  # ([G,] P, I)
    weights = x_hat / ops.square(reconstruction)  # xhat_s / R_s^2
    # M = W^T diag(xhat / R^2) W per pattern: ([G,] P, I, I).
    if len(x.shape) == 2:
        m = ops.einsum("ps,si,sj->pij", weights, w, w)
    else:
        m = ops.einsum("gps,gsi,gsj->gpij", weights, w, w)
    if epsilon is None:
        a, c = u, 1.0
        g = h * u
    else:
        a, c = 1.0 + epsilon * (u - 1.0), epsilon
        g = h + epsilon * h * (u - 1.0)
    g_sum = ops.sum(g, axis=-1, keepdims=True)
    f = ops.divide_no_nan(g, g_sum)
    identity = ops.eye(h.shape[-1], dtype=x.dtype)
    dg = identity * ops.expand_dims(a, -1) - c * ops.expand_dims(h, -1) * m  # dg_i/dh_j
    normalisation = (identity - ops.expand_dims(f, -1)) / ops.expand_dims(g_sum + TINY, -1)  # (I - F 1^T) / sum g
    return ops.matmul(normalisation, dg)


def implicit_cotangent(x, w, h, upstream, epsilon=None, dtype="float32"):
    """v solving (I - J^T) v = upstream per pattern, and a mask of the patterns that fell back to v = upstream.

    Args:
        x, w, h, epsilon: as :func:`fixed_point_jacobian`.
        upstream: dL/dh, shaped like ``h``.
        dtype: the dtype of the solve (``"float64"`` for ill-conditioned problems).

    Returns:
        ``(v, fell_back)``: v shaped and typed like ``upstream``; ``fell_back`` a
        ([G,] P) boolean tensor, True where the system was singular or ill-conditioned.
    """
    work = [ops.cast(t, dtype) for t in (x, w, h, upstream)]
    x64, w64, h64, phi = work
    jacobian = fixed_point_jacobian(x64, w64, h64, epsilon)
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
        RESIDUAL_TOLERANCE * scale + TINY)
    bounded = ops.max(ops.abs(safe_v), axis=-1) <= MAX_GROWTH * scale + TINY
    good = ops.logical_and(ops.logical_and(finite, finite_system), ops.logical_and(accurate, bounded))
    v = ops.where(ops.expand_dims(good, -1), safe_v, phi)
    return ops.cast(v, upstream.dtype), ops.logical_not(good)
