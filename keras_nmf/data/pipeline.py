"""``load_dataset``: in-memory images -> batched, augmented ``tf.data`` pipelines."""

import dataclasses
import math

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
    """Batched pipelines plus what the model factory needs to know.

    ``train`` is epoch 0's batches (one finite pass); ``stream`` gives any
    epoch's batches and the endless stream from an epoch on, for ``fit``.
    """

    train: tf.data.Dataset
    stream: "TrainStream"
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


#: Salt of the per-image augmentation seeds (kept apart from the per-pass shuffle seeds 0, 1, ...).
_AUGMENT_SALT = 1_000_003


class TrainStream:
    """The augmented training batches of every epoch, each epoch a function of (seed, epoch) alone.

    Epoch e visits a permutation of the training images drawn from the seed
    ``(seed, e)`` (stateless: no generator state lives in the process), and
    the image at position k of epoch e gets its random crop, flip and
    colour-jitter factors from the seed ``(seed, e, k)``. A resumed run, a new
    process, therefore sees exactly the batches the uninterrupted run saw.

    Args:
        images, labels: the training arrays (uint8 images (N, H, W, C)).
        crop_size, batch_size: as :func:`load_dataset`.
        seed: the run's seed.
        steps_per_epoch: batches per epoch; ``None``: one pass over the images (the last batch may be smaller).
            With a number, epoch e takes the first ``steps_per_epoch * batch_size`` images of its own shuffled
            passes (as many passes as needed).
    """

    def __init__(self, images, labels, crop_size, batch_size, seed=0, steps_per_epoch=None):
        self.images = tf.constant(images)
        self.labels = tf.constant(labels)
        self.crop_size, self.batch_size, self.seed = crop_size, batch_size, int(seed)
        self.size = len(labels)
        self.steps = steps_per_epoch or math.ceil(self.size / batch_size)
        self.samples = self.steps * batch_size if steps_per_epoch else self.size

    def _epoch_key(self, epoch):
        return tf.random.experimental.stateless_fold_in(tf.constant([self.seed, 0], tf.int64), epoch)

    def order(self, epoch):
        """The image indices of epoch ``epoch`` in visiting order, (samples,) int64."""
        key = self._epoch_key(epoch)
        passes = math.ceil(self.samples / self.size)
        permutations = [tf.argsort(tf.random.stateless_uniform(
            [self.size], seed=tf.random.experimental.stateless_fold_in(key, p))) for p in range(passes)]
        return tf.cast(tf.concat(permutations, 0)[: self.samples], tf.int64)

    def epoch(self, epoch):
        """The batches of one epoch: (float32 images in [0, 1], labels)."""
        epoch = tf.cast(epoch, tf.int64)
        augment_key = tf.random.experimental.stateless_fold_in(self._epoch_key(epoch), _AUGMENT_SALT)
        positions = tf.data.Dataset.range(self.samples)
        indexed = tf.data.Dataset.zip(positions, tf.data.Dataset.from_tensor_slices(self.order(epoch)))

        def augmented(position, index):
            key = tf.random.experimental.stateless_fold_in(augment_key, position)
            crop_key, jitter_key = tf.unstack(tf.random.experimental.stateless_split(key, num=2))
            image = augment.random_crop_and_flip(tf.gather(self.images, index), self.crop_size, crop_key)
            return image, augment.jitter_factors(jitter_key), tf.gather(self.labels, index)

        dataset = indexed.map(augmented, num_parallel_calls=tf.data.AUTOTUNE).batch(self.batch_size)
        return dataset.map(
            lambda batch, factors, label: (augment.colour_jitter(augment.to_unit_range(batch), factors), label),
            num_parallel_calls=tf.data.AUTOTUNE,
        )

    def from_epoch(self, first_epoch=0):
        """Epochs ``first_epoch``, ``first_epoch + 1``, ... back to back (endless; ``fit`` needs ``steps``)."""
        epochs = tf.data.Dataset.range(first_epoch, np.iinfo(np.int64).max)
        return epochs.flat_map(self.epoch).prefetch(tf.data.AUTOTUNE)


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
    steps_per_epoch=None,
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
        seed: seed of the split, the subsets, the shuffling and the augmentation.
        steps_per_epoch: batches per training epoch (see :class:`TrainStream`).

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
    stream = TrainStream(*train, crop_size, batch_size, seed, steps_per_epoch)
    return DatasetSplits(
        train=stream.epoch(0).prefetch(tf.data.AUTOTUNE),
        stream=stream,
        test=eval_pipeline(*test, crop_size, batch_size),
        validation=eval_pipeline(*validation, crop_size, batch_size) if validation else None,
        input_shape=(crop_size, crop_size, channels),
        class_names=list(class_names),
        train_size=len(train[1]),
        test_size=len(test[1]),
        validation_size=len(validation[1]) if validation else 0,
    )
