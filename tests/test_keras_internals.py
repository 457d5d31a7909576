"""The private Keras and TensorFlow names this package relies on: a clear failure when an upgrade drops one.

pyproject.toml bounds Keras to the tested minor version; this test says which
name moved when that bound is lifted.
"""

import inspect

import keras
import pytest
from tensorflow.python.framework import config as tf_config

USES = [
    (keras.Model, "_flatten_layers", "training/batchnorm.py: the model's BatchNormalization layers"),
    (keras.optimizers.Optimizer, "_get_variable_index", "optimizers.py: MultiRateAdam's per-variable rate"),
    (keras.Model, "_symbolic_build", "backend/tensorflow_backend.py: the multi-worker build patch"),
    (tf_config, "is_op_determinism_enabled", "training/recipe.py: restoring op determinism"),
    (tf_config, "disable_op_determinism", "training/recipe.py: restoring op determinism"),
]


@pytest.mark.parametrize("owner, name, use", USES, ids=[name for _, name, _ in USES])
def test_private_name_exists(owner, name, use):
    assert hasattr(owner, name), (
        f"{getattr(owner, '__name__', owner)}.{name} is gone in Keras {keras.__version__}; "
        f"it is used by {use}. Adapt that module, or pin the Keras version that has it."
    )


def test_the_compile_configuration_that_a_saved_model_records():
    """training/recipe.py's compile_model leaves XLA to the loading backend through this dict."""
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("adam", "mse", jit_compile=False)
    assert model._compile_config.config["jit_compile"] is False
    assert model.get_compile_config()["jit_compile"] is False


def test_trainer_internals_of_the_multiworker_patch_and_the_backup():
    from keras.src.backend.tensorflow import trainer as tf_trainer

    for name in ("reduce_per_replica", "_collective_all_reduce_multi_worker"):
        assert hasattr(tf_trainer, name), (
            f"keras.src.backend.tensorflow.trainer.{name} is gone (backend/tensorflow_backend.py)"
        )
    assert hasattr(tf_trainer.TensorFlowTrainer, "_maybe_symbolic_build"), "backend/tensorflow_backend.py patches it"
    fit_source = inspect.getsource(tf_trainer.TensorFlowTrainer.fit)
    assert "_initial_epoch" in fit_source, "training/backup.py sets model._initial_epoch as BackupAndRestore does"


def test_terminate_on_nan_raises_on_request():
    assert "raise_error" in inspect.signature(keras.callbacks.TerminateOnNaN).parameters
