"""Batches and splits: shapes, dtypes, the per-epoch order; tfds fails fast offline."""

import socket

import numpy as np
import pytest

from keras_nmf.data import DataError, load_dataset, load_tfds
from keras_nmf.layers import augmentation as augment
from keras_nmf.data.pipeline import TrainStream
from tests.image_folders import make_image_folder


def test_centre_crop_is_centred():
    image = np.arange(32 * 32).reshape(1, 32, 32, 1)
    crop = augment.centre_crop(image, 28)
    assert crop.shape == (1, 28, 28, 1) and crop[0, 0, 0, 0] == 2 * 32 + 2


def test_load_dataset_from_folder(tmp_path):
    make_image_folder(tmp_path, per_class=(10, 4))
    data = load_dataset(data_dir=tmp_path, batch_size=8, val_split=0.2, verbose=False)
    assert data.input_shape == (28, 28, 3) and data.image_shape == (32, 32, 3) and data.num_classes == 3
    assert (data.train_size, data.validation_size, data.test_size) == (24, 6, 12)
    images, labels = data.train[0]
    assert images.shape == (8, 32, 32, 3) and images.dtype == np.uint8 and labels.shape == (8,)
    assert len(data.test) == 2 and np.concatenate([data.test[i][0] for i in range(2)]).shape == (12, 32, 32, 3)


def test_a_crop_that_does_not_fit_is_refused(tmp_path):
    make_image_folder(tmp_path, per_class=(2, 1))
    with pytest.raises(DataError, match="crop size of 40 does not fit 32x32 images: pass at most 32"):
        load_dataset(data_dir=tmp_path, crop_size=40, verbose=False)


def test_tfds_download_fails_fast_with_data_dir_advice(tmp_path, monkeypatch):
    pytest.importorskip("tensorflow_datasets")

    def unreachable(*args, **kwargs):
        raise OSError("Name or service not known")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    with pytest.raises(DataError, match=r"data_dir=DIR \(--data-dir DIR\)"):
        load_tfds("cifar10", tfds_dir=str(tmp_path), verbose=False)


def test_unknown_tfds_name():
    with pytest.raises(DataError, match="Valid choices: cifar10, mnist, fashion_mnist"):
        load_tfds("imagenet")


def _batches(dataset, count):
    return [dataset[index] for index in range(count)]


def test_each_epoch_is_a_function_of_seed_and_epoch_alone():
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (23, 32, 32, 3), dtype=np.uint8), np.arange(23)
    stream = TrainStream(images, labels, 5, seed=7)
    epoch_2 = _batches(stream.epoch(2), len(stream.epoch(2)))
    assert stream.steps == 5 and [len(b[1]) for b in epoch_2] == [5, 5, 5, 5, 3]
    assert sorted(np.concatenate([b[1] for b in epoch_2])) == list(range(23))  # a permutation of the images
    again = _batches(TrainStream(images, labels, 5, seed=7).epoch(2), 5)  # a new stream: a resumed process
    for (x, y), (x2, y2) in zip(epoch_2, again):
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(y, y2)
        np.testing.assert_array_equal(x, images[y])
    other = _batches(stream.epoch(3), 5)
    assert not np.array_equal(np.concatenate([b[1] for b in other]), np.concatenate([b[1] for b in epoch_2]))
    resumed = _batches(stream.from_epoch(2), 6)  # epoch 2's five batches, then epoch 3's first
    for (_, y), (_, y2) in zip(epoch_2 + other[:1], resumed):
        np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(TrainStream(images, labels, 5, seed=8).epoch(2)[0][1], epoch_2[0][1])
    with pytest.raises(IndexError):
        stream.epoch(2)[5]


def test_steps_per_epoch_draws_further_passes():
    stream = TrainStream(np.zeros((7, 4, 4, 1), np.uint8), np.arange(7), 3, seed=0, steps_per_epoch=5)
    visited = np.concatenate([stream.epoch(0)[i][1] for i in range(5)])
    assert len(visited) == 15 and set(visited) == set(range(7))
