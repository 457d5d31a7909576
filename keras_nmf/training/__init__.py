"""Training: configuration, optimizer, callbacks and the ``train`` entry point (every backend).

The configuration (:mod:`keras_nmf.training.config`) imports no Keras, so that a command parses its flags before a
backend loads; everything else here is imported on first use.
"""

import importlib

from keras_nmf.training.config import TrainConfig
from keras_nmf.training.flags import build_parser, parse_config

_LAZY = {"train": "keras_nmf.training.run", "MultiRateAdam": "keras_nmf.optimizers"}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'keras_nmf.training' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
