"""What the tests need from the active Keras backend: gradients, compiled calls, a TensorFlow-only marker.

The layer, ops and model tests run under ``KERAS_BACKEND=tensorflow`` (the
whole suite), ``KERAS_BACKEND=jax`` and ``KERAS_BACKEND=torch`` (``make test``
runs them again on each); these helpers give all three the same words for
taking a gradient and compiling a call.
"""

import keras
import numpy as np
import pytest

BACKEND = keras.backend.backend()

#: Tests of TensorFlow machinery itself (graph assertions, tf.function tracing, tf.distribute).
tensorflow_only = pytest.mark.skipif(BACKEND != "tensorflow", reason="tests TensorFlow-specific behaviour")

#: How a computation is run: op by op, traced with an unknown batch size (as ``fit`` traces on TensorFlow), or XLA.
#: On JAX the three are one (``jax.jit``, static shapes), so tests parametrised by mode run it once there; PyTorch
#: runs eagerly.
MODES = {"tensorflow": ("eager", "graph", "xla"), "jax": ("xla",)}.get(BACKEND, ("eager",))


def to_numpy(value, dtype=np.float64):
    return np.asarray(keras.ops.convert_to_numpy(keras.ops.cast(value, "float32") if _is_low_precision(value)
                                                 else value), dtype=dtype)


def _is_low_precision(value):
    return keras.backend.standardize_dtype(value.dtype) in ("float16", "bfloat16")


def value_and_gradients(loss_fn, *tensors, mode="eager"):
    """``(loss_fn(*tensors), [d loss / d tensor ...])`` for a scalar ``loss_fn`` of tensors (no variables)."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        def run(*args):
            with tf.GradientTape() as tape:
                for arg in args:
                    tape.watch(arg)
                loss = loss_fn(*args)
            return loss, tape.gradient(loss, list(args))

        if mode != "eager":
            run = tf.function(run, jit_compile=mode == "xla")
        return run(*[tf.convert_to_tensor(t) for t in tensors])
    if BACKEND == "torch":
        leaves = [_torch_leaf(t) for t in tensors]
        loss = loss_fn(*leaves)
        return loss, list(_torch_gradients(loss, leaves))
    import jax

    run = jax.value_and_grad(loss_fn, argnums=tuple(range(len(tensors))))
    if mode != "eager":
        run = jax.jit(run)
    loss, grads = run(*[jax.numpy.asarray(t) for t in tensors])
    return loss, list(grads)


def layer_output_and_gradients(layer, inputs, loss_of_output, mode="eager"):
    """``(output, dL/dinputs, dL/dkernel)`` for ``L = loss_of_output(layer(inputs))``, as backend tensors.

    ``mode`` (:data:`MODES`): on TensorFlow ``"graph"`` is a ``tf.function``
    traced with an unknown batch size and ``"xla"`` one with
    ``jit_compile=True``; on JAX every mode is ``jax.jit`` (shapes are static there).
    """
    if BACKEND == "tensorflow":
        import tensorflow as tf

        def forward_backward(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                out = layer(x)
                loss = loss_of_output(out)
            return (out,) + tuple(tape.gradient(loss, [x, layer.kernel]))

        if mode != "eager":
            signature = [tf.TensorSpec((None,) + tuple(inputs.shape[1:]), inputs.dtype)]
            forward_backward = tf.function(
                forward_backward, input_signature=None if mode == "xla" else signature, jit_compile=mode == "xla")
        return forward_backward(tf.convert_to_tensor(inputs))
    if BACKEND == "torch":
        x = _torch_leaf(inputs)
        out = layer(x)
        return (out,) + _torch_gradients(loss_of_output(out), [x, layer.kernel.value])
    import jax

    if not layer.built:
        layer.build(inputs.shape)
    kernel_index = next(i for i, v in enumerate(layer.trainable_variables) if v is layer.kernel)
    non_trainable = [v.value for v in layer.non_trainable_variables]

    def loss(kernel, x):
        trainable = [kernel if i == kernel_index else v.value for i, v in enumerate(layer.trainable_variables)]
        out, _ = layer.stateless_call(trainable, non_trainable, x)
        return loss_of_output(out), out

    # Compiled in every mode: op-by-op JAX costs seconds per call, and "eager" means TensorFlow's eager mode.
    run = jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True))
    (_, out), (grad_kernel, grad_x) = run(layer.kernel.value, jax.numpy.asarray(inputs))
    return out, grad_x, grad_kernel


def compiled(model):
    """``model``'s call compiled with XLA: ``tf.function(jit_compile=True)`` or ``jax.jit`` over ``stateless_call``.

    Unlike :func:`keras_nmf.training.compiled.compiled_call` this passes no ``training`` argument, so it also
    compiles a subclassed model whose ``call`` takes none, and it writes no state back.
    """
    if BACKEND == "tensorflow":
        from keras_nmf.benchmarks.timing import compiled as compiled_function

        return compiled_function(model.__call__, jit=True)
    if BACKEND == "torch":
        return model.__call__  # eager: Keras compiles nothing on PyTorch unless jit_compile is asked for
    import jax

    def call(x):
        if not model.built:
            model(x)  # builds the weights eagerly, once
        out, _ = jax.jit(model.stateless_call)(
            [v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables], x)
        return out

    return call


def float64_supported():
    """float64 arithmetic in ``keras.ops``: TensorFlow, and JAX with ``JAX_ENABLE_X64=1`` (not PyTorch)."""
    from keras_nmf.backend import float64_available

    return float64_available()


#: Tests of float64 arithmetic (JAX computes in float32 unless JAX_ENABLE_X64=1).
float64_only = pytest.mark.skipif(not float64_supported(),
                                  reason="needs float64 arithmetic (JAX: JAX_ENABLE_X64=1; not on PyTorch)")


def outputs_and_weight_gradients(model, inputs, loss_of_output, variables, training=True):
    """``(outputs, [dL/dv for v in variables])`` as NumPy arrays, for ``outputs = model(inputs, training)`` and
    ``L = loss_of_output(outputs)``: a ``GradientTape``, or ``jax.value_and_grad`` (compiled) over ``stateless_call``."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            outputs = model(inputs, training=training)
            loss = loss_of_output(outputs)
        gradients = tape.gradient(loss, variables)
    elif BACKEND == "torch":
        outputs = model(inputs, training=training)
        gradients = _torch_gradients(loss_of_output(outputs), [v.value for v in variables])
        outputs = outputs.detach()
    else:
        import jax

        trainable = model.trainable_variables
        non_trainable = [v.value for v in model.non_trainable_variables]

        def loss(values):
            out, _ = model.stateless_call(values, non_trainable, inputs, training=training)
            return loss_of_output(out), out

        (_, outputs), grads = jax.jit(jax.value_and_grad(loss, has_aux=True))([v.value for v in trainable])
        index = {id(v): i for i, v in enumerate(trainable)}
        gradients = [grads[index[id(v)]] for v in variables]
    return keras.ops.convert_to_numpy(outputs), [keras.ops.convert_to_numpy(g) for g in gradients]


def _torch_leaf(value):
    """``value`` as a PyTorch tensor on Keras's device that gradients are taken for."""
    return keras.ops.convert_to_tensor(value).detach().clone().requires_grad_(True)


def _torch_gradients(loss, leaves):
    """``d loss / d leaf`` for each leaf (zeros where the loss does not depend on it), detached."""
    import torch

    gradients = torch.autograd.grad(loss, leaves, allow_unused=True)
    return tuple(torch.zeros_like(leaf) if g is None else g.detach() for leaf, g in zip(leaves, gradients))


def gpu_available():
    """Whether the active backend sees a GPU."""
    from keras_nmf.backend import gpu_compute_capability

    return gpu_compute_capability() is not None


def on_gpu():
    """A context placing work on the first GPU: ``tf.device`` on TensorFlow; JAX and Keras-on-PyTorch already default to it."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return tf.device("/GPU:0")
    import contextlib

    return contextlib.nullcontext()
