"""The sections of a run's settings, each field described once, and each section's own rules.

A run's settings (:class:`keras_nmf.training.config.TrainConfig`) are six sections. A section holds the fields of one
**role**, so the role is a fact of the section, not of each field:

============================  ============  =============================================================
section                       role          what
============================  ============  =============================================================
:class:`ModelSettings`        ``recipe``    the network and its NMF options (what is trained)
:class:`DataSettings`         ``data``      which data and how much of it
:class:`OptimisationSettings` ``recipe``    the loss, the batches, the schedule's shape, the seed, the precision
:class:`BudgetSettings`       ``schedule``  ``--epochs`` and the two learning rates: an unfinished run may continue
                                            with new values (``--resume`` after a NaN stop, more epochs)
:class:`ExecutionSettings`    ``runtime``   how the run executes (XLA, chunking, the strategy, where it writes):
                                            the same recipe and data give the same results up to rounding
:class:`SessionSettings`      ``volatile``  may differ between two sittings of one run; never part of a check
============================  ============  =============================================================

A field's metadata holds the facts about the field itself: its type, its help, its choices and range, and the archs
or schedules whose run it changes. Each field is also a flag of the commands (``lr`` -> ``--lr``) and a key of a run's
``config.json``: a field's name is unique across the sections.

A leaf: it imports neither Keras nor a backend (the choices and checks come from the leaf modules
:mod:`keras_nmf.architectures`, :mod:`keras_nmf.nmf_arguments` and :mod:`keras_nmf.run_choices`).
"""

import dataclasses
import math
import numbers
import os
from functools import partial
from typing import ClassVar

from keras_nmf.architectures import (
    NETWORKS,
    NMF_LAYERS,
    arch_family,
    archs_of_family,
    network_spec,
    block_learning_modes,
    block_nmf_options,
    check_groups,
)
from keras_nmf.errors import ConfigError
from keras_nmf.nmf_arguments import NMF_OPTION_NAMES, NMFOptions, check_option, option_type
from keras_nmf.run_choices import DEFAULT_STARTUP_TIMEOUT_S, FIXED_BUDGET, SCHEDULES, STRATEGIES, TFDS_DATASETS

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
MONITORS = ("loss", "val_loss")
ROLES = ("recipe", "schedule", "data", "runtime", "volatile")


def _field(
    default,
    help,
    type=None,
    choices=None,
    minimum=None,
    above=None,
    maximum=None,
    below=None,
    check=None,
    applies_to=None,
    schedules=None,
):
    """One settings field and every fact about it.

    Args:
        default, help, choices: as for an ``argparse`` flag.
        type: the value's type (``bool`` flags become ``--x/--no-x``); default: the default's type.
        minimum, above, maximum, below: the range (``>=``, ``>``, ``<=``, ``<``); ``None`` values skip it.
        check: a function of the value that raises ``ValueError`` for a bad one (beyond choices and ranges).
        applies_to: ``"nmf"`` or ``"cnn"``: the archs whose model the field changes; a value other than the
            default with another arch is refused (it would be recorded and ignored).
        schedules: the ``--schedule`` values the field takes part in; a value other than the default with another
            schedule is refused (it would be recorded and ignored).
    """
    metadata = {
        "help": help,
        "type": type or (builtin_type(default)),
        "choices": choices,
        "minimum": minimum,
        "above": above,
        "maximum": maximum,
        "below": below,
        "check": check,
        "applies_to": applies_to,
        "schedules": schedules,
    }
    return dataclasses.field(default=default, metadata=metadata)


def parse_epochs(text):
    """``"16,32,64"`` -> ``(16, 32, 64)``: distinct epochs from 1, in increasing order (``--keep-epochs``).

    Raises:
        ValueError: naming the part that is not such an epoch.
    """
    epochs = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise ValueError(
                f"{part!r} in {text!r} is not an epoch: give epochs from 1, comma-separated (e.g. 16,32,64)"
            )
        epochs.append(int(part))
    return tuple(sorted(set(epochs)))


def builtin_type(default):
    return type(default) if default is not None else str


class _Section:
    """What every section does on construction: each field's type, choices and range, then the section's rules."""

    ROLE: ClassVar[str]
    NAME: ClassVar[str]  # the attribute of TrainConfig that holds it
    TITLE: ClassVar[str]  # its flags' heading in --help

    def __post_init__(self):
        for spec in dataclasses.fields(self):
            value = getattr(self, spec.name)
            if spec.metadata["type"] is str and isinstance(value, os.PathLike):
                object.__setattr__(self, spec.name, os.fspath(value))  # a pathlib.Path is a path's text
            check_value(spec, getattr(self, spec.name))
        self._check()

    def _check(self):
        """The rules between this section's fields (none by default)."""

    def to_dict(self):
        return dataclasses.asdict(self)


def _check_alone(option):
    """The check of an option's value on its own, where its choices do not already say it all."""
    return None if option.metadata["choices"] else partial(check_option, option.name)


def _nmf_option_field(option):
    """The setting (and flag) of an NMF option: its name, default, help and choices are
    :class:`keras_nmf.NMFOptions`'s, and each value is checked by it (:func:`keras_nmf.nmf_arguments.check_option`).
    An option taken per block (``learning``) takes one value or one per NMF block."""
    meta = option.metadata
    per_block = meta["per_block"]
    return _field(
        option.default,
        meta["help"],
        type=option_type(option),
        choices=None if per_block else meta["choices"],
        check=partial(block_learning_modes, num_blocks=None) if per_block else _check_alone(option),
        applies_to="nmf",
    )


_NETWORK_FIELDS = [
    ("arch", str, _field("cnmf_1x1", "network", choices=NETWORKS)),
    ("width", int, _field(1, "channel multiplier of the hidden blocks (32, 64, 96 x width)", minimum=1)),
    ("nmf_groups", int, _field(1, "groups of the CNMF2D layers of blocks 2-3", minimum=1, applies_to="nmf")),
    ("conv_groups", int, _field(1, "groups of the CNN kxk convs (blocks 2-3) and the 1x1 mixing convs", minimum=1)),
]
# One setting per NMF option, of the option's name: a new option of NMFOptions is a flag of its own.
_NMF_OPTION_FIELDS = [
    (option.name, option_type(option), _nmf_option_field(option)) for option in dataclasses.fields(NMFOptions)
]
_LAYER_FIELDS = [
    (
        "nmf_layer",
        str,
        _field(
            "patches",
            "the NMF archs' kxk layer: CNMF2D (one NMF problem per patch, the paper's) or "
            "ConvolutiveNMF2D (one per image: overlapping patches compete for the pixels)",
            choices=NMF_LAYERS,
            applies_to="nmf",
        ),
    ),
    (
        "cnn_kxk_bias",
        bool,
        _field(
            False,
            "the CNN archs' kxk convolutions have a bias (PyTorch's initialisation; docs/experiments/cnn_baseline.md)",
            applies_to="cnn",
        ),
    ),
]


class _NetworkSettings(_Section):
    """The network (:class:`keras_nmf.models.PaperNetwork`'s arguments) and its NMF options."""

    ROLE = "recipe"
    NAME = "model"
    TITLE = "the network and its NMF options"

    @property
    def family(self):
        """``"nmf"`` or ``"cnn"``."""
        return arch_family(self.arch)

    def nmf_options(self):
        """The NMF blocks' :class:`keras_nmf.NMFOptions`, block 1 first, from this run's NMF flags (the one mapping:
        :func:`keras_nmf.architectures.block_nmf_options`)."""
        return block_nmf_options(self.to_dict(), len(network_spec(self.arch).blocks))

    def _check(self):
        if self.family == "nmf":
            try:
                self.nmf_options()
            except ValueError as error:
                raise ConfigError(
                    f"{error} (each NMF option is the flag of its name: {', '.join(map(flag, NMF_OPTION_NAMES))})"
                ) from None
        try:
            check_groups(self.width, self.nmf_groups, self.conv_groups, nmf=self.family == "nmf")
        except ValueError as error:
            raise ConfigError(str(error)) from None
        check_applies_to_arch(self, self.arch)


ModelSettings = dataclasses.make_dataclass(
    "ModelSettings",
    _NETWORK_FIELDS + _NMF_OPTION_FIELDS + _LAYER_FIELDS,
    bases=(_NetworkSettings,),
    frozen=True,
)
ModelSettings.__module__, ModelSettings.__doc__ = __name__, _NetworkSettings.__doc__


@dataclasses.dataclass(frozen=True)
class DataSettings(_Section):
    """Which images, how many, and the crop (:func:`keras_nmf.data.pipeline.load_dataset`'s data arguments)."""

    ROLE = "data"
    NAME = "data"
    TITLE = "which images and how many"

    dataset: str = _field("cifar10", "tensorflow_datasets name (ignored with --data-dir)", choices=TFDS_DATASETS)
    data_dir: str = _field(
        None,
        "image folder DIR/train/<class>/*, DIR/test/<class>/*, or its pack file FILE.npz "
        "(keras-nmf-pack-images), instead of tfds",
    )
    tfds_dir: str = _field(None, "tensorflow_datasets data directory")
    crop_size: int = _field(None, "random/centre crop side; default image side - 4 (32 -> 28)", type=int, minimum=1)
    limit_train: int = _field(None, "use only N (seeded random) training images (smoke runs)", type=int, minimum=1)
    limit_test: int = _field(
        None,
        "use only N (seeded random) test images; the same N in train.py, evaluate.py, compare.py and robustness.py",
        type=int,
        minimum=1,
    )
    val_split: float = _field(0.0, "fraction of train held out as validation set", minimum=0.0, below=1.0)

    #: The fields that name data on disk: saved absolute, so that a run's configuration finds its data from anywhere.
    PATH_FIELDS: ClassVar[tuple] = ("data_dir", "tfds_dir")


@dataclasses.dataclass(frozen=True)
class OptimisationSettings(_Section):
    """How the weights are fitted: the loss (eq. 21), the batches, the schedule's shape, the seed, the precision."""

    ROLE = "recipe"
    NAME = "optimisation"
    TITLE = "the loss, the batches, the schedule's shape, the seed, the precision"

    steps_per_epoch: int = _field(None, "batches per epoch (default: the whole training set)", type=int, minimum=1)
    batch_size: int = _field(50, "batch size (the global batch under --distribute)", minimum=1)
    alpha: float = _field(0.5, "weight of the squared error in the loss (eq. 21)", minimum=0.0)
    schedule: str = _field(
        "plateau",
        "learning-rate schedule: plateau (the paper's: ReduceLROnPlateau on --monitor, stop below "
        "--min-lr) or one laid over --epochs (docs/training.md): wsd (warm-up, stable, decay), onecycle (warm-up, "
        "linear decay), cosine (warm-up, cosine decay)",
        choices=SCHEDULES,
    )
    peak_lr_factor: float = _field(
        1.0, "the fixed-budget schedules' peak as a multiple of --lr and --kxk-lr", above=0.0, schedules=FIXED_BUDGET
    )
    warmup_fraction: float = _field(
        0.0,
        "the fixed-budget schedules' linear warm-up from 0, as a share of the run's steps (a 5%% warm-up cost cnn "
        "15 points at 5 epochs: docs/experiments/schedules)",
        minimum=0.0,
        below=1.0,
        schedules=FIXED_BUDGET,
    )
    decay_fraction: float = _field(
        0.2,
        "wsd's final linear decay to 0, as a share of the run's steps; 0: no decay, "
        "a stable trunk to branch from (--keep-epochs, --branch-from)",
        minimum=0.0,
        maximum=1.0,
        schedules=("wsd",),
    )
    monitor: str = _field(
        "loss",
        "ReduceLROnPlateau monitors the training loss, or val_loss (needs --val-split)",
        choices=MONITORS,
        schedules=("plateau",),
    )
    plateau_patience: int = _field(
        10, "epochs without improvement before the learning rate drops", minimum=0, schedules=("plateau",)
    )
    plateau_factor: float = _field(
        0.1, "learning-rate factor on a plateau", above=0.0, below=1.0, schedules=("plateau",)
    )
    min_lr: float = _field(1e-9, "stop when every learning rate is below this", minimum=0.0, schedules=("plateau",))
    bn_recalibration_batches: int = _field(
        50, "re-estimate BatchNorm statistics on N training batches each epoch (0: off)", minimum=0
    )
    precision: str = _field("auto", "auto: mixed precision on a capable GPU, float32 on CPU", choices=PRECISIONS)
    seed: int = _field(0, "random seed (weights, data order, augmentation, subsets)", minimum=0, maximum=2**32 - 1)
    deterministic: bool = _field(
        False, "enable_op_determinism: the same seed and flags give bit-identical weights (slower)"
    )
    branch_from: str = _field(
        None,
        "a decay branch: start from the state that this wsd run (the stable trunk) kept at --branch-epoch, and "
        "decay to the end of --epochs; the run's other settings default to the trunk's (docs/training.md)",
        schedules=("wsd",),
    )
    branch_epoch: int = _field(
        None,
        "the trunk's kept epoch a --branch-from run starts from (its --keep-epochs)",
        type=int,
        minimum=1,
        schedules=("wsd",),
    )

    def _check(self):
        """Refuses a field of another ``--schedule`` set away from its default, and a wsd whose phases overlap."""
        for spec in dataclasses.fields(self):
            schedules = spec.metadata["schedules"]
            if schedules and self.schedule not in schedules and getattr(self, spec.name) != spec.default:
                raise ConfigError(
                    f"{flag(spec.name)} is a setting of --schedule {' or '.join(schedules)}, not of "
                    f"--schedule {self.schedule}: drop it, or choose one of those schedules."
                )
        if self.schedule == "wsd" and self.warmup_fraction + self.decay_fraction > 1.0:
            raise ConfigError(
                f"--warmup-fraction {self.warmup_fraction:g} and --decay-fraction "
                f"{self.decay_fraction:g} overlap: together they must be at most 1."
            )
        if (self.branch_from is None) != (self.branch_epoch is None):
            raise ConfigError(
                "--branch-from and --branch-epoch go together: a decay branch starts from the epoch "
                "that its trunk kept. Give both, or neither."
            )

    @property
    def is_stable_trunk(self):
        """A wsd run without decay or warm-up: its rates do not depend on ``--epochs`` (it may be extended)."""
        return self.schedule == "wsd" and self.decay_fraction == 0 and self.warmup_fraction == 0


@dataclasses.dataclass(frozen=True)
class BudgetSettings(_Section):
    """How long and how fast: the epochs and the peak learning rates (an unfinished run may take new values)."""

    ROLE = "schedule"
    NAME = "budget"
    TITLE = "the epochs and the learning rates; an unfinished run may take new values"

    epochs: int = _field(500, "maximum epochs (--resume of an unfinished run may raise it)", minimum=1)
    lr: float = _field(
        1e-3, "Adam learning rate of the 1x1 convs and BatchNorm (with --resume: the new current rate)", above=0.0
    )
    kxk_lr: float = _field(1e-2, "Adam learning rate of each block's kxk weights (NMF kernels or CNN convs)", above=0.0)


@dataclasses.dataclass(frozen=True)
class ExecutionSettings(_Section):
    """How the run executes; the same recipe and data give the same results up to rounding."""

    ROLE = "runtime"
    NAME = "execution"
    TITLE = "how the run executes; the same results up to rounding"

    nmf_chunk_elements: int = _field(
        2**20,
        "CNMF2D patch entries processed at a time (bounds memory); 0: the whole batch at once",
        minimum=0,
        applies_to="nmf",
    )
    jit: bool = _field(
        None,
        "XLA-compile the train step (default: whichever was measured faster: on for NMF networks, off for CNNs)",
        type=bool,
    )
    distribute: str = _field(
        "none",
        "data parallelism: mirrored (TensorFlow: this host's GPUs), multiworker (TensorFlow: TF_CONFIG "
        "hosts) or data_parallel (JAX: keras.distribution over this host's devices); --batch-size stays the global "
        "batch",
        choices=STRATEGIES,
    )
    eval_every: int = _field(1, "evaluate the test set every N epochs (logging only)", minimum=1)
    nmf_diagnostics: bool = _field(
        True,
        "log each NMF layer's reconstruction error, fixed-point residual and sparsity of h on one fixed test "
        "batch per epoch (epochs.csv, TensorBoard)",
    )
    keep_epochs: str = _field(
        None,
        "comma-separated epochs whose whole state (weights, optimizer, history) the run keeps in <run>/kept/ "
        "for decay branches (--branch-from), e.g. 16,32,64",
        check=parse_epochs,
    )
    variant: str = _field("base", "label of this run in a comparison (scripts/compare.py --variant)")
    logdir: str = _field(None, "run directory (default runs/<arch>-<timestamp>)")

    def _check(self):
        if self.jit and self.distribute in ("mirrored", "multiworker"):
            raise ConfigError(
                "--jit does not work with --distribute: XLA steps cannot use variables mirrored on other devices "
                "(keras-team/keras#19005; Keras itself disables XLA under tf.distribute). Drop --jit (XLA is off "
                "by default under a strategy)."
            )


@dataclasses.dataclass(frozen=True)
class SessionSettings(_Section):
    """What may differ between two sittings of one run (never compared on ``--resume``)."""

    ROLE = "volatile"
    NAME = "session"
    TITLE = "may differ between two sittings of one run"

    resume: bool = _field(False, "resume the run in --logdir (or the latest runs/<arch>-*) from its last epoch")
    verbose: int = _field(1, "Keras progress: 0 silent, 1 bar, 2 one line per epoch", minimum=0, maximum=2)
    distribute_timeout: float = _field(
        DEFAULT_STARTUP_TIMEOUT_S,
        "multiworker: seconds to wait for every TF_CONFIG worker to join; then the worker "
        "stops with the names of the workers that do not answer (0: wait forever)",
        minimum=0.0,
    )


#: The sections in the order of ``--help`` and of a run's config.json.
SECTIONS = (ModelSettings, DataSettings, OptimisationSettings, BudgetSettings, ExecutionSettings, SessionSettings)
#: Each field's section (a field's name is unique across the sections).
SECTION_OF = {spec.name: section for section in SECTIONS for spec in dataclasses.fields(section)}
FIELD_NAMES = tuple(SECTION_OF)
assert len(FIELD_NAMES) == sum(len(dataclasses.fields(section)) for section in SECTIONS), "a field name is repeated"


#: The settings that select a run's test images: evaluate takes them from the run's config.json unless given.
RUN_DATA_FIELDS = ("dataset", "data_dir", "tfds_dir", "limit_test", "seed")


def field_spec(name):
    """The ``dataclasses.Field`` of setting ``name`` (its metadata: :func:`_field`)."""
    return {spec.name: spec for spec in dataclasses.fields(SECTION_OF[name])}[name]


def role_of(name):
    """The role of setting ``name``: its section's (one of :data:`ROLES`)."""
    return SECTION_OF[name].ROLE


def fields_where(role=None, **conditions):
    """Names of the settings of ``role`` whose metadata match, e.g. ``fields_where(role="volatile")``.

    A condition value of ``bool`` ``True`` matches any non-empty metadata value.
    """
    names = []
    for name in FIELD_NAMES:
        meta = field_spec(name).metadata
        if (role is None or role_of(name) == role) and all(
            (bool(meta[key]) if wanted is True else meta[key] == wanted) for key, wanted in conditions.items()
        ):
            names.append(name)
    return names


def check_applies_to_arch(section, arch):
    """Refuses a field of ``section`` set away from its default for an arch whose model it does not change."""
    family = arch_family(arch)
    for spec in dataclasses.fields(section):
        applies_to = spec.metadata["applies_to"]
        if applies_to not in (None, family) and getattr(section, spec.name) != spec.default:
            raise ConfigError(
                f"{flag(spec.name)} applies to the {applies_to.upper()} archs "
                f"({', '.join(archs_of_family(applies_to))}), not to {arch}: drop it for this arch."
            )


def flag(name):
    """``lr`` -> ``--lr``, ``kxk_lr`` -> ``--kxk-lr``."""
    return "--" + name.replace("_", "-")


#: What a field of each type takes (a bool is not an integer here, though Python's bool is an int).
_TYPE_CHECKS = {
    bool: (lambda v: isinstance(v, bool), "true or false"),
    int: (lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool), "an integer"),
    float: (lambda v: isinstance(v, numbers.Real) and not isinstance(v, bool), "a number"),
    str: (lambda v: isinstance(v, str), "a string"),
}
_BOUNDS = (
    ("minimum", lambda v, b: v >= b, ">="),
    ("above", lambda v, b: v > b, ">"),
    ("maximum", lambda v, b: v <= b, "<="),
    ("below", lambda v, b: v < b, "<"),
)


def check_value(spec, value):
    """Checks one field's value on its own (type, choices, range, its ``check``).

    Raises:
        ConfigError: naming the flag.
    """
    meta = spec.metadata
    if value is None:
        return
    holds, wanted = _TYPE_CHECKS[meta["type"]]
    if not holds(value):
        raise ConfigError(f"{flag(spec.name)} must be {wanted}. Received: {value!r} ({type(value).__name__})")
    if meta["type"] is float and not math.isfinite(value):
        raise ConfigError(f"{flag(spec.name)} must be a finite number. Received: {value}")
    if meta["check"] is not None:
        try:
            meta["check"](value)
        except ValueError as error:
            raise ConfigError(f"{flag(spec.name)}: {error}") from None
    if meta["choices"] and value not in meta["choices"]:
        raise ConfigError(f"Unknown {flag(spec.name)} {value!r}. Valid choices: {', '.join(meta['choices'])}.")
    for key, holds, symbol in _BOUNDS:
        bound = meta[key]
        if bound is not None and not holds(value, bound):
            hint = " or leave it out" if spec.default is None else ""
            raise ConfigError(f"{flag(spec.name)} must be {symbol} {bound}{hint}. Received: {value}")


def check_field(name, value):
    """Checks one setting's value on its own; the rules between fields need the whole configuration.

    Raises:
        ConfigError: naming the flag.
    """
    check_value(field_spec(name), value)


def parse_value(name, text):
    """Converts the command-line text of one field as its flag does (booleans: true/false)."""
    kind = field_spec(name).metadata["type"]
    if kind is bool:
        lowered = text.strip().lower()
        if lowered not in ("true", "false"):
            raise ValueError(f"{name} takes true or false. Received: {text!r}")
        return lowered == "true"
    return kind(text)
