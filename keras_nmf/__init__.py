"""keras_nmf: non-negative matrix factorization networks as Keras 3 layers.

Implements M. Nouri, D. Rotermund, A. Garcia-Ortiz and K. R. Pawelzik,
"Including local feature interactions in deep non-negative matrix
factorization networks improves performance". Docstrings cite that paper's
equation and section numbers. Importing this package registers its layers,
loss and optimizer, which loading a ``.keras`` file of its models needs.
"""

import importlib
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

if os.environ["KERAS_BACKEND"] == "tensorflow":
    from keras_nmf._native_log import import_tensorflow_quietly

    import_tensorflow_quietly()

# The layers, networks, loss, optimizer and initializers are backend-agnostic
# (keras.ops); the training stack (keras_nmf.data, keras_nmf.training) uses
# tf.data and is imported on first use, so this package imports on a host
# without TensorFlow under KERAS_BACKEND=jax or torch.
from keras_nmf import initializers, layers, losses, models, ops, optimizers  # noqa: E402

__version__ = "0.1.0"

_LAZY_SUBPACKAGES = ("data", "training", "experiments", "benchmarks")


def __getattr__(name):
    if name in _LAZY_SUBPACKAGES:
        return importlib.import_module(f"keras_nmf.{name}")
    raise AttributeError(f"module 'keras_nmf' has no attribute {name!r}")
