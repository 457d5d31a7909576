"""keras_nmf.ops.nmf against the NumPy transcription of eqs. 6, 18-20."""

import numpy as np
import pytest
import tensorflow as tf

from keras_nmf import ops
from tests import nmf_reference as ref


def _problem(patterns=7, size=12, hidden=5, seed=0):
    rng = np.random.default_rng(seed)
    x = ref.l1_normalize(rng.random((patterns, size)))
    w = ref.weights_from_kernel(rng.random((size, hidden)))
    return x, w


@pytest.mark.parametrize("iterations", [1, 5, 20])
@pytest.mark.parametrize("epsilon", [None, 0.3, 1.0])
def test_iterations_match_eq6(iterations, epsilon):
    x, w = _problem()
    h = ops.nmf_iterations(
        tf.constant(x[None], tf.float32), tf.constant(w[None], tf.float32), iterations, epsilon
    )
    np.testing.assert_allclose(h[0].numpy(), ref.nmf_forward(x, w, iterations, epsilon), rtol=2e-4, atol=1e-6)


def test_epsilon_one_equals_plain_update():
    x, w = _problem()
    args = (tf.constant(x[None], tf.float32), tf.constant(w[None], tf.float32), 10)
    np.testing.assert_allclose(ops.nmf_iterations(*args, 1.0), ops.nmf_iterations(*args, None), rtol=1e-5)


def test_all_zero_pattern_gives_zero_plain_and_uniform_with_epsilon():
    x, w = _problem()
    x[2] = 0.0
    args = (tf.constant(x[None], tf.float32), tf.constant(w[None], tf.float32), 5)
    np.testing.assert_array_equal(ops.nmf_iterations(*args)[0, 2].numpy(), 0.0)
    np.testing.assert_allclose(ops.nmf_iterations(*args, 0.5)[0, 2].numpy(), 1.0 / w.shape[1], rtol=1e-6)


@pytest.mark.parametrize("learning", ["backprop", "local"])
def test_approx_gradients_match_eqs_18_19(learning):
    """Raw patterns in: eqs. 18-19 at xhat = x / sum x, carried through the normalisation."""
    _, w = _problem()
    raw = np.random.default_rng(4).random((7, 12)) * 3.0
    raw[3] = 0.0
    x = ref.l1_normalize(raw)
    phi = np.random.default_rng(1).normal(size=(x.shape[0], w.shape[1]))
    xt, wt = tf.constant(raw[None], tf.float32), tf.constant(w[None], tf.float32)
    with tf.GradientTape() as tape:
        tape.watch([xt, wt])
        h = ops.nmf_approx(xt, wt, 20, learning=learning)
        loss = tf.reduce_sum(h * tf.constant(phi[None], tf.float32))
    grad_raw, grad_w = tape.gradient(loss, [xt, wt])
    h_ref = ref.nmf_forward(x, w, 20)
    np.testing.assert_allclose(h[0].numpy(), h_ref, rtol=2e-4, atol=1e-6)
    expected_x, expected_w = ref.nmf_backward(x, w, h_ref, phi)
    if learning == "local":
        expected_w = ref.local_weight_direction(x, w, h_ref)
    np.testing.assert_allclose(grad_raw[0].numpy(), ref.l1_normalize_vjp(raw, expected_x), rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(grad_w[0].numpy(), expected_w, rtol=1e-3, atol=1e-5)
    np.testing.assert_array_equal(grad_raw[0, 3].numpy(), 0.0)


@pytest.mark.parametrize("epsilon", [None, 0.5])
def test_iterations_normalise_raw_patterns(epsilon):
    """Scaling a pattern leaves h unchanged: the update sees x / sum x (eq. 6's input)."""
    x, w = _problem()
    scales = np.linspace(0.01, 50.0, x.shape[0])[:, None]
    args = (tf.constant(w[None], tf.float32), 10, epsilon)
    h_raw = ops.nmf_iterations(tf.constant((x * scales)[None], tf.float32), *args)
    np.testing.assert_allclose(h_raw[0].numpy(), ref.nmf_forward(x, w, 10, epsilon), rtol=2e-4, atol=1e-6)


def test_l1_normalize_zero_row_has_zero_value_and_gradient():
    r = tf.constant([[0.0, 0.0, 0.0], [1.0, 3.0, 0.0]])
    with tf.GradientTape() as tape:
        tape.watch(r)
        x = ops.l1_normalize(r)
        loss = tf.reduce_sum(x * tf.constant([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]))
    grad = tape.gradient(loss, r).numpy()
    np.testing.assert_allclose(x.numpy(), [[0, 0, 0], [0.25, 0.75, 0]])
    np.testing.assert_array_equal(grad[0], 0.0)
    np.testing.assert_allclose(grad, ref.l1_normalize_vjp(r.numpy().astype(float), np.array([[1.0, 2, 3], [1, 2, 3]])), rtol=1e-6)


def test_nmf_weights_is_eq20_with_its_gradient():
    u = np.random.default_rng(2).normal(size=(3, 3, 2, 4))
    ut = tf.constant(u, tf.float32)
    upstream = np.random.default_rng(3).normal(size=u.shape)
    with tf.GradientTape() as tape:
        tape.watch(ut)
        w = ops.nmf_weights(ut)
        loss = tf.reduce_sum(w * upstream)
    np.testing.assert_allclose(w.numpy(), ref.weights_from_kernel(u), rtol=1e-5)
    np.testing.assert_allclose(w.numpy().sum(axis=(0, 1, 2)), 1.0, rtol=1e-6)
    np.testing.assert_allclose(tape.gradient(loss, ut).numpy(), ref.weights_from_kernel_vjp(u, upstream), rtol=1e-4, atol=1e-6)


def test_autodiff_gradient_with_an_all_zero_pattern_is_finite_under_xla():
    """XLA turned (-x / (y + tiny)) / (y + tiny) into -x / (y + tiny)**2 = 0 / 0 for a zero patch (NaN)."""
    rng = np.random.default_rng(0)
    x = rng.random((6, 12)).astype(np.float32)
    x[2] = 0.0
    w = rng.random((12, 5)).astype(np.float32)
    w /= w.sum(axis=0)
    upstream = tf.constant(rng.normal(size=(6, 5)).astype(np.float32))

    def gradients(x, w):
        with tf.GradientTape() as tape:
            tape.watch([x, w])
            loss = tf.reduce_sum(ops.nmf(x, w, 5, backward="autodiff") * upstream)
        return tape.gradient(loss, [x, w])

    eager, xla = (tf.function(gradients, jit_compile=jit)(tf.constant(x), tf.constant(w)) for jit in (False, True))
    for got, expected in zip(xla, eager):
        assert np.isfinite(got.numpy()).all()
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(eager[0].numpy()[2], 0.0)  # the zero pattern's h is 0 whatever x does there
