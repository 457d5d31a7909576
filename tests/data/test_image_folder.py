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


def test_an_image_of_another_size_is_an_error_naming_it(tmp_path):
    make_image_folder(tmp_path, per_class=(2, 1), size=28, channels=1)
    make_image_folder(tmp_path / "big", per_class=(1, 0), size=40, channels=1)
    (tmp_path / "big" / "train" / "cat" / "0000.png").rename(tmp_path / "train" / "cat" / "zz_big.png")
    with pytest.raises(DataError, match=r"cat/zz_big\.png is 40x40, but the data set's images are 28x28"):
        load_image_folder(tmp_path, verbose=False)


def test_grayscale_and_rgba_images_among_colour_ones_are_converted_and_counted(tmp_path, capsys):
    make_image_folder(tmp_path, per_class=(3, 1))
    make_image_folder(tmp_path / "gray", per_class=(1, 0), channels=1, seed=1)
    make_image_folder(tmp_path / "rgba", per_class=(1, 0), channels=4, seed=2)
    # The first training image (sorted by name) is grayscale: the set is still colour.
    (tmp_path / "gray" / "train" / "cat" / "0000.png").rename(tmp_path / "train" / "cat" / "0.png")
    (tmp_path / "rgba" / "train" / "dog" / "0000.png").rename(tmp_path / "train" / "dog" / "rgba.png")
    (train_x, _), _, _ = load_image_folder(tmp_path, verbose=True)
    assert train_x.shape == (11, 32, 32, 3)
    assert (
        "Converted 2 image(s) with another channel count (grayscale or RGBA) to 3 channel(s)" in capsys.readouterr().out
    )
    gray = train_x[0]  # cat/0.png: its one channel copied to R, G and B
    assert np.array_equal(gray[..., 0], gray[..., 1]) and np.array_equal(gray[..., 1], gray[..., 2])


def test_an_empty_class_folder_is_an_error_naming_it(tmp_path):
    make_image_folder(tmp_path, per_class=(2, 1))
    (tmp_path / "train" / "bird").mkdir()
    (tmp_path / "test" / "bird").mkdir()
    with pytest.raises(DataError, match=r"The class folder .*train/bird holds no image files"):
        load_image_folder(tmp_path, verbose=False)


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
