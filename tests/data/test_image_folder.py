"""Image-folder loading: layout, labels, clear errors naming the problem."""

import numpy as np
import pytest

from keras_nmf.data import DataError, load_image_folder
from tests.image_folders import CLASSES, make_image_folder


def test_loads_images_and_sorted_labels(tmp_path):
    make_image_folder(tmp_path, per_class=(4, 2))
    (train_x, train_y), (test_x, test_y), classes = load_image_folder(tmp_path, verbose=False)
    assert classes == sorted(CLASSES)
    assert train_x.shape == (12, 32, 32, 3) and train_x.dtype == np.uint8
    assert test_x.shape == (6, 32, 32, 3)
    np.testing.assert_array_equal(np.bincount(train_y), [4, 4, 4])


def test_grayscale_and_other_sizes_are_resized_to_the_first_image(tmp_path):
    make_image_folder(tmp_path, per_class=(2, 1), size=28, channels=1)
    make_image_folder(tmp_path / "big", per_class=(1, 0), size=40, channels=1)
    (tmp_path / "big" / "train" / "cat" / "0000.png").rename(tmp_path / "train" / "cat" / "zz_big.png")
    (train_x, _), _, _ = load_image_folder(tmp_path, verbose=False)
    assert train_x.shape == (7, 28, 28, 1)


def test_corrupt_file_is_named(tmp_path):
    make_image_folder(tmp_path, per_class=(2, 1))
    bad = tmp_path / "train" / "dog" / "0001.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(DataError, match=r"Cannot read image file .*dog/0001\.png"):
        load_image_folder(tmp_path, verbose=False)


def test_missing_directory_and_missing_split(tmp_path):
    with pytest.raises(DataError, match="Data directory not found.*--data-dir"):
        load_image_folder(tmp_path / "nowhere", verbose=False)
    make_image_folder(tmp_path, per_class=(1, 1))
    for path in (tmp_path / "test").rglob("*.png"):
        path.unlink()
    for folder in sorted((tmp_path / "test").iterdir()):
        folder.rmdir()
    (tmp_path / "test").rmdir()
    with pytest.raises(DataError, match="has no 'test/' folder"):
        load_image_folder(tmp_path, verbose=False)


def test_class_mismatch_between_splits(tmp_path):
    make_image_folder(tmp_path, per_class=(1, 1))
    (tmp_path / "test" / "ship").rename(tmp_path / "test" / "boat")
    with pytest.raises(DataError, match="differ from those of train/"):
        load_image_folder(tmp_path, verbose=False)


def test_real_cifar10_folder_layout(cifar10_jpeg):
    from keras_nmf.data.image_folder import list_image_folder

    paths, labels, classes = list_image_folder(cifar10_jpeg, "test")
    assert len(classes) == 10 and len(paths) == 10000
    np.testing.assert_array_equal(np.bincount(labels), [1000] * 10)
