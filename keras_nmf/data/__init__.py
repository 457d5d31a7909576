"""Data: tensorflow_datasets or image folders, in memory, through ``tf.data``.

``TFDS_DATASETS`` and ``DataError`` import without TensorFlow (a JAX- or
PyTorch-only host can read a training configuration); the loaders import
TensorFlow, quietly, on first use.
"""

import importlib

from keras_nmf.data.errors import DataError
from keras_nmf.data.tfds_source import TFDS_DATASETS

_LOADERS = {
    "load_image_folder": "image_folder",
    "DatasetSplits": "pipeline",
    "input_shape_of": "pipeline",
    "load_arrays": "pipeline",
    "load_dataset": "pipeline",
    "subset_indices": "subsets",
    "load_tfds": "tfds_source",
}


def __getattr__(name):
    if name not in _LOADERS:
        raise AttributeError(f"module 'keras_nmf.data' has no attribute {name!r}")
    from keras_nmf._native_log import import_tensorflow_quietly

    import_tensorflow_quietly()  # tf.data under every backend, its start-up noise filtered
    return getattr(importlib.import_module(f"keras_nmf.data.{_LOADERS[name]}"), name)
