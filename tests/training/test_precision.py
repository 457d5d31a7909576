"""apply_precision: the dtype policy, and float32 without TF32."""

import keras
import tensorflow as tf

from keras_nmf.training.run import apply_precision


def test_float32_turns_tf32_off_and_mixed_policies_leave_it():
    previous = tf.config.experimental.tensor_float_32_execution_enabled()
    try:
        tf.config.experimental.enable_tensor_float_32_execution(True)
        apply_precision("mixed_bfloat16")
        assert keras.config.dtype_policy().name == "mixed_bfloat16"
        assert tf.config.experimental.tensor_float_32_execution_enabled()
        apply_precision("float32")
        assert keras.config.dtype_policy().name == "float32"
        assert not tf.config.experimental.tensor_float_32_execution_enabled()
    finally:
        tf.config.experimental.enable_tensor_float_32_execution(previous)
        keras.config.set_dtype_policy("float32")
