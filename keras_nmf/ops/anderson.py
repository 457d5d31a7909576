"""Anderson acceleration of the NMF fixed point (type II, Walker and Ni 2011), safeguarded per pattern.

With W fixed, the renormalised update F (eq. 3 or eq. 6, or a beta-divergence update) is a fixed-point map on the
simplex whose plain iterates converge slowly near the fixed point. Anderson acceleration keeps the last ``memory``
differences of the updates' images g_k = F(x_k) and residuals f_k = g_k - x_k, and steps to the combination of the
recent images whose residual is smallest (per pattern):

    gamma = argmin_gamma |f_k - dF gamma|_2,   x_{k+1} = g_k - dG gamma,

with dF, dG the columns f_j - f_{j-1}, g_j - g_{j-1} (the normal equations, an m x m Cholesky solve per pattern with
floored pivots). Where the update renormalises h, every g sums to 1, so dG's columns sum to 0 and x_{k+1} sums to 1
too. Safeguard, per pattern: a step that would leave the non-negative orthant is shortened to 90 % of the way to its
boundary (rejecting it, as SQUAREM's safeguard does, measured 2.4-3.8x more updates: the fixed points of trained
layers lie near the boundary, many h_i close to 0); a step whose point has a larger divergence than g_k, or that is
not finite, takes the plain update, x_{k+1} = g_k (as DAAREM's monotonicity check, Henderson and Varadhan 2019).
Each step costs one update and two divergence evaluations. A pattern stops at its first update that changes h by
less than ``tolerance`` (L1), |g_k - x_k|_1 < tolerance, and returns g_k; it is never updated again, so its h does
not depend on the rest of the batch.

Measured against SQUAREM on the patches of a trained network (docs/experiments/solvers): fewer updates than
SQUAREM at a loose tolerance (1e-3), more at tight ones, and slower than the plain updates in every measured cell
on a CPU (each step's small solves and divergences cost several updates): SQUAREM is the solver to use there.
"""

from keras import ops

#: The differences Anderson acceleration combines (m). On block 1 and 2 patches of the trained ``cnmf_cifar10`` at
#: a tolerance of 1e-4, with the steps that leave the orthant rejected (before they were shortened), m = 3, 6, 10
#: needed 313, 288, 262 (block 1) and 219, 187, 188 (block 2) updates per pattern; each step's cost grows with m.
MEMORY = 5

#: The floor of the normal equations' Cholesky pivots, relative to the mean diagonal of dF^T dF.
PIVOT_FLOOR = 1e-10

#: How far toward the orthant's boundary a step that would leave it goes: the entry that would turn negative
#: keeps 1 - BOUNDARY_FRACTION of its value (a multiplicative update can never regrow an entry that reaches 0).
BOUNDARY_FRACTION = 0.9


def _sum_abs(a):
    return ops.sum(ops.abs(a), axis=-1, keepdims=True)


def _pushed(history, column):
    """The history ([G,] P, I, m) with its oldest column dropped and ``column`` ([G,] P, I) appended."""
    return ops.concatenate([history[..., 1:], ops.expand_dims(column, -1)], axis=-1)


def _cholesky_solve(gram, rhs, floor):
    """gamma with gram gamma = rhs per pattern: ``gram`` ([G,] P, m, m) symmetric positive semi-definite, ``rhs``
    ([G,] P, m); each pivot floored at ``floor`` ([G,] P). Unrolled over the m (small) rows, in element-wise ops:
    on a CPU, a batched LAPACK solve of thousands of 5 x 5 systems costs more than the NMF update itself."""
    memory = gram.shape[-1]
    lower = [[None] * memory for _ in range(memory)]
    for j in range(memory):
        pivot = gram[..., j, j] - sum((lower[j][k] * lower[j][k] for k in range(j)), 0.0)
        lower[j][j] = ops.sqrt(ops.maximum(pivot, floor))
        for i in range(j + 1, memory):
            lower[i][j] = (gram[..., i, j] - sum((lower[i][k] * lower[j][k] for k in range(j)), 0.0)) / lower[j][j]
    forward = []
    for i in range(memory):
        forward.append((rhs[..., i] - sum((lower[i][k] * forward[k] for k in range(i)), 0.0)) / lower[i][i])
    solution = [None] * memory
    for i in reversed(range(memory)):
        solution[i] = (forward[i] - sum((lower[k][i] * solution[k] for k in range(i + 1, memory)), 0.0)) / lower[i][i]
    return ops.stack(solution, axis=-1)


def _extrapolated(g, f, residual_differences, image_differences):
    """g - dG gamma, gamma the least-squares fit of f by dF (normal equations), per pattern (element-wise products
    and sums: batched small matmuls are slow on a CPU)."""
    columns = ops.expand_dims(residual_differences, -1)  # ([G,] P, I, m, 1)
    gram = ops.sum(columns * ops.expand_dims(residual_differences, -2), axis=-3)  # ([G,] P, m, m)
    rhs = ops.sum(residual_differences * ops.expand_dims(f, -1), axis=-2)  # ([G,] P, m)
    scale = ops.sum(ops.diagonal(gram, axis1=-2, axis2=-1), axis=-1) / gram.shape[-1]
    gamma = _cholesky_solve(gram, rhs, PIVOT_FLOOR * scale + 1e-30)
    return g - ops.sum(image_differences * ops.expand_dims(gamma, -2), axis=-1)


def _inside_the_orthant(image, candidate):
    """The step from ``image`` toward ``candidate``, shortened to :data:`BOUNDARY_FRACTION` of the way to the
    orthant's boundary where it would leave it; ``image`` itself where the candidate is not finite."""
    finite = ops.all(ops.isfinite(candidate), axis=-1, keepdims=True)
    direction = ops.where(finite, candidate - image, 0.0)
    reach = ops.min(
        ops.where(direction < 0.0, ops.divide_no_nan(image, -direction), 1.0 / BOUNDARY_FRACTION),
        axis=-1,
        keepdims=True,
    )  # the step length at which the first entry reaches 0
    return ops.maximum(image + ops.minimum(1.0, BOUNDARY_FRACTION * reach) * direction, 0.0)


def anderson(step, objective, start, iterations, tolerance, memory=MEMORY):
    """The fixed point of ``step`` from ``start`` by safeguarded Anderson steps, at most ``iterations`` updates.

    Args:
        step: the update h -> F(h) of ([G,] P, I) activations (:func:`keras_nmf.ops.nmf.nmf_iterations`'s).
        objective: h -> the divergence per pattern, ([G,] P) (:func:`keras_nmf.ops.divergences.objective`).
        start: h(0), ([G,] P, I).
        iterations: the most updates a pattern may use.
        tolerance: a pattern stops at its first update that changes h by less than this (L1).
        memory: the differences combined per step (m >= 1).

    Returns:
        ``(h, counts, previous)``: the final h, the updates each pattern used (int32, ([G,] P)), and the point
        the last update was taken from (so that |h - previous|_1 is the last update's change).
    """
    image = step(start)
    residual = image - start
    active = _sum_abs(residual) >= tolerance
    counts = ops.ones_like(active, "int32")
    empty = ops.zeros(ops.shape(start) + (memory,), start.dtype)

    def running(used, point, image, residual, residual_differences, image_differences, counts, active):
        return ops.logical_and(used < iterations, ops.any(active))

    def update(used, point, image, residual, residual_differences, image_differences, counts, active):
        candidate = _extrapolated(image, residual, residual_differences, image_differences)
        candidate = _inside_the_orthant(image, candidate)
        better = ops.expand_dims(objective(candidate) <= objective(image), -1)
        new_point = ops.where(better, candidate, image)
        new_image = step(new_point)
        new_residual = new_image - new_point
        keep = lambda new, old: ops.where(active, new, old)  # noqa: E731 - a stopped pattern keeps its state
        keep_history = lambda new, old: ops.where(ops.expand_dims(active, -1), new, old)  # noqa: E731
        residual_differences = keep_history(
            _pushed(residual_differences, new_residual - residual), residual_differences
        )
        image_differences = keep_history(_pushed(image_differences, new_image - image), image_differences)
        counts = counts + ops.cast(active, "int32")
        still = ops.logical_and(active, _sum_abs(new_residual) >= tolerance)
        return (
            used + 1,
            keep(new_point, point),
            keep(new_image, image),
            keep(new_residual, residual),
            residual_differences,
            image_differences,
            counts,
            still,
        )

    state = (1, start, image, residual, empty, empty, counts, active)
    _, point, image, _, _, _, counts, _ = ops.while_loop(running, update, state)
    return image, ops.squeeze(counts, -1), point
