"""Training: configuration, optimizer, callbacks and the ``train`` entry point."""

from keras_nmf._native_log import import_tensorflow_quietly

import_tensorflow_quietly()  # tf.data and TensorBoard under every backend

from keras_nmf.training.config import TrainConfig, build_parser, parse_config
from keras_nmf.optimizers import MultiRateAdam
from keras_nmf.training.run import train
