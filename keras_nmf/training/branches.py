"""Decay branches of a warm-stable-decay run: one stable trunk, and a decay to any budget from the epochs it kept.

Under ``--schedule wsd`` the rate is the peak until the decay starts (the last ``--decay-fraction`` of the run's
steps; with ``--decay-fraction 0`` never: a **stable trunk**). The state of the trunk at epoch E is therefore the
state at epoch E of every run of the same recipe whose stable phase reaches E, whatever its budget, so a run of
budget T with E <= (1 - decay) T need not train those E epochs again: it starts from the trunk's state and decays
(the warm-stable-decay practice of Hu et al. 2024, MiniCPM, and Hägele et al. 2024, "Scaling laws and
compute-optimal training beyond fixed training durations"). One trunk with branches at several epochs gives the
accuracy-against-budget curve for little more than the longest budget.

* The trunk keeps the whole state of its ``--keep-epochs`` (weights with the optimizer's variables and step
  counter, the callbacks' states, the history) in ``<run>/kept/`` (:class:`KeptStates`); they outlive its backup.
* ``keras-nmf-train --branch-from TRUNK --branch-epoch E --epochs T --logdir NEW`` is a branch: its settings are the
  trunk's (:func:`branch_defaults`) with the flags given; :func:`check_branch` refuses what would make it anything
  other than the direct run of budget T; its backup is seeded with the trunk's state at E (:func:`seed_backup`) and
  the run then goes on as a resumed run does (a kill resumes it bit-identically).

A leaf like the settings: it imports neither Keras nor a backend (the commands read a trunk before one starts).
"""

import pathlib
import shutil

from keras_nmf.errors import ConfigError, RunFileError
from keras_nmf.training.config import TrainConfig
from keras_nmf.files import atomic_save, atomic_write_json, read_json
from keras_nmf.training.settings import SECTION_OF, field_spec, flag, parse_epochs, role_of

#: The folder of a run's kept states.
KEPT = "kept"
#: The settings that say where a run's state comes from or goes: never the trunk's in its branch.
_OWN_TO_EACH_RUN = ("logdir", "resume", "keep_epochs", "branch_from", "branch_epoch")
#: The settings a branch may set differently from its trunk: its budget and its decay (checked against the trunk's
#: rates once the steps per epoch are known), where it comes from, and how it runs.
_BRANCH_MAY_CHANGE = ("epochs", "decay_fraction", *_OWN_TO_EACH_RUN)


def kept_epochs(config):
    """The epochs whose state a run keeps, in order: its ``--keep-epochs`` and, for a stable trunk, its last epoch
    (the point to extend it from)."""
    text = config.execution.keep_epochs
    epochs = set(parse_epochs(text) if text else ())
    if config.optimisation.is_stable_trunk:
        epochs.add(config.budget.epochs)
    return tuple(sorted(epochs))


class KeptStates:
    """The states a run keeps for branches: ``kept/epoch-NNNNN.weights.h5`` and, written after it (the commit),
    ``kept/epoch-NNNNN.json``: the run backup's state of that epoch (:class:`keras_nmf.training.backup.RunBackup`),
    with the weights' SHA-256."""

    def __init__(self, run_dir):
        self.run_dir = pathlib.Path(run_dir)
        self.folder = self.run_dir / KEPT

    def weights_path(self, epoch):
        return self.folder / f"epoch-{epoch:05d}.weights.h5"

    def state_path(self, epoch):
        return self.folder / f"epoch-{epoch:05d}.json"

    def epochs(self):
        """The epochs whose state is committed (its ``.json`` written), in order."""
        if not self.folder.is_dir():
            return []
        found = []
        for path in self.folder.glob("epoch-*.json"):
            digits = path.name[len("epoch-") : -len(".json")]
            if digits.isdigit():
                found.append(int(digits))
        return sorted(found)

    def keep(self, state, backup_dir):
        """Keeps ``state`` (a committed backup state) with a copy of its weights file from ``backup_dir``."""
        epoch = state["epoch"]
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_save(
            self.weights_path(epoch),
            lambda temporary: shutil.copyfile(pathlib.Path(backup_dir) / state["weights"], temporary),
        )
        atomic_write_json(self.state_path(epoch), state)

    def read(self, epoch):
        """The kept state of ``epoch``, checked against its weights file.

        Raises:
            ConfigError: the run kept no state of that epoch (the message lists the ones it kept).
            RunFileError: the state or its weights file is damaged.
        """
        from keras_nmf.training.backup import file_sha256  # Keras-free at the point of use: backup imports Keras

        path = self.state_path(epoch)
        if not path.exists():
            raise ConfigError(f"{self.run_dir} kept no state of epoch {epoch}: {self._what_it_kept()}")
        fix = f"Branch from another kept epoch of {self.run_dir}, or train that epoch again in a new trunk."
        state = read_json(path, f"the kept state of epoch {epoch}", fix)
        weights = self.weights_path(epoch)
        if not isinstance(state, dict) or state.get("epoch") != epoch or not weights.is_file():
            raise RunFileError(
                f"{path} (the kept state of epoch {epoch}) is incomplete: its epoch or its weights "
                f"file {weights.name} is missing. {fix}"
            )
        if state.get("weights_sha256") != file_sha256(weights):
            raise RunFileError(
                f"{weights} (the kept weights of epoch {epoch}) does not match the checksum its state "
                f"recorded: the file was changed or damaged after it was written. {fix}"
            )
        return state

    def _what_it_kept(self):
        epochs = self.epochs()
        kept = f"it kept epochs {', '.join(map(str, epochs))}" if epochs else "it kept no epoch"
        progress = ""
        backup_state = self.run_dir / "backup" / "state.json"
        if backup_state.exists():
            try:
                progress = f" and has trained {read_json(backup_state, 'the backup state', '')['epoch']} epochs"
            except (RunFileError, KeyError, TypeError):
                pass
        return (
            f"{kept}{progress}. A run keeps the epochs of its --keep-epochs once it has trained them; an "
            f"unfinished run takes more with --resume --keep-epochs."
        )


def load_trunk(path):
    """The configuration of the run in ``path`` that a branch starts from.

    Raises:
        ConfigError: ``path`` is not a run directory, or its schedule is not wsd (the reason given).
        RunFileError: its config.json is damaged.
    """
    path = pathlib.Path(path)
    if not (path / "config.json").is_file():
        raise ConfigError(
            f"--branch-from {path}: no config.json there; give the directory of a --schedule wsd run "
            f"(the trunk) that keeps the epoch to branch from (--keep-epochs)."
        )
    trunk = TrainConfig.load(path / "config.json")
    schedule = trunk.optimisation.schedule
    if schedule != "wsd":
        raise ConfigError(
            f"--branch-from {path}: that run's schedule is {schedule}, not wsd. A decay branch starts from a state "
            f"that every budget shares, and only wsd's stable phase is the same for every budget ("
            + (
                "the plateau schedule's rates follow the run's own losses"
                if schedule == "plateau"
                else f"{schedule}'s rate at each step depends on the run's --epochs"
            )
            + "). Train a trunk with --schedule wsd --decay-fraction 0 --keep-epochs E1,E2,..."
        )
    return trunk


def branch_defaults(trunk):
    """A branch's settings before its own flags: the trunk's, but for where the state comes from and goes.

    The decay is the trunk's, or, for a stable trunk (``--decay-fraction 0``), the setting's default (0.2): a branch
    decays unless its flags say ``--decay-fraction 0`` (a trunk extended from the kept state).
    """
    values = trunk.to_dict()
    for name in _OWN_TO_EACH_RUN + tuple(name for name in SECTION_OF if role_of(name) == "volatile"):
        values[name] = field_spec(name).default
    if trunk.optimisation.decay_fraction == 0:
        values["decay_fraction"] = field_spec("decay_fraction").default
    return values


def check_branch(config):
    """Refuses a branch that would not be the direct run of its budget; returns its trunk's configuration.

    Checked before anything is written: the trunk is a wsd run of the same recipe, data and rates; the branch epoch
    lies in the trunk's stable phase; the trunk kept that epoch, intact. The step-level check of the two schedules
    needs the steps per epoch (:func:`rates_differ`).

    Raises:
        ConfigError, RunFileError: naming the reason and the fix.
    """
    trunk_path = pathlib.Path(config.optimisation.branch_from)
    trunk = load_trunk(trunk_path)
    epoch = config.optimisation.branch_epoch
    differing = [
        f"{flag(name)} (trunk {trunk.value(name)!r}, branch {config.value(name)!r})"
        for name in SECTION_OF
        if role_of(name) in ("recipe", "data", "schedule")
        and name not in _BRANCH_MAY_CHANGE
        and trunk.value(name) != config.value(name)
    ]
    if differing:
        raise ConfigError(
            f"A branch continues its trunk {trunk_path}: these settings must be the trunk's: "
            f"{', '.join(differing)}. Drop them (a branch takes the trunk's settings by default)."
        )
    trunk_decay = trunk.optimisation.decay_fraction
    if trunk_decay and epoch > round((1.0 - trunk_decay) * trunk.budget.epochs, 9):
        raise ConfigError(
            f"--branch-epoch {epoch}: {trunk_path} decays after epoch "
            f"{(1.0 - trunk_decay) * trunk.budget.epochs:g} of its {trunk.budget.epochs}, so its state "
            f"at epoch {epoch} is no stable state. Branch from a kept epoch of its stable phase."
        )
    KeptStates(trunk_path).read(epoch)
    return trunk


def rates_differ(trunk_schedule, branch_schedule, steps):
    """Why the branch's learning rates differ from the trunk's over the first ``steps`` optimizer steps (``None``
    where they are the same): both :class:`keras_nmf.schedules.WarmupStableDecay`, at the same peak after the same
    warm-up, and neither decaying before ``steps``."""
    if trunk_schedule.peak != branch_schedule.peak:
        return f"their peak rates differ ({trunk_schedule.peak:g} against {branch_schedule.peak:g})"
    if trunk_schedule.warmup_steps != branch_schedule.warmup_steps:
        return (
            f"their warm-ups differ ({trunk_schedule.warmup_steps} against {branch_schedule.warmup_steps} steps: "
            f"--warmup-fraction is a share of each run's steps; a trunk to branch from has none)"
        )
    for name, schedule in (("the trunk", trunk_schedule), ("the branch", branch_schedule)):
        decay_starts = schedule.total_steps - schedule.decay_steps
        if schedule.decay_steps and steps > decay_starts:
            return f"{name} decays from step {decay_starts}, before the branch point's step {steps}"
    return None


def seed_backup(kept, epoch, backup_dir):
    """Starts a branch's backup with ``kept``'s state of ``epoch``: its weights file, then its state (the commit).

    A stop before the state is written leaves no state, so the next start seeds the backup again.
    """
    from keras_nmf.training.backup import STATE_FILE, weights_name

    state = kept.read(epoch)
    backup_dir = pathlib.Path(backup_dir)
    backup_dir.mkdir(parents=True, exist_ok=True)
    state = {**state, "weights": weights_name(epoch)}
    atomic_save(backup_dir / state["weights"], lambda temporary: shutil.copyfile(kept.weights_path(epoch), temporary))
    atomic_write_json(backup_dir / STATE_FILE, state)
    return state


_SEVERAL_BUDGETS = (
    "For the accuracy at several budgets from one run, train a stable trunk (--schedule wsd "
    "--decay-fraction 0 --keep-epochs E1,E2,...) and branch it (--branch-from)."
)


def next_steps(config, run_path, command):
    """What a finished run's owner can do next, by its schedule: extend it, or branch it (printed at its end).

    ``command``: the train command as it is run here (``keras-nmf-train`` or ``python -m ...``).
    """
    optimisation, epochs = config.optimisation, config.budget.epochs
    kept = KeptStates(run_path).epochs()
    if optimisation.schedule == "plateau":
        return (
            "To train longer, start a new run with another --logdir and the --epochs you want (the plateau "
            "schedule lowers the rates on its own)."
        )
    if optimisation.schedule != "wsd":
        return (
            f"Its --schedule {optimisation.schedule} laid the rates over its {epochs} epochs, so another budget is "
            f"a new run. {_SEVERAL_BUDGETS}"
        )
    decay = optimisation.decay_fraction
    stable = [epoch for epoch in kept if not decay or epoch <= round((1.0 - decay) * epochs, 9)]
    if not stable:
        return f"It kept no state of its stable phase (--keep-epochs), so it has no branch point. {_SEVERAL_BUDGETS}"
    last = stable[-1]
    branch_decay = decay or field_spec("decay_fraction").default  # what branch_defaults gives its branches
    lines = [
        f"Its kept epochs {', '.join(map(str, stable))} are branch points: a decay to budget T from epoch E "
        f"(decaying over the last {branch_decay:.0%} of T, so T >= {1 / (1 - branch_decay):g} E) is",
        f"  {command} --branch-from {run_path} --branch-epoch E --epochs T --logdir NEW_DIR",
    ]
    if not decay:
        lines += [
            "To extend this stable trunk, continue it in a new run that keeps later epochs:",
            f"  {command} --branch-from {run_path} --branch-epoch {last} --decay-fraction 0 --epochs "
            f"{2 * last} --keep-epochs {2 * last} --logdir NEW_TRUNK",
        ]
    return "\n".join(lines)
