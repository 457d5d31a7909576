"""Training: configuration, optimizer, callbacks and the ``train`` entry point.

The configuration and the recipe import without TensorFlow; ``train`` (tf.data,
TensorBoard) imports it, quietly, on first use.
"""

from keras_nmf.optimizers import MultiRateAdam
from keras_nmf.training.config import TrainConfig, build_parser, parse_config


def __getattr__(name):
    if name != "train":
        raise AttributeError(f"module 'keras_nmf.training' has no attribute {name!r}")
    from keras_nmf._native_log import import_tensorflow_quietly

    import_tensorflow_quietly()
    from keras_nmf.training.run import train

    return train
