"""Data: tensorflow_datasets or image folders, in memory, through ``tf.data``."""

from keras_nmf._native_log import import_tensorflow_quietly

import_tensorflow_quietly()  # tf.data and TensorBoard under every backend

from keras_nmf.data.image_folder import DataError, load_image_folder
from keras_nmf.data.pipeline import DatasetSplits, input_shape_of, load_arrays, load_dataset
from keras_nmf.data.subsets import subset_indices
from keras_nmf.data.tfds_source import TFDS_DATASETS, load_tfds
