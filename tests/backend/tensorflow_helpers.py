"""The test helpers of :mod:`tests.backend` on TensorFlow."""

import keras
import tensorflow as tf

MODES = ("eager", "graph", "xla")


def value_and_gradients(loss_fn, *tensors, mode="eager"):
    """``(loss_fn(*tensors), [d loss / d tensor ...])`` for a scalar ``loss_fn`` of tensors (no variables)."""

    def run(*args):
        with tf.GradientTape() as tape:
            for arg in args:
                tape.watch(arg)
            loss = loss_fn(*args)
        return loss, tape.gradient(loss, list(args))

    if mode != "eager":
        run = tf.function(run, jit_compile=mode == "xla")
    return run(*[tf.convert_to_tensor(t) for t in tensors])


def layer_output_and_gradients(layer, inputs, loss_of_output, mode="eager"):
    """``(output, dL/dinputs, dL/dkernel)``; ``"graph"``: a ``tf.function`` traced with an unknown batch size,
    ``"xla"``: one with ``jit_compile=True``."""

    def forward_backward(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = layer(x)
            loss = loss_of_output(out)
        return (out,) + tuple(tape.gradient(loss, [x, layer.kernel]))

    if mode != "eager":
        signature = [tf.TensorSpec((None,) + tuple(inputs.shape[1:]), inputs.dtype)]
        forward_backward = tf.function(
            forward_backward, input_signature=None if mode == "xla" else signature, jit_compile=mode == "xla"
        )
    return forward_backward(tf.convert_to_tensor(inputs))


def compiled(model):
    """``model``'s call under ``tf.function(jit_compile=True)`` (no ``training`` argument, no state written back)."""
    return tf.function(model.__call__, jit_compile=True)


def outputs_and_weight_gradients(model, inputs, loss_of_output, variables, training=True):
    """``(outputs, [dL/dv for v in variables])`` as NumPy arrays, through a ``GradientTape``."""
    with tf.GradientTape() as tape:
        outputs = model(inputs, training=training)
        loss = loss_of_output(outputs)
    gradients = tape.gradient(loss, variables)
    return keras.ops.convert_to_numpy(outputs), [keras.ops.convert_to_numpy(g) for g in gradients]


def on_gpu():
    """Work placed on the first GPU."""
    return tf.device("/GPU:0")


def compiled_function(function):
    """``function`` of tensors under ``tf.function(jit_compile=True)``: a ``keras.ops.while_loop`` then runs as one
    XLA loop instead of op by op in Python (eagerly, TensorFlow's while loop is a Python loop)."""
    return tf.function(function, jit_compile=True)
