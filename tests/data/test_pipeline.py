"""Augmentation and pipelines: ranges, crops, splits; tfds fails fast offline."""

import socket

import numpy as np
import pytest
import tensorflow as tf

from keras_nmf.data import DataError, augment, load_dataset, load_tfds
from tests.image_folders import make_image_folder


def test_colour_jitter_keeps_range_and_varies_per_image():
    images = tf.fill([8, 6, 6, 3], 0.5)
    images = images * tf.reshape(tf.linspace(0.2, 1.8, 3), [1, 1, 1, 3])
    jittered = augment.colour_jitter(images).numpy()
    assert jittered.min() >= 0.0 and jittered.max() <= 1.0
    assert np.unique(jittered[:, 0, 0, 0].round(5)).size > 1  # factors drawn per image


def test_centre_crop_is_centred():
    image = np.arange(32 * 32).reshape(1, 32, 32, 1)
    crop = augment.centre_crop(image, 28)
    assert crop.shape == (1, 28, 28, 1) and crop[0, 0, 0, 0] == 2 * 32 + 2


def test_load_dataset_from_folder(tmp_path):
    make_image_folder(tmp_path, per_class=(10, 4))
    data = load_dataset(data_dir=tmp_path, batch_size=8, val_split=0.2, verbose=False)
    assert data.input_shape == (28, 28, 3) and data.num_classes == 3
    assert (data.train_size, data.validation_size, data.test_size) == (24, 6, 12)
    images, labels = next(iter(data.train))
    assert images.shape == (8, 28, 28, 3) and images.dtype == tf.float32
    assert 0.0 <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= 1.0
    test_images = np.concatenate([x for x, _ in data.test.as_numpy_iterator()])
    assert test_images.shape == (12, 28, 28, 3)


def test_tfds_download_fails_fast_with_data_dir_advice(tmp_path, monkeypatch):
    def unreachable(*args, **kwargs):
        raise OSError("Name or service not known")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    with pytest.raises(DataError, match="--data-dir DIR"):
        load_tfds("cifar10", tfds_dir=str(tmp_path), verbose=False)


def test_unknown_tfds_name():
    with pytest.raises(DataError, match="Valid choices: cifar10, mnist, fashion_mnist"):
        load_tfds("imagenet")


def _batches(dataset, count=None):
    batches = []
    for images, labels in dataset:
        batches.append((images.numpy(), labels.numpy()))
        if count is not None and len(batches) == count:
            break
    return batches


def test_each_epoch_is_a_function_of_seed_and_epoch_alone():
    from keras_nmf.data.pipeline import TrainStream

    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (23, 32, 32, 3), dtype=np.uint8), np.arange(23)
    stream = TrainStream(images, labels, 28, 5, seed=7)
    epoch_2 = _batches(stream.epoch(2))
    assert stream.steps == 5 and [len(b[1]) for b in epoch_2] == [5, 5, 5, 5, 3]
    assert sorted(np.concatenate([b[1] for b in epoch_2])) == list(range(23))  # a permutation of the images
    again = _batches(TrainStream(images, labels, 28, 5, seed=7).epoch(2))  # a new stream: a resumed process
    for (x, y), (x2, y2) in zip(epoch_2, again):
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(y, y2)
    other = _batches(stream.epoch(3))
    assert not np.array_equal(np.concatenate([b[1] for b in other]), np.concatenate([b[1] for b in epoch_2]))
    resumed = _batches(stream.from_epoch(2), count=6)  # epoch 2's five batches, then epoch 3's first
    for (x, _), (x2, _) in zip(epoch_2 + other[:1], resumed):
        np.testing.assert_array_equal(x, x2)
    assert not np.array_equal(_batches(TrainStream(images, labels, 28, 5, seed=8).epoch(2))[0][0], epoch_2[0][0])


def test_the_augmentation_draws_the_papers_ranges():
    from keras_nmf.data.augment import BRIGHTNESS, CONTRAST, HUE, SATURATION, jitter_factors, random_crop_and_flip

    factors = np.stack([jitter_factors(tf.constant([3, k], tf.int64)).numpy() for k in range(2000)])
    for column, (low, high) in enumerate([(1 - BRIGHTNESS, 1 + BRIGHTNESS), (1 - CONTRAST, 1 + CONTRAST),
                                          (1 - SATURATION, 1 + SATURATION), (-HUE, HUE)]):
        assert low <= factors[:, column].min() < low + 0.02 * (high - low)
        assert high - 0.02 * (high - low) < factors[:, column].max() <= high
    image = np.arange(32 * 32, dtype=np.int32).reshape(32, 32, 1)
    crops = [random_crop_and_flip(image, 28, tf.constant([1, k], tf.int64)).numpy() for k in range(400)]
    offsets = {(int(c.min()) // 32, int(c.min()) % 32) for c in crops}
    assert offsets == {(row, col) for row in range(5) for col in range(5)}  # every 28x28 crop of 32x32
    flipped = np.mean([c[0, 0, 0] > c[0, -1, 0] for c in crops])
    assert 0.4 < flipped < 0.6
