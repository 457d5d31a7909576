"""The layers' edge cases: empty batches, huge inputs, all-zero patches under the implicit backward, bad arguments,
dead initialisers, and large N as a loop."""

import importlib
import warnings

import keras
import numpy as np
import pytest

from keras_nmf.layers import CNMF2D, L1Normalize, NMFDense
from keras_nmf.nmf_arguments import MAX_ITERATIONS, NMFOptions
from keras_nmf.ops import invalid_input_message
from tests.backend import MODES, layer_output_and_gradients, to_numpy

nmf_module = importlib.import_module("keras_nmf.ops.nmf")


def test_an_empty_batch_gives_an_empty_output():
    assert tuple(CNMF2D(4, 3)(np.zeros((0, 8, 8, 3), "float32")).shape) == (0, 6, 6, 4)
    assert tuple(NMFDense(3)(np.zeros((0, 5), "float32")).shape) == (0, 3)


def test_a_huge_finite_input_is_not_called_negative_or_non_finite():
    with pytest.raises(ValueError, match="too large for float32 NMF: its entries are finite and >= 0") as error:
        NMFDense(3)(np.full((2, 4), 3e38, "float32"))
    assert "negative" not in str(error.value).split("Scale")[0].replace(">= 0", "")
    h = to_numpy(NMFDense(3)(np.full((2, 4), 3e30, "float32")))  # large, but its sums fit: an ordinary input
    assert np.all(np.isfinite(h)) and np.allclose(h.sum(-1), 1.0, rtol=1e-5)


def test_a_bad_input_message_says_what_is_wrong():
    with pytest.raises(ValueError, match=r"1 negative entries .* and 0 NaN/Inf entries"):
        NMFDense(3)(np.array([[1.0, -1.0], [2.0, 1.0]], "float32"))


def test_fit_stops_on_a_negative_input_with_the_layers_message_on_every_backend():
    """Every backend compiles fit's steps its own way (a graph, jax.jit, eager PyTorch): none trains on silently."""
    model = keras.Sequential([keras.Input((6,)), NMFDense(3, name="nmf"), keras.layers.Dense(1)])
    model.compile("adam", "mse")
    data, targets = np.random.default_rng(0).uniform(size=(8, 6)).astype("float32"), np.zeros((8, 1))
    model.fit(data, targets, verbose=0)
    data[3, 2] = -0.5
    with pytest.raises(Exception) as error:
        model.fit(data, targets, verbose=0)
    assert invalid_input_message(error.value).startswith("Layer nmf received an input with negative values")


@pytest.mark.parametrize("mode", MODES)
def test_the_implicit_backward_falls_back_on_all_zero_patches_in_every_mode(mode):
    x = np.random.default_rng(0).random((2, 8, 8, 3)).astype("float32")
    x[0] = 0.0  # every patch of image 0 is all zero
    layer = CNMF2D(4, 3, iterations=5, backward="implicit")
    out, grad_x, grad_kernel = layer_output_and_gradients(layer, x, lambda h: keras.ops.sum(h * h), mode=mode)
    assert np.all(np.isfinite(to_numpy(grad_x))) and np.all(np.isfinite(to_numpy(grad_kernel)))
    assert np.all(to_numpy(out)[0] == 0.0)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"epsilon": "abc"}, "`epsilon` .* Received: epsilon='abc' of type str"),
        ({"iterations": MAX_ITERATIONS + 1}, f"`iterations` .* between 1 and {MAX_ITERATIONS:,}"),
        ({"iterations": 0}, "`iterations`"),
        ({"check_inputs": "yes"}, "`check_inputs` must be True or False"),
        ({"filters": 2.5}, "`filters` must be an integer"),
        ({"chunk_elements": 0}, "`chunk_elements`"),
    ],
)
def test_every_constructor_argument_is_checked_with_its_name(arguments, message):
    with pytest.raises(ValueError, match=message):
        CNMF2D(**{"filters": 4, "kernel_size": 3, **arguments})


def test_numpy_integers_are_accepted():
    layer = CNMF2D(np.int64(4), np.int32(3), iterations=np.int64(3), groups=np.int64(2), chunk_elements=np.int64(99))
    assert (layer.filters, layer.kernel_size, layer.iterations, layer.groups) == (4, (3, 3), 3, 2)
    assert type(layer.iterations) is int and NMFDense(np.int16(3)).units == 3
    assert L1Normalize(axis=np.int64(-1)).axis == -1


def test_l1_normalize_checks_its_axis_against_the_input():
    with pytest.raises(ValueError, match="`axis` must be an int"):
        L1Normalize(axis="channels")
    with pytest.raises(ValueError, match=r"`axis` must be an axis of the 2-D input \(from -2 to 1\)"):
        L1Normalize(axis=5)(np.ones((2, 3), "float32"))


@pytest.mark.parametrize("initializer, what", [("zeros", "all zero"), ("ones", "constant")])
def test_a_constant_kernel_initializer_warns_that_the_layer_is_dead(initializer, what):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        CNMF2D(4, 3, kernel_initializer=initializer, name="dead")(np.ones((1, 5, 5, 2), "float32"))
    messages = [str(w.message) for w in caught if "dead" in str(w.message)]
    assert messages and what in messages[0] and "Layer 'dead'" in messages[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        CNMF2D(4, 3)(np.ones((1, 5, 5, 2), "float32"))
    assert not [w for w in caught if "is dead" in str(w.message)]


def test_above_the_unroll_limit_the_iterations_loop_with_the_same_numbers(monkeypatch):
    rng = np.random.default_rng(1)
    x = rng.random((12, 6)).astype("float32")
    w = rng.random((6, 4)).astype("float32")
    w /= w.sum(0)
    n = nmf_module.UNROLL_LIMIT + 5
    looped = to_numpy(
        nmf_module.nmf_iterations(
            keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(w), NMFOptions(iterations=n)
        )
    )
    monkeypatch.setattr(nmf_module, "UNROLL_LIMIT", n)
    unrolled = to_numpy(
        nmf_module.nmf_iterations(
            keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(w), NMFOptions(iterations=n)
        )
    )
    np.testing.assert_allclose(looped, unrolled, rtol=1e-6, atol=1e-7)
