"""The JAX backend's side of :mod:`keras_nmf.backend`."""

import jax
import keras
import numpy as np

#: Every step is compiled (``jax.jit``, Keras's default): uncompiled JAX runs op by op.
DEFAULT_JIT = True
COMPILES_WITH_DETERMINISM = True
#: Whether a backward pass can add to a variable (the implicit backward's fallback count): not in JAX's stateless
#: backward, so the NMF layers have no ``implicit_fallbacks`` counter here.
COUNTS_IN_BACKWARD = False
#: The --distribute choices this backend runs.
DISTRIBUTE_STRATEGIES = ("data_parallel",)
#: Environment for processes that share one GPU: JAX takes 75 % of its memory at start-up unless told not to.
SHARED_DEVICE_ENVIRONMENT = {"XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
#: JAX has no determinism switch that a running process can flip (XLA reads its flags at start-up).
DETERMINISM_ADVICE = (
    "start with XLA_FLAGS=--xla_gpu_deterministic_ops=true on a GPU; on a CPU it is deterministic already"
)


def vjp(fn, primal, cotangent):
    _, pullback = jax.vjp(fn, primal)
    return pullback(cotangent)[0]


def map_chunks(fn, chunks, output_dtypes):
    return keras.ops.map(fn, chunks)  # lax.map: traces fn once


def is_concrete(x):
    return not isinstance(x, jax.core.Tracer)


def after_counting(counter, amount, outputs):
    return outputs  # never called: a stateless backward cannot assign a variable (COUNTS_IN_BACKWARD)


def graph_assertion(x, condition, message, statistics, error, training):
    """In a training step, a host callback that raises ``error(*statistics())`` unless ``condition`` holds.

    Inference steps carry none: ``model.export`` cannot serialise a host callback. Nor do the SPMD steps of a
    ``keras.distribution`` (``--distribute data_parallel``): there the callback changed the step's numbers (a
    DataParallel step of cnmf_1x1 then differed from the single-device step by 2 % in BatchNorm's moving means,
    under the test suite's XLA flags). Measured on a 2-core CPU, the four NMF layers' callbacks cost cnmf_1x1 1.9 ms
    of a 364 ms training step (``scripts/bench_input_check.py``).
    """
    if not training or keras.distribution.distribution() is not None:
        return x

    def check(valid, *values):
        if not valid:
            raise error(*values)

    jax.debug.callback(check, condition, *statistics())
    return x


def tracing_for_export():
    return False  # its ONNX converter reads custom gradients and while loops


def float64_available():
    return bool(jax.config.jax_enable_x64)


def gradients(loss_fn, tensors, variables=()):
    variables = list(variables)

    def loss(tensor_values, variable_values):
        with keras.StatelessScope(state_mapping=list(zip(variables, variable_values))):
            return loss_fn(*tensor_values)

    grads = jax.grad(loss, argnums=(0, 1))([jax.numpy.asarray(t) for t in tensors], [v.value for v in variables])
    return [np.asarray(g) for g in grads[0] + grads[1]]


def compile_call(model, training):
    """``jax.jit`` over ``stateless_call``, writing the updated non-trainable state (BatchNorm) back."""

    @jax.jit
    def step(trainable, non_trainable, images):
        return model.stateless_call(trainable, non_trainable, images, training=training)

    def call(images):
        outputs, non_trainable = step(
            [v.value for v in model.trainable_variables],
            [v.value for v in model.non_trainable_variables],
            keras.ops.convert_to_tensor(images),
        )
        for variable, value in zip(model.non_trainable_variables, non_trainable):
            variable.assign(value)
        return outputs

    return call


def compile_function(fn, jit=True):
    return jax.jit(fn)


def block_until_ready(result):
    for value in keras.tree.flatten(result):
        if hasattr(value, "block_until_ready"):
            value.block_until_ready()


def gpu_compute_capability():
    gpus = [device for device in jax.devices() if device.platform == "gpu"]
    if not gpus:
        return None
    major, _, minor = str(getattr(gpus[0], "compute_capability", "0.0")).partition(".")
    return int(major), int(minor or 0)


def tf32_enabled():
    return jax.config.jax_default_matmul_precision not in ("highest", "float32")


def set_tf32(enabled):
    jax.config.update("jax_default_matmul_precision", None if enabled else "highest")


def determinism_enabled():
    return False


def set_determinism(enabled):
    if enabled:
        raise ValueError("Op determinism is a TensorFlow switch; the jax backend has none to turn on.")


def start_devices_quietly():
    pass  # no native start-up noise to filter


def patch_multiworker_build(model, strategy):
    return lambda: None  # multi-worker training is TensorFlow's (tf.distribute)
