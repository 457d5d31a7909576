"""Run-time input checks: NMF needs a finite, non-negative input."""

import tensorflow as tf
from tensorflow.python.framework import ops as tf_ops
from tensorflow.python.ops import control_flow_util


def _message(layer_name):
    return (
        f"Layer {layer_name} received an input with negative values or NaN/Inf. "
        "NMF needs a finite input x >= 0: put a ReLU (or another non-negative "
        "activation) in front of this layer, scale images to [0, 1] without mean "
        "subtraction, and check the data for NaN."
    )


def check_non_negative_finite(x, layer_name):
    """Returns ``x`` unchanged after checking that it is finite and >= 0.

    Eagerly this raises ``ValueError``; inside a ``tf.function`` it adds an
    assertion that raises ``InvalidArgumentError`` with the same message when
    the step runs. XLA cannot raise, so inside an XLA-compiled function
    (``jit_compile=True``) no assertion is added (TensorFlow would drop it with
    an "Ignoring Assert operator" warning per layer): check the data once
    without XLA.
    """
    if not tf.executing_eagerly() and control_flow_util.GraphOrParentsInXlaContext(tf_ops.get_default_graph()):
        return x
    # Two reductions, no elementwise temporaries: any NaN or Inf makes the sum
    # non-finite, and a finite sum with min(x) >= 0 means x >= 0 everywhere.
    valid = tf.logical_and(
        tf.math.is_finite(tf.reduce_sum(x)), tf.reduce_min(x) >= 0
    )
    if tf.executing_eagerly():
        if not bool(valid):
            minimum = float(tf.reduce_min(x))
            raise ValueError(f"{_message(layer_name)} Received: min(x)={minimum}.")
        return x
    assertion = tf.debugging.Assert(valid, [_message(layer_name), "min(x) =", tf.reduce_min(x)])
    with tf.control_dependencies([assertion]):
        return tf.identity(x)
