"""Run-time input checks: NMF needs a finite, non-negative input (and a mask in [0, 1])."""

import functools
import re

from keras import ops

from keras_nmf import backend
from keras_nmf.errors import InvalidInputError


def _message(layer_name):
    return (
        f"Layer {layer_name} received an input with negative values or NaN/Inf. "
        "NMF needs a finite input x >= 0: put a ReLU (or another non-negative "
        "activation) in front of this layer, scale images to [0, 1] without mean "
        "subtraction, and check the data for NaN."
    )


def _is_valid(x):
    # isfinite(sum(x)) also refuses a finite input so large that its sums overflow float32 (each pattern's
    # L1 normalisation would turn it into NaN); the error tells that case apart.
    return ops.logical_and(ops.isfinite(ops.sum(x)), ops.min(x) >= 0)


def _count(condition):
    return ops.sum(ops.cast(condition, "int32"))


def _input_statistics(x):
    return _count(ops.logical_not(ops.isfinite(x))), _count(x < 0), ops.min(x), ops.max(x)


def _input_error(layer_name, non_finite, negative, minimum, maximum):
    if not non_finite and not negative:
        return InvalidInputError(
            f"Layer {layer_name} received an input too large for float32 NMF: its entries are finite and >= 0 "
            f"(max {float(maximum):.3g}), but their sums overflow, so the L1 normalisation of each pattern would "
            f"give NaN. Scale the input down: NMF normalises every pattern, so its scale does not change the result."
        )
    return InvalidInputError(
        f"{_message(layer_name)} Received: {int(negative)} negative entries (min(x)={float(minimum)}) "
        f"and {int(non_finite)} NaN/Inf entries."
    )


def _mask_message(layer_name):
    return (
        f"Layer {layer_name} received an `observed` mask with values outside [0, 1] or NaN/Inf. `observed` "
        f"weighs each input entry in the weighted update: 1 observed, 0 missing, a fraction in between weighs the "
        f"entry by it. Pass a finite mask in [0, 1]."
    )


def _mask_is_valid(observed):
    return ops.logical_and(
        ops.isfinite(ops.sum(observed)), ops.logical_and(ops.min(observed) >= 0, ops.max(observed) <= 1)
    )


def _mask_statistics(observed):
    return _count(ops.logical_not(ops.isfinite(observed))), ops.min(observed), ops.max(observed)


def _mask_error(layer_name, non_finite, minimum, maximum):
    return InvalidInputError(
        f"{_mask_message(layer_name)} Received: min {float(minimum)}, max {float(maximum)}, "
        f"{int(non_finite)} NaN/Inf entries."
    )


def _initial_h_message(layer_name):
    return (
        f"Layer {layer_name} received an `initial_h` with negative values or NaN/Inf. h(0) starts the "
        f"multiplicative updates, which keep its signs: pass a finite initial_h >= 0 (e.g. the h this layer "
        f"returned for the previous frame)."
    )


def _initial_h_error(layer_name, non_finite, negative, minimum, maximum):
    return InvalidInputError(
        f"{_initial_h_message(layer_name)} Received: {int(negative)} negative entries "
        f"(min {float(minimum)}) and {int(non_finite)} NaN/Inf entries."
    )


# To the end of its line, or of TensorFlow's bracketed assertion data ("assertion failed: [message] [min(x) =] ...").
_CHECK_MESSAGE = re.compile(
    r"Layer \S+ received an (?:input|`observed` mask|`initial_h`).*?(?=\] \[|\]$|$)", re.MULTILINE
)


def invalid_input_message(error):
    """The input check's message that ``error`` carries, or None.

    A compiled step wraps it: JAX's ``JaxRuntimeError`` holds the host callback's traceback, TensorFlow's
    ``InvalidArgumentError`` the assertion's graph-execution trace.
    """
    found = _CHECK_MESSAGE.search(str(error))
    return found.group(0).strip() if found else None


def _checked(x, valid, message, statistics, error, training):
    """``x`` once ``valid`` holds: raises ``error(*statistics(x))`` where the values can be read, else leaves the
    check to the compiled step (:func:`keras_nmf.backend.graph_assertion`)."""
    if backend.is_concrete(x):
        if not bool(ops.convert_to_numpy(valid)):
            raise error(*(ops.convert_to_numpy(value) for value in statistics(x)))
        return x
    return backend.graph_assertion(x, valid, message, lambda: statistics(x), error, training)


def check_mask(observed, layer_name, training=False):
    """Returns the ``observed`` mask unchanged after checking that it is finite and in [0, 1].

    Raises :class:`InvalidInputError` where :func:`check_non_negative_finite` does.
    """
    return _checked(
        observed,
        _mask_is_valid(observed),
        _mask_message(layer_name),
        _mask_statistics,
        functools.partial(_mask_error, layer_name),
        training,
    )


def check_initial_h(initial_h, layer_name, training=False):
    """Returns ``initial_h`` unchanged after checking that it is finite and >= 0 (raises where
    :func:`check_non_negative_finite` does)."""
    return _checked(
        initial_h,
        _is_valid(initial_h),
        _initial_h_message(layer_name),
        _input_statistics,
        functools.partial(_initial_h_error, layer_name),
        training,
    )


def check_non_negative_finite(x, layer_name, training=False):
    """Returns ``x`` unchanged after checking that it is finite and >= 0.

    Where the value can be read (eager execution on any backend) this raises :class:`InvalidInputError` (a
    ``ValueError``). In compiled steps:

    * inside a ``tf.function`` an assertion raises ``InvalidArgumentError`` with the same message when the step runs;
      inside an XLA-compiled one (``jit_compile=True``, Keras's choice on a TensorFlow GPU) none can: TensorFlow
      would drop it with an "Ignoring Assert operator" warning per layer;
    * inside ``jax.jit`` a training step (``training=True``, every step of ``fit``) calls back to the host, which
      raises this error (wrapped by JAX in a ``JaxRuntimeError``); inference steps carry no check, because
      exporting (``model.export``) cannot serialise a host callback.

    Where no check runs, check the data once eagerly, e.g. by calling the model on a batch outside ``fit``.
    """
    return _checked(
        x, _is_valid(x), _message(layer_name), _input_statistics, functools.partial(_input_error, layer_name), training
    )
