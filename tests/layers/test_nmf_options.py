"""The layers' options beyond the paper: divergence, observed masks, tolerance, return_reconstruction."""

import keras
import numpy as np
import pytest

from keras_nmf.layers import CNMF2D, NMFDense
from keras_nmf.nmf_arguments import NMF_OPTION_NAMES, NMFOptions
from tests import nmf_reference as ref
from tests.backend import BACKEND, MODES, to_numpy
from tests.layer_checks import run_layer_test
from tests.layers.gradients import CalledWith, output_and_gradients


def _images(seed=0, shape=(3, 7, 7, 4)):
    return np.random.default_rng(seed).random(shape).astype("float32")


def _gradients(layer, images, observed=None, output=0, mode="eager"):
    """(output, dL/dimages, dL/dkernel) of L = sum(out * phi) for a fixed random phi."""
    probe = CalledWith(layer, output, observed=observed)
    shape = keras.ops.shape(probe(images))
    phi = np.random.default_rng(9).normal(size=tuple(shape))
    return output_and_gradients(probe, images, phi, mode)


#: Every configuration on TensorFlow; on JAX and PyTorch (make test runs this file again, where each case compiles
#: for seconds) the one that has them all but strides.
MASK_CONFIGS = [dict(), dict(padding="same", groups=2), dict(strides=2, padding="same")]


@pytest.mark.parametrize("config", MASK_CONFIGS if BACKEND == "tensorflow" else MASK_CONFIGS[1:2])
def test_an_all_observed_mask_is_the_plain_layer(config):
    images = _images()
    plain = CNMF2D(4, 3, iterations=4, **config)
    masked = CNMF2D(4, 3, iterations=4, **config)
    plain.build(images.shape)
    masked.build(images.shape)
    masked.kernel.assign(plain.kernel)
    ones = np.ones(images.shape[:3] + (1,), "float32")  # one channel, broadcast over the four
    for got, expected in zip(_gradients(masked, images, ones), _gradients(plain, images)):
        np.testing.assert_allclose(got, expected, rtol=2e-4, atol=1e-6)


def test_a_mask_in_chunks_equals_the_whole_batch():
    images = _images(1, (5, 8, 8, 3))
    observed = (np.random.default_rng(2).random((5, 8, 8, 1)) > 0.3).astype("float32")
    whole = CNMF2D(4, 3, iterations=6, chunk_elements=None)
    chunked = CNMF2D(4, 3, iterations=6, chunk_elements=800)  # 800 // (36 * 27) -> one image per chunk
    whole.build(images.shape)
    chunked.build(images.shape)
    chunked.kernel.assign(whole.kernel)
    for got, expected in zip(_gradients(chunked, images, observed), _gradients(whole, images, observed)):
        assert np.all(np.isfinite(got))
        np.testing.assert_allclose(got, expected, rtol=2e-4, atol=1e-6)


def test_missing_entries_do_not_move_h():
    """Changing the value under a missing entry leaves h as it was; changing an observed one does not."""
    inputs = np.random.default_rng(3).random((4, 12)).astype("float32")
    observed = np.ones_like(inputs)
    observed[:, :3] = 0.0
    layer = NMFDense(5, iterations=10)
    h = to_numpy(layer(inputs, observed=observed))
    changed = inputs.copy()
    changed[:, :3] *= 7.0
    np.testing.assert_allclose(to_numpy(layer(changed, observed=observed)), h, rtol=1e-6)
    assert not np.allclose(to_numpy(layer(changed)), to_numpy(layer(inputs)), rtol=1e-3)


@pytest.mark.parametrize("divergence", ["frobenius", "itakura_saito"])
@pytest.mark.parametrize("mode", MODES)
def test_every_divergence_trains_in_every_mode_without_nan(divergence, mode):
    images = _images(4)
    images[0, :4, :4] = 0.0  # all-zero patches
    layer = CNMF2D(4, 3, iterations=6, divergence=divergence, tolerance=1e-4)
    out, grad_x, grad_u = output_and_gradients(layer, images, np.ones((3, 5, 5, 4)), mode)
    assert all(np.all(np.isfinite(a)) for a in (out, grad_x, grad_u)) and np.abs(grad_u).sum() > 0


def test_dense_reconstruction_is_w_h_times_the_input_sum():
    inputs = np.random.default_rng(5).random((3, 9)).astype("float32")
    layer = NMFDense(4, iterations=7, return_reconstruction=True)
    h, reconstruction = layer(inputs)
    w = ref.weights_from_kernel(to_numpy(layer.kernel))
    np.testing.assert_allclose(to_numpy(reconstruction), to_numpy(h) @ w.T * inputs.sum(-1, keepdims=True), rtol=1e-5)
    assert layer.compute_output_shape((None, 9)) == ((None, 4), (None, 9))


def _reference_image_reconstruction(images, kernel, k, iterations):
    """Per patch W h times the patch sum, summed onto its pixels and divided by the patches covering each pixel."""
    b, height, width, channels = images.shape
    w = ref.weights_from_kernel(kernel.reshape(-1, kernel.shape[-1]))
    total, covering = np.zeros(images.shape), np.zeros(images.shape)
    for i in range(height - k + 1):
        for j in range(width - k + 1):
            patch = images[:, i : i + k, j : j + k, :].reshape(b, -1).astype(np.float64)
            sums = patch.sum(-1, keepdims=True)
            h = ref.nmf_forward(patch / sums, w, iterations)
            total[:, i : i + k, j : j + k, :] += (h @ w.T * sums).reshape(b, k, k, channels)
            covering[:, i : i + k, j : j + k, :] += 1.0
    return total / covering


def test_image_reconstruction_averages_the_overlapping_patches():
    images = _images(6, (2, 6, 6, 2))
    layer = CNMF2D(5, 3, iterations=5, return_reconstruction=True)
    h, reconstruction = layer(images)
    assert tuple(reconstruction.shape) == images.shape and tuple(h.shape) == (2, 4, 4, 5)
    expected = _reference_image_reconstruction(images, to_numpy(layer.kernel), 3, 5)
    np.testing.assert_allclose(to_numpy(reconstruction), expected, rtol=2e-4, atol=1e-6)


def test_the_reconstruction_output_has_gradients_to_the_input_and_the_kernel():
    images = _images(7, (2, 6, 6, 2))
    layer = CNMF2D(5, 3, iterations=5, return_reconstruction=True, padding="same")
    _, grad_x, grad_u = _gradients(layer, images, output=1)
    assert np.all(np.isfinite(grad_x)) and np.abs(grad_x).sum() > 0 and np.abs(grad_u).sum() > 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"divergence": "euclid"}, "Received: divergence='euclid'"),
        ({"tolerance": 0.0}, "Received: tolerance=0.0"),
        ({"tolerance": float("nan")}, "finite float > 0"),
        ({"tolerance": 1e-3, "backward": "autodiff"}, "autodiff cannot differentiate"),
        ({"return_reconstruction": "yes"}, "Received: return_reconstruction='yes'"),
    ],
)
def test_bad_options_name_themselves(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CNMF2D(4, 3, **kwargs)


def test_a_mask_that_does_not_fit_is_refused():
    with pytest.raises(ValueError, match=r"`observed` must have the input's shape"):
        CNMF2D(4, 3)(_images(), observed=np.ones((3, 7, 5, 1), "float32"))


@pytest.mark.parametrize(
    "config",
    [dict(divergence="itakura_saito", tolerance=1e-3), dict(divergence="frobenius", return_reconstruction=True)],
)
def test_the_options_serialise(config, tmp_path):
    layer = CNMF2D(4, 3, iterations=3, **config)
    restored = CNMF2D.from_config(layer.get_config())
    assert {key: getattr(restored, key) for key in config} == config
    if not config.get("return_reconstruction"):
        run_layer_test(
            CNMF2D, {"filters": 4, "kernel_size": 3, "iterations": 3, **config}, (2, 8, 8, 4), (2, 6, 6, 4), tmp_path
        )


def test_factorize_reports_the_updates_each_pattern_used():
    images = _images(8)
    layer = CNMF2D(4, 3, iterations=300, tolerance=1e-3)
    factorization = layer.factorize(images)
    used = to_numpy(factorization.iterations_used)
    assert used.shape == (3 * 5 * 5,) and 1 <= used.min() and used.max() < 300 and len(np.unique(used)) > 1
    assert np.all(to_numpy(factorization.residual()) < 1e-3)
    np.testing.assert_array_equal(to_numpy(CNMF2D(4, 3, iterations=7).factorize(images).iterations_used), 7)


def test_observed_fraction_is_the_observed_share_of_each_patch_pooled_like_the_map():
    from keras_nmf.layers import ObservedFraction

    mask = np.ones((1, 6, 6, 2), "float32")
    mask[0, 0, 0, 0] = 0.0  # one of the 3 * 3 * 2 = 18 entries of the top-left patch
    fraction = to_numpy(ObservedFraction(3)(mask))
    assert fraction.shape == (1, 4, 4, 1) and fraction[0, 0, 0, 0] == pytest.approx(17 / 18)
    assert np.all(fraction[0, 1:, 1:] == 1.0)
    pooled = to_numpy(ObservedFraction(3, pool=2)(mask))
    assert pooled.shape == (1, 2, 2, 1) and pooled[0, 0, 0, 0] == pytest.approx((3 + 17 / 18) / 4)
    assert ObservedFraction(3, pool=2).compute_output_shape((None, 6, 6, 2)) == (None, 2, 2, 1)


@pytest.mark.parametrize("value, shown", [(np.nan, "1 NaN/Inf entries"), (1.5, "max 1.5"), (-0.5, "min -0.5")])
@pytest.mark.parametrize("layer", ["cnmf2d", "dense"])
def test_an_observed_mask_outside_0_1_or_not_finite_is_refused(value, shown, layer):
    """The mask is checked like the input (on every backend, where its values can be read): NaN would spread to every
    output of the patch, and a value outside [0, 1] is no weight."""
    images = _images(shape=(2, 5, 5, 3)) if layer == "cnmf2d" else _images(shape=(2, 6))
    observed = np.ones(images.shape, "float32")
    observed.flat[3] = value
    nmf = CNMF2D(2, 3, iterations=2) if layer == "cnmf2d" else NMFDense(2, iterations=2)
    with pytest.raises(
        ValueError, match=r"received an `observed` mask with values outside \[0, 1\] or NaN/Inf"
    ) as raised:
        nmf(images, observed=keras.ops.convert_to_tensor(observed))
    assert shown in str(raised.value)
    observed.flat[3] = 0.25  # a fraction is a weight
    assert np.all(np.isfinite(to_numpy(nmf(images, observed=keras.ops.convert_to_tensor(observed)))))


def test_a_layer_holds_its_options_as_one_checked_value():
    """NMFOptions is checked once and stored whole; the layer's attributes read it and cannot drift from it."""
    layer = CNMF2D(4, 3, iterations=np.int16(3), divergence="frobenius", tolerance=1e-3, name="probe")
    assert layer.options == NMFOptions(3, divergence="frobenius", tolerance=1e-3)
    assert type(layer.options.iterations) is int and (layer.iterations, layer.divergence) == (3, "frobenius")
    with pytest.raises(AttributeError):
        layer.iterations = 5
    config = layer.get_config()
    assert {name: config[name] for name in NMF_OPTION_NAMES} == layer.options.to_config()
    assert CNMF2D.from_config(config).options == layer.options


def test_options_refuse_unknown_keys_and_bad_values_by_name():
    with pytest.raises(ValueError, match="Unknown NMF options: iters"):
        NMFOptions.from_config({"iters": 3})
    with pytest.raises(ValueError, match="`tolerance`"):
        NMFOptions(tolerance=-1.0)
    with pytest.raises(ValueError, match="`learning='local'`"):
        NMFOptions().replace(backward="implicit", learning="local")
