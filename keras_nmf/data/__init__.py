"""Data: image folders (Pillow) or tensorflow_datasets, in memory, as batches of uint8 images.

Nothing here needs TensorFlow except the optional tfds source, which imports
it on use. The augmentation is a Keras layer inside the model
(:class:`keras_nmf.layers.PaperAugmentation`), so it runs in the training step on every backend.
"""

import importlib

from keras_nmf.data.errors import DataError
from keras_nmf.data.image_folder import load_image_folder
from keras_nmf.data.shapes import DatasetShape, checked_crop_size, dataset_shape
from keras_nmf.data.subsets import subset_indices
from keras_nmf.data.tfds_source import TFDS_DATASETS, load_tfds

#: The batching names, imported on first use (they need Keras): the checks above run before a backend loads.
_PIPELINE = ("Batches", "DatasetSplits", "TrainStream", "load_arrays", "load_dataset")


def __getattr__(name):
    if name in _PIPELINE:
        return getattr(importlib.import_module("keras_nmf.data.pipeline"), name)
    raise AttributeError(f"module 'keras_nmf.data' has no attribute {name!r}")
