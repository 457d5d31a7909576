"""The test helpers of :mod:`tests.backend` on PyTorch (eager)."""

import contextlib

import keras
import torch

MODES = ("eager",)


def _leaf(value):
    """``value`` as a PyTorch tensor on Keras's device that gradients are taken for."""
    return keras.ops.convert_to_tensor(value).detach().clone().requires_grad_(True)


def _gradients(loss, leaves):
    """``d loss / d leaf`` for each leaf (zeros where the loss does not depend on it), detached."""
    gradients = torch.autograd.grad(loss, leaves, allow_unused=True)
    return tuple(torch.zeros_like(leaf) if g is None else g.detach() for leaf, g in zip(leaves, gradients))


def value_and_gradients(loss_fn, *tensors, mode="eager"):
    """``(loss_fn(*tensors), [d loss / d tensor ...])`` for a scalar ``loss_fn`` of tensors (no variables)."""
    leaves = [_leaf(t) for t in tensors]
    loss = loss_fn(*leaves)
    return loss, list(_gradients(loss, leaves))


def layer_output_and_gradients(layer, inputs, loss_of_output, mode="eager"):
    """``(output, dL/dinputs, dL/dkernel)``, eagerly."""
    x = _leaf(inputs)
    out = layer(x)
    return (out,) + _gradients(loss_of_output(out), [x, layer.kernel.value])


def compiled(model):
    """As it is: Keras compiles nothing on PyTorch unless ``jit_compile`` is asked for."""
    return model.__call__


def outputs_and_weight_gradients(model, inputs, loss_of_output, variables, training=True):
    """``(outputs, [dL/dv for v in variables])`` as NumPy arrays, through autograd."""
    outputs = model(inputs, training=training)
    gradients = _gradients(loss_of_output(outputs), [v.value for v in variables])
    return keras.ops.convert_to_numpy(outputs.detach()), [keras.ops.convert_to_numpy(g) for g in gradients]


def on_gpu():
    """Keras on PyTorch already places work on the first GPU."""
    return contextlib.nullcontext()


def compiled_function(function):
    """As it is (eager)."""
    return function
