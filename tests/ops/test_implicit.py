"""The implicit (fixed-point) backward: equal to autodiff once h has converged, never NaN on a singular system."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_nmf.layers import CNMF2D, NMFDense
from keras_nmf.ops import implicit
from keras_nmf.ops.nmf import backward_gradients, nmf_iterations


def _problem(seed=0, patterns=5, size=8, hidden=3):
    """Patterns that W represents exactly (x = W h_true, h_true > 0): the iterations converge in a few hundred steps."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(0, 1, (size, hidden))
    w /= w.sum(0)
    x = tf.constant(rng.uniform(0.2, 1, (patterns, hidden)) @ w.T, tf.float64)
    phi = tf.constant(rng.normal(size=(patterns, hidden)), tf.float64)
    return x, tf.constant(w, tf.float64), phi


def _relative(a, b):
    return float(tf.norm(a - b) / tf.norm(b))


@pytest.mark.parametrize("epsilon", [None, 0.5])
def test_implicit_equals_autodiff_through_converged_iterations(epsilon):
    x, w, phi = _problem()
    iterations = 400 if epsilon is None else 700
    with tf.GradientTape() as tape:
        tape.watch([x, w])
        h = nmf_iterations(x, w, iterations, epsilon)
        loss = tf.reduce_sum(h * phi)
    autodiff = tape.gradient(loss, [x, w])
    assert float(tf.reduce_max(tf.abs(nmf_iterations(x, w, iterations + 1, epsilon) - h))) < 1e-9  # converged
    got = backward_gradients(x, w, h, phi, backward="implicit", epsilon=epsilon, implicit_dtype="float64")
    one_step = backward_gradients(x, w, h, phi, backward="approx")
    for exact, reference, approximate in zip(got, autodiff, one_step):
        assert _relative(exact, reference) < 1e-4
        assert _relative(approximate, reference) > 1e-2  # the one-step backward is not this gradient


def test_a_singular_system_falls_back_to_the_one_step_gradient_without_nan(monkeypatch):
    x, w, phi = _problem()
    h = nmf_iterations(x, w, 50)
    monkeypatch.setattr(implicit, "fixed_point_jacobian",
                        lambda x, w, h, epsilon=None: tf.eye(3, batch_shape=[5], dtype=x.dtype))  # I - J^T = 0
    v, fell_back = implicit.implicit_cotangent(x, w, h, phi, dtype="float64")
    assert bool(tf.reduce_all(fell_back)) and np.array_equal(v.numpy(), phi.numpy())
    got = backward_gradients(x, w, h, phi, backward="implicit", implicit_dtype="float64")
    expected = backward_gradients(x, w, h, phi, backward="approx")
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a.numpy(), b.numpy())


def test_layers_train_with_the_implicit_backward_and_count_fallbacks(monkeypatch):
    images = np.random.default_rng(1).uniform(0, 1, (2, 6, 6, 2)).astype("float32")
    layer = CNMF2D(3, 3, iterations=10, backward="implicit", chunk_elements=100)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(images) * tf.range(3, dtype=tf.float32))
    grads = tape.gradient(loss, layer.trainable_variables)
    assert all(np.all(np.isfinite(g.numpy())) for g in grads)
    assert int(layer.implicit_fallbacks.numpy()) >= 0 and layer.get_config()["implicit_dtype"] == "float32"

    monkeypatch.setattr(implicit, "fixed_point_jacobian",
                        lambda x, w, h, epsilon=None: tf.eye(h.shape[-1], batch_shape=tf.shape(h)[:-1], dtype=x.dtype))
    dense = NMFDense(3, iterations=5, backward="implicit")
    inputs = np.random.default_rng(2).uniform(0, 1, (4, 5)).astype("float32")
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(dense(inputs) * tf.range(3, dtype=tf.float32))
    grad = tape.gradient(loss, dense.kernel)
    assert np.all(np.isfinite(grad.numpy())) and int(dense.implicit_fallbacks.numpy()) == 4


def test_bad_implicit_dtype_is_named():
    with pytest.raises(ValueError, match="implicit_dtype"):
        NMFDense(3, backward="implicit", implicit_dtype="float16")
    assert keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(NMFDense(3, backward="implicit", implicit_dtype="float64"))
    ).implicit_dtype == "float64"
