"""Run-time input checks: NMF needs a finite, non-negative input."""

from keras import ops

from keras_nmf.ops import backend


def _message(layer_name):
    return (
        f"Layer {layer_name} received an input with negative values or NaN/Inf. "
        "NMF needs a finite input x >= 0: put a ReLU (or another non-negative "
        "activation) in front of this layer, scale images to [0, 1] without mean "
        "subtraction, and check the data for NaN."
    )


def _is_valid(x):
    # Two reductions, no elementwise temporaries: any NaN or Inf makes the sum
    # non-finite, and a finite sum with min(x) >= 0 means x >= 0 everywhere.
    return ops.logical_and(ops.isfinite(ops.sum(x)), ops.min(x) >= 0)


def check_non_negative_finite(x, layer_name):
    """Returns ``x`` unchanged after checking that it is finite and >= 0.

    Where the value can be read (eager execution on any backend) this raises
    ``ValueError``. Inside a ``tf.function`` it adds an assertion that raises
    ``InvalidArgumentError`` with the same message when the step runs. Where
    no compiled step can raise, no check is added: inside an XLA-compiled
    function (``jit_compile=True``; TensorFlow would drop the assertion with an
    "Ignoring Assert operator" warning per layer) and inside ``jax.jit`` (every
    JAX training step). There, check the data once eagerly, e.g. by calling
    the model on a batch outside ``fit``.
    """
    if backend.is_concrete(x):
        if not bool(ops.convert_to_numpy(_is_valid(x))):
            minimum = float(ops.convert_to_numpy(ops.min(x)))
            raise ValueError(f"{_message(layer_name)} Received: min(x)={minimum}.")
        return x
    if backend.name() != "tensorflow":
        return x
    return _tf_graph_assertion(x, layer_name)


def _tf_graph_assertion(x, layer_name):
    """``x`` behind a ``tf.debugging.Assert`` (a ``tf.function`` graph without XLA), else ``x``."""
    import tensorflow as tf
    from tensorflow.python.framework import ops as tf_ops
    from tensorflow.python.ops import control_flow_util

    if control_flow_util.GraphOrParentsInXlaContext(tf_ops.get_default_graph()):
        return x
    assertion = tf.debugging.Assert(_is_valid(x), [_message(layer_name), "min(x) =", tf.reduce_min(x)])
    with tf.control_dependencies([assertion]):
        return tf.identity(x)
