"""Image packs: one file that loads to exactly its folder's arrays, and refuses a bad file naming it."""

import shutil

import numpy as np
import pytest

from keras_nmf.cli import pack_images
from keras_nmf.data import DataError, dataset_shape, load_image_folder
from keras_nmf.data.image_pack import pack_image_folder
from tests.image_folders import make_image_folder


def _assert_same_data(left, right):
    (left_train, left_test, left_classes), (right_train, right_test, right_classes) = left, right
    assert left_classes == right_classes
    for left_arrays, right_arrays in ((left_train, right_train), (left_test, right_test)):
        for left_array, right_array in zip(left_arrays, right_arrays):
            assert left_array.dtype == right_array.dtype
            np.testing.assert_array_equal(left_array, right_array)


def test_a_pack_loads_to_its_folders_arrays_with_and_without_limits(tmp_path):
    folder = make_image_folder(tmp_path / "folder", per_class=(5, 3))
    make_image_folder(tmp_path / "gray", per_class=(1, 0), channels=1, seed=1)
    (tmp_path / "gray" / "train" / "dog" / "0000.png").rename(folder / "train" / "dog" / "gray.png")
    pack = tmp_path / "images.npz"
    counts = pack_image_folder(folder, pack)
    assert counts["train"] == 16 and counts["test"] == 9 and counts["bytes"] == pack.stat().st_size
    _assert_same_data(load_image_folder(folder, verbose=False), load_image_folder(pack, verbose=False))
    limits = dict(limit_train=7, limit_test=4, seed=3)
    _assert_same_data(
        load_image_folder(folder, verbose=False, **limits), load_image_folder(pack, verbose=False, **limits)
    )
    assert dataset_shape(data_dir=pack) == dataset_shape(data_dir=folder)


def test_a_pack_of_real_jpeg_files_decodes_to_the_folders_pixels(tmp_path, cifar10_jpeg):
    folder = tmp_path / "jpeg"
    for split, count in (("train", 20), ("test", 5)):
        for class_folder in sorted((cifar10_jpeg / split).iterdir())[:3]:
            (folder / split / class_folder.name).mkdir(parents=True)
            for image in sorted(class_folder.iterdir())[:count]:
                shutil.copy(image, folder / split / class_folder.name / image.name)
    pack = tmp_path / "jpeg.npz"
    pack_image_folder(folder, pack)
    _assert_same_data(load_image_folder(folder, verbose=False), load_image_folder(pack, verbose=False))


def test_a_bad_pack_is_refused_naming_the_file_and_the_fix(tmp_path):
    folder = make_image_folder(tmp_path / "folder", per_class=(2, 1))
    with pytest.raises(DataError, match=r"must end in \.npz"):
        pack_image_folder(folder, tmp_path / "images.zip")
    with pytest.raises(DataError, match=r"Image pack not found: .*missing\.npz.*keras-nmf-pack-images"):
        load_image_folder(tmp_path / "missing.npz", verbose=False)

    pack = tmp_path / "images.npz"
    pack_image_folder(folder, pack)
    whole = pack.read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match=r"Cannot read the image pack .*truncated\.npz.*Make it again"):
        load_image_folder(truncated, verbose=False)

    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, x=np.zeros(3))
    with pytest.raises(DataError, match=r"foreign\.npz is not a keras_nmf image pack"):
        load_image_folder(foreign, verbose=False)

    with np.load(pack) as archive:
        arrays = dict(archive)
    damaged = tmp_path / "damaged.npz"
    np.savez(damaged, **{**arrays, "train_offsets": arrays["train_offsets"] + 1})
    with pytest.raises(DataError, match=r"damaged\.npz is damaged \(its train offsets"):
        load_image_folder(damaged, verbose=False)

    data = arrays["test_bytes"].copy()
    data[: arrays["test_offsets"][1]] = 0  # the first test image's bytes
    broken = tmp_path / "broken.npz"
    np.savez(broken, **{**arrays, "test_bytes": data})
    with pytest.raises(DataError, match=r"Cannot read image file .*broken\.npz:test/cat/0000\.png"):
        load_image_folder(broken, verbose=False)


def test_the_pack_command_writes_a_pack_or_exits_2_with_the_reason(tmp_path, capsys):
    folder = make_image_folder(tmp_path / "folder", per_class=(2, 1))
    assert pack_images.main([str(folder), str(tmp_path / "images.npz")]) == 0
    assert "wrote" in capsys.readouterr().out and (tmp_path / "images.npz").is_file()
    assert pack_images.main([str(tmp_path / "nowhere"), str(tmp_path / "other.npz")]) == 2
    assert "Data directory not found" in capsys.readouterr().err
    assert not (tmp_path / "other.npz").exists()
