"""keras_nmf: non-negative matrix factorization networks as Keras 3 layers.

Implements M. Nouri, D. Rotermund, A. Garcia-Ortiz and K. R. Pawelzik,
"Including local feature interactions in deep non-negative matrix
factorization networks improves performance". Docstrings cite that paper's
equation and section numbers. Importing this package registers its layers,
loss, optimizer and schedules, which loading a ``.keras`` file of its models needs.
"""

import importlib
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The backend is Keras's choice, by Keras's own rule (KERAS_BACKEND, else keras.json, else TensorFlow); this
# package never sets it. Keras is imported with TensorFlow's native start-up noise filtered, in case it is TensorFlow.
from keras_nmf._native_log import import_keras_quietly  # noqa: E402

import_keras_quietly()

# Everything here is backend-agnostic (keras.ops); the training stack imports on first use.
# Every class that a saved model of this package can hold is registered here (layers, the augmentation layer, loss,
# optimizer, learning-rate schedules): `import keras_nmf` is all `keras.models.load_model` needs.
from keras_nmf import initializers, layers, losses, models, ops, optimizers, schedules  # noqa: E402

__version__ = "0.1.0"

_LAZY_SUBPACKAGES = ("data", "training", "experiments", "benchmarks", "tuning", "cli")


def __getattr__(name):
    if name in _LAZY_SUBPACKAGES:
        return importlib.import_module(f"keras_nmf.{name}")
    raise AttributeError(f"module 'keras_nmf' has no attribute {name!r}")
