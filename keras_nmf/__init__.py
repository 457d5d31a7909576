"""keras_nmf: non-negative matrix factorization networks as Keras 3 layers.

Implements M. Nouri, D. Rotermund, A. Garcia-Ortiz and K. R. Pawelzik,
"Including local feature interactions in deep non-negative matrix
factorization networks improves performance". Docstrings cite that paper's
equation and section numbers. Importing this package registers its layers,
loss, optimizer and schedules, which loading a ``.keras`` file of its models needs.
"""

import importlib
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_nmf.commands import PARSE_FIRST  # noqa: E402  (a leaf: no Keras)
from keras_nmf.nmf_arguments import NMFOptions  # noqa: E402,F401  (a leaf: no Keras)

__version__ = "0.1.0"

#: Imported with the package: every class that a saved model of this package can hold is registered by them (layers,
#: the augmentation layer, loss, optimizer, learning-rate schedules), so `import keras_nmf` is all
#: `keras.models.load_model` needs. All are backend-agnostic (keras.ops).
_REGISTERING_SUBMODULES = ("initializers", "layers", "losses", "models", "ops", "optimizers", "schedules")
#: Imported on first use: the training stack and what builds on it.
_LAZY_SUBPACKAGES = ("data", "training", "experiments", "explain", "benchmarks", "tuning", "cli")


def load():
    """Imports Keras (the backend is Keras's choice: KERAS_BACKEND, else keras.json, else TensorFlow, with TensorFlow's
    native start-up noise filtered) and the registering submodules. ``import keras_nmf`` calls it, except in a
    command of this package while it parses its arguments; calling it again does nothing."""
    from keras_nmf._native_log import import_keras_quietly

    import_keras_quietly()
    for name in _REGISTERING_SUBMODULES:
        importlib.import_module(f"keras_nmf.{name}")


def _a_command_is_starting():
    """Whether this process was started as one of the commands that parse their arguments before they call
    :func:`load` (:data:`keras_nmf.commands.PARSE_FIRST`): its console script, ``python -m keras_nmf.cli.<name>``,
    or its script in ``scripts/``."""
    original = getattr(sys, "orig_argv", [])  # ``python -m keras_nmf.cli.<name>``: argv[0] is "-m" while importing
    if "-m" in original[:-1] and original[original.index("-m") + 1] in {
        f"keras_nmf.cli.{name}" for name in PARSE_FIRST
    }:
        return True
    started = pathlib.Path(sys.argv[0]) if getattr(sys, "argv", None) and sys.argv[0] else None
    if started is None:
        return False
    if started.name in {f"keras-nmf-{name.replace('_', '-')}" for name in PARSE_FIRST}:
        return True
    scripts = pathlib.Path(__file__).resolve().parent.parent / "scripts"
    return started.suffix == ".py" and started.stem in PARSE_FIRST and started.resolve().parent == scripts


if not _a_command_is_starting():
    load()


def __getattr__(name):
    if name in _REGISTERING_SUBMODULES or name in _LAZY_SUBPACKAGES:
        return importlib.import_module(f"keras_nmf.{name}")
    raise AttributeError(f"module 'keras_nmf' has no attribute {name!r}")
