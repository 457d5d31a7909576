"""h(0): a given ``initial_h`` (a warm start) and a learned one (``h0="trainable"``), on both NMF layers."""

import keras
import numpy as np
import pytest

from keras_nmf.errors import InvalidInputError
from keras_nmf.layers import CNMF2D, NMFDense
from tests import nmf_reference as ref
from tests.backend import outputs_and_weight_gradients, to_numpy
from tests.layers.gradients import CalledWith, output_and_gradients


def _cnmf(groups=2, **kwargs):
    layer = CNMF2D(4, 3, groups=groups, iterations=5, **kwargs)
    layer.build((None, 6, 6, 4))
    kernel = np.random.default_rng(1).uniform(0, 1, (3, 3, 4 // groups, 4))
    layer.set_weights([kernel.astype("float32")])
    return layer, kernel


@pytest.mark.parametrize("chunk_elements", [None, 300])  # 300: one image per chunk, the chunked one-step backward
def test_cnmf2d_starts_from_initial_h_as_the_reference_does(chunk_elements):
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (3, 6, 6, 4))
    initial_h = rng.uniform(0, 1, (3, 4, 4, 4)) * 7.0
    initial_h[0, 0, 0, :2] = 0.0  # a group's h(0) of sum 0: uniform
    phi = rng.normal(size=(3, 4, 4, 4))
    layer, kernel = _cnmf(chunk_elements=chunk_elements)
    out, grad_x, grad_u = output_and_gradients(CalledWith(layer, initial_h=initial_h.astype("float32")), images, phi)
    expected = ref.conv_forward_backward(images, kernel, groups=2, iterations=5, phi=phi, initial_h=initial_h)
    np.testing.assert_allclose(out, expected[0], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(grad_x, expected[1], rtol=1e-3, atol=1e-5)  # the one-step backward at the final h
    np.testing.assert_allclose(grad_u, expected[2], rtol=1e-3, atol=1e-5)
    assert not np.allclose(out, ref.conv_forward_backward(images, kernel, groups=2, iterations=5, phi=phi)[0])


def test_a_uniform_initial_h_is_the_default_start():
    images = np.random.default_rng(2).uniform(0, 1, (2, 6, 6, 4)).astype("float32")
    layer, _ = _cnmf()
    plain = to_numpy(layer(images))
    np.testing.assert_allclose(to_numpy(layer(images, initial_h=np.ones_like(plain))), plain, rtol=1e-5, atol=1e-7)


def test_a_warm_start_from_the_fixed_point_stops_sooner():
    """The previous frame's h as h(0): with a tolerance, the patterns need fewer updates (factorize reports them)."""
    images = np.random.default_rng(3).uniform(0, 1, (2, 6, 6, 4)).astype("float32")
    layer = CNMF2D(4, 3, iterations=200, tolerance=1e-4)
    cold = layer.factorize(images)
    warm = layer.factorize(images, initial_h=layer(images))
    cold_updates, warm_updates = to_numpy(cold.iterations_used), to_numpy(warm.iterations_used)
    assert warm_updates.mean() < cold_updates.mean() / 2 and warm_updates.max() <= cold_updates.max()
    np.testing.assert_allclose(to_numpy(warm.h), to_numpy(cold.h), atol=1e-2)  # both stopped near the fixed point


def test_dense_initial_h_matches_the_reference():
    rng = np.random.default_rng(4)
    inputs, initial_h = rng.uniform(0, 1, (5, 8)), rng.uniform(0, 1, (5, 3))
    layer = NMFDense(3, iterations=4)
    layer.build((None, 8))
    kernel = rng.uniform(0, 1, (8, 3))
    layer.set_weights([kernel.astype("float32")])
    out = to_numpy(layer(inputs.astype("float32"), initial_h=initial_h.astype("float32")))
    expected = ref.nmf_forward(ref.l1_normalize(inputs), ref.weights_from_kernel(kernel), 4, None, initial_h)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-6)


def test_a_learned_h0_gets_the_gradient_of_the_iterations():
    """h0="trainable": h(0) = |v| / sum |v|, differentiated through the iterations (backward="autodiff")."""
    rng = np.random.default_rng(5)
    inputs = rng.uniform(0, 1, (4, 8)).astype("float32")
    weights = rng.normal(size=(3,)).astype("float32")
    layer = NMFDense(3, iterations=3, backward="autodiff", h0="trainable")
    layer.build((None, 8))
    assert [w.path.split("/")[-1] for w in layer.trainable_weights] == ["kernel", "h0_kernel"]
    v = rng.uniform(0.5, 2.0, (3,)).astype("float32")
    layer.h0_kernel.assign(v)

    def loss(out):
        return keras.ops.sum(keras.ops.multiply(out, weights))

    _, (grad_v,) = outputs_and_weight_gradients(
        keras.Sequential([keras.Input((8,)), layer]), inputs, loss, [layer.h0_kernel]
    )
    grad_v = to_numpy(grad_v)
    kernel = ref.weights_from_kernel(to_numpy(layer.kernel).astype("float64"))
    x = ref.l1_normalize(inputs.astype("float64"))

    def reference_loss(vector):
        start = np.broadcast_to(np.abs(vector), (4, 3))
        return float((ref.nmf_forward(x, kernel, 3, None, start) * weights).sum())

    step = 1e-4
    numeric = np.array([(reference_loss(v + step * e) - reference_loss(v - step * e)) / (2 * step) for e in np.eye(3)])
    assert np.abs(numeric).max() > 1e-4  # h(0) matters after 3 updates
    np.testing.assert_allclose(grad_v, numeric, rtol=2e-2, atol=1e-5)
    config = layer.get_config()
    assert config["h0"] == "trainable" and NMFDense.from_config(config).h0 == "trainable"


@pytest.mark.parametrize("backward", ["approx", "implicit"])
def test_a_learned_h0_needs_autodiff(backward):
    with pytest.raises(ValueError, match="h0='trainable'.*backward='autodiff'"):
        CNMF2D(4, 3, h0="trainable", backward=backward)
    with pytest.raises(ValueError, match="`h0` must be one of"):
        NMFDense(3, h0="random")


def test_a_bad_initial_h_is_named():
    images = np.random.default_rng(6).uniform(0, 1, (2, 6, 6, 4)).astype("float32")
    layer = CNMF2D(4, 3)
    with pytest.raises(ValueError, match="`initial_h` must have the shape of the layer's output h"):
        layer(images, initial_h=np.ones((2, 4, 4, 3), "float32"))
    with pytest.raises(InvalidInputError, match="received an `initial_h` with negative values"):
        layer(images, initial_h=-np.ones((2, 4, 4, 4), "float32"))
