"""The input check: an error naming the layer eagerly and in graphs; nothing at all inside XLA."""

import keras
import numpy as np
import pytest

from keras_nmf.ops.checks import check_non_negative_finite
from tests.backend import BACKEND, tensorflow_only


def _op_types(jit_compile):
    import tensorflow as tf

    function = tf.function(lambda x: check_non_negative_finite(x, "block1_cnmf"), jit_compile=jit_compile)
    return {op.type for op in function.get_concrete_function(tf.TensorSpec((2, 3))).graph.get_operations()}


def test_eager_input_with_a_negative_value_names_the_layer():
    with pytest.raises(ValueError, match="Layer block1_cnmf received an input with negative values"):
        check_non_negative_finite(keras.ops.convert_to_tensor([[1.0, -1.0]]), "block1_cnmf")


@pytest.mark.skipif(BACKEND != "jax", reason="jax.jit")
def test_a_jax_compiled_step_carries_no_check():
    import jax

    out = jax.jit(lambda x: check_non_negative_finite(x, "block1_cnmf"))(np.array([[1.0, -1.0]], "float32"))
    np.testing.assert_array_equal(np.asarray(out), [[1.0, -1.0]])


@tensorflow_only
def test_graphs_assert_but_xla_graphs_carry_no_assert_to_be_dropped_with_a_warning():
    assertion_ops = {"Assert", "If", "StatelessIf"}  # tf.debugging.Assert is an AssertGuard (If) in a graph
    assert assertion_ops & _op_types(jit_compile=False)
    assert not assertion_ops & _op_types(jit_compile=True)
