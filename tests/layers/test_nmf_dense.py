"""NMFDense: numerics against the NumPy reference, layer contract, errors."""

import numpy as np
import pytest

from keras_nmf.layers import NMFDense
from tests import nmf_reference as ref
from tests.layer_checks import run_layer_test
from tests.layers.gradients import output_and_gradients


@pytest.mark.parametrize("iterations", [1, 5, 20])
@pytest.mark.parametrize("epsilon", [None, 0.5])
@pytest.mark.parametrize("learning", ["backprop", "local"])
def test_matches_reference(iterations, epsilon, learning):
    rng = np.random.default_rng(iterations)
    inputs = rng.random((6, 10)) * 3.0
    inputs[1] = 0.0  # an all-zero input vector
    phi = rng.normal(size=(6, 4))
    layer = NMFDense(4, iterations=iterations, epsilon=epsilon, learning=learning)
    layer.build((None, 10))
    kernel = rng.normal(size=(10, 4))
    layer.set_weights([kernel.astype("float32")])
    out, grad_x, grad_u = output_and_gradients(layer, inputs, phi)
    expected = ref.dense_forward_backward(inputs, kernel, iterations, epsilon, phi, learning)
    np.testing.assert_allclose(out, expected[0], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(grad_x, expected[1], rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(grad_u, expected[2], rtol=1e-3, atol=1e-5)
    sums = out.sum(axis=-1)
    np.testing.assert_allclose(np.delete(sums, 1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(out[1], 0.0 if epsilon is None else 0.25)


def test_layer_contract(tmp_path):
    run_layer_test(NMFDense, {"units": 6, "iterations": 5, "epsilon": 0.5}, (4, 12), (4, 6), tmp_path)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"units": 0}, "Received: units=0"),
        ({"units": 4, "iterations": 0}, "Received: iterations=0"),
        ({"units": 4, "epsilon": 1.5}, "Received: epsilon=1.5"),
        ({"units": 4, "backward": "exact"}, "Received: backward='exact'"),
        ({"units": 4, "learning": "hebb"}, "Received: learning='hebb'"),
        ({"units": 4, "backward": "autodiff", "learning": "local"}, "needs `backward='approx'`"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NMFDense(**kwargs)


@pytest.mark.parametrize("bad", [-0.5, np.nan, np.inf])
def test_negative_or_non_finite_input_is_named(bad):
    inputs = np.ones((2, 5), "float32")
    inputs[0, 1] = bad
    with pytest.raises(ValueError, match="Layer nmf_in received.*put a ReLU"):
        NMFDense(3, name="nmf_in")(inputs)
