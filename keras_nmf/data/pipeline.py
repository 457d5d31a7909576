r"""``load_dataset``: in-memory uint8 images -> the batches of each split, as ``keras.utils.PyDataset``\s."""

import dataclasses
import math

import keras
import numpy as np

from keras_nmf.data.errors import DataError
from keras_nmf.data.image_folder import load_image_folder
from keras_nmf.data.shapes import CROP_MARGIN, DatasetShape, checked_crop_size, dataset_shape  # noqa: F401
from keras_nmf.data.tfds_source import load_tfds


@dataclasses.dataclass
class DatasetSplits:
    """The batches of each split, plus what the model factory needs to know.

    Every split is a ``keras.utils.PyDataset`` of raw uint8 images (the
    model's :class:`~keras_nmf.layers.PaperAugmentation` crops, flips and
    jitters them in the training step). ``train`` is epoch 0's batches (one
    finite pass); ``stream`` gives the endless stream from any epoch on, for ``fit``.
    """

    train: "Batches"
    stream: "TrainStream"
    test: "Batches"
    validation: "Batches | None"
    image_shape: tuple
    input_shape: tuple
    class_names: list
    train_size: int
    test_size: int
    validation_size: int

    @property
    def num_classes(self):
        return len(self.class_names)

    @property
    def crop_size(self):
        return self.input_shape[0]


def _split_validation(images, labels, fraction, seed):
    order = np.random.default_rng(seed).permutation(len(labels))
    held_out = int(round(len(labels) * fraction))
    if not 0 < held_out < len(labels):
        raise DataError(
            f"A validation fraction of {fraction} leaves no validation or no training images ({len(labels)} in all)."
        )
    keep, val = order[:-held_out], order[-held_out:]
    return (images[keep], labels[keep]), (images[val], labels[val])


class Batches(keras.utils.PyDataset):
    """Batches ``(uint8 images, labels)`` of arrays in a given order, through Keras's own data adapters.

    Args:
        images, labels: the arrays.
        batch_size: examples per batch (the last batch may be smaller).
        order: a function ``batch index -> example indices``; ``None``: the arrays' order.
        num_batches: batches per pass; ``None``: endless (``fit`` needs ``steps_per_epoch``).
    """

    def __init__(self, images, labels, batch_size, order=None, num_batches=None):
        super().__init__()
        self.images, self.labels, self.batch_size = images, labels, batch_size
        self._order = order or (lambda index: np.arange(index * batch_size, min((index + 1) * batch_size, len(labels))))
        self._num_batches = num_batches

    @property
    def num_batches(self):
        return self._num_batches

    def __len__(self):
        if self._num_batches is None:
            raise TypeError("An endless stream of batches has no length.")
        return self._num_batches

    def __getitem__(self, index):
        if self._num_batches is not None and not 0 <= index < self._num_batches:
            raise IndexError(f"Batch {index} of {self._num_batches}.")
        chosen = self._order(index)
        return self.images[chosen], self.labels[chosen]


def eval_batches(images, labels, batch_size):
    """A split's batches in their order (the model centre-crops at inference)."""
    return Batches(images, labels, batch_size, num_batches=math.ceil(len(labels) / batch_size))


class TrainStream:
    """The training batches of every epoch, each epoch's order a function of (seed, epoch) alone.

    Epoch e visits a permutation of the training images drawn from NumPy's
    generator seeded with ``(seed, e)`` (no generator state lives in the
    process), so a resumed run, a new process, feeds the batches the
    uninterrupted run fed. The augmentation's draws continue from the state
    saved with the weights (:class:`~keras_nmf.layers.PaperAugmentation`).

    Args:
        images, labels: the training arrays (uint8 images (N, H, W, C)).
        batch_size: as :func:`load_dataset`.
        seed: the run's seed.
        steps_per_epoch: batches per epoch; ``None``: one pass over the images (the last batch may be smaller).
            With a number, epoch e takes the first ``steps_per_epoch * batch_size`` images of its own shuffled
            passes (as many passes as needed).
    """

    def __init__(self, images, labels, batch_size, seed=0, steps_per_epoch=None):
        self.images, self.labels = images, labels
        self.batch_size, self.seed = batch_size, int(seed)
        self.size = len(labels)
        self.steps = steps_per_epoch or math.ceil(self.size / batch_size)
        self.samples = self.steps * batch_size if steps_per_epoch else self.size
        self._cached = (None, None)

    def order(self, epoch):
        """The image indices of epoch ``epoch`` in visiting order, (samples,) int64."""
        cached_epoch, order = self._cached  # one read: the loader thread and the callbacks may both ask
        if cached_epoch != epoch:
            passes = math.ceil(self.samples / self.size)
            generator = np.random.default_rng([self.seed, int(epoch)])
            order = np.concatenate([generator.permutation(self.size) for _ in range(passes)])[: self.samples]
            self._cached = (epoch, order)
        return order

    def _batch_order(self, first_epoch):
        def order(index):
            epoch, step = divmod(index, self.steps)
            return self.order(first_epoch + epoch)[step * self.batch_size : (step + 1) * self.batch_size]

        return order

    def epoch(self, epoch):
        """The batches of one epoch (a finite pass)."""
        return Batches(self.images, self.labels, self.batch_size, self._batch_order(epoch), self.steps)

    def from_epoch(self, first_epoch=0):
        """Epochs ``first_epoch``, ``first_epoch + 1``, ... back to back (endless; ``fit`` needs ``steps``)."""
        return Batches(self.images, self.labels, self.batch_size, self._batch_order(first_epoch))


def load_arrays(name="cifar10", data_dir=None, tfds_dir=None, verbose=True, limit_train=None, limit_test=None, seed=0):
    """The raw ``(train, test, class_names)`` arrays of an image folder or a tfds data set.

    ``train`` and ``test`` are ``(uint8 images (N, H, W, C), int64 labels)``;
    ``limit_train``/``limit_test`` keep the seeded subsets of
    :func:`keras_nmf.data.subsets.subset_indices` (an image folder decodes only those).
    """
    limits = {"limit_train": limit_train, "limit_test": limit_test, "seed": seed}
    if data_dir:
        return load_image_folder(data_dir, verbose=verbose, **limits)
    return load_tfds(name, tfds_dir, verbose=verbose, **limits)


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
    """Loads a data set into memory and returns the batches of its splits.

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
    crop_size = checked_crop_size(crop_size, height, width)
    stream = TrainStream(*train, batch_size, seed, steps_per_epoch)
    return DatasetSplits(
        train=stream.epoch(0),
        stream=stream,
        test=eval_batches(*test, batch_size),
        validation=eval_batches(*validation, batch_size) if validation else None,
        image_shape=(height, width, channels),
        input_shape=(crop_size, crop_size, channels),
        class_names=list(class_names),
        train_size=len(train[1]),
        test_size=len(test[1]),
        validation_size=len(validation[1]) if validation else 0,
    )
