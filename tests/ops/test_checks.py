"""The input check: an error naming the layer eagerly, in graphs and in JAX training steps; nothing inside XLA."""

import keras
import numpy as np
import pytest

from keras_nmf.ops.checks import check_mask, check_non_negative_finite, invalid_input_message
from tests.backend import BACKEND, tensorflow_only


def _op_types(jit_compile):
    import tensorflow as tf

    function = tf.function(lambda x: check_non_negative_finite(x, "block1_cnmf"), jit_compile=jit_compile)
    return {op.type for op in function.get_concrete_function(tf.TensorSpec((2, 3))).graph.get_operations()}


def test_eager_input_with_a_negative_value_names_the_layer():
    with pytest.raises(ValueError, match="Layer block1_cnmf received an input with negative values"):
        check_non_negative_finite(keras.ops.convert_to_tensor([[1.0, -1.0]]), "block1_cnmf")


@pytest.mark.skipif(BACKEND != "jax", reason="jax.jit")
def test_a_jax_training_step_raises_and_an_inference_step_carries_no_check():
    import jax

    bad = np.array([[1.0, -1.0]], "float32")
    out = jax.jit(lambda x: check_non_negative_finite(x, "block1_cnmf"))(bad)  # what model.export traces
    np.testing.assert_array_equal(np.asarray(out), [[1.0, -1.0]])
    with pytest.raises(Exception) as error:
        jax.block_until_ready(jax.jit(lambda x: check_non_negative_finite(x, "block1_cnmf", training=True))(bad))
    assert invalid_input_message(error.value).endswith(
        "Received: 1 negative entries (min(x)=-1.0) and 0 NaN/Inf entries."
    )
    with pytest.raises(Exception, match=r"`observed` mask with values outside \[0, 1\].*max 2.0"):
        jax.block_until_ready(jax.jit(lambda m: check_mask(m, "block1_cnmf", training=True))(bad + 1))


def test_the_message_is_found_in_the_compiled_steps_errors():
    tensorflow_error = (
        "assertion failed: [Layer block2_cnmf received an `observed` mask with values outside [0, 1] "
        "or NaN/Inf. Pass a finite mask in [0, 1].] [min(x) =] [-1]\n\t [[{{node Assert}}]]"
    )
    assert invalid_input_message(tensorflow_error) == (
        "Layer block2_cnmf received an `observed` mask with values "
        "outside [0, 1] or NaN/Inf. Pass a finite mask in [0, 1]."
    )
    jax_error = "INTERNAL: CpuCallback error\nValueError: Layer nmf_dense received an input with NaN.\n--------"
    assert invalid_input_message(jax_error) == "Layer nmf_dense received an input with NaN."
    assert invalid_input_message(RuntimeError("Array has been deleted")) is None


@tensorflow_only
def test_graphs_assert_but_xla_graphs_carry_no_assert_to_be_dropped_with_a_warning():
    assertion_ops = {"Assert", "If", "StatelessIf"}  # tf.debugging.Assert is an AssertGuard (If) in a graph
    assert assertion_ops & _op_types(jit_compile=False)
    assert not assertion_ops & _op_types(jit_compile=True)
