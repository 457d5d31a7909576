"""The beta-divergence updates, missing entries and convergence control against NumPy transcriptions."""

import keras
import numpy as np
import pytest

from keras_nmf import ops
from keras_nmf.ops import divergences
from keras_nmf.nmf_arguments import DIVERGENCES, NMFOptions
from keras_nmf.ops.nmf import approx_gradients
from tests import nmf_reference as ref
from tests.backend import float64_supported, to_numpy, value_and_gradients

DTYPE = "float64" if float64_supported() else "float32"
#: float64 where the backend computes it (the transcription is exact then), float32 elsewhere.
RTOL = 1e-10 if DTYPE == "float64" else 2e-4


def _t(array):
    return keras.ops.convert_to_tensor(np.asarray(array, DTYPE))


def _problem(patterns=6, size=10, hidden=4, seed=0, missing=0.0):
    rng = np.random.default_rng(seed)
    x = rng.random((patterns, size)) * 2.0
    x[2] = 0.0  # an all-zero pattern
    w = ref.weights_from_kernel(rng.random((size, hidden)))
    m = (rng.random((patterns, size)) >= missing).astype(np.float64)
    m[4] = 0.0  # a pattern with nothing observed
    return x, w, m


def _reference_iterations(x, w, iterations, beta, m=None, epsilon=None):
    """NumPy transcription of h <- h * W^T(m xhat R^(b-2)) / W^T(m R^(b-1)) (Févotte and Idier 2011)."""
    m = np.ones_like(x) if m is None else m
    total = (m * x).sum(-1, keepdims=True)
    x_hat = np.divide(m * x, total, out=np.zeros_like(x), where=total > 0)
    h = np.full((x.shape[0], w.shape[1]), 1.0 / w.shape[1])
    for _ in range(iterations):
        r = np.maximum(h @ w.T, divergences.R_FLOOR)
        numerator, denominator = (m * x_hat * r ** (beta - 2)) @ w, (m * r ** (beta - 1)) @ w
        ratio = np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)
        h = h * ratio if epsilon is None else h + epsilon * h * (ratio - 1.0)
        if beta == 1.0:
            sums = h.sum(-1, keepdims=True)
            h = np.divide(h, sums, out=np.zeros_like(h), where=sums > 0)
    return h


@pytest.mark.parametrize("divergence", list(DIVERGENCES))
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("epsilon", [None, 0.5])
def test_iterations_match_the_numpy_transcription(divergence, masked, epsilon):
    x, w, m = _problem(missing=0.3)
    beta = DIVERGENCES[divergence]
    h = ops.nmf_iterations(
        _t(x),
        _t(w),
        NMFOptions(iterations=15, epsilon=epsilon, divergence=divergence),
        observed=_t(m) if masked else None,
    )
    expected = _reference_iterations(x, w, 15, beta, m if masked else None, epsilon)
    np.testing.assert_allclose(to_numpy(h), expected, rtol=RTOL, atol=1e-12 if DTYPE == "float64" else 1e-6)
    assert np.all(np.isfinite(to_numpy(h)))
    if epsilon is None:
        assert not np.any(to_numpy(h)[2])  # the zero pattern: h = 0 (with eq. 6's epsilon it stays at 1/I)


@pytest.mark.parametrize("epsilon", [None, 0.3])
def test_a_mask_of_ones_is_the_plain_layer(epsilon):
    x, w, _ = _problem()
    plain = ops.nmf_iterations(_t(x), _t(w), NMFOptions(iterations=20, epsilon=epsilon))
    masked = ops.nmf_iterations(_t(x), _t(w), NMFOptions(iterations=20, epsilon=epsilon), observed=_t(np.ones_like(x)))
    np.testing.assert_allclose(to_numpy(masked), to_numpy(plain), rtol=RTOL * 10, atol=1e-7)


def _one_update(x, w, h, options, m):
    """g = h * N / D at a fixed h, from raw x (normalised over the observed entries): what autodiff differentiates."""
    x_hat, _ = divergences.normalised_patterns(x, m)
    *_, numerator, denominator = divergences.update_terms(x_hat, w, h, options, m)
    return h * keras.ops.divide_no_nan(numerator, denominator)


@pytest.mark.parametrize("divergence", list(DIVERGENCES))
@pytest.mark.parametrize("masked", [False, True])
def test_the_one_step_backward_is_the_gradient_of_one_update(divergence, masked):
    x, w, m = _problem(missing=0.3, seed=3)
    options = NMFOptions(iterations=10, divergence=divergence)
    observed = _t(m) if masked else None
    h = ops.nmf_iterations(_t(x), _t(w), options, observed=observed)
    phi = _t(np.random.default_rng(1).normal(size=(x.shape[0], w.shape[1])))
    _, (auto_x, auto_w) = value_and_gradients(
        lambda x, w: keras.ops.sum(_one_update(x, w, h, options, observed) * phi), _t(x), _t(w)
    )
    grad_x, grad_w = divergences.one_step_gradients(_t(x), _t(w), h, phi, options, observed)
    for got, expected in ((grad_x, auto_x), (grad_w, auto_w)):
        got, expected = to_numpy(got), to_numpy(expected)
        assert np.all(np.isfinite(got))
        np.testing.assert_allclose(
            got, expected, rtol=RTOL * 10, atol=(1e-10 if DTYPE == "float64" else 1e-6) * np.abs(expected).max()
        )


def test_for_kl_the_general_backward_is_eqs_18_19():
    """Equal dL/dx; dL/dW differs by a constant per column (the denominator W^T 1), which eq. 20 removes."""
    x, w, _ = _problem(seed=5)
    h = ops.nmf_iterations(_t(x), _t(w), NMFOptions(iterations=20))
    phi = _t(np.random.default_rng(2).normal(size=(x.shape[0], w.shape[1])))
    general_x, general_w = divergences.one_step_gradients(_t(x), _t(w), h, phi, NMFOptions())
    paper_x, paper_w = approx_gradients(_t(x), _t(w), h, phi)
    np.testing.assert_allclose(to_numpy(general_x), to_numpy(paper_x), rtol=RTOL * 10, atol=1e-9)
    difference = to_numpy(general_w) - to_numpy(paper_w)
    np.testing.assert_allclose(difference - difference.mean(0), 0.0, atol=1e-9 if DTYPE == "float64" else 1e-5)
    kernel = np.random.default_rng(7).random(w.shape)
    through_eq20 = [ref.weights_from_kernel_vjp(kernel, to_numpy(g)) for g in (general_w, paper_w)]
    np.testing.assert_allclose(*through_eq20, rtol=RTOL * 10, atol=1e-9 if DTYPE == "float64" else 1e-5)


def _reference_with_tolerance(x, w, iterations, tolerance):
    """Each pattern alone, updated until its first step with |h(k) - h(k-1)|_1 < tolerance."""
    rows, counts = [], []
    for pattern in x:
        h_previous = np.full(w.shape[1], 1.0 / w.shape[1])
        for k in range(1, iterations + 1):
            h = ref.nmf_forward(pattern[None], w, k)[0] if pattern.any() else np.zeros(w.shape[1])
            if np.abs(h - h_previous).sum() < tolerance or k == iterations:
                break
            h_previous = h
        rows.append(h)
        counts.append(k)
    return np.array(rows), np.array(counts)


def test_tolerance_stops_each_pattern_at_its_first_small_step():
    x, w, _ = _problem(patterns=8, seed=2)
    x = ref.l1_normalize(x + 1e-3)
    h, counts, _ = ops.nmf_iterations(_t(x), _t(w), NMFOptions(iterations=200, tolerance=1e-3), with_history=True)
    expected_h, expected_counts = _reference_with_tolerance(x, w, 200, 1e-3)
    np.testing.assert_array_equal(to_numpy(counts), expected_counts)
    assert len(set(expected_counts)) > 1  # the patterns stop at different steps
    np.testing.assert_allclose(to_numpy(h), expected_h, rtol=RTOL * 10, atol=1e-7)


def test_a_patterns_result_does_not_depend_on_the_rest_of_the_batch():
    x, w, _ = _problem(patterns=8, seed=4)
    alone = [
        ops.nmf_iterations(_t(x[i : i + 1]), _t(w), NMFOptions(iterations=100, tolerance=1e-4), with_history=True)[:2]
        for i in range(8)
    ]
    together, counts, _ = ops.nmf_iterations(
        _t(x), _t(w), NMFOptions(iterations=100, tolerance=1e-4), with_history=True
    )
    np.testing.assert_array_equal(to_numpy(counts), [int(to_numpy(c)[0]) for _, c in alone])
    # The same updates, to rounding: in float32 a matrix product of one row and one of eight may take different
    # kernels (on JAX on an AMD EPYC host, 1.3e-6 relative after 100 updates).
    np.testing.assert_allclose(
        to_numpy(together),
        np.concatenate([to_numpy(h) for h, _ in alone]),
        rtol=1e-12 if DTYPE == "float64" else 1e-5,
        atol=1e-9,
    )


@pytest.mark.parametrize("iterations", [7, 60])  # unrolled, and the fori_loop above UNROLL_LIMIT
def test_the_history_is_the_last_two_iterates(iterations):
    x, w, _ = _problem(seed=6)
    h, counts, previous = ops.nmf_iterations(_t(x), _t(w), NMFOptions(iterations=iterations), with_history=True)
    np.testing.assert_array_equal(to_numpy(counts), iterations)
    np.testing.assert_allclose(
        to_numpy(previous),
        to_numpy(ops.nmf_iterations(_t(x), _t(w), NMFOptions(iterations=iterations - 1))),
        rtol=RTOL,
        atol=1e-12,
    )
    np.testing.assert_allclose(
        to_numpy(h), to_numpy(ops.nmf_iterations(_t(x), _t(w), NMFOptions(iterations=iterations))), rtol=RTOL
    )
    stopped, _, before = ops.nmf_iterations(_t(x), _t(w), NMFOptions(iterations=500, tolerance=1e-3), with_history=True)
    change = np.abs(to_numpy(stopped) - to_numpy(before)).sum(-1)
    assert np.all(change[np.abs(x).sum(-1) > 0] < 1e-3)  # each pattern stopped at its first small step
