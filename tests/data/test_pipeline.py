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
