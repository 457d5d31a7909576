"""keras_nmf.ops.nmf against the NumPy transcription of eqs. 6, 18-20."""

import keras
import numpy as np
import pytest

from keras_nmf import backend, ops
from keras_nmf.nmf_arguments import NMFOptions
from keras_nmf.ops.nmf import _update_rule
from tests import nmf_reference as ref
from tests.backend import to_numpy, value_and_gradients


def _f32(array):
    return keras.ops.convert_to_tensor(np.asarray(array, np.float32))


def _problem(patterns=7, size=12, hidden=5, seed=0):
    rng = np.random.default_rng(seed)
    x = ref.l1_normalize(rng.random((patterns, size)))
    w = ref.weights_from_kernel(rng.random((size, hidden)))
    return x, w


@pytest.mark.parametrize("iterations", [1, 5, 20])
@pytest.mark.parametrize("epsilon", [None, 0.3, 1.0])
def test_iterations_match_eq6(iterations, epsilon):
    x, w = _problem()
    h = ops.nmf_iterations(_f32(x[None]), _f32(w[None]), NMFOptions(iterations=iterations, epsilon=epsilon))
    np.testing.assert_allclose(to_numpy(h[0]), ref.nmf_forward(x, w, iterations, epsilon), rtol=2e-4, atol=1e-6)


@pytest.mark.parametrize("dtype, rtol", [("float32", 1e-5), ("float64", 1e-13)])
@pytest.mark.parametrize("iterations", [2, 20, 60])  # 60: the updates as one loop (above UNROLL_LIMIT)
def test_the_plain_update_renormalised_once_equals_renormalising_every_step(dtype, rtol, iterations):
    # The plain KL update is scale-invariant, so the fixed-N path renormalises h(N) only (ops.nmf._scale_free).
    if dtype == "float64" and not backend.float64_available():
        pytest.skip("float64 arithmetic is TensorFlow's here (JAX: JAX_ENABLE_X64=1)")
    x, w = _problem(patterns=40, size=75, hidden=32, seed=3)
    x[5] = 0.0  # an all-zero pattern stays 0
    x_t, w_t = (keras.ops.convert_to_tensor(np.asarray(a, dtype)) for a in (x * 37.0, w))  # raw patterns
    step = _update_rule(x_t, w_t, NMFOptions(), keras.ops.matmul, None)  # eq. 6's renormalisation at every step
    every_step = step(None)
    for _ in range(iterations - 1):
        every_step = step(every_step)
    once = ops.nmf_iterations(x_t, w_t, NMFOptions(iterations=iterations))
    np.testing.assert_allclose(to_numpy(once), to_numpy(every_step), rtol=rtol, atol=rtol * 1e-2)
    np.testing.assert_array_equal(to_numpy(once)[5], 0.0)
    if dtype == "float64":
        np.testing.assert_allclose(to_numpy(once), ref.nmf_forward(x, w, iterations), rtol=1e-12)


def test_epsilon_one_equals_plain_update():
    x, w = _problem()
    args = (_f32(x[None]), _f32(w[None]))
    np.testing.assert_allclose(
        to_numpy(ops.nmf_iterations(*args, NMFOptions(iterations=10, epsilon=1.0))),
        to_numpy(ops.nmf_iterations(*args, NMFOptions(iterations=10))),
        rtol=1e-5,
    )


def test_all_zero_pattern_gives_zero_plain_and_uniform_with_epsilon():
    x, w = _problem()
    x[2] = 0.0
    args = (_f32(x[None]), _f32(w[None]))
    np.testing.assert_array_equal(to_numpy(ops.nmf_iterations(*args, NMFOptions(iterations=5))[0, 2]), 0.0)
    h = ops.nmf_iterations(*args, NMFOptions(iterations=5, epsilon=0.5))
    np.testing.assert_allclose(to_numpy(h[0, 2]), 1.0 / w.shape[1], rtol=1e-6)


@pytest.mark.parametrize("learning", ["backprop", "local"])
def test_approx_gradients_match_eqs_18_19(learning):
    """Raw patterns in: eqs. 18-19 at xhat = x / sum x, carried through the normalisation."""
    _, w = _problem()
    raw = np.random.default_rng(4).random((7, 12)) * 3.0
    raw[3] = 0.0
    x = ref.l1_normalize(raw)
    phi = np.random.default_rng(1).normal(size=(x.shape[0], w.shape[1]))
    xt, wt = _f32(raw[None]), _f32(w[None])
    _, (grad_raw, grad_w) = value_and_gradients(
        lambda x, w: keras.ops.sum(ops.nmf_approx(x, w, ops.NMFOptions(20, learning=learning)) * _f32(phi[None])),
        xt,
        wt,
    )
    grad_raw, grad_w = to_numpy(grad_raw), to_numpy(grad_w)
    h_ref = ref.nmf_forward(x, w, 20)
    np.testing.assert_allclose(to_numpy(ops.nmf_approx(xt, wt, ops.NMFOptions(20))[0]), h_ref, rtol=2e-4, atol=1e-6)
    expected_x, expected_w = ref.nmf_backward(x, w, h_ref, phi)
    if learning == "local":
        expected_w = ref.local_weight_direction(x, w, h_ref)
    np.testing.assert_allclose(grad_raw[0], ref.l1_normalize_vjp(raw, expected_x), rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(grad_w[0], expected_w, rtol=1e-3, atol=1e-5)
    np.testing.assert_array_equal(grad_raw[0, 3], 0.0)


@pytest.mark.parametrize("epsilon", [None, 0.5])
def test_iterations_normalise_raw_patterns(epsilon):
    """Scaling a pattern leaves h unchanged: the update sees x / sum x (eq. 6's input)."""
    x, w = _problem()
    scales = np.linspace(0.01, 50.0, x.shape[0])[:, None]
    h_raw = ops.nmf_iterations(_f32((x * scales)[None]), _f32(w[None]), NMFOptions(iterations=10, epsilon=epsilon))
    np.testing.assert_allclose(to_numpy(h_raw[0]), ref.nmf_forward(x, w, 10, epsilon), rtol=2e-4, atol=1e-6)


def test_l1_normalize_zero_row_has_zero_value_and_gradient():
    r = np.array([[0.0, 0.0, 0.0], [1.0, 3.0, 0.0]])
    upstream = np.array([[1.0, 2, 3], [1, 2, 3]])
    _, (grad,) = value_and_gradients(lambda r: keras.ops.sum(ops.l1_normalize(r) * _f32(upstream)), _f32(r))
    np.testing.assert_allclose(to_numpy(ops.l1_normalize(_f32(r))), [[0, 0, 0], [0.25, 0.75, 0]])
    np.testing.assert_array_equal(to_numpy(grad)[0], 0.0)
    np.testing.assert_allclose(to_numpy(grad), ref.l1_normalize_vjp(r, upstream), rtol=1e-6)


def test_nmf_weights_is_eq20_with_its_gradient():
    u = np.random.default_rng(2).normal(size=(3, 3, 2, 4))
    upstream = np.random.default_rng(3).normal(size=u.shape)
    _, (grad,) = value_and_gradients(lambda u: keras.ops.sum(ops.nmf_weights(u) * _f32(upstream)), _f32(u))
    w = to_numpy(ops.nmf_weights(_f32(u)))
    np.testing.assert_allclose(w, ref.weights_from_kernel(u), rtol=1e-5)
    np.testing.assert_allclose(w.sum(axis=(0, 1, 2)), 1.0, rtol=1e-6)
    np.testing.assert_allclose(to_numpy(grad), ref.weights_from_kernel_vjp(u, upstream), rtol=1e-4, atol=1e-6)


def test_autodiff_gradient_with_an_all_zero_pattern_is_finite_under_xla():
    """XLA turned (-x / (y + tiny)) / (y + tiny) into -x / (y + tiny)**2 = 0 / 0 for a zero patch (NaN)."""
    rng = np.random.default_rng(0)
    x = rng.random((6, 12)).astype(np.float32)
    x[2] = 0.0
    w = rng.random((12, 5)).astype(np.float32)
    w /= w.sum(axis=0)
    upstream = _f32(rng.normal(size=(6, 5)))

    def loss(x, w):
        return keras.ops.sum(ops.nmf(x, w, ops.NMFOptions(5, backward="autodiff")) * upstream)

    eager, xla = (
        [to_numpy(g) for g in value_and_gradients(loss, _f32(x), _f32(w), mode=mode)[1]] for mode in ("graph", "xla")
    )
    for got, expected in zip(xla, eager):
        assert np.isfinite(got).all()
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(eager[0][2], 0.0)  # the zero pattern's h is 0 whatever x does there
