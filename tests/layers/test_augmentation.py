"""The paper's augmentation layer: its draws (crop offsets, flips, jitter ranges), its ops, its saved state."""

import keras
import numpy as np
import pytest

from keras_nmf.layers import augmentation as augment
from keras_nmf.layers.augmentation import JITTER_HIGH, JITTER_LOW, PaperAugmentation


def _images(count=4000, size=32, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (count, size, size, 3), dtype=np.uint8)


def _numpy_crop_and_flip(images, tops, lefts, flips, crop):
    out = np.stack([image[t : t + crop, left : left + crop] for image, t, left in zip(images, tops, lefts)])
    return np.where(flips[:, None, None, None], out[:, :, ::-1], out)


def test_crop_and_flip_takes_each_images_own_window():
    rng = np.random.default_rng(1)
    images = _images(16).astype(np.float32)
    tops, lefts = rng.integers(0, 5, 16).astype(np.int32), rng.integers(0, 5, 16).astype(np.int32)
    flips = rng.random(16) < 0.5
    got = keras.ops.convert_to_numpy(augment.crop_and_flip(images, tops, lefts, flips, 28))
    np.testing.assert_array_equal(got, _numpy_crop_and_flip(images, tops, lefts, flips, 28))


def _recover_draws(raw, crops):
    """(top, left, flipped) of each crop, found by matching it against the raw image's windows (no jitter)."""
    found = []
    for image, crop in zip(raw, crops):
        for top in range(5):
            for left in range(5):
                window = image[top : top + 28, left : left + 28]
                for flipped in (False, True):
                    if np.array_equal(window[:, ::-1] if flipped else window, crop):
                        found.append((top, left, flipped))
    return np.array(found)


def test_draws_match_the_papers_distribution(monkeypatch):
    """Uniform offsets 0..4 in both axes, flips at rate 1/2 (torchvision's RandomCrop and RandomHorizontalFlip)."""
    monkeypatch.setattr(augment, "colour_jitter", lambda images, factors: images)  # crop and flip only
    raw = _images(2000)
    layer = PaperAugmentation(28, seed=3)
    crops = np.round(keras.ops.convert_to_numpy(layer(raw, training=True)) * 255).astype(np.uint8)
    draws = _recover_draws(raw, crops)
    assert len(draws) == len(raw)  # every crop is a window of its own image, mirrored or not
    for axis in (0, 1):
        counts = np.bincount(draws[:, axis], minlength=5)
        assert counts.shape == (5,) and np.all(np.abs(counts / len(raw) - 0.2) < 0.04), counts
    assert abs(draws[:, 2].mean() - 0.5) < 0.04


def test_jitter_factors_span_the_authors_ranges(monkeypatch):
    seen = []
    monkeypatch.setattr(augment, "colour_jitter", lambda images, factors: seen.append(factors) or images)
    PaperAugmentation(28, seed=5)(_images(4000), training=True)
    factors = keras.ops.convert_to_numpy(seen[0])
    low, high = np.array(JITTER_LOW), np.array(JITTER_HIGH)
    assert np.all(factors >= low) and np.all(factors <= high)
    assert np.all(np.abs(factors.mean(0) - (low + high) / 2) < 0.03 * (high - low))  # uniform: centred
    assert np.all(factors.min(0) < low + 0.01 * (high - low)) and np.all(factors.max(0) > high - 0.01 * (high - low))


def test_inference_is_the_centre_crop_in_unit_range():
    raw = _images(3)
    out = keras.ops.convert_to_numpy(PaperAugmentation(28)(raw))
    np.testing.assert_allclose(out, raw[:, 2:30, 2:30].astype(np.float32) / 255.0, atol=1e-7)


def test_colour_jitter_equals_tf_image_reference():
    """The keras.ops jitter equals the tf.image formulation the pipeline used before (TensorFlow only)."""
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(2)
    images = rng.random((6, 8, 8, 3), dtype=np.float32)
    factors = (np.array(JITTER_LOW) + (np.array(JITTER_HIGH) - np.array(JITTER_LOW)) * rng.random((6, 4))).astype(
        np.float32
    )
    b, c, s, h = (factors[:, k].reshape(-1, 1, 1, 1) for k in range(4))
    x = tf.clip_by_value(images * b, 0.0, 1.0)
    mean = tf.reduce_mean(tf.image.rgb_to_grayscale(x), axis=[1, 2, 3], keepdims=True)
    x = tf.clip_by_value((x - mean) * c + mean, 0.0, 1.0)
    gray = tf.image.rgb_to_grayscale(x)
    x = tf.clip_by_value((x - gray) * s + gray, 0.0, 1.0)
    hsv = tf.image.rgb_to_hsv(x)
    expected = tf.image.hsv_to_rgb(
        tf.stack([tf.math.floormod(hsv[..., 0] + h[..., 0], 1.0), hsv[..., 1], hsv[..., 2]], axis=-1)
    )
    got = keras.ops.convert_to_numpy(augment.colour_jitter(images, factors))
    np.testing.assert_allclose(got, expected.numpy(), atol=2e-5)


def test_grayscale_images_get_brightness_and_contrast():
    raw = _images(8)[..., :1]
    out = keras.ops.convert_to_numpy(PaperAugmentation(28, seed=0)(raw, training=True))
    assert out.shape == (8, 28, 28, 1) and np.all((out >= 0) & (out <= 1))


def test_seed_state_is_saved_with_the_weights(tmp_path):
    """A layer restored from saved weights continues the draws of the one that saved them (exact resume)."""
    raw = _images(4)
    inputs = keras.Input((32, 32, 3), dtype="uint8")
    model = keras.Model(inputs, PaperAugmentation(28, seed=7)(inputs))
    model(raw, training=True)  # advance the generator
    model.save_weights(tmp_path / "a.weights.h5")
    expected = keras.ops.convert_to_numpy(model(raw, training=True))
    inputs = keras.Input((32, 32, 3), dtype="uint8")
    restored = keras.Model(inputs, PaperAugmentation(28, seed=7)(inputs))
    restored.load_weights(tmp_path / "a.weights.h5")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(restored(raw, training=True)), expected)


@pytest.mark.parametrize("bad, message", [(0, "crop_size"), (2.5, "crop_size"), (40, "does not fit")])
def test_bad_crop_sizes_are_named(bad, message):
    with pytest.raises(ValueError, match=message):
        PaperAugmentation(bad)(_images(1))
