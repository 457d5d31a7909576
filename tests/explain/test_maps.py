"""One NMF layer's explanation maps: the folded reconstruction against a NumPy oracle, the dominant part on an
image built from two known parts, the error map, and the per-image errors of every NMF layer."""

import keras
import numpy as np
import pytest

from keras_nmf.errors import ExplainError
from keras_nmf.explain import layer_maps, reconstruction_errors
from keras_nmf.layers import CNMF2D, ConvolutiveNMF2D, NMFDense
from tests.backend import to_numpy


def _fold_averaged_oracle(patch_values, image_shape, kernel, stride):
    """Each patch's values (kh, kw, C order) added onto its pixels, divided by the patches over each pixel."""
    batch, height, width, channels = image_shape
    total, count = np.zeros(image_shape), np.zeros(image_shape)
    rows, cols = (height - kernel) // stride + 1, (width - kernel) // stride + 1
    values = patch_values.reshape(batch, rows, cols, kernel, kernel, channels)
    for i in range(rows):
        for j in range(cols):
            window = (slice(None), slice(i * stride, i * stride + kernel), slice(j * stride, j * stride + kernel))
            total[window] += values[:, i, j]
            count[window] += 1
    return np.divide(total, count, out=np.zeros_like(total), where=count > 0)


@pytest.mark.parametrize("stride, groups, size", [(1, 1, 7), (2, 2, 8)])  # overlaps; a row no patch covers; groups
def test_the_folded_reconstruction_is_each_patchs_w_h_at_its_scale_averaged_over_overlaps(stride, groups, size):
    images = np.random.default_rng(0).random((2, size, size, 4)).astype("float32")
    layer = CNMF2D(6, 3, strides=stride, groups=groups, iterations=5)
    maps = layer_maps(layer, images)
    factorization = layer.factorize(images)
    patterns, w, h = (to_numpy(t) for t in (factorization.patterns, factorization.weights, factorization.h))
    per_pattern = (h @ np.swapaxes(w, -1, -2)) * patterns.sum(-1, keepdims=True)  # W h at the patch's scale
    if groups > 1:  # ([G,] P, taps * C/G) -> (P, taps, C): group g owns channels [g C/G, (g+1) C/G)
        per_pattern = per_pattern.reshape(groups, per_pattern.shape[1], 9, -1).transpose(1, 2, 0, 3)
    expected = _fold_averaged_oracle(per_pattern.reshape(-1), images.shape, 3, stride)
    np.testing.assert_allclose(maps.reconstruction, expected, rtol=1e-5, atol=1e-6)
    rows = (size - 3) // stride + 1
    assert maps.h.shape == maps.error.shape + (6,) == (2, rows, rows, 6)
    assert stride == 1 or not maps.reconstruction[:, size - 1].any()  # the last row: no patch covers it


def _two_part_layer():
    """A CNMF2D on 2x2 patches of one channel, stride 2, whose parts are a main diagonal and an anti-diagonal."""
    layer = CNMF2D(2, 2, strides=2, iterations=50)
    layer.build((None, 4, 8, 1))
    kernel = np.zeros((2, 2, 1, 2), "float32")
    kernel[0, 0, 0, 0] = kernel[1, 1, 0, 0] = 1.0  # part 0: the main diagonal
    kernel[0, 1, 0, 1] = kernel[1, 0, 0, 1] = 1.0  # part 1: the anti-diagonal
    layer.kernel.assign(kernel)
    return layer


def test_the_dominant_part_of_each_half_of_an_image_built_from_two_parts_is_that_part():
    diagonal, anti_diagonal = np.eye(2), np.eye(2)[::-1]
    image = np.concatenate([np.tile(diagonal, (2, 2)), np.tile(anti_diagonal, (2, 2))], axis=1)  # 4 x 8
    image[2:4, 6:8] = [[1, 0], [0, 0]]  # one patch of a single pixel: no mixture of diagonals rebuilds it
    maps = layer_maps(_two_part_layer(), image[None, :, :, None] * 3.0)
    np.testing.assert_array_equal(maps.dominant[0], [[0, 0, 1, 1], [0, 0, 1, 0]])
    np.testing.assert_allclose(maps.dominant_share[0], 1.0, atol=1e-4)
    exact = np.ones((2, 4), bool)
    exact[1, 3] = False
    np.testing.assert_allclose(maps.error[0][exact], 0.0, atol=1e-4)  # each part rebuilds its half exactly
    np.testing.assert_allclose(
        maps.error[0, 1, 3], 1.0, atol=1e-3
    )  # the pixel: the diagonal's half, |xhat - W h|_1 = 1
    np.testing.assert_allclose(maps.reconstruction[0, :, :6, 0], image[:, :6] * 3.0, atol=1e-4)


def test_an_all_zero_patch_has_no_dominant_part():
    maps = layer_maps(_two_part_layer(), np.zeros((1, 4, 8, 1), "float32"))
    assert np.all(maps.dominant == -1) and not maps.dominant_share.any() and not maps.reconstruction.any()


def test_every_nmf_layer_gives_one_reconstruction_error_per_image():
    images = np.random.default_rng(1).random((3, 6, 6, 2)).astype("float32")
    patches = CNMF2D(4, 3, iterations=3)
    errors = reconstruction_errors(patches, images)
    per_patch = to_numpy(patches.factorize(images).reconstruction_error()).reshape(3, -1)
    np.testing.assert_allclose(errors, per_patch.mean(-1), rtol=1e-6)
    assert reconstruction_errors(NMFDense(4, iterations=3), images.reshape(3, -1)).shape == (3,)
    assert reconstruction_errors(ConvolutiveNMF2D(4, 3, iterations=3), images).shape == (3,)


def test_maps_of_a_layer_without_patch_positions_are_refused_naming_it():
    layer = NMFDense(4, name="dense_nmf")
    with pytest.raises(ExplainError, match="'dense_nmf' is a NMFDense.*CNMF2D"):
        layer_maps(layer, keras.ops.ones((2, 8)))
