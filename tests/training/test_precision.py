"""process_settings: the dtype policy, float32 without TF32, op determinism; all restored on exit."""

import keras
import pytest

from keras_nmf import backend
from keras_nmf.training.recipe import process_settings

pytestmark = pytest.mark.skipif(backend.NAME != "tensorflow", reason="op determinism is TensorFlow's switch")


def _state():
    return keras.config.dtype_policy().name, backend.tf32_enabled(), backend.determinism_enabled()


def test_settings_apply_inside_and_are_restored_on_exit():
    before = _state()
    with process_settings("mixed_bfloat16", deterministic=True) as precision:
        assert precision == "mixed_bfloat16"
        assert _state() == ("mixed_bfloat16", True, True)
    assert _state() == before
    with process_settings("float32"):
        assert _state() == ("float32", False, False)  # true float32 matmuls on a GPU
    assert _state() == before


def test_settings_are_restored_when_the_block_raises():
    before = _state()
    try:
        with process_settings("mixed_float16", deterministic=True):
            raise RuntimeError("a failed run")
    except RuntimeError:
        pass
    assert _state() == before
