"""SQUAREM: the NMF fixed point in fewer updates (Varadhan and Roland 2008, scheme S3), safeguarded per pattern.

With W fixed, the renormalised KL update (eq. 3) is an EM step for the mixture weights h, and the other
beta-divergence updates are majorisation steps: each decreases the divergence and converges slowly near the fixed
point. A SQUAREM cycle from h takes two updates, h1 = F(h) and h2 = F(h1), and extrapolates along them:

    r = h1 - h,  v = h2 - 2 h1 + h,  alpha = min(-|r|_2 / |v|_2, -1),  h' = h - 2 alpha r + alpha^2 v,

then takes one update from h', F(h'), which also renormalises it. Safeguard, per pattern: when h' leaves the
non-negative orthant, is not finite, or F(h') has a larger divergence than h2, the cycle keeps h2 (two plain
updates) instead; outside the orthant, the cycle's third update is then a plain one from h2. Every cycle costs
three updates, and each pattern counts the updates it used. A pattern stops at
its first cycle whose last update changed h by less than ``tolerance`` (L1), as the plain updates stop; it is
never updated again, so its h does not depend on the rest of the batch.
"""

from keras import ops

from keras_nmf.nmf_arguments import SQUAREM_UPDATES_PER_CYCLE as UPDATES_PER_CYCLE


def _norm(a):
    return ops.sqrt(ops.sum(a * a, axis=-1, keepdims=True))


def squarem(step, objective, start, iterations, tolerance):
    """The fixed point of ``step`` from ``start`` by SQUAREM cycles, at most ``iterations`` updates per pattern.

    Args:
        step: the update h -> F(h) of ([G,] P, I) activations (:func:`keras_nmf.ops.nmf.nmf_iterations`'s).
        objective: h -> the divergence per pattern, ([G,] P) (:func:`keras_nmf.ops.divergences.objective`).
        start: h(0), ([G,] P, I).
        iterations: the most updates a pattern may use (whole cycles: a cycle that would pass it is not run).
        tolerance: a pattern stops when a cycle's last update changes h by less than this (L1).

    Returns:
        ``(h, counts, previous)``: the final h, the updates each pattern used (int32, ([G,] P)), and the point
        the last update was taken from (so that |h - previous|_1 is the last update's change).
    """
    counts = ops.zeros_like(start[..., :1], "int32")
    active = ops.ones_like(counts, "bool")

    def running(used, h, previous, counts, active):
        return ops.logical_and(used + UPDATES_PER_CYCLE <= iterations, ops.any(active))

    def cycle(used, h, previous, counts, active):
        h1 = step(h)
        h2 = step(h1)
        r, v = h1 - h, h2 - 2.0 * h1 + h
        alpha = ops.minimum(-ops.divide_no_nan(_norm(r), _norm(v)), -1.0)
        extrapolated = h - 2.0 * alpha * r + alpha * alpha * v
        finite = ops.all(ops.isfinite(extrapolated), axis=-1, keepdims=True)
        inside = ops.logical_and(finite, ops.all(extrapolated >= 0.0, axis=-1, keepdims=True))
        origin = ops.where(inside, extrapolated, h2)  # outside: a third plain update, from h2
        h3 = step(origin)
        better = ops.expand_dims(objective(h3) <= objective(h2), -1)
        kept = ops.logical_or(ops.logical_not(inside), better)  # F(h2), or an accepted F(h')
        new = ops.where(kept, h3, h2)
        last_from = ops.where(kept, origin, h1)  # the update that produced ``new`` started here
        change = ops.sum(ops.abs(new - last_from), axis=-1, keepdims=True)
        counts = counts + UPDATES_PER_CYCLE * ops.cast(active, "int32")
        previous = ops.where(active, last_from, previous)
        h = ops.where(active, new, h)
        return used + UPDATES_PER_CYCLE, h, previous, counts, ops.logical_and(active, change >= tolerance)

    _, h, previous, counts, _ = ops.while_loop(running, cycle, (0, start, start, counts, active))
    return h, ops.squeeze(counts, -1), previous
