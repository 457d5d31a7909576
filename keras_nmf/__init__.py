"""keras_nmf: non-negative matrix factorization networks as Keras 3 layers.

Implements Nouri, Rotermund, Garcia-Ortiz and Pawelzik, "Including local
feature interactions in deep non-negative matrix factorization networks
improves performance" (see PAPER.md for the equations cited in docstrings).
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from keras_nmf import data, initializers, layers, losses, models, ops, optimizers  # noqa: E402

__version__ = "0.1.0"
