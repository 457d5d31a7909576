"""The TensorFlow backend's side of :mod:`keras_nmf.backend`."""

import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.framework import config as tf_config  # op determinism's getter and switch-off

#: Whether steps are XLA-compiled by default: TensorFlow decides per arch (``keras_nmf.training.recipe``).
DEFAULT_JIT = None
#: Keras compiles no XLA step while op determinism is on (not every XLA op is deterministic).
COMPILES_WITH_DETERMINISM = False
#: The --distribute choices this backend runs.
DISTRIBUTE_STRATEGIES = ("mirrored", "multiworker")
#: Environment for processes that share one GPU: TensorFlow takes all of its memory at start-up unless told to grow.
SHARED_DEVICE_ENVIRONMENT = {"TF_FORCE_GPU_ALLOW_GROWTH": "true"}
DETERMINISM_ADVICE = None


def vjp(fn, primal, cotangent):
    with tf.GradientTape() as tape:
        tape.watch(primal)
        output = fn(primal)
    return tape.gradient(output, primal, output_gradients=cotangent)


def map_chunks(fn, chunks, output_dtypes):
    # tf.map_fn with the dtypes alone: keras.ops.map would call fn once more, outside the loop, to learn its
    # signature, repeating a side effect in fn (the implicit backward's fallback counter).
    return tf.map_fn(fn, chunks, fn_output_signature=output_dtypes)


def is_concrete(x):
    return tf.executing_eagerly()


def after_counting(counter, amount, outputs):
    with tf.control_dependencies([counter.assign_add(amount)]):
        return tuple(tf.identity(t) for t in outputs)


def graph_assertion(x, condition, message, statistics, error, training):
    """``x`` behind a ``tf.debugging.Assert`` inside a ``tf.function`` graph without XLA (any step), else ``x``."""
    from tensorflow.python.framework import ops as tf_ops
    from tensorflow.python.ops import control_flow_util

    if control_flow_util.GraphOrParentsInXlaContext(tf_ops.get_default_graph()):
        return x  # XLA drops assertions (with an "Ignoring Assert operator" warning per layer)
    assertion = tf.debugging.Assert(condition, [message, "min(x) =", tf.reduce_min(x)])
    with tf.control_dependencies([assertion]):
        return tf.identity(x)


def tracing_for_export():
    return False  # its ONNX converter reads custom gradients and while loops


def float64_available():
    return True


def gradients(loss_fn, tensors, variables=()):
    tensors = [tf.convert_to_tensor(t) for t in tensors]
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        loss = loss_fn(*tensors)
    return [np.asarray(g) for g in tape.gradient(loss, tensors + list(variables))]


class _OwnRetracingWarnings:
    """Drops TensorFlow's "triggered tf.function retracing" warning about :func:`compile_call`'s functions.

    A run compiles one forward pass per purpose (each NMF layer's diagnostics head, the BatchNorm recalibration),
    each traced once, and a grid does so for every run; TensorFlow counts the traces of functions of one source
    line together and warns of "excessive retracing" that is not there. Its warnings about other functions pass.
    """

    def filter(self, record):
        return "calls to <function compile_call.<locals>." not in record.getMessage()


tf.get_logger().addFilter(_OwnRetracingWarnings())


def compile_call(model, training):
    return tf.function(lambda images: model(images, training=training))


def compile_function(fn, jit=True):
    return tf.function(fn, jit_compile=jit)


def block_until_ready(result):
    for value in keras.tree.flatten(result):
        if hasattr(value, "numpy"):
            value.numpy()


def gpu_compute_capability():
    for gpu in tf.config.list_physical_devices("GPU"):
        return tuple(tf.config.experimental.get_device_details(gpu).get("compute_capability", (0, 0)))
    return None


def tf32_enabled():
    return tf.config.experimental.tensor_float_32_execution_enabled()


def set_tf32(enabled):
    tf.config.experimental.enable_tensor_float_32_execution(enabled)


def determinism_enabled():
    return tf_config.is_op_determinism_enabled()


def set_determinism(enabled):
    if enabled:
        tf.config.experimental.enable_op_determinism()
    else:
        tf_config.disable_op_determinism()
