"""NMF inference (eq. 6) and its one-step approximate backward (eqs. 18-19).

Every function here is a pure function of tensors, for one NMF problem (2-D
tensors) or a batch of G independent ones (a leading group axis, one batched
matmul per step). Ungrouped layers pass 2-D tensors: on CPU a plain matmul is
about 1.4x faster than a batched one with G = 1.

* ``x``: ``([G,] P, S)`` non-negative input patterns (P patterns of S entries),
  L1-normalised inside the update (the iterations see x / sum_s x_s),
* ``w``: ``([G,] S, I)`` non-negative NMF weights whose columns sum to 1 (eq. 20),
* ``h``: ``([G,] P, I)`` the hidden activations, each pattern's ``h`` summing to 1.

All arithmetic runs in float32; callers cast in and out (mixed precision).
The iterations divide with divide-no-NaN (0 where a denominator is 0), so an
all-zero pattern gives ``h = 0`` under the plain update (Nouri et al., eqs. 3 and 6).
A ``+ TINY`` guard there would do the same forward, but its autodiff gradient
breaks under XLA: XLA rewrites (-x / y) / y as -x / (y * y), and y = TINY
squared flushes to zero, so an all-zero patch anywhere in a batch made the
whole gradient NaN with ``backward="autodiff"``. The one-step backward,
outside autodiff, guards R with :data:`TINY`.
"""

import math

import keras
from keras import ops

from keras_nmf import backend
from keras_nmf.nmf_arguments import NMFOptions
from keras_nmf.ops.anderson import anderson
from keras_nmf.ops.divergences import beta_update, normalised_patterns, objective, one_step_gradients, paper_update
from keras_nmf.ops.implicit import implicit_cotangent, update_cotangent
from keras_nmf.ops.squarem import squarem

#: The accelerated solvers of the fixed point: (step, objective, start, iterations, tolerance) -> (h, counts, previous).
_ACCELERATED = {"squarem": squarem, "anderson": anderson}

#: The name scope of the NMF layers' own backward (eqs. 18-19, or the implicit gradient): the op names' mark by
#: which a profile tells it from the forward (keras_nmf.benchmarks.step_profile).
BACKWARD_SCOPE = "nmf_backward"

#: Guard added to R in the one-step backward (eqs. 18-19): R + TINY.
TINY = 1e-20

#: Up to this N the updates are unrolled (one op per step, what XLA fuses best); above it they run as one
#: ``keras.ops.fori_loop``, so graph size and compile time do not grow with N (scripts/bench_iterations.py).
UNROLL_LIMIT = 50


def _transpose(a):
    return ops.swapaxes(a, -1, -2)


def _reconstruction(h, w, matmul=ops.matmul):
    """R_ps = sum_j W_sj h_pj, shape ([G,] P, S)."""
    return matmul(h, _transpose(w))


def _inverse_sums(x):
    """1 / sum_s x_s per pattern, shape ([G,] P, 1); 0 for an all-zero pattern."""
    return ops.divide_no_nan(1.0, ops.sum(x, axis=-1, keepdims=True))


def _renormalised(h):
    """h / sum_i h_i per pattern; 0 for an all-zero h."""
    return ops.divide_no_nan(h, ops.sum(h, axis=-1, keepdims=True))


def initial_activations(initial_h, axis=-1):
    """h(0) from a given h (a warm start, or a learned h(0)): each pattern's h scaled to unit sum, as the default
    h(0) = 1/I is; 1/I for a pattern whose given h sums to 0. ``initial_h``: ([G,] P, I), non-negative.

    ``axis``: the axis, or tuple of axes, of one pattern's h (the convolutive layer's whole map: (1, 2, 3)); I is
    their total size."""
    sums = ops.sum(initial_h, axis=axis, keepdims=True)
    size = math.prod(initial_h.shape[a] for a in (axis if isinstance(axis, tuple) else (axis,)))
    uniform = ops.full_like(initial_h, 1.0 / size)
    return ops.where(sums > 0, ops.divide_no_nan(initial_h, sums), uniform)


def nmf_iterations(x, w, options=NMFOptions(), observed=None, with_history=False, initial_h=None, matmul=ops.matmul):
    """Runs ``options.iterations`` NMF updates from h(0) = 1/I, or from ``initial_h`` (eq. 6, renormalised).

    Per step: R = W h, u_i = sum_s xhat_s W_si / R_s with xhat = x / sum_s x_s,
    then h <- h * u (eq. 3, ``epsilon=None``) or h <- h + eps * h * (u - 1)
    (eq. 6), then h <- h / sum_i h_i.

    The L1 normalisation of the input is folded into the update: u is
    computed from the raw x and scaled by 1 / sum_s x_s (a P x 1 factor), which
    saves a pass over the P x S patterns. An L1-normalised x gives the same
    result; an all-zero pattern has u = 0 (so h = 0 under the plain update).

    Args:
        x: float32 tensor ([G,] P, S), non-negative.
        w: float32 tensor ([G,] S, I), non-negative, unit column sums.
        options: the layer's :class:`NMFOptions`, whole: N (``iterations``), eq. 6's ``epsilon``, the
            ``divergence`` (another than ``"kl"``, or ``observed``, runs the weighted update of
            :mod:`keras_nmf.ops.divergences` instead of eq. 3), the ``tolerance`` (the updates then run as one
            ``keras.ops.while_loop`` until every pattern has stopped) and its ``solver`` (``"squarem"``:
            :mod:`keras_nmf.ops.squarem`, ``"anderson"``: :mod:`keras_nmf.ops.anderson`).
        observed: None, or x's shape: 1 observed, 0 missing.
        with_history: also return the updates each pattern used, int32 ([G,] P),
            and its h one update before the returned one (h(0) after one update).
        initial_h: None for h(0) = 1/I, else ([G,] P, I) non-negative: h(0) is each pattern's
            ``initial_h`` scaled to unit sum (:func:`initial_activations`). Differentiable.
        matmul: the matrix product ``matmul(a, b)`` of the two matmuls per step
            (``keras.ops.matmul``; :mod:`keras_nmf.benchmarks.tf32` passes one
            that rounds its inputs as TF32 tensor cores do). float64 x and w
            run in float64 (the reference).

    Above :data:`UNROLL_LIMIT` iterations the updates after the first run as
    one ``keras.ops.fori_loop`` (the same arithmetic, one traced body).

    Returns:
        tensor ([G,] P, I) of x's dtype: h(N); with ``with_history``, ``(h, counts, previous h)``.
    """
    iterations, tolerance = options.iterations, options.tolerance
    if tolerance is not None and backend.tracing_for_export():
        raise ValueError(
            f"Received: tolerance={tolerance} while PyTorch's exporter traces the model. It would record the while "
            "loop with its sample's iteration count, so other inputs would stop at the wrong step. Export with "
            "tolerance=None (a fixed N), or load the .keras file under KERAS_BACKEND=tensorflow and export there "
            "(docs/deploy.md)."
        )
    start = None if initial_h is None else initial_activations(ops.cast(initial_h, x.dtype))
    if _scale_free(options, observed, with_history):
        # The plain KL update is invariant to each pattern's scale of h: renormalise h(N) once (see _scale_free).
        step = _update_rule(x, w, options, matmul, observed, renormalise=False)
        h = step(start)
        if iterations > UNROLL_LIMIT:
            return _renormalised(ops.fori_loop(1, iterations, lambda _, h: step(h), h))
        for _ in range(iterations - 1):
            h = step(h)
        return _renormalised(h)
    step = _update_rule(x, w, options, matmul, observed)
    if options.solver in _ACCELERATED:
        if start is None:
            start = ops.zeros_like(x[..., :1]) + ops.full((w.shape[-1],), 1.0 / w.shape[-1], x.dtype)  # 1/I
        x_hat, _ = normalised_patterns(x, observed)
        h, counts, previous = _ACCELERATED[options.solver](
            step, lambda h: objective(x_hat, w, h, options, observed), start, iterations, tolerance
        )
        return (h, counts, previous) if with_history else h
    h = step(start)
    if start is None:
        start = ops.full_like(h, 1.0 / h.shape[-1])
    if tolerance is not None:
        h, counts, previous = until_converged(step, h, iterations, tolerance, start)
        return (h, counts, previous) if with_history else h
    if not with_history:
        if iterations > UNROLL_LIMIT:
            return ops.fori_loop(1, iterations, lambda _, h: step(h), h)
        for _ in range(iterations - 1):
            h = step(h)
        return h
    previous = start
    if iterations > UNROLL_LIMIT:
        previous, h = ops.fori_loop(1, iterations, lambda _, state: (state[1], step(state[1])), (previous, h))
    else:
        for _ in range(iterations - 1):
            previous, h = h, step(h)
    return h, ops.full(ops.shape(h)[:-1], iterations, "int32"), previous


def until_converged(step, h, iterations, tolerance, start):
    """Updates each pattern until |h(k) - h(k-1)|_1 < tolerance (or ``iterations``), then keeps its h.

    ``h`` is h(1), ``start`` h(0). A pattern that has stopped is never updated again, so its h and its count
    do not depend on the other patterns of the batch.
    """
    previous = start
    change = ops.sum(ops.abs(h - previous), axis=-1, keepdims=True)  # |h(1) - h(0)|_1
    active = change >= tolerance
    counts = ops.ones_like(change, dtype="int32")

    def running(k, h, previous, counts, active):
        return ops.logical_and(k < iterations, ops.any(active))

    def update(k, h, previous, counts, active):
        new = step(h)
        change = ops.sum(ops.abs(new - h), axis=-1, keepdims=True)
        counts = counts + ops.cast(active, "int32")
        previous = ops.where(active, h, previous)
        h = ops.where(active, new, h)
        return k + 1, h, previous, counts, ops.logical_and(active, change >= tolerance)

    _, h, previous, counts, _ = ops.while_loop(running, update, (1, h, previous, counts, active))
    return h, ops.squeeze(counts, -1), previous


def _scale_free(options, observed, with_history):
    """Whether the updates may run without renormalising h at each step, h(N) alone renormalised.

    The plain KL update (eq. 3) h_i <- h_i u_i with u_i = sum_s xhat_s W_si / (W h)_s is invariant to the scale of
    h: c h gives c R and u / c, so the same c h u. Renormalising at every step (eq. 6's h / sum_i h_i) therefore
    changes no later h but by rounding, and renormalising h(N) once gives the same activations. (The sum stays near
    1 without it: sum_i h_i u_i = sum_s xhat_s = 1 from the second update on; the first gives I.) Saving the
    per-step reduction and division leaves each update two matmuls and one elementwise product. Not for eq. 6's
    epsilon (h + eps h (u - 1) is not scale-invariant), the other divergences, a mask, a tolerance (its test reads
    each normalised h) or the history.
    """
    return (
        options.epsilon is None
        and paper_update(options, observed)
        and options.tolerance is None
        and not with_history
        and options.solver == "mu"
    )


def _update_rule(x, w, options, matmul, observed, renormalise=True):
    """The update ``step(h)`` (``step(None)`` starts from h(0) = 1/I): eq. 3/6, or the weighted beta update.

    ``renormalise=False``: each h is left unnormalised (:func:`_scale_free`)."""
    if not paper_update(options, observed):
        x_hat, _ = normalised_patterns(x, observed)
        return lambda h: beta_update(x_hat, w, h, options, observed, matmul)
    inverse_sums = _inverse_sums(x)
    epsilon = options.epsilon

    def update(h, reconstruction):
        u = matmul(ops.divide_no_nan(x, reconstruction), w) * inverse_sums
        if h is None:
            h = u if epsilon is None else 1.0 + epsilon * (u - 1.0)  # h(0) * (...), h(0) = 1/I cancels
        elif epsilon is None:
            h = h * u  # eq. 3 (eq. 6 with eps = 1)
        else:
            h = h + epsilon * h * (u - 1.0)  # eq. 6
        return _renormalised(h) if renormalise else h

    # h(0) = 1/I is the same for every pattern, so R(0) = W h(0) is one row
    # (the row sums of W over I), broadcast: the first step skips a matmul,
    # and h(0)'s constant factor cancels in the renormalisation.
    def step(h):
        if h is None:
            return update(None, ops.expand_dims(ops.mean(w, axis=-1), -2))
        return update(h, _reconstruction(h, w, matmul))

    return step


def approx_gradients(x, w, h, upstream, learning="backprop"):
    """The one-step backward at the final h (eqs. 18-19), for raw patterns x.

    With xhat = x / sum_s x_s (the L1-normalised input of the iterations) and
    the upstream gradient Phi = dL/dh:

    * eq. 19: dL/dxhat_s ~= sum_i Phi_i W_si h_i / R_s,
    * eq. 18: dL/dW_si ~= sum_p h_i xhat_s / R_s * (Phi_i - dL/dxhat_s),
      written as two matmuls over the pattern axis, with the 1 / sum_s x_s
      factors applied to the small P x I operands;
    * ``learning="local"``: dL/dW is replaced by the Lee-Seung KL direction
      -sum_p h_i xhat_s / R_s (eqs. 4-5), which descent follows like the
      multiplicative rule;
    * dL/dx: eq. 19 carried through the normalisation,
      (dL/dxhat_s - sum_t dL/dxhat_t xhat_t) / sum_s x_s, 0 for a zero pattern.

    Args:
        x: ([G,] P, S) raw non-negative patterns, w: ([G,] S, I),
        h: ([G,] P, I) the forward's h(N), upstream: dL/dh, shaped like h.

    Returns:
        (dL/dx, dL/dW), shaped like x and w.
    """
    inverse_sums = _inverse_sums(x)
    reconstruction = _reconstruction(h, w) + TINY
    grad_normalized = _reconstruction(upstream * h, w) / reconstruction  # eq. 19
    x_over_r = x / reconstruction  # xhat / R, times sum_s x_s
    h_scaled = h * inverse_sums
    if learning == "local":
        grad_w = -ops.matmul(_transpose(x_over_r), h_scaled)  # eqs. 4-5
    else:
        grad_w = ops.matmul(_transpose(x_over_r), h_scaled * upstream) - ops.matmul(
            _transpose(x_over_r * grad_normalized), h_scaled
        )  # eq. 18
    projection = ops.sum(grad_normalized * x, axis=-1, keepdims=True)
    grad_x = (grad_normalized - projection * inverse_sums) * inverse_sums
    return grad_x, grad_w


def backward_gradients(x, w, h, upstream, options=NMFOptions(), fallback_counter=None, observed=None):
    """(dL/dx, dL/dW) at the final h: the one-step backward, or the exact fixed-point gradient.

    * ``backward="approx"``: :func:`approx_gradients` (eqs. 18-19); for another
      divergence or with ``observed``, the gradient of that update at the final h
      (:func:`keras_nmf.ops.divergences.one_step_gradients`).
    * ``backward="implicit"``: the exact gradient of the fixed point
      (:mod:`keras_nmf.ops.implicit`): eqs. 18-19 applied to v, the solution of
      (I - J^T) v = dL/dh, times eq. 6's epsilon when one is set (the exact
      derivative of that update); for another divergence or with ``observed``,
      that update's one-step backward applied to v's cotangent of the update
      (:func:`keras_nmf.ops.implicit.update_cotangent`). Patterns whose system is singular or
      ill-conditioned keep the one-step gradient; their count is added to
      ``fallback_counter`` (a variable) when one is given; the count is kept
      on the TensorFlow backend only (see :func:`keras_nmf.backend.after_counting`).
    """
    with keras.name_scope(BACKWARD_SCOPE):  # the profile's mark of the backward (step_profile)
        return _backward_gradients(x, w, h, upstream, options, fallback_counter, observed)


def _backward_gradients(x, w, h, upstream, options, fallback_counter, observed):
    if options.backward != "implicit":
        if not paper_update(options, observed):
            return one_step_gradients(x, w, h, upstream, options, observed)
        return approx_gradients(x, w, h, upstream, options.learning)
    v, fell_back = implicit_cotangent(x, w, h, upstream, options, observed)
    if paper_update(options, observed):
        grad_x, grad_w = approx_gradients(x, w, h, v)
    else:
        cotangent = update_cotangent(x, w, h, v, options, observed)
        grad_x, grad_w = one_step_gradients(x, w, h, cotangent, options, observed)
    if options.epsilon is not None:
        grad_x, grad_w = options.epsilon * grad_x, options.epsilon * grad_w
    if fallback_counter is None:
        return grad_x, grad_w
    count = ops.sum(ops.cast(fell_back, fallback_counter.dtype))
    return backend.after_counting(fallback_counter, count, (grad_x, grad_w))


def nmf_approx(x, w, options=NMFOptions(), fallback_counter=None, observed=None, initial_h=None):
    """NMF inference with a backward at the final h only (eqs. 18-19, or the exact fixed-point gradient).

    The forward is :func:`nmf_iterations` (raw x, normalised inside); the
    gradient is :func:`backward_gradients`, from x, W and the final h only, so
    nothing from the N iterations is kept. ``observed`` (x's shape) and ``initial_h`` are data: the final h is
    held fixed, so h(0) receives no gradient.
    """

    # observed and initial_h are closed over, not arguments: data, never differentiated.
    @backend.custom_gradient
    def _nmf(x, w):
        h = nmf_iterations(x, w, options, observed, initial_h=initial_h)

        def grad(*args, upstream=None):  # PyTorch passes upstream by keyword, TensorFlow and JAX as args[0]
            upstream = args[0] if upstream is None else upstream
            return backward_gradients(x, w, h, upstream, options, fallback_counter, observed)

        return h, grad

    return _nmf(x, w)


def nmf(x, w, options=NMFOptions(), fallback_counter=None, observed=None, initial_h=None):
    """h(N) of patterns ``x`` on weights ``w``, differentiated as ``options.backward`` says (dispatched here only).

    Args:
        x: float32 ([G,] P, S) non-negative patterns (L1-normalised inside, over the observed entries).
        w: float32 ([G,] S, I) NMF weights (eq. 20).
        options: :class:`NMFOptions`.
        fallback_counter: see :func:`backward_gradients`.
        observed: None, or x's shape: 1 where an entry is observed, 0 where it is missing.
        initial_h: None (h(0) = 1/I), or ([G,] P, I): h(0) (:func:`initial_activations`); differentiated only
            with ``backward="autodiff"``.

    Returns:
        float32 ([G,] P, I) activations h(N).
    """
    if options.through_iterations:
        return nmf_iterations(x, w, options, observed, initial_h=initial_h)
    return nmf_approx(x, w, options, fallback_counter, observed, initial_h)


def l1_normalize(x, axis=-1):
    """x / sum(x) along ``axis``; 0 (value and gradient) where the sum is 0.

    Uses divide-no-NaN rather than ``sum + tiny``: the latter would hand an
    all-zero pattern a gradient of dL/dx / tiny (~1e20), which wrecks training
    after any ReLU that silences a patch.
    """
    return ops.divide_no_nan(x, ops.sum(x, axis=axis, keepdims=True))


def nmf_weights(kernel):
    """Eq. 20: W = |U| / sum|U|, summed over every axis but the last (filters).

    A reparametrisation computed in each forward pass, so gradients reach the
    free kernel U through the abs and the normalisation.
    """
    magnitude = ops.abs(kernel)
    reduce_axes = tuple(range(len(kernel.shape) - 1))
    return ops.divide_no_nan(magnitude, ops.sum(magnitude, axis=reduce_axes, keepdims=True))  # eq. 20
