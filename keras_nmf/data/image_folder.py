"""Reads an image-folder tree ``DIR/<split>/<class>/*`` into memory."""

import os
import pathlib

import numpy as np
import tensorflow as tf

from keras_nmf.data.errors import DataError

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
    if not pathlib.Path(root).is_dir():
        raise DataError(f"Data directory not found: {root}. Pass --data-dir DIR with DIR/train/<class>/* and DIR/test/<class>/*.")
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
            f"The classes of {folder} ({', '.join(found)}) differ from those of train/ "
            f"({', '.join(class_names)})."
        )
    paths, labels = [], []
    for label, name in enumerate(found):
        files = sorted(
            str(path) for path in (folder / name).iterdir()
            if path.suffix.lower() in IMAGE_EXTENSIONS
        )
        paths.extend(files)
        labels.extend([label] * len(files))
    if not paths:
        raise DataError(f"No image files ({', '.join(IMAGE_EXTENSIONS)}) under {folder}/<class>/.")
    return paths, np.array(labels, "int64"), found


def _probe_image(path):
    """(height, width, channels) of one image file; channels 1 or 3."""
    image = _decode_or_raise(path, channels=0)
    channels = 1 if image.shape[-1] == 1 else 3
    return image.shape[0], image.shape[1], channels


def _decode_or_raise(path, channels):
    try:
        return tf.io.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError) as error:
        raise DataError(
            f"Cannot read image file {path}: {error.message.splitlines()[0]}. "
            "Remove or replace the file."
        ) from None


def _find_unreadable(paths, channels):
    """Decodes files one by one (slow; only after a batched decode failed)."""
    for path in paths:
        _decode_or_raise(path, channels)


def decode_images(paths, image_shape, num_parallel_calls=tf.data.AUTOTUNE):
    """Decodes every file into one uint8 array (N, H, W, C), in parallel.

    Images of another size are resized (bilinear) to ``image_shape``. An
    unreadable file raises :class:`DataError` naming it.
    """
    height, width, channels = image_shape

    def decode(path):
        image = tf.io.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False)
        other_size = tf.reduce_any(tf.shape(image)[:2] != [height, width])
        image = tf.cond(
            other_size,
            lambda: tf.cast(tf.round(tf.image.resize(image, (height, width))), tf.uint8),
            lambda: image,
        )
        return tf.ensure_shape(image, image_shape)

    dataset = tf.data.Dataset.from_tensor_slices(paths).map(decode, num_parallel_calls=num_parallel_calls)
    try:
        chunks = [chunk for chunk in dataset.batch(2048).as_numpy_iterator()]
    except tf.errors.OpError:
        _find_unreadable(paths, channels)
        raise
    return np.concatenate(chunks) if chunks else np.zeros((0,) + tuple(image_shape), np.uint8)


def image_folder_shape(root):
    """(height, width, channels) of the data set's images: those of its first training image."""
    train_paths, _, _ = list_image_folder(root, "train")
    return _probe_image(train_paths[0])


def load_image_folder(root, verbose=True, limit_train=None, limit_test=None, seed=0):
    """Loads ``root/train`` and ``root/test`` into memory, decoding only the images used.

    The image shape (and 1 or 3 channels) is taken from the first training
    image. ``limit_train``/``limit_test`` keep the seeded subsets of
    :func:`keras_nmf.data.subsets.subset_indices` (the same images as a tfds
    source's arrays would keep). Returns ``(train, test, class_names)`` with
    ``train`` and ``test`` as ``(uint8 images, int64 labels)``.
    """
    from keras_nmf.data.subsets import subset_indices

    train_paths, train_labels, classes = list_image_folder(root, "train")
    test_paths, test_labels, _ = list_image_folder(root, "test", classes)
    image_shape = _probe_image(train_paths[0])
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
    train = (decode_images([train_paths[i] for i in keep_train], image_shape), train_labels[keep_train])
    test = (decode_images([test_paths[i] for i in keep_test], image_shape), test_labels[keep_test])
    return train, test, classes
