"""The implicit (fixed-point) backward: equal to autodiff once h has converged, never NaN on a singular system."""

import keras
import numpy as np
import pytest

from keras_nmf.layers import CNMF2D, NMFDense
from keras_nmf.ops import implicit
from keras_nmf.ops.nmf import NMFOptions, backward_gradients, nmf_iterations
from tests.backend import BACKEND, float64_only, float64_supported, to_numpy, value_and_gradients


def _problem(seed=0, patterns=5, size=8, hidden=3):
    """Patterns that W represents exactly (x = W h_true, h_true > 0): the iterations converge in a few hundred steps."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(0, 1, (size, hidden))
    w /= w.sum(0)
    x = rng.uniform(0.2, 1, (patterns, hidden)) @ w.T
    phi = rng.normal(size=(patterns, hidden))
    return tuple(keras.ops.convert_to_tensor(a, "float64") for a in (x, w, phi))


def _relative(a, b):
    a, b = to_numpy(a), to_numpy(b)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def _identity_jacobian(x, w, h, *options):
    """I - J^T = 0: a singular system for every pattern."""
    return keras.ops.broadcast_to(keras.ops.eye(h.shape[-1], dtype=x.dtype), tuple(h.shape) + (h.shape[-1],))


def _one_missing_entry_per_pattern(x):
    """A mask that hides one entry of each pattern (entry p - 1 of pattern p): 7 of 8 observed, 3 unknowns."""
    observed = np.ones(tuple(x.shape))
    observed[np.arange(observed.shape[0]), (np.arange(observed.shape[0]) - 1) % observed.shape[1]] = 0.0
    return keras.ops.convert_to_tensor(observed, "float64")


@float64_only
@pytest.mark.parametrize(
    "divergence, masked, epsilon, iterations, bound",
    [
        ("kl", False, None, 400, 1e-4),
        ("kl", False, 0.5, 700, 1e-4),  # eq. 3 and eq. 6
        ("itakura_saito", False, None, 400, 1e-6),
        ("kl", True, None, 300, 1e-6),
        ("itakura_saito", True, None, 300, 1e-6),
    ],
)
def test_implicit_equals_autodiff_through_converged_iterations(divergence, masked, epsilon, iterations, bound):
    """The fixed point of each update (keras_nmf.ops.implicit's module docstring), renormalised for KL only."""
    x, w, phi = _problem()
    observed = _one_missing_entry_per_pattern(x) if masked else None

    def run(x, w, n=iterations):
        return nmf_iterations(x, w, NMFOptions(iterations=n, epsilon=epsilon, divergence=divergence), observed=observed)

    h = run(x, w)
    assert float(np.max(np.abs(to_numpy(run(x, w, iterations + 1) - h)))) < 1e-9  # converged
    _, autodiff = value_and_gradients(lambda x, w: keras.ops.sum(keras.ops.multiply(run(x, w), phi)), x, w)
    options = dict(divergence=divergence, epsilon=epsilon, implicit_dtype="float64")
    got = backward_gradients(x, w, h, phi, NMFOptions(backward="implicit", **options), observed=observed)
    one_step = backward_gradients(x, w, h, phi, NMFOptions(backward="approx", **options), observed=observed)
    for exact, reference, approximate in zip(got, autodiff, one_step):
        assert _relative(exact, reference) < bound
        assert _relative(approximate, reference) > 1e-2  # the one-step backward is not this gradient


@float64_only
def test_a_singular_system_falls_back_to_the_one_step_gradient_without_nan(monkeypatch):
    x, w, phi = _problem()
    h = nmf_iterations(x, w, NMFOptions(iterations=50))
    monkeypatch.setattr(implicit, "fixed_point_jacobian", _identity_jacobian)
    v, fell_back = implicit.implicit_cotangent(x, w, h, phi, NMFOptions(implicit_dtype="float64"))
    assert bool(np.all(to_numpy(fell_back, bool))) and np.array_equal(to_numpy(v), to_numpy(phi))
    got = backward_gradients(x, w, h, phi, NMFOptions(backward="implicit", implicit_dtype="float64"))
    expected = backward_gradients(x, w, h, phi, NMFOptions(backward="approx"))
    for a, b in zip(got, expected):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b))


def _weight_gradient(layer, inputs):
    from tests.backend import layer_output_and_gradients

    weights = keras.ops.arange(3, dtype="float32")
    loss = lambda out: keras.ops.sum(keras.ops.multiply(out, weights))  # noqa: E731
    return to_numpy(layer_output_and_gradients(layer, inputs, loss)[2])


def test_layers_train_with_the_implicit_backward():
    images = np.random.default_rng(1).uniform(0, 1, (2, 6, 6, 2)).astype("float32")
    layer = CNMF2D(3, 3, iterations=10, backward="implicit", chunk_elements=100)
    assert np.all(np.isfinite(_weight_gradient(layer, images)))
    assert layer.get_config()["implicit_dtype"] == "float32"


def test_the_implicit_backward_trains_with_a_mask_and_another_divergence():
    from tests.layers.test_nmf_options import _gradients

    images = np.random.default_rng(3).uniform(0, 1, (2, 6, 6, 2)).astype("float32")
    observed = (np.random.default_rng(4).random((2, 6, 6, 1)) > 0.3).astype("float32")
    layer = CNMF2D(3, 3, iterations=3, backward="implicit", divergence="itakura_saito", chunk_elements=100)
    _, grad_x, grad_u = _gradients(layer, images, observed)
    assert np.all(np.isfinite(grad_x)) and np.all(np.isfinite(grad_u)) and np.abs(grad_u).sum() > 0


def test_the_fallbacks_are_counted_where_a_backward_can_count(monkeypatch):
    monkeypatch.setattr(implicit, "fixed_point_jacobian", _identity_jacobian)
    dense = NMFDense(3, iterations=5, backward="implicit")
    inputs = np.random.default_rng(2).uniform(0, 1, (4, 5)).astype("float32")
    assert np.all(np.isfinite(_weight_gradient(dense, inputs)))
    assert [w.path.split("/")[-1] for w in dense.non_trainable_weights] == ["implicit_fallbacks"]  # loads anywhere
    if BACKEND == "jax":  # a stateless backward cannot assign a variable: no counter rather than one stuck at 0
        assert dense.implicit_fallbacks is None
    else:
        assert int(to_numpy(dense.implicit_fallbacks)) == 4
        _weight_gradient(dense, inputs)
        assert int(to_numpy(dense.implicit_fallbacks)) == 8


def test_bad_implicit_dtype_is_named():
    with pytest.raises(ValueError, match="implicit_dtype"):
        NMFDense(3, backward="implicit", implicit_dtype="float16")
    assert (
        keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(NMFDense(3, backward="implicit", implicit_dtype="float32"))
        ).implicit_dtype
        == "float32"
    )


@pytest.mark.skipif(float64_supported(), reason="float64 exists on this backend")
def test_float64_solves_without_float64_are_refused():
    with pytest.raises(ValueError, match="JAX_ENABLE_X64=1"):
        NMFDense(3, backward="implicit", implicit_dtype="float64")
