"""Training: configuration, optimizer, callbacks and the ``train`` entry point (every backend)."""

from keras_nmf.optimizers import MultiRateAdam
from keras_nmf.training.config import TrainConfig, build_parser, parse_config


def __getattr__(name):
    if name != "train":
        raise AttributeError(f"module 'keras_nmf.training' has no attribute {name!r}")
    from keras_nmf.training.run import train

    return train
