"""``load_dataset``: in-memory images -> batched, augmented ``tf.data`` pipelines."""

import dataclasses

import numpy as np
import tensorflow as tf

from keras_nmf.data import augment
from keras_nmf.data.errors import DataError
from keras_nmf.data.image_folder import image_folder_shape, load_image_folder
from keras_nmf.data.tfds_source import TFDS_IMAGE_SHAPES, load_tfds

#: The paper crops 32x32 CIFAR-10 to 28x28, and 28x28 MNIST to 24x24.
CROP_MARGIN = 4


@dataclasses.dataclass
class DatasetSplits:
    """Batched pipelines plus what the model factory needs to know."""

    train: tf.data.Dataset
    test: tf.data.Dataset
    validation: tf.data.Dataset | None
    input_shape: tuple
    class_names: list
    train_size: int
    test_size: int
    validation_size: int

    @property
    def num_classes(self):
        return len(self.class_names)


def _split_validation(images, labels, fraction, seed):
    order = np.random.default_rng(seed).permutation(len(labels))
    held_out = int(round(len(labels) * fraction))
    if not 0 < held_out < len(labels):
        raise DataError(f"--val-split {fraction} leaves no validation or no training images.")
    keep, val = order[:-held_out], order[-held_out:]
    return (images[keep], labels[keep]), (images[val], labels[val])


def train_pipeline(images, labels, crop_size, batch_size, seed=None):
    """Shuffled each epoch, random crop + flip per image, jitter per image in the batch."""
    dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    dataset = dataset.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.map(
        lambda image, label: (augment.random_crop_and_flip(image, crop_size), label),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    dataset = dataset.batch(batch_size, drop_remainder=False)
    dataset = dataset.map(
        lambda batch, label: (augment.colour_jitter(augment.to_unit_range(batch)), label),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return dataset.prefetch(tf.data.AUTOTUNE)


def eval_pipeline(images, labels, crop_size, batch_size):
    """Centre crop, no augmentation; crops computed once and cached."""
    dataset = tf.data.Dataset.from_tensor_slices((augment.centre_crop(images, crop_size), labels))
    dataset = dataset.batch(batch_size).map(
        lambda batch, label: (augment.to_unit_range(batch), label),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return dataset.cache().prefetch(tf.data.AUTOTUNE)


def load_arrays(name="cifar10", data_dir=None, tfds_dir=None, verbose=True, limit_train=None, limit_test=None,
                seed=0):
    """The raw ``(train, test, class_names)`` arrays of an image folder or a tfds data set.

    ``train`` and ``test`` are ``(uint8 images (N, H, W, C), int64 labels)``;
    ``limit_train``/``limit_test`` keep the seeded subsets of
    :func:`keras_nmf.data.subsets.subset_indices` (an image folder decodes only those).
    """
    limits = {"limit_train": limit_train, "limit_test": limit_test, "seed": seed}
    if data_dir:
        return load_image_folder(data_dir, verbose=verbose, **limits)
    return load_tfds(name, tfds_dir, verbose=verbose, **limits)


def input_shape_of(name="cifar10", data_dir=None, crop_size=None):
    """The model input shape ``(crop, crop, channels)`` of a data set, without loading it.

    Raises:
        DataError: the crop does not fit the images (or the image folder is unusable).
    """
    height, width, channels = image_folder_shape(data_dir) if data_dir else TFDS_IMAGE_SHAPES[name]
    crop_size = crop_size or min(height, width) - CROP_MARGIN
    if not 0 < crop_size <= min(height, width):
        raise DataError(f"--crop-size {crop_size} does not fit {height}x{width} images: pass at most "
                        f"{min(height, width)}.")
    return (crop_size, crop_size, channels)


def load_dataset(
    name="cifar10",
    data_dir=None,
    tfds_dir=None,
    batch_size=50,
    crop_size=None,
    val_split=0.0,
    limit_train=None,
    limit_test=None,
    seed=0,
    verbose=True,
):
    """Loads a data set into memory and returns its pipelines.

    Args:
        name: ``cifar10``, ``mnist`` or ``fashion_mnist`` through
            tensorflow_datasets; ignored when ``data_dir`` is given.
        data_dir: an image-folder tree ``DIR/train/<class>/*``,
            ``DIR/test/<class>/*`` (offline machines, own data sets).
        tfds_dir: tensorflow_datasets' data directory.
        batch_size: examples per batch.
        crop_size: side of the square crops; default image side - 4.
        val_split: fraction of train held out for validation (0: none).
        limit_train, limit_test: use only this many examples, drawn by
            :func:`keras_nmf.data.subsets.subset_indices` (one stream per split).
        seed: seed of the split, the subsets and the shuffling.

    Returns:
        :class:`DatasetSplits`.

    Raises:
        DataError: with the fix, for missing or unreadable data.
    """
    train, test, class_names = load_arrays(name, data_dir, tfds_dir, verbose, limit_train, limit_test, seed)
    validation = None
    if val_split:
        train, validation = _split_validation(*train, val_split, seed)
    height, width, channels = train[0].shape[1:]
    crop_size = crop_size or min(height, width) - CROP_MARGIN
    if not 0 < crop_size <= min(height, width):
        raise DataError(f"--crop-size {crop_size} does not fit {height}x{width} images: pass at most "
                        f"{min(height, width)}.")
    return DatasetSplits(
        train=train_pipeline(*train, crop_size, batch_size, seed),
        test=eval_pipeline(*test, crop_size, batch_size),
        validation=eval_pipeline(*validation, crop_size, batch_size) if validation else None,
        input_shape=(crop_size, crop_size, channels),
        class_names=list(class_names),
        train_size=len(train[1]),
        test_size=len(test[1]),
        validation_size=len(validation[1]) if validation else 0,
    )
