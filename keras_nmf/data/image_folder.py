"""Reads an image-folder tree ``DIR/<split>/<class>/*``, or its pack file (:mod:`keras_nmf.data.image_pack`), into memory."""

import concurrent.futures
import os
import pathlib

import numpy as np
import PIL.Image

from keras_nmf.data.errors import DataError
from keras_nmf.data.image_pack import PackedImage, is_image_pack, list_image_pack
from keras_nmf.data.subsets import subset_indices

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")


def list_image_folder(root, split, class_names=None):
    """Files and integer labels of ``root/split/<class>/*``, classes sorted by name.

    Args:
        root: the data directory.
        split: ``"train"`` or ``"test"``.
        class_names: expected classes (from the train split), or None.

    Returns:
        (paths, labels, class_names).

    Raises:
        DataError: missing folders, no classes, no images, or classes that
            differ from ``class_names``.
    """
    folder = pathlib.Path(root) / split
    if pathlib.Path(root).exists() and not pathlib.Path(root).is_dir():
        raise DataError(
            f"The data directory {root} is a file, not a folder. Pass data_dir=DIR (--data-dir DIR) "
            f"with DIR/train/<class>/* and DIR/test/<class>/* (or an image pack made by "
            f"keras-nmf-pack-images)."
        )
    if not pathlib.Path(root).is_dir():
        raise DataError(
            f"Data directory not found: {root}. Pass data_dir=DIR (--data-dir DIR) with "
            f"DIR/train/<class>/* and DIR/test/<class>/*."
        )
    if not folder.is_dir():
        raise DataError(
            f"{root} has no '{split}/' folder. An image-folder data set needs "
            f"{root}/train/<class>/* and {root}/test/<class>/*."
        )
    found = sorted(entry.name for entry in folder.iterdir() if entry.is_dir())
    if not found:
        raise DataError(f"{folder} has no class folders: expected {folder}/<class>/<image files>.")
    if class_names is not None and found != list(class_names):
        raise DataError(
            f"The classes of {folder} ({', '.join(found)}) differ from those of train/ ({', '.join(class_names)})."
        )
    paths, labels = [], []
    for label, name in enumerate(found):
        files = sorted(str(path) for path in (folder / name).iterdir() if path.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            raise DataError(
                f"The class folder {folder / name} holds no image files ({', '.join(IMAGE_EXTENSIONS)}): "
                f"add its images, or remove the folder from train/ and test/."
            )
        paths.extend(files)
        labels.extend([label] * len(files))
    if not paths:
        raise DataError(f"No image files ({', '.join(IMAGE_EXTENSIONS)}) under {folder}/<class>/.")
    return paths, np.array(labels, "int64"), found


def list_images(root, split, class_names=None):
    """:func:`list_image_folder`, or :func:`~keras_nmf.data.image_pack.list_image_pack` where ``root`` is a pack."""
    listing = list_image_pack if is_image_pack(root) else list_image_folder
    return listing(root, split, class_names)


#: Training images probed for the data set's channel count (evenly spread over the classes).
CHANNEL_PROBES = 25


def _probe_image(path):
    """(height, width, native channels) of one image file."""
    with _open_or_raise(path) as image:
        return image.height, image.width, len(image.getbands())


def _probe_shape(paths):
    """The data set's (height, width, channels): the first image's size; 3 channels if any probed image has colour."""
    height, width, _ = _probe_image(paths[0])
    step = max(1, len(paths) // CHANNEL_PROBES)
    colour = any(_probe_image(path)[2] >= 3 for path in paths[::step][:CHANNEL_PROBES])
    return height, width, 3 if colour else 1


def _open_or_raise(path):
    """``path`` (a file name or a :class:`~keras_nmf.data.image_pack.PackedImage`), opened and loaded by Pillow."""
    try:
        image = PIL.Image.open(path.open() if isinstance(path, PackedImage) else path)
        image.load()
        return image
    except (OSError, SyntaxError, ValueError) as error:  # PIL.UnidentifiedImageError is an OSError
        raise DataError(
            f"Cannot read image file {path}: {str(error).splitlines()[0]}. Remove or replace the file."
        ) from None


def _decode_one(path, image_shape):
    """One file -> (uint8 array of ``image_shape``, native (H, W, C)); another channel count is converted.

    Gray <-> RGB, alpha dropped; RGB -> gray by ITU-R 601-2 luma (Pillow's ``L``).
    An image of another size returns zeros (the caller names the file).
    """
    height, width, channels = image_shape
    with _open_or_raise(path) as image:
        native = (image.height, image.width, len(image.getbands()))
        if native[:2] != (height, width):
            return np.zeros(image_shape, np.uint8), native
        mode = "RGB" if channels == 3 else "L"
        array = np.asarray(image if image.mode == mode else image.convert(mode), np.uint8)
    return array.reshape(image_shape), native


#: Threads that decode an image folder (Pillow releases the GIL while it decodes).
DECODE_THREADS = min(8, os.cpu_count() or 1)


def decode_images(paths, image_shape, verbose=False):
    """Decodes every file into one uint8 array (N, H, W, C) with Pillow, in a thread pool.

    An image with another channel count (grayscale, RGBA) is converted to
    ``image_shape``'s (the count of converted images is printed when
    ``verbose``). An image of another size, or an unreadable file, raises
    :class:`DataError` naming it.
    """
    height, width, channels = image_shape
    images = np.zeros((len(paths),) + tuple(image_shape), np.uint8)
    native = np.zeros((len(paths), 3), np.int64)

    def decode(index):
        images[index], native[index] = _decode_one(paths[index], image_shape)

    with concurrent.futures.ThreadPoolExecutor(DECODE_THREADS) as pool:
        for _ in pool.map(decode, range(len(paths))):
            pass
    wrong_size = np.flatnonzero((native[:, 0] != height) | (native[:, 1] != width))
    if wrong_size.size:
        first = wrong_size[0]
        raise DataError(
            f"{paths[first]} is {native[first, 0]}x{native[first, 1]}, but the data set's images are {height}x{width} "
            f"(the size of its first training image); {wrong_size.size} image(s) differ. Resize or remove them."
        )
    converted = int(np.sum(native[:, 2] != channels))
    if converted and verbose:
        print(
            f"Converted {converted} image(s) with another channel count (grayscale or RGBA) to {channels} channel(s).",
            flush=True,
        )
    return images


def image_folder_shape(root):
    """``(image_shape, num_classes)`` of an image folder or pack, from one listing of ``root/train``: the first training
    image's size, 3 channels if any of :data:`CHANNEL_PROBES` training images has colour (else 1), and the count
    of its class folders."""
    train_paths, _, classes = list_images(root, "train")
    return _probe_shape(train_paths), len(classes)


def load_image_folder(root, verbose=True, limit_train=None, limit_test=None, seed=0):
    """Loads ``root/train`` and ``root/test`` (or a pack's two splits) into memory, decoding only the images used.

    The image size is the first training image's, the channels (1 or 3) as
    :func:`image_folder_shape` says (its first value). ``limit_train``/``limit_test`` keep the seeded subsets of
    :func:`keras_nmf.data.subsets.subset_indices` (the same images as a tfds
    source's arrays would keep). Returns ``(train, test, class_names)`` with
    ``train`` and ``test`` as ``(uint8 images, int64 labels)``.
    """
    train_paths, train_labels, classes = list_images(root, "train")
    test_paths, test_labels, _ = list_images(root, "test", classes)
    image_shape = _probe_shape(train_paths)
    keep_train = subset_indices(len(train_paths), limit_train, seed, "train")
    keep_test = subset_indices(len(test_paths), limit_test, seed, "test")
    if verbose:

        def count(keep, total):
            return f"{len(keep)} of {total}" if len(keep) < total else f"{total}"

        print(
            f"Loading {count(keep_train, len(train_paths))} train and {count(keep_test, len(test_paths))} test "
            f"images ({len(classes)} classes, {image_shape[0]}x{image_shape[1]}x{image_shape[2]}) "
            f"from {os.path.abspath(root)} ...",
            flush=True,
        )
    train = (
        decode_images([train_paths[i] for i in keep_train], image_shape, verbose=verbose),
        train_labels[keep_train],
    )
    test = (decode_images([test_paths[i] for i in keep_test], image_shape, verbose=verbose), test_labels[keep_test])
    return train, test, classes
