"""``TrainConfig``: every knob of a training run, each described once, in its field.

A field's metadata holds the facts about the field itself: its type, its
help, its choices and range, the archs whose model it changes and its
**role**. The flags of every entry point, the configuration check of a grid
and ``--resume``'s rule are derived from it. What an entry point cannot
honour is declared by that entry point (``keras_nmf.experiments.variants.PER_RUN``
for a comparison's grid, ``keras_nmf.cli.search.TRIAL_REFUSES`` for a sweep).

Roles:

* ``recipe``: what is trained and how (the model, the optimisation, the
  seed, the precision); results depend on it.
* ``schedule``: how long and at which learning rates (``--epochs``,
  ``--lr``, ``--kxk-lr``); results depend on it, yet an unfinished run may
  continue with new values (``--resume`` after a NaN stop, more epochs).
* ``data``: which data and how much of it; results depend on it.
* ``runtime``: how the run executes (XLA, chunking, the strategy, where it
  writes, the label of a comparison); the same recipe and data give the same
  results up to rounding.
* ``volatile``: may differ between two sessions of one run (``--resume``,
  progress output, a timeout) and is never part of a configuration check.

A leaf: it imports neither Keras nor a backend (the choices and checks it needs come from the leaf modules
:mod:`keras_nmf.architectures`, :mod:`keras_nmf.nmf_arguments` and :mod:`keras_nmf.run_choices`), so the commands
parse and check their flags before a backend starts. The rules that need the backend are
:func:`keras_nmf.training.recipe.check_backend_support`.
"""

import argparse
import dataclasses
import math
import numbers
import os
import pathlib

from keras_nmf.architectures import ARCHITECTURES, arch_family, block_learning_modes, block_nmf_options, check_groups
from keras_nmf.errors import ConfigError
from keras_nmf.nmf_arguments import BACKWARD_MODES, DIVERGENCES, IMPLICIT_DTYPES, MAX_ITERATIONS, SOLVERS
from keras_nmf.run_choices import DEFAULT_STARTUP_TIMEOUT_S, FIXED_BUDGET, SCHEDULES, STRATEGIES, TFDS_DATASETS
from keras_nmf.training.run_files import RunFileError, atomic_write_json, read_json

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
MONITORS = ("loss", "val_loss")
ROLES = ("recipe", "schedule", "data", "runtime", "volatile")

def _field(default, help, type=None, choices=None, role="recipe", minimum=None, above=None, maximum=None,
           below=None, check=None, applies_to=None, schedules=None):
    """One ``TrainConfig`` field and every fact about it.

    Args:
        default, help, choices: as for an ``argparse`` flag.
        type: the value's type (``bool`` flags become ``--x/--no-x``); default: the default's type.
        role: one of ``ROLES``.
        minimum, above, maximum, below: the range (``>=``, ``>``, ``<=``, ``<``); ``None`` values skip it.
        check: a function of the value that raises ``ValueError`` for a bad one (beyond choices and ranges).
        applies_to: ``"nmf"`` or ``"cnn"``: the archs whose model the field changes; a value other than the
            default with another arch is refused (it would be recorded and ignored).
        schedules: the ``--schedule`` values the field takes part in; a value other than the default with another
            schedule is refused (it would be recorded and ignored).
    """
    metadata = {"help": help, "type": type or _type_of(default), "choices": choices, "role": role,
                "minimum": minimum, "above": above, "maximum": maximum, "below": below, "check": check,
                "applies_to": applies_to, "schedules": schedules}
    assert role in ROLES, role
    return dataclasses.field(default=default, metadata=metadata)


def _type_of(default):
    return type(default) if default is not None else str


@dataclasses.dataclass
class TrainConfig:
    """Defaults reproduce the paper's recipe (Nouri et al., sections 5-6)."""

    # Model (build_model arguments).
    arch: str = _field("cnmf_1x1", "network", choices=ARCHITECTURES)
    width: int = _field(1, "channel multiplier of the hidden blocks (32, 64, 96 x width)", minimum=1)
    nmf_groups: int = _field(1, "groups of the CNMF2D layers of blocks 2-3", minimum=1, applies_to="nmf")
    conv_groups: int = _field(1, "groups of the CNN kxk convs (blocks 2-3) and the 1x1 mixing convs", minimum=1)
    iterations: int = _field(20, "NMF iterations N (eq. 6)", minimum=1, maximum=MAX_ITERATIONS, applies_to="nmf")
    epsilon: float = _field(None, "eq. 6 step size in (0, 1]; default: the plain update (eq. 3)", type=float,
                            above=0.0, maximum=1.0, applies_to="nmf")
    backward: str = _field("approx", "NMF backward: the one-step eqs. 18-19, autodiff through the iterations, or "
                                     "the exact gradient at the fixed point (implicit)", choices=BACKWARD_MODES,
                           applies_to="nmf")
    implicit_dtype: str = _field("float32", "dtype of the implicit backward's per-pattern linear solves",
                                 choices=IMPLICIT_DTYPES, applies_to="nmf")
    nmf_divergence: str = _field("kl", "the beta-divergence each patch's h minimises: kl (the paper's, eq. 3), "
                                       "frobenius or itakura_saito", choices=tuple(DIVERGENCES), applies_to="nmf")
    nmf_tolerance: float = _field(None, "each patch stops at its first update that changes h by less than this (L1); "
                                        "--iterations is then the maximum (default: exactly --iterations)",
                                  type=float, above=0.0, applies_to="nmf")
    nmf_solver: str = _field("mu", "with --nmf-tolerance: the plain multiplicative updates (mu) or SQUAREM "
                                   "extrapolation to the same fixed point in fewer updates (docs/nmf_options.md)",
                             choices=SOLVERS, applies_to="nmf")
    nmf_learning: str = _field(
        "backprop", "NMF weights by backprop or by the local NMF rule (section 4.2 ablation): one mode for every "
        "block, or one per block, block 1 first (e.g. local,local,local,backprop)", check=block_learning_modes,
        applies_to="nmf")
    cnn_kxk_bias: bool = _field(False, "the CNN archs' kxk convolutions have a bias (PyTorch's initialisation; "
                                       "docs/experiments/cnn_baseline.md)", applies_to="cnn")
    nmf_chunk_elements: int = _field(
        2**20, "CNMF2D patch entries processed at a time (bounds memory); 0: the whole batch at once",
        role="runtime", minimum=0, applies_to="nmf")
    # Data.
    dataset: str = _field("cifar10", "tensorflow_datasets name (ignored with --data-dir)", choices=TFDS_DATASETS,
                          role="data")
    data_dir: str = _field(None, "image folder DIR/train/<class>/*, DIR/test/<class>/*, or its pack file FILE.npz "
                                 "(keras-nmf-pack-images), instead of tfds", role="data")
    tfds_dir: str = _field(None, "tensorflow_datasets data directory", role="data")
    crop_size: int = _field(None, "random/centre crop side; default image side - 4 (32 -> 28)", type=int,
                            role="data", minimum=1)
    limit_train: int = _field(None, "use only N (seeded random) training images (smoke runs)", type=int,
                              role="data", minimum=1)
    limit_test: int = _field(None, "use only N (seeded random) test images; the same N in train.py, evaluate.py, "
                                   "compare.py and robustness.py", type=int, role="data", minimum=1)
    val_split: float = _field(0.0, "fraction of train held out as validation set", role="data", minimum=0.0,
                              below=1.0)
    # Optimisation.
    epochs: int = _field(500, "maximum epochs (--resume of an unfinished run may raise it)", minimum=1, role="schedule")
    steps_per_epoch: int = _field(None, "batches per epoch (default: the whole training set)", type=int, minimum=1)
    batch_size: int = _field(50, "batch size (the global batch under --distribute)", minimum=1)
    lr: float = _field(1e-3, "Adam learning rate of the 1x1 convs and BatchNorm (with --resume: the new current rate)",
                       above=0.0, role="schedule")
    kxk_lr: float = _field(1e-2, "Adam learning rate of each block's kxk weights (NMF kernels or CNN convs)",
                           above=0.0, role="schedule")
    alpha: float = _field(0.5, "weight of the squared error in the loss (eq. 21)", minimum=0.0)
    schedule: str = _field(
        "plateau", "learning-rate schedule: plateau (the paper's: ReduceLROnPlateau on --monitor, stop below "
        "--min-lr) or one laid over --epochs (docs/training.md): wsd (warm-up, stable, decay), onecycle (warm-up, "
        "linear decay), cosine (warm-up, cosine decay)", choices=SCHEDULES)
    peak_lr_factor: float = _field(1.0, "the fixed-budget schedules' peak as a multiple of --lr and --kxk-lr",
                                   above=0.0, schedules=FIXED_BUDGET)
    warmup_fraction: float = _field(
        0.0, "the fixed-budget schedules' linear warm-up from 0, as a share of the run's steps (a 5%% warm-up cost cnn "
        "15 points at 5 epochs: docs/experiments/schedules)", minimum=0.0, below=1.0, schedules=FIXED_BUDGET)
    decay_fraction: float = _field(0.2, "wsd's final linear decay to 0, as a share of the run's steps", above=0.0,
                                   maximum=1.0, schedules=("wsd",))
    monitor: str = _field("loss", "ReduceLROnPlateau monitors the training loss, or val_loss (needs --val-split)",
                          choices=MONITORS, schedules=("plateau",))
    plateau_patience: int = _field(10, "epochs without improvement before the learning rate drops", minimum=0,
                                   schedules=("plateau",))
    plateau_factor: float = _field(0.1, "learning-rate factor on a plateau", above=0.0, below=1.0,
                                   schedules=("plateau",))
    min_lr: float = _field(1e-9, "stop when every learning rate is below this", minimum=0.0, schedules=("plateau",))
    eval_every: int = _field(1, "evaluate the test set every N epochs (logging only)", role="runtime", minimum=1)
    nmf_diagnostics: bool = _field(
        True, "log each NMF layer's reconstruction error, fixed-point residual and sparsity of h on one fixed test "
        "batch per epoch (epochs.csv, TensorBoard)", role="runtime")
    bn_recalibration_batches: int = _field(
        50, "re-estimate BatchNorm statistics on N training batches each epoch (0: off)", minimum=0)
    # Execution.
    precision: str = _field("auto", "auto: mixed precision on a capable GPU, float32 on CPU", choices=PRECISIONS)
    distribute: str = _field(
        "none", "data parallelism: mirrored (TensorFlow: this host's GPUs), multiworker (TensorFlow: TF_CONFIG "
        "hosts) or data_parallel (JAX: keras.distribution over this host's devices); --batch-size stays the global "
        "batch", choices=STRATEGIES, role="runtime")
    distribute_timeout: float = _field(
        DEFAULT_STARTUP_TIMEOUT_S, "multiworker: seconds to wait for every TF_CONFIG worker to join; then the worker "
        "stops with the names of the workers that do not answer (0: wait forever)", role="volatile", minimum=0.0)
    jit: bool = _field(None, "XLA-compile the train step (default: whichever was measured faster: on for NMF "
                             "networks, off for CNNs)", type=bool, role="runtime")
    seed: int = _field(0, "random seed (weights, data order, augmentation, subsets)", minimum=0, maximum=2**32 - 1)
    deterministic: bool = _field(
        False, "enable_op_determinism: the same seed and flags give bit-identical weights (slower)")
    variant: str = _field("base", "label of this run in a comparison (scripts/compare.py --variant)", role="runtime")
    logdir: str = _field(None, "run directory (default runs/<arch>-<timestamp>)", role="runtime")
    resume: bool = _field(False, "resume the run in --logdir (or the latest runs/<arch>-*) from its last epoch",
                          role="volatile")
    verbose: int = _field(1, "Keras progress: 0 silent, 1 bar, 2 one line per epoch", role="volatile", minimum=0,
                          maximum=2)

    def __post_init__(self):
        for spec in dataclasses.fields(self):
            if spec.metadata["type"] is str and isinstance(getattr(self, spec.name), os.PathLike):
                setattr(self, spec.name, os.fspath(getattr(self, spec.name)))  # a pathlib.Path is a path's text
            _check_value(spec, getattr(self, spec.name))
        _check_applies_to_schedule(self)
        if self.monitor == "val_loss" and not self.val_split:
            raise ConfigError("--monitor val_loss needs a validation split: add --val-split 0.1 (for example).")
        if self.jit and self.distribute in ("mirrored", "multiworker"):
            raise ConfigError(
                "--jit does not work with --distribute: XLA steps cannot use variables mirrored on other devices "
                "(keras-team/keras#19005; Keras itself disables XLA under tf.distribute). Drop --jit (XLA is off "
                "by default under a strategy).")
        nmf = arch_family(self.arch) == "nmf"
        if nmf:
            _check_nmf_arguments(self)
        try:
            check_groups(self.width, self.nmf_groups, self.conv_groups, nmf=nmf)
        except ValueError as error:
            raise ConfigError(str(error)) from None
        _check_applies_to_arch(self)

    def to_dict(self):
        return dataclasses.asdict(self)

    def nmf_options(self):
        """The NMF blocks' :class:`keras_nmf.NMFOptions`, block 1 first, from this run's NMF flags (the one mapping:
        :func:`keras_nmf.architectures.block_nmf_options`)."""
        return block_nmf_options(self.to_dict())

    def save(self, path):
        """Writes config.json atomically (a temporary file, then a rename)."""
        atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path):
        """The configuration saved in ``path`` (a run's config.json).

        A field added after the run was saved takes its default (what that run trained with). A relative data path
        is the working folder's (:func:`with_absolute_data_paths`), as when the run was started.

        Raises:
            RunFileError: the file is unreadable, corrupt, has unknown fields or values out of range.
        """
        fix = "Restore it from a copy, or start a new run with another --logdir."
        saved = read_json(path, "the run's configuration", fix)
        unknown = sorted(set(saved) - {spec.name for spec in dataclasses.fields(cls)})
        if unknown:
            raise RunFileError(f"{path} (the run's configuration) has unknown fields: {', '.join(unknown)}. It was "
                               f"written by another version of keras_nmf, or edited. {fix}")
        try:
            return with_absolute_data_paths(cls(**saved))
        except (ConfigError, TypeError) as error:
            raise RunFileError(f"{path} (the run's configuration) holds a value that cannot run: {error} {fix}") \
                from None


#: The fields that name data on disk: saved absolute, so that a run's configuration finds its data from anywhere.
DATA_PATH_FIELDS = ("data_dir", "tfds_dir")


def with_absolute_data_paths(config):
    """``config`` with :data:`DATA_PATH_FIELDS` made absolute, from the working folder (``keras-nmf-evaluate`` in
    another folder, a ``--resume`` elsewhere; committed run records hold relative ones)."""
    paths = {name: str(pathlib.Path(getattr(config, name)).resolve()) for name in DATA_PATH_FIELDS
             if getattr(config, name)}
    return dataclasses.replace(config, **paths)


#: Fields that name a run rather than configure it: never a change of a saved run.
_RUN_IDENTITY = ("resume", "logdir")


def changeable_on_resume(name, finished=False):
    """Whether a saved run accepts a new value of field ``name`` when it is continued.

    The runtime and volatile fields (XLA, chunking, output, verbosity) may
    change, and, while the run is unfinished, the ``schedule`` (the learning
    rates and ``--epochs``); a recipe or data field may not. A finished run's
    results were produced with its saved schedule, so it takes no schedule
    change. The one rule for ``--resume`` and
    for the grids of ``compare.py`` alike.
    """
    role = field_spec(name).metadata["role"]
    return role in ("runtime", "volatile") or (role == "schedule" and not finished)


def resume_changes(saved, requested, names=None, finished=False):
    """What continuing the saved run with ``requested``'s values would change: ``(changes, refused)``.

    A run under a fixed-budget ``--schedule`` (wsd, onecycle, cosine) takes no
    schedule change either: its rates are laid over its saved ``--epochs`` and
    ``--lr``/``--kxk-lr`` from the first step.

    Args:
        names: the fields to compare (the command line's flags); ``None``: every field.
        finished: the saved run has finished (see :func:`changeable_on_resume`).

    Returns:
        ``changes`` as ``{field: (saved, new)}`` (accepted, :func:`changeable_on_resume`), ``refused`` as
        ``["--flag (saved X, given Y)", ...]``.
    """
    names = [spec.name for spec in dataclasses.fields(saved)] if names is None else sorted(names)
    fixed_schedule = saved.schedule != "plateau"
    changes, refused = {}, []
    for name in names:
        old, new = getattr(saved, name), getattr(requested, name)
        if name in _RUN_IDENTITY or old == new:
            continue
        if changeable_on_resume(name, finished or fixed_schedule):
            changes[name] = (old, new)
        elif fixed_schedule and changeable_on_resume(name):
            refused.append(f"{flag(name)} (saved {old!r}, given {new!r}: --schedule {saved.schedule} lays the "
                           f"rates over the saved --epochs from the first step)")
        else:
            refused.append(f"{flag(name)} (saved {old!r}, given {new!r})")
    return changes, refused


def _fields_of_the_other_family(arch):
    """The ``TrainConfig`` fields that apply only to the arch family ``arch`` does not belong to."""
    return [spec for spec in dataclasses.fields(TrainConfig)
            if spec.metadata["applies_to"] not in (None, arch_family(arch))]


def for_arch(config, arch):
    """``config``'s values as they apply to ``arch``: fields of the other arch family back at their defaults.

    For a grid's base configuration, shared by archs of both families.
    """
    defaults = {spec.name: spec.default for spec in _fields_of_the_other_family(arch)}
    return TrainConfig(**{**config.to_dict(), **defaults, "arch": arch})


def _check_applies_to_arch(config):
    """Refuses a field set away from its default for an arch whose model it does not change."""
    archs = {"nmf": "cnmf, cnmf_1x1", "cnn": "cnn, cnn_1x1"}
    for spec in _fields_of_the_other_family(config.arch):
        if getattr(config, spec.name) != spec.default:
            applies_to = spec.metadata["applies_to"]
            raise ConfigError(f"{flag(spec.name)} applies to the {applies_to.upper()} archs ({archs[applies_to]}), "
                              f"not to {config.arch}: drop it for this arch.")


def _check_applies_to_schedule(config):
    """Refuses a field of another ``--schedule`` set away from its default, and a wsd whose phases overlap."""
    for spec in dataclasses.fields(TrainConfig):
        schedules = spec.metadata["schedules"]
        if schedules and config.schedule not in schedules and getattr(config, spec.name) != spec.default:
            raise ConfigError(f"{flag(spec.name)} is a setting of --schedule {' or '.join(schedules)}, not of "
                              f"--schedule {config.schedule}: drop it, or choose one of those schedules.")
    if config.schedule == "wsd" and config.warmup_fraction + config.decay_fraction > 1.0:
        raise ConfigError(f"--warmup-fraction {config.warmup_fraction:g} and --decay-fraction "
                          f"{config.decay_fraction:g} overlap: together they must be at most 1.")


def _check_nmf_arguments(config):
    """The NMF layers' own rules on the combination of their arguments (one source: :class:`keras_nmf.NMFOptions`)."""
    try:
        config.nmf_options()
    except ValueError as error:
        raise ConfigError(f"{error} (flags: --iterations, --backward, --nmf-divergence, --nmf-tolerance, "
                          f"--nmf-solver, --nmf-learning)") from None


def flag(name):
    """``lr`` -> ``--lr``, ``kxk_lr`` -> ``--kxk-lr``."""
    return "--" + name.replace("_", "-")


def fields_where(**conditions):
    """Names of the ``TrainConfig`` fields whose metadata match, e.g. ``fields_where(role="volatile")``.

    A condition value of ``bool`` ``True`` matches any non-empty metadata value.
    """
    names = []
    for spec in dataclasses.fields(TrainConfig):
        if all((bool(spec.metadata[key]) if wanted is True else spec.metadata[key] == wanted)
               for key, wanted in conditions.items()):
            names.append(spec.name)
    return names


def field_spec(name):
    return {spec.name: spec for spec in dataclasses.fields(TrainConfig)}[name]


def check_field(name, value):
    """Checks one field's value on its own (choices, range, its ``check``); cross-field rules need the whole config.

    Raises:
        ConfigError: naming the flag.
    """
    _check_value(field_spec(name), value)


#: What a field of each type takes (a bool is not an integer here, though Python's bool is an int).
_TYPE_CHECKS = {
    bool: (lambda v: isinstance(v, bool), "true or false"),
    int: (lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool), "an integer"),
    float: (lambda v: isinstance(v, numbers.Real) and not isinstance(v, bool), "a number"),
    str: (lambda v: isinstance(v, str), "a string"),
}


def _check_value(spec, value):
    meta = spec.metadata
    if value is None:
        return
    holds, wanted = _TYPE_CHECKS[meta["type"]]
    if not holds(value):
        raise ConfigError(f"{flag(spec.name)} must be {wanted}. Received: {value!r} ({type(value).__name__})")
    if meta["type"] is float and isinstance(value, (int, float)) and not math.isfinite(value):
        raise ConfigError(f"{flag(spec.name)} must be a finite number. Received: {value}")
    if meta["check"] is not None:
        try:
            meta["check"](value)
        except ValueError as error:
            raise ConfigError(f"{flag(spec.name)}: {error}") from None
    if meta["choices"] and value not in meta["choices"]:
        raise ConfigError(f"Unknown {flag(spec.name)} {value!r}. Valid choices: {', '.join(meta['choices'])}.")
    bounds = (("minimum", lambda v, b: v >= b, ">="), ("above", lambda v, b: v > b, ">"),
              ("maximum", lambda v, b: v <= b, "<="), ("below", lambda v, b: v < b, "<"))
    for key, holds, symbol in bounds:
        bound = meta[key]
        if bound is not None and not holds(value, bound):
            hint = " or leave it out" if spec.default is None else ""
            raise ConfigError(f"{flag(spec.name)} must be {symbol} {bound}{hint}. Received: {value}")


def parse_value(name, text):
    """Converts the command-line text of one field as its flag does (booleans: true/false)."""
    kind = field_spec(name).metadata["type"]
    if kind is bool:
        lowered = text.strip().lower()
        if lowered not in ("true", "false"):
            raise ValueError(f"{name} takes true or false. Received: {text!r}")
        return lowered == "true"
    return kind(text)


class _Refuse(argparse.Action):
    """A flag that an entry point cannot honour: using it is an error that gives the reason."""

    def __init__(self, option_strings, dest, reason=None, **kwargs):
        self.reason = reason
        super().__init__(option_strings, dest, nargs="?", help=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error(f"{option_string} is not accepted here: {self.reason}.")


def build_parser(description=None, exclude=(), refuse=None, parser=None):
    """An ``argparse`` parser with one flag per ``TrainConfig`` field.

    Unset flags are absent from the parsed namespace (``argparse.SUPPRESS``),
    so callers know which flags were given (``--resume`` needs that); pass the
    namespace to :func:`config_from_args`.

    Args:
        exclude: fields without a flag (the caller defines its own flag of that name).
        refuse: ``{field: reason}``: the flag exists but using it is an error giving the reason.
    """
    parser = parser or argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    refuse = refuse or {}
    for spec in dataclasses.fields(TrainConfig):
        if spec.name in exclude:
            continue
        meta = spec.metadata
        if spec.name in refuse:
            parser.add_argument(flag(spec.name), action=_Refuse, reason=refuse[spec.name], default=argparse.SUPPRESS)
            if meta["type"] is bool:
                parser.add_argument("--no-" + spec.name.replace("_", "-"), action=_Refuse, reason=refuse[spec.name],
                                    default=argparse.SUPPRESS)
            continue
        help_text = meta["help"] + (f" (default: {spec.default})" if spec.default is not None else "")
        if meta["type"] is bool:
            parser.add_argument(flag(spec.name), action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                                help=help_text)
        else:
            parser.add_argument(flag(spec.name), type=meta["type"], default=argparse.SUPPRESS,
                                choices=meta["choices"], help=help_text)
    return parser


def config_from_args(parser, args, defaults=None, exclude=()):
    """The ``TrainConfig`` of a parsed namespace, and the names of the fields given on the command line.

    ``defaults`` override ``TrainConfig``'s defaults for unset flags (e.g. the
    sweep's ``epochs=20``); ``exclude`` names namespace entries that are the
    caller's own flags (as passed to :func:`build_parser`). A value out of
    range exits through ``parser.error`` (exit code 2) with the flag's name.
    """
    names = {spec.name for spec in dataclasses.fields(TrainConfig)} - set(exclude)
    given = {key: value for key, value in vars(args).items() if key in names}
    values = {**(defaults or {}), **given}
    try:
        return TrainConfig(**values), set(given)
    except ConfigError as error:
        parser.error(str(error))


def parse_config(argv=None, description=None):
    """Parses train.py's flags: returns ``(TrainConfig, names of the fields given)``; bad flags exit 2."""
    parser = build_parser(description)
    return config_from_args(parser, parser.parse_args(argv))
