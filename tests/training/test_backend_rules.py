"""The training stack's backend rules, on the backend the suite runs: what only TensorFlow can do is refused
elsewhere with the way out, the default compilation, precision and BatchNorm recalibration.

`make test` runs this file on TensorFlow, on JAX (the environment without TensorFlow) and on PyTorch.
"""

import keras
import numpy as np
import pytest

from keras_nmf import backend as backend_settings
from keras_nmf.training.batchnorm import recalibrate_batchnorm
from keras_nmf.training.config import ConfigError, TrainConfig
from keras_nmf.training.recipe import check_backend_support, default_jit, process_settings
from tests.backend import BACKEND


@pytest.mark.skipif(BACKEND == "tensorflow", reason="TensorFlow runs both (tests/training/test_distribute.py)")
@pytest.mark.parametrize(
    "fields, words",
    [({"distribute": "mirrored"}, "needs KERAS_BACKEND=tensorflow"), ({"deterministic": True}, "Drop --deterministic")],
)
def test_tensorflow_only_flags_are_refused_with_the_way_out(fields, words):
    with pytest.raises(ConfigError, match=words) as raised:
        check_backend_support(TrainConfig.of(**fields))
    assert f"{BACKEND} backend" in str(raised.value)


def test_networks_are_compiled_by_default_where_it_was_measured_faster():
    # TensorFlow: XLA for the NMF networks only; JAX: every step is jax.jit; PyTorch: eager.
    expected = {"tensorflow": (False, True), "jax": (True, True), "torch": (False, False)}[BACKEND]
    assert (default_jit("cnn"), default_jit("cnmf_1x1")) == expected


def test_float32_means_highest_matmul_precision_and_is_restored():
    before = backend_settings.tf32_enabled()
    with process_settings("float32") as precision:
        assert precision == "float32" and not backend_settings.tf32_enabled()
    with process_settings("mixed_bfloat16"):
        assert backend_settings.tf32_enabled() and keras.config.dtype_policy().name == "mixed_bfloat16"
    assert backend_settings.tf32_enabled() == before and keras.config.dtype_policy().name == "float32"


def test_batchnorm_recalibration_writes_the_statistics():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.BatchNormalization(momentum=0.9)(inputs))
    batches = [np.random.default_rng(i).normal(i, 1.0 + i, (8, 3)).astype("float32") for i in range(3)]
    dataset = [(batch, np.zeros(8)) for batch in batches]
    assert recalibrate_batchnorm(model, dataset, batches=5) == 3
    layer = model.layers[-1]
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer.moving_mean), np.mean([b.mean(0) for b in batches], 0), rtol=1e-5
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer.moving_variance), np.mean([b.var(0) for b in batches], 0), rtol=1e-4
    )
