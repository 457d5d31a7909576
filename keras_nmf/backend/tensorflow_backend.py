"""The TensorFlow backend's side of :mod:`keras_nmf.backend`."""

import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.framework import config as tf_config  # op determinism's getter and switch-off

#: Whether steps are XLA-compiled by default: TensorFlow decides per arch (``keras_nmf.training.recipe``).
DEFAULT_JIT = None
#: Keras compiles no XLA step while op determinism is on (not every XLA op is deterministic).
COMPILES_WITH_DETERMINISM = False
COUNTS_IN_BACKWARD = True
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


def start_devices_quietly():
    """Starts TensorFlow's device context with CUDA's start-up noise filtered.

    The context starts at the first TensorFlow op, and on a host without a GPU writes "failed call to cuInit"
    from C++ then; here, where no device can still be configured, it starts inside the filter.
    """
    from keras_nmf._native_log import quiet_native_startup

    with quiet_native_startup():
        tf.config.list_logical_devices()


def patch_multiworker_build(model, strategy):
    """Works around two Keras 3 defects under ``MultiWorkerMirroredStrategy``.

    keras-team/keras#20585 (tensorflow/tensorflow#72388): Keras 3's TF trainer
    fails under a multi-worker strategy with "Attempt to convert a value
    (PerReplica...)" and then "Invalid reduction dimension 0 for input with 0
    dimensions":

    1. ``fit`` builds the model from a first batch obtained by
       ``strategy.reduce("MEAN", batch)``; the batch serves only for its
       shapes, so this takes the first local replica's part instead.
    2. The step's logs (scalars) are averaged over the workers with
       ``strategy.reduce("MEAN", value, axis=0)``; a scalar has no axis 0, so
       this averages them with ``axis=None`` (the mean over replicas, which is
       what the logs mean). Every worker then logs the same global loss and
       the plateau schedule takes the same decisions everywhere.

    Gradients are all-reduced by the optimizer either way. Applied to
    multi-worker strategies only; every other case runs Keras's own code.
    The names patched are pinned by ``tests/test_keras_internals.py``; Keras's private trainer module is read
    here only (``keras_nmf/backend/``).

    Returns:
        A function that undoes the module-level patch (the run's end calls it).
    """
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return lambda: None
    from keras.src.backend.tensorflow import trainer as tf_trainer

    def local_part(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    def maybe_symbolic_build(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = tf.nest.map_structure(local_part, next(batches))
                break
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    model._maybe_symbolic_build = maybe_symbolic_build
    keras_reduce = getattr(tf_trainer.reduce_per_replica, "keras_original", tf_trainer.reduce_per_replica)

    def reduce_per_replica(values, strategy_, reduction="auto"):
        if reduction in ("auto", "mean") and tf_trainer._collective_all_reduce_multi_worker(strategy_):
            return tf.nest.map_structure(lambda value: strategy_.reduce("MEAN", value, axis=None), values)
        return keras_reduce(values, strategy_, reduction)

    reduce_per_replica.keras_original = keras_reduce
    tf_trainer.reduce_per_replica = reduce_per_replica

    def undo():
        tf_trainer.reduce_per_replica = keras_reduce

    return undo
