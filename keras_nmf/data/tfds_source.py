"""CIFAR-10, MNIST and Fashion-MNIST through ``tensorflow_datasets``."""

import socket
import urllib.parse

import numpy as np

from keras_nmf.data.errors import DataError
from keras_nmf.data.subsets import subset_indices
from keras_nmf.run_choices import TFDS_DATASETS


#: (height, width, channels) of each data set's images (known without loading it).
TFDS_IMAGE_SHAPES = {"cifar10": (32, 32, 3), "mnist": (28, 28, 1), "fashion_mnist": (28, 28, 1)}
#: Classes of each data set.
TFDS_NUM_CLASSES = {"cifar10": 10, "mnist": 10, "fashion_mnist": 10}


def _check_downloadable(builder, name, timeout=5.0):
    """Fails fast, with the offline alternative, when the download hosts are unreachable.

    tensorflow_datasets retries for minutes before giving up without network.
    """
    hosts = {urllib.parse.urlparse(url) for url in (builder.url_infos or {})}
    for url in hosts:
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            socket.create_connection((url.hostname, port), timeout=timeout).close()
        except OSError as error:
            raise DataError(
                f"Cannot download '{name}' (host {url.hostname} unreachable: {error}). "
                "Without network, train from an image folder instead: "
                "data_dir=DIR (--data-dir DIR), with DIR/train/<class>/*.jpg and DIR/test/<class>/*.jpg "
                "(e.g. --data-dir ../shared/data/cifar10-jpeg), or point tfds_dir (--tfds-dir) "
                "at a directory where the data set was already prepared."
            ) from None


def load_tfds(name, tfds_dir=None, verbose=True, limit_train=None, limit_test=None, seed=0):
    """Loads a ``tensorflow_datasets`` image classification set into memory.

    Returns ``(train, test, class_names)`` like ``load_image_folder``, with the
    same seeded subsets (:func:`keras_nmf.data.subsets.subset_indices`).
    """
    if name not in TFDS_DATASETS:
        raise DataError(
            f"Unknown dataset {name!r}. Valid choices: {', '.join(TFDS_DATASETS)}, or data_dir=DIR (--data-dir DIR)."
        )
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise DataError(
            f"Loading '{name}' by name needs tensorflow_datasets, which is not installed: install it "
            "(pip install tensorflow tensorflow-datasets: keras_nmf's tensorflow extra), or train from an image folder: data_dir=DIR (--data-dir DIR) with "
            "DIR/train/<class>/*.jpg and DIR/test/<class>/*.jpg."
        ) from None

    builder = tfds.builder(name, data_dir=tfds_dir)
    if not builder.is_prepared():
        _check_downloadable(builder, name)
        if verbose:
            print(f"Downloading and preparing '{name}' with tensorflow_datasets ...", flush=True)
        builder.download_and_prepare()
    splits = {}
    for split in ("train", "test"):
        data = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1, as_supervised=True))
        images, labels = np.asarray(data[0], np.uint8), np.asarray(data[1], np.int64)
        keep = subset_indices(len(labels), limit_train if split == "train" else limit_test, seed, split)
        splits[split] = (images[keep], labels[keep])
    class_names = builder.info.features["label"].names
    return splits["train"], splits["test"], class_names
