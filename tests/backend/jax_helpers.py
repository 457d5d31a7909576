"""The test helpers of :mod:`tests.backend` on JAX (every mode is ``jax.jit``: shapes are static there)."""

import contextlib

import jax
import keras

MODES = ("xla",)


def value_and_gradients(loss_fn, *tensors, mode="eager"):
    """``(loss_fn(*tensors), [d loss / d tensor ...])`` for a scalar ``loss_fn`` of tensors (no variables)."""
    run = jax.value_and_grad(loss_fn, argnums=tuple(range(len(tensors))))
    if mode != "eager":
        run = jax.jit(run)
    loss, grads = run(*[jax.numpy.asarray(t) for t in tensors])
    return loss, list(grads)


def layer_output_and_gradients(layer, inputs, loss_of_output, mode="eager"):
    """``(output, dL/dinputs, dL/dkernel)`` through ``stateless_call``, compiled in every mode (op-by-op JAX costs
    seconds per call, and "eager" means TensorFlow's eager mode)."""
    if not layer.built:
        layer.build(inputs.shape)
    kernel_index = next(i for i, v in enumerate(layer.trainable_variables) if v is layer.kernel)
    non_trainable = [v.value for v in layer.non_trainable_variables]

    def loss(kernel, x):
        trainable = [kernel if i == kernel_index else v.value for i, v in enumerate(layer.trainable_variables)]
        out, _ = layer.stateless_call(trainable, non_trainable, x)
        return loss_of_output(out), out

    run = jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True))
    (_, out), (grad_kernel, grad_x) = run(layer.kernel.value, jax.numpy.asarray(inputs))
    return out, grad_x, grad_kernel


def compiled(model):
    """``jax.jit`` over ``stateless_call`` (no ``training`` argument, no state written back)."""

    def call(x):
        if not model.built:
            model(x)  # builds the weights eagerly, once
        out, _ = jax.jit(model.stateless_call)(
            [v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables], x
        )
        return out

    return call


def outputs_and_weight_gradients(model, inputs, loss_of_output, variables, training=True):
    """``(outputs, [dL/dv for v in variables])`` as NumPy arrays, ``jax.value_and_grad`` (compiled) over
    ``stateless_call``."""
    trainable = model.trainable_variables
    non_trainable = [v.value for v in model.non_trainable_variables]

    def loss(values):
        out, _ = model.stateless_call(values, non_trainable, inputs, training=training)
        return loss_of_output(out), out

    (_, outputs), grads = jax.jit(jax.value_and_grad(loss, has_aux=True))([v.value for v in trainable])
    index = {id(v): i for i, v in enumerate(trainable)}
    gradients = [grads[index[id(v)]] for v in variables]
    return keras.ops.convert_to_numpy(outputs), [keras.ops.convert_to_numpy(g) for g in gradients]


def on_gpu():
    """JAX already places work on the first GPU."""
    return contextlib.nullcontext()


def compiled_function(function):
    """``jax.jit(function)``."""
    return jax.jit(function)
