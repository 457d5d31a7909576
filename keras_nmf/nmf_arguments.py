"""The NMF layers' options: their choices, limits and checks, and :class:`NMFOptions`, without Keras.

A leaf module (the standard library only): the layers hold their options as one :class:`NMFOptions`, the ops take it
whole, and the run configuration builds it from its flags before any backend is imported.
"""

import dataclasses
import math
import numbers

#: The backward passes: the one-step approximation (eqs. 18-19), autodiff through the N iterations, or the exact
#: gradient at the fixed point.
BACKWARD_MODES = ("approx", "autodiff", "implicit")
#: h(0) of the NMF layers: 1/I, or learned (one trainable non-negative vector per layer, |v| / sum |v|).
H0_MODES = ("uniform", "trainable")
#: dtypes of the implicit backward's per-pattern linear solves.
IMPLICIT_DTYPES = ("float32", "float64")
#: How the weights learn: back-propagation, or the local NMF rule (section 4.2).
LEARNING_MODES = ("backprop", "local")
#: beta of each divergence of D_beta (Févotte and Idier 2011, eq. 4).
DIVERGENCES = {"kl": 1.0, "frobenius": 2.0, "itakura_saito": 0.0}
#: Updates per SQUAREM cycle (:mod:`keras_nmf.ops.squarem`): two to extrapolate along, one from the extrapolated point.
SQUAREM_UPDATES_PER_CYCLE = 3
#: The accelerated solvers (:mod:`keras_nmf.ops.squarem`, :mod:`keras_nmf.ops.anderson`): what each runs until every
#: pattern has stopped, and the fewest updates it needs.
ACCELERATED_SOLVERS = {
    "squarem": (f"cycles of {SQUAREM_UPDATES_PER_CYCLE} updates", SQUAREM_UPDATES_PER_CYCLE),
    "anderson": ("Anderson steps of 1 update each", 1),
}
#: Solvers of the fixed point with a ``tolerance``: the plain multiplicative updates, then the accelerated ones.
SOLVERS = ("mu", *ACCELERATED_SOLVERS)
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


def validate_h0(h0, backward):
    """Raises ``ValueError`` for an ``h0`` outside :data:`H0_MODES`, or a learned h(0) that would get no gradient."""
    if h0 not in H0_MODES:
        raise ValueError(f"`h0` must be one of {H0_MODES}. Received: h0={h0!r}")
    if h0 == "trainable" and backward != "autodiff":
        raise ValueError(
            "`h0='trainable'` learns h(0) through the N iterations, which only backward='autodiff' differentiates: "
            "the one-step and implicit backwards hold the final h fixed (eqs. 18-19), so h(0) would get no gradient. "
            f"Use backward='autodiff', or h0='uniform'. Received: backward={backward!r}"
        )


def validate_nmf_arguments(
    iterations, epsilon, backward, learning, implicit_dtype="float32", divergence="kl", tolerance=None, solver="mu"
):
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
            f"Received: epsilon={epsilon!r}"
        )
    if backward not in BACKWARD_MODES:
        raise ValueError(f"`backward` must be one of {BACKWARD_MODES}. Received: backward={backward!r}")
    if learning not in LEARNING_MODES:
        raise ValueError(f"`learning` must be one of {LEARNING_MODES}. Received: learning={learning!r}")
    if implicit_dtype not in IMPLICIT_DTYPES:
        raise ValueError(
            f"`implicit_dtype` must be one of {IMPLICIT_DTYPES}. Received: implicit_dtype={implicit_dtype!r}"
        )
    if divergence not in DIVERGENCES:
        raise ValueError(f"`divergence` must be one of {tuple(DIVERGENCES)}. Received: divergence={divergence!r}")
    if tolerance is not None:
        valid = isinstance(tolerance, numbers.Real) and not isinstance(tolerance, bool) and math.isfinite(tolerance)
        if not valid or tolerance <= 0:
            raise ValueError(
                "`tolerance` must be None (exactly `iterations` updates) or a finite float > 0: each "
                f"pattern stops at its first update that changes h by less (L1). Received: "
                f"tolerance={tolerance!r}"
            )
        if backward == "autodiff":
            raise ValueError(
                "`tolerance` stops each pattern inside a while loop, which autodiff cannot differentiate on every "
                "backend (reverse mode through a data-dependent loop). Use backward='approx' or 'implicit' (both "
                "apply at the returned h), or tolerance=None."
            )
    if solver not in SOLVERS:
        raise ValueError(f"`solver` must be one of {SOLVERS}. Received: solver={solver!r}")
    if solver in ACCELERATED_SOLVERS:
        steps, fewest = ACCELERATED_SOLVERS[solver]
        if tolerance is None or iterations < fewest:
            raise ValueError(
                f"`solver='{solver}'` runs {steps} until each pattern's change is below `tolerance`: give a "
                f"tolerance and iterations >= {fewest} (the most updates a pattern may use). Received: "
                f"tolerance={tolerance!r}, iterations={iterations!r}"
            )
    if learning == "local" and backward != "approx":
        raise ValueError(
            "`learning='local'` replaces the weight gradient of the one-step "
            "backward, so it needs `backward='approx'`. "
            f"Received: backward={backward!r}, learning={learning!r}"
        )


@dataclasses.dataclass(frozen=True)
class NMFOptions:
    """How one NMF layer infers h and back-propagates: checked once, here, then passed whole to the ops.

    ``NMFDense`` and ``CNMF2D`` list these as constructor arguments (as Keras's layers list theirs), hold them as
    ``layer.options`` and serialise them with :meth:`to_config`; the paper networks and the run configuration build
    one and pass it down unchanged.

    Attributes:
        iterations: N, the number of eq. 6 updates from h(0) = 1/I.
        epsilon: eq. 6's step size, None for the plain update (eq. 3).
        backward: ``"approx"`` (eqs. 18-19 at the final h), ``"autodiff"`` (through all
            iterations, the baseline of the paper's Figure 1) or ``"implicit"``
            (the exact gradient at the fixed point, :mod:`keras_nmf.ops.implicit`).
        learning: ``"backprop"`` or ``"local"`` (the Lee-Seung direction for W; needs ``"approx"``).
        implicit_dtype: dtype of the implicit backward's solves.
        divergence: ``"kl"`` (the paper's), ``"frobenius"`` or ``"itakura_saito"``
            (:mod:`keras_nmf.ops.divergences`).
        tolerance: None for exactly ``iterations`` updates, else each pattern stops at its
            first step k >= 1 with |h(k) - h(k-1)|_1 < tolerance (``iterations`` the maximum).
        solver: with a tolerance, ``"mu"`` (the plain multiplicative updates), ``"squarem"`` (extrapolation
            cycles of 3 updates, :mod:`keras_nmf.ops.squarem`) or ``"anderson"`` (Anderson acceleration,
            :mod:`keras_nmf.ops.anderson`), each safeguarded per pattern.

    Raises:
        ValueError: an option outside its domain, naming it (:func:`validate_nmf_arguments`).
    """

    iterations: int = 20
    epsilon: float | None = None
    backward: str = "approx"
    learning: str = "backprop"
    implicit_dtype: str = "float32"
    divergence: str = "kl"
    tolerance: float | None = None
    solver: str = "mu"

    def __post_init__(self):
        validate_nmf_arguments(
            self.iterations,
            self.epsilon,
            self.backward,
            self.learning,
            self.implicit_dtype,
            self.divergence,
            self.tolerance,
            self.solver,
        )
        # NumPy scalars in, Python numbers out: the options serialise to JSON as they are.
        object.__setattr__(self, "iterations", int(self.iterations))
        for name in ("epsilon", "tolerance"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, float(getattr(self, name)))

    @property
    def through_iterations(self):
        """Autodiff differentiates the N iterations; the other backwards are a custom gradient at the final h."""
        return self.backward == "autodiff"

    def to_config(self):
        """The options as a JSON-ready dict of constructor arguments (a layer's ``get_config`` part)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_config(cls, config):
        """The options of :meth:`to_config`'s dict.

        Raises:
            ValueError: a key that is not an option, or a value outside its domain.
        """
        unknown = sorted(set(config) - set(NMF_OPTION_NAMES))
        if unknown:
            raise ValueError(
                f"Unknown NMF options: {', '.join(unknown)}. Valid options: {', '.join(NMF_OPTION_NAMES)}."
            )
        return cls(**config)

    def replace(self, **changes):
        """A copy with ``changes`` (checked again)."""
        return dataclasses.replace(self, **changes)


#: The option names, in the constructors' order.
NMF_OPTION_NAMES = tuple(field.name for field in dataclasses.fields(NMFOptions))
