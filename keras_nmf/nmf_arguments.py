"""The NMF layers' arguments: their choices, limits and checks, without Keras.

A leaf module (the standard library only): the layers check their constructor arguments with it, the ops read the
choices, and the run configuration checks its flags with it before any backend is imported.
"""

import math
import numbers

#: The backward passes: the one-step approximation (eqs. 18-19), autodiff through the N iterations, or the exact
#: gradient at the fixed point.
BACKWARD_MODES = ("approx", "autodiff", "implicit")
#: dtypes of the implicit backward's per-pattern linear solves.
IMPLICIT_DTYPES = ("float32", "float64")
#: How the weights learn: back-propagation, or the local NMF rule (section 4.2).
LEARNING_MODES = ("backprop", "local")
#: beta of each divergence of D_beta (Févotte and Idier 2011, eq. 4).
DIVERGENCES = {"kl": 1.0, "frobenius": 2.0, "itakura_saito": 0.0}
#: The largest ``iterations`` (N) a layer accepts. Up to :data:`keras_nmf.ops.UNROLL_LIMIT` the N updates are
#: unrolled; above it they run as one compiled loop, so compile time does not grow with N.
MAX_ITERATIONS = 10_000


def positive_int(value, name, meaning="", maximum=None):
    """``value`` as an ``int`` (Python and NumPy integers alike), or ``ValueError`` naming ``name``."""
    valid = isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1
    if not valid or (maximum is not None and value > maximum):
        bound = f"between 1 and {maximum:,}" if maximum is not None else ">= 1"
        raise ValueError(f"`{name}`{meaning} must be an integer {bound}. Received: {name}={value!r}")
    return int(value)


def validate_nmf_arguments(iterations, epsilon, backward, learning, implicit_dtype="float32", divergence="kl",
                           tolerance=None):
    """Raises ``ValueError`` for NMF arguments outside their domain (the layers add what needs the backend)."""
    positive_int(iterations, "iterations", " (N, the number of eq. 6 updates)", maximum=MAX_ITERATIONS)
    if epsilon is not None and (not isinstance(epsilon, numbers.Real) or isinstance(epsilon, bool)):
        raise ValueError(
            "`epsilon` (eq. 6's step size) must be None (plain multiplicative update) or a float in (0, 1]. "
            f"Received: epsilon={epsilon!r} of type {type(epsilon).__name__}"
        )
    if epsilon is not None and not (0.0 < float(epsilon) <= 1.0):
        raise ValueError(
            "`epsilon` (eq. 6's step size) must be None (plain multiplicative "
            "update) or a float in (0, 1]; larger steps can make h negative. "
            f"Received: epsilon={epsilon}"
        )
    if backward not in BACKWARD_MODES:
        raise ValueError(
            f"`backward` must be one of {BACKWARD_MODES}. Received: backward={backward!r}"
        )
    if learning not in LEARNING_MODES:
        raise ValueError(
            f"`learning` must be one of {LEARNING_MODES}. Received: learning={learning!r}"
        )
    if implicit_dtype not in IMPLICIT_DTYPES:
        raise ValueError(
            f"`implicit_dtype` must be one of {IMPLICIT_DTYPES}. Received: implicit_dtype={implicit_dtype!r}"
        )
    if divergence not in DIVERGENCES:
        raise ValueError(f"`divergence` must be one of {tuple(DIVERGENCES)}. Received: divergence={divergence!r}")
    if tolerance is not None:
        valid = isinstance(tolerance, numbers.Real) and not isinstance(tolerance, bool) and math.isfinite(tolerance)
        if not valid or tolerance <= 0:
            raise ValueError("`tolerance` must be None (exactly `iterations` updates) or a finite float > 0: each "
                             f"pattern stops at its first update that changes h by less (L1). Received: "
                             f"tolerance={tolerance!r}")
        if backward == "autodiff":
            raise ValueError(
                "`tolerance` stops each pattern inside a while loop, which autodiff cannot differentiate on every "
                "backend (reverse mode through a data-dependent loop). Use backward='approx' or 'implicit' (both "
                "apply at the returned h), or tolerance=None.")
    if learning == "local" and backward != "approx":
        raise ValueError(
            "`learning='local'` replaces the weight gradient of the one-step "
            "backward, so it needs `backward='approx'`. "
            f"Received: backward={backward!r}, learning={learning!r}"
        )
