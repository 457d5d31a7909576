"""The NMF layers' options: their choices, limits and checks, and :class:`NMFOptions`, without Keras.

A leaf module (the standard library only): the layers hold their options as one :class:`NMFOptions`, the ops take it
whole, and the run configuration builds it from its flags before any backend is imported.
"""

import dataclasses
import math
import numbers
import typing

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


def _option(default, help, choices=None, per_block=False, needs=None):
    """A field of :class:`NMFOptions` with its facts: its default, the help of its flag (``keras-nmf-train
    --<name>``), its choices; ``per_block``: the flag takes one value or one per NMF block (block 1 first);
    ``needs``: ``{option: value}``, other options under which any value of this one is accepted (the rules between
    options are :meth:`NMFOptions._check_together`'s; the tests set these beside a value they try)."""
    return dataclasses.field(
        default=default,
        metadata={"help": help, "choices": choices, "per_block": per_block, "needs": needs or {}},
    )


@dataclasses.dataclass(frozen=True)
class NMFOptions:
    """How one NMF layer infers h and back-propagates: the one home of each option (its name, default, choices,
    help and checks), checked once, here, then passed whole from the command line to the ops.

    The NMF layers take these as keyword arguments and hold them as ``layer.options``; the networks take one per block;
    ``keras-nmf-train`` has one flag per option, of the option's name (``--tolerance``, ``--h0`` ...), made from these
    fields (:mod:`keras_nmf.training.settings`).

    Attributes:
        iterations: N, the number of eq. 6 updates from h(0).
        epsilon: eq. 6's step size, None for the plain update (eq. 3).
        backward: ``"approx"`` (eqs. 18-19 at the final h), ``"autodiff"`` (through all iterations, the baseline of
            the paper's Figure 1) or ``"implicit"`` (the exact gradient at the fixed point,
            :mod:`keras_nmf.ops.implicit`).
        learning: ``"backprop"`` or ``"local"`` (the Lee-Seung direction for W; needs ``"approx"``).
        implicit_dtype: dtype of the implicit backward's solves.
        divergence: ``"kl"`` (the paper's), ``"frobenius"`` or ``"itakura_saito"`` (:mod:`keras_nmf.ops.divergences`).
        tolerance: None for exactly ``iterations`` updates, else each pattern stops at its first step k >= 1 with
            |h(k) - h(k-1)|_1 < tolerance (``iterations`` the maximum).
        solver: with a tolerance, ``"mu"`` (the plain multiplicative updates), ``"squarem"`` (extrapolation cycles of
            3 updates, :mod:`keras_nmf.ops.squarem`) or ``"anderson"`` (Anderson acceleration,
            :mod:`keras_nmf.ops.anderson`), each safeguarded per pattern.
        h0: ``"uniform"`` (h(0) = 1/I, the paper's) or ``"trainable"`` (a learned h(0) = |v| / sum |v|; needs
            ``backward="autodiff"``, the only backward through the iterations).
        l1_penalty: alpha >= 0 of an L1 penalty on h: each pattern's h minimises D_beta(xhat | W h) + alpha sum_i h_i
            (scikit-learn's ``alpha_H`` with ``l1_ratio=1`` for the inference), sparser h for larger alpha; for
            ``"frobenius"`` and ``"itakura_saito"`` only (:mod:`keras_nmf.ops.divergences`).

    Raises:
        ValueError: an option outside its domain, naming it.
    """

    iterations: int = _option(20, "NMF iterations N (eq. 6)")
    epsilon: float | None = _option(None, "eq. 6 step size in (0, 1]; default: the plain update (eq. 3)")
    backward: str = _option(
        "approx",
        "NMF backward: the one-step eqs. 18-19, autodiff through the iterations, or the exact gradient at the fixed "
        "point (implicit)",
        BACKWARD_MODES,
    )
    learning: str = _option(
        "backprop",
        "NMF weights by backprop or by the local NMF rule (section 4.2 ablation): one mode for every block, or one "
        "per block, block 1 first (e.g. local,local,local,backprop)",
        LEARNING_MODES,
        per_block=True,
    )
    implicit_dtype: str = _option(
        "float32", "dtype of the implicit backward's per-pattern linear solves", IMPLICIT_DTYPES
    )
    divergence: str = _option(
        "kl",
        "the beta-divergence each patch's h minimises: kl (the paper's, eq. 3), frobenius or itakura_saito",
        tuple(DIVERGENCES),
    )
    tolerance: float | None = _option(
        None,
        "each patch stops at its first update that changes h by less than this (L1); --iterations is then the "
        "maximum (default: exactly --iterations)",
    )
    solver: str = _option(
        "mu",
        "with --tolerance: the plain multiplicative updates (mu), or SQUAREM or Anderson acceleration to the same "
        "fixed point in fewer updates (docs/nmf_options.md)",
        SOLVERS,
        needs={"tolerance": 1e-3},
    )
    h0: str = _option(
        "uniform",
        "h(0): 1/I (the paper's), or learned per layer (trainable; needs --backward autodiff)",
        H0_MODES,
        needs={"backward": "autodiff"},
    )
    l1_penalty: float = _option(
        0.0,
        "alpha of an L1 penalty on h: each patch's h minimises its divergence + alpha * sum(h), sparser for larger "
        "alpha; with --divergence frobenius or itakura_saito (docs/nmf_options.md)",
        needs={"divergence": "frobenius"},
    )

    def __post_init__(self):
        for name in NMF_OPTION_NAMES:
            check_option(name, getattr(self, name))
        self._check_together()
        # NumPy scalars in, Python numbers out (each numeric option as its annotation's type): the options serialise
        # to JSON as they are.
        for option in dataclasses.fields(self):
            value, kind = getattr(self, option.name), option_type(option)
            if kind in (int, float) and value is not None:
                object.__setattr__(self, option.name, kind(value))

    def _check_together(self):
        """The rules between options."""
        if self.tolerance is not None and self.backward == "autodiff":
            raise ValueError(
                "`tolerance` stops each pattern inside a while loop, which autodiff cannot differentiate on every "
                "backend (reverse mode through a data-dependent loop). Use backward='approx' or 'implicit' (both "
                "apply at the returned h), or tolerance=None."
            )
        if self.solver in ACCELERATED_SOLVERS:
            steps, fewest = ACCELERATED_SOLVERS[self.solver]
            if self.tolerance is None or self.iterations < fewest:
                raise ValueError(
                    f"`solver='{self.solver}'` runs {steps} until each pattern's change is below `tolerance`: give a "
                    f"tolerance and iterations >= {fewest} (the most updates a pattern may use). Received: "
                    f"tolerance={self.tolerance!r}, iterations={self.iterations!r}"
                )
        if self.learning == "local" and self.backward != "approx":
            raise ValueError(
                "`learning='local'` replaces the weight gradient of the one-step backward, so it needs "
                f"`backward='approx'`. Received: backward={self.backward!r}, learning={self.learning!r}"
            )
        if self.l1_penalty > 0 and self.divergence == "kl":
            raise ValueError(
                "`l1_penalty` adds alpha * sum(h) to the divergence, but the KL layer renormalises h to unit sum "
                "(eq. 6), where alpha * sum(h) = alpha whatever h is: the penalty would change nothing. Use "
                f"divergence='frobenius' or 'itakura_saito' (they keep h's scale), or l1_penalty=0. Received: "
                f"l1_penalty={self.l1_penalty!r}"
            )
        if self.h0 == "trainable" and self.backward != "autodiff":
            raise ValueError(
                "`h0='trainable'` learns h(0) through the N iterations, which only backward='autodiff' "
                "differentiates: the one-step and implicit backwards hold the final h fixed (eqs. 18-19), so h(0) "
                f"would get no gradient. Use backward='autodiff', or h0='uniform'. Received: "
                f"backward={self.backward!r}"
            )

    @property
    def beta(self):
        """beta of ``divergence`` in the beta-divergence family (:data:`DIVERGENCES`)."""
        return DIVERGENCES[self.divergence]

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

    @classmethod
    def pop_from(cls, arguments):
        """The options among a layer's keyword ``arguments`` (removed from it), checked; the rest stay."""
        return cls(**{name: arguments.pop(name) for name in NMF_OPTION_NAMES if name in arguments})

    def replace(self, **changes):
        """A copy with ``changes`` (checked again)."""
        return dataclasses.replace(self, **changes)


#: The option names, in the constructors' order.
NMF_OPTION_NAMES = tuple(field.name for field in dataclasses.fields(NMFOptions))
#: The options' fields by name (their metadata: :func:`_option`).
_OPTION_FIELDS = {field.name: field for field in dataclasses.fields(NMFOptions)}


def option_type(option):
    """The value type of an option (a field of :class:`NMFOptions`): its annotation's (``float | None`` ->
    ``float``)."""
    types = [t for t in typing.get_args(option.type) if t is not type(None)] or [option.type]
    return types[0]


def _finite_real(value):
    """Whether ``value`` is a finite real number (a bool is not)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


#: The names under which records written before the command line took the options' own names hold them (run
#: configurations, results and network configurations of keras_nmf up to commit e528757): the one translation, applied
#: where such a file is read (:func:`with_current_option_names`).
EARLIER_OPTION_NAMES = {
    "nmf_learning": "learning",
    "nmf_divergence": "divergence",
    "nmf_tolerance": "tolerance",
    "nmf_solver": "solver",
}


def with_current_option_names(settings):
    """``settings`` (a dict read from a file) with the options' earlier names (:data:`EARLIER_OPTION_NAMES`) as
    their names now."""
    return {EARLIER_OPTION_NAMES.get(key, key): value for key, value in settings.items()}


def check_option(name, value):
    """Checks one option's value on its own (its choices, type and range; the rules between options are
    :class:`NMFOptions`'s).

    Raises:
        ValueError: naming the option and what it takes.
    """
    choices = _OPTION_FIELDS[name].metadata["choices"]
    if choices and value not in choices:
        raise ValueError(f"`{name}` must be one of {tuple(choices)}. Received: {name}={value!r}")
    if name == "iterations":
        positive_int(value, "iterations", " (N, the number of eq. 6 updates)", maximum=MAX_ITERATIONS)
    if name == "epsilon" and value is not None:
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise ValueError(
                "`epsilon` (eq. 6's step size) must be None (plain multiplicative update) or a float in (0, 1]. "
                f"Received: epsilon={value!r} of type {type(value).__name__}"
            )
        if not 0.0 < float(value) <= 1.0:
            raise ValueError(
                "`epsilon` (eq. 6's step size) must be None (plain multiplicative update) or a float in (0, 1]; "
                f"larger steps can make h negative. Received: epsilon={value!r}"
            )
    if name == "l1_penalty":
        if not _finite_real(value) or value < 0:
            raise ValueError(
                "`l1_penalty` (alpha of the L1 penalty on h) must be a finite float >= 0, 0 for none. Received: "
                f"l1_penalty={value!r}"
            )
    if name == "tolerance" and value is not None:
        if not _finite_real(value) or value <= 0:
            raise ValueError(
                "`tolerance` must be None (exactly `iterations` updates) or a finite float > 0: each pattern stops "
                f"at its first update that changes h by less (L1). Received: tolerance={value!r}"
            )
