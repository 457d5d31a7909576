"""Run-time input checks: NMF needs a finite, non-negative input."""

import numpy as np
from keras import ops

from keras_nmf import backend


def _message(layer_name):
    return (
        f"Layer {layer_name} received an input with negative values or NaN/Inf. "
        "NMF needs a finite input x >= 0: put a ReLU (or another non-negative "
        "activation) in front of this layer, scale images to [0, 1] without mean "
        "subtraction, and check the data for NaN."
    )


def _is_valid(x):
    # isfinite(sum(x)) also refuses a finite input so large that its sums overflow float32 (each pattern's
    # L1 normalisation would turn it into NaN); the eager message tells that case apart.
    return ops.logical_and(ops.isfinite(ops.sum(x)), ops.min(x) >= 0)


def _mask_message(layer_name):
    return (f"Layer {layer_name} received an `observed` mask with values outside [0, 1] or NaN/Inf. `observed` "
            f"weighs each input entry in the weighted update: 1 observed, 0 missing, a fraction in between weighs the "
            f"entry by it. Pass a finite mask in [0, 1].")


def _mask_is_valid(observed):
    return ops.logical_and(ops.isfinite(ops.sum(observed)),
                           ops.logical_and(ops.min(observed) >= 0, ops.max(observed) <= 1))


def check_mask(observed, layer_name):
    """Returns the ``observed`` mask unchanged after checking that it is finite and in [0, 1].

    Raises ``ValueError`` where the values can be read, as :func:`check_non_negative_finite` does (and, like it,
    adds the check to a ``tf.function`` and none inside XLA or ``jax.jit``).
    """
    if backend.is_concrete(observed):
        if not bool(ops.convert_to_numpy(_mask_is_valid(observed))):
            values = ops.convert_to_numpy(observed)
            raise ValueError(f"{_mask_message(layer_name)} Received: min {values.min()}, max {values.max()}, "
                             f"{int((~np.isfinite(values)).sum())} NaN/Inf entries.")
        return observed
    return backend.graph_assertion(observed, _mask_is_valid(observed), _mask_message(layer_name))


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
            non_finite = int(ops.convert_to_numpy(ops.sum(ops.cast(ops.logical_not(ops.isfinite(x)), "int32"))))
            negative = int(ops.convert_to_numpy(ops.sum(ops.cast(x < 0, "int32"))))
            if not non_finite and not negative:
                raise ValueError(
                    f"Layer {layer_name} received an input too large for float32 NMF: its entries are finite and "
                    f">= 0 (max {float(ops.convert_to_numpy(ops.max(x))):.3g}), but their sums overflow, so the L1 "
                    f"normalisation of each pattern would give NaN. Scale the input down: NMF normalises every "
                    f"pattern, so its scale does not change the result.")
            minimum = float(ops.convert_to_numpy(ops.min(x)))
            raise ValueError(f"{_message(layer_name)} Received: {negative} negative entries (min(x)={minimum}) and "
                             f"{non_finite} NaN/Inf entries.")
        return x
    return backend.graph_assertion(x, _is_valid(x), _message(layer_name))
