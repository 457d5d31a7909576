"""keras_nmf: non-negative matrix factorization networks as Keras 3 layers.

Implements M. Nouri, D. Rotermund, A. Garcia-Ortiz and K. R. Pawelzik,
"Including local feature interactions in deep non-negative matrix
factorization networks improves performance". Docstrings cite that paper's
equation and section numbers. Importing this package registers its layers,
loss and optimizer, which loading a ``.keras`` file of its models needs.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_nmf._native_log import quiet_native_startup  # noqa: E402

with quiet_native_startup():
    import tensorflow as _tf

    _tf.config.list_physical_devices("GPU")  # CUDA's probe, once, while its noise is filtered

from keras_nmf import data, initializers, layers, losses, models, ops, optimizers  # noqa: E402

__version__ = "0.1.0"
