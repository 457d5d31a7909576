"""``TrainConfig``: a run's settings, in the sections of :mod:`keras_nmf.training.settings`.

Each consumer takes its section: the network is built from ``config.model``, the data loaded from ``config.data``,
the optimiser and callbacks from ``config.optimisation`` and ``config.budget``, the run directory and the strategy
from ``config.execution`` and ``config.session``. Commands, grids and ``config.json`` name a setting by its flag's
name (``lr``), unique across the sections: :meth:`TrainConfig.of`, :meth:`TrainConfig.replace`,
:meth:`TrainConfig.to_dict` and :meth:`TrainConfig.value` translate, from the one table
:data:`keras_nmf.training.settings.SECTION_OF`.

``--resume``'s rule is the sections' roles (:func:`resume_changes`). What an entry point cannot honour is declared
by that entry point (``keras_nmf.experiments.variants.PER_RUN`` for a comparison's grid,
``keras_nmf.cli.search.TRIAL_REFUSES`` for a sweep).

A leaf: it imports neither Keras nor a backend, so the commands parse and check their flags before a backend starts.
The rules that need the backend are :func:`keras_nmf.training.recipe.check_backend_support`.
"""

import dataclasses
import math
import pathlib

from keras_nmf.errors import ConfigError
from keras_nmf.errors import RunFileError
from keras_nmf.files import atomic_write_json, read_json
from keras_nmf.nmf_arguments import with_current_option_names
from keras_nmf.training.settings import (
    SECTION_OF,
    SECTIONS,
    BudgetSettings,
    DataSettings,
    ExecutionSettings,
    ModelSettings,
    OptimisationSettings,
    SessionSettings,
    check_applies_to_arch,
    field_spec,
    flag,
    role_of,
)

__all__ = [
    "TrainConfig",
    "ConfigError",
    "changeable_on_resume",
    "for_arch",
    "resume_changes",
    "with_absolute_data_paths",
]


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """A run's settings; the defaults reproduce the paper's recipe (Nouri et al., sections 5-6).

    Build one from the flags' names with :meth:`of` (``TrainConfig.of(arch="cnn", epochs=20)``), or from sections.
    """

    model: ModelSettings = dataclasses.field(default_factory=ModelSettings)
    data: DataSettings = dataclasses.field(default_factory=DataSettings)
    optimisation: OptimisationSettings = dataclasses.field(default_factory=OptimisationSettings)
    budget: BudgetSettings = dataclasses.field(default_factory=BudgetSettings)
    execution: ExecutionSettings = dataclasses.field(default_factory=ExecutionSettings)
    session: SessionSettings = dataclasses.field(default_factory=SessionSettings)

    def __post_init__(self):
        for section in SECTIONS:
            if not isinstance(getattr(self, section.NAME), section):
                raise ConfigError(
                    f"TrainConfig.{section.NAME} must be a {section.__name__}. "
                    f"Received: {getattr(self, section.NAME)!r}"
                )
        # The rules between sections.
        if self.optimisation.monitor == "val_loss" and not self.data.val_split:
            raise ConfigError("--monitor val_loss needs a validation split: add --val-split 0.1 (for example).")
        check_applies_to_arch(self.execution, self.model.arch)
        branch_epoch, epochs = self.optimisation.branch_epoch, self.budget.epochs
        if branch_epoch is not None:
            decay = self.optimisation.decay_fraction
            if branch_epoch >= epochs:
                raise ConfigError(
                    f"--branch-epoch {branch_epoch} leaves nothing to train in --epochs {epochs}: a "
                    f"branch's budget is its trunk's epochs and its own, so --epochs must exceed "
                    f"--branch-epoch."
                )
            stable_end = round((1.0 - decay) * epochs, 9)  # the step-level check follows once the data is known
            if branch_epoch > stable_end:
                shortest = math.ceil(round(branch_epoch / (1.0 - decay), 9)) if decay < 1 else None
                raise ConfigError(
                    f"--branch-epoch {branch_epoch} lies in the decay of --epochs {epochs} (its last {decay:.0%}, "
                    f"after epoch {stable_end:g}), where this budget's rate is below the trunk's: the trunk's state "
                    f"there is not this budget's. Branch at most at epoch {math.floor(stable_end)}"
                    + (f", or give --epochs {shortest} or more." if shortest else ".")
                )

    @classmethod
    def of(cls, **settings):
        """The configuration of ``settings`` named as the flags (``arch=..., lr=...``); others take their defaults.

        Raises:
            ConfigError: an unknown name, or a value the sections refuse (naming the flag).
        """
        unknown = sorted(set(settings) - set(SECTION_OF))
        if unknown:
            raise ConfigError(f"Unknown setting(s): {', '.join(unknown)}. Known: {', '.join(SECTION_OF)}.")
        by_section = {section.NAME: {} for section in SECTIONS}
        for name, value in settings.items():
            by_section[SECTION_OF[name].NAME][name] = value
        return cls(**{section.NAME: section(**by_section[section.NAME]) for section in SECTIONS})

    def replace(self, **changes):
        """This configuration with the settings ``changes`` (named as the flags), checked as a whole."""
        return TrainConfig.of(**{**self.to_dict(), **changes})

    def value(self, name):
        """The value of the setting named ``name`` (as its flag)."""
        return getattr(getattr(self, SECTION_OF[name].NAME), name)

    def to_dict(self):
        """Every setting by its flag's name, one level: the form of ``config.json`` (every run's, old and new)."""
        return {name: value for section in SECTIONS for name, value in getattr(self, section.NAME).to_dict().items()}

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
        saved = with_current_option_names(read_json(path, "the run's configuration", fix))
        unknown = sorted(set(saved) - set(SECTION_OF))
        if unknown:
            raise RunFileError(
                f"{path} (the run's configuration) has unknown fields: {', '.join(unknown)}. It was "
                f"written by another version of keras_nmf, or edited. {fix}"
            )
        try:
            return with_absolute_data_paths(cls.of(**saved))
        except (ConfigError, TypeError) as error:
            raise RunFileError(
                f"{path} (the run's configuration) holds a value that cannot run: {error} {fix}"
            ) from None


def with_absolute_data_paths(config):
    """``config`` with its data paths (:attr:`DataSettings.PATH_FIELDS`) made absolute, from the working folder
    (``keras-nmf-evaluate`` in another folder, a ``--resume`` elsewhere; committed run records hold relative ones)."""
    paths = {
        name: str(pathlib.Path(config.value(name)).resolve()) for name in DataSettings.PATH_FIELDS if config.value(name)
    }
    return config.replace(**paths)


#: Fields that name a run rather than configure it: never a change of a saved run.
_RUN_IDENTITY = ("resume", "logdir")


def changeable_on_resume(name, finished=False):
    """Whether a saved run accepts a new value of setting ``name`` when it is continued.

    The runtime and volatile settings (XLA, chunking, output, verbosity) may change, and, while the run is
    unfinished, the ``schedule`` ones (:class:`BudgetSettings`: the learning rates and ``--epochs``); a recipe or data
    setting may not. A finished run's results were produced with its saved budget, so it takes no budget change. The
    one rule for ``--resume`` and for the grids of ``compare.py`` alike.
    """
    role = role_of(name)
    return role in ("runtime", "volatile") or (role == "schedule" and not finished)


def resume_changes(saved, requested, names=None, finished=False):
    """What continuing the saved run with ``requested``'s values would change: ``(changes, refused)``.

    A run under a fixed-budget ``--schedule`` (wsd, onecycle, cosine) takes no budget change either: its rates are
    laid over its saved ``--epochs`` and ``--lr``/``--kxk-lr`` from the first step. A stable wsd trunk (no decay, no
    warm-up) is the exception for ``--epochs``: its rate is the peak whatever its length.

    Args:
        names: the settings to compare (the command line's flags); ``None``: every setting.
        finished: the saved run has finished (see :func:`changeable_on_resume`).

    Returns:
        ``changes`` as ``{name: (saved, new)}`` (accepted, :func:`changeable_on_resume`), ``refused`` as
        ``["--flag (saved X, given Y)", ...]``.
    """
    names = list(SECTION_OF) if names is None else sorted(names)
    schedule = saved.optimisation.schedule
    fixed_schedule = schedule != "plateau"
    changes, refused = {}, []
    for name in names:
        old, new = saved.value(name), requested.value(name)
        if name in _RUN_IDENTITY or old == new:
            continue
        if changeable_on_resume(name, finished or fixed_schedule) or (
            name == "epochs" and not finished and saved.optimisation.is_stable_trunk
        ):
            changes[name] = (old, new)
        elif fixed_schedule and changeable_on_resume(name):
            refused.append(
                f"{flag(name)} (saved {old!r}, given {new!r}: --schedule {schedule} lays the "
                f"rates over the saved --epochs from the first step)"
            )
        else:
            refused.append(f"{flag(name)} (saved {old!r}, given {new!r})")
    return changes, refused


def for_arch(config, arch):
    """``config``'s values as they apply to ``arch``: settings of the other arch family back at their defaults.

    For a grid's base configuration, shared by archs of both families.
    """
    family = ModelSettings(arch=arch).family
    defaults = {
        name: field_spec(name).default
        for name in SECTION_OF
        if field_spec(name).metadata["applies_to"] not in (None, family)
    }
    return config.replace(**defaults, arch=arch)
