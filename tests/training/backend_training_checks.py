"""The training stack on JAX and PyTorch, run by tests/training/test_other_backends.py in a subprocess per backend.

``python -m tests.training.backend_training_checks`` (with ``KERAS_BACKEND=jax`` or ``torch``) runs every
``check_*`` function below and prints ``ok`` after the last one; an assertion stops it with a traceback.
"""

import keras
import numpy as np

from keras_nmf import backend as backend_settings
from keras_nmf.training.batchnorm import recalibrate_batchnorm
from keras_nmf.training.config import ConfigError, TrainConfig
from keras_nmf.training.recipe import default_jit, process_settings


def check_tensorflow_only_flags_are_refused_with_the_way_out():
    for fields, words in (({"distribute": "mirrored"}, "needs KERAS_BACKEND=tensorflow"),
                          ({"deterministic": True}, "Drop --deterministic")):
        try:
            TrainConfig(**fields)
        except ConfigError as error:
            assert words in str(error) and f"{keras.backend.backend()} backend" in str(error), str(error)
        else:
            raise AssertionError(f"{fields} was accepted on {keras.backend.backend()}")


def check_networks_are_compiled_by_default_on_jax_and_eager_on_torch():
    compiled = keras.backend.backend() == "jax"
    assert default_jit("cnn") == compiled and default_jit("cnmf_1x1") == compiled


def check_float32_means_highest_matmul_precision_and_is_restored():
    before = backend_settings.tf32_enabled()
    with process_settings("float32") as precision:
        assert precision == "float32" and not backend_settings.tf32_enabled()
    with process_settings("mixed_bfloat16"):
        assert backend_settings.tf32_enabled() and keras.config.dtype_policy().name == "mixed_bfloat16"
    assert backend_settings.tf32_enabled() == before and keras.config.dtype_policy().name == "float32"


def check_batchnorm_recalibration_writes_the_statistics():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.BatchNormalization(momentum=0.9)(inputs))
    batches = [np.random.default_rng(i).normal(i, 1.0 + i, (8, 3)).astype("float32") for i in range(3)]
    dataset = [(batch, np.zeros(8)) for batch in batches]
    assert recalibrate_batchnorm(model, dataset, batches=5) == 3
    layer = model.layers[-1]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.moving_mean),
                               np.mean([b.mean(0) for b in batches], 0), rtol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.moving_variance),
                               np.mean([b.var(0) for b in batches], 0), rtol=1e-4)


if __name__ == "__main__":
    assert keras.backend.backend() in ("jax", "torch"), keras.backend.backend()
    for name, check in list(globals().items()):
        if name.startswith("check_"):
            check()
    print("ok")
