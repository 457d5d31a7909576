"""``RunDir``: one run's directory: where it is, which configuration it runs, who holds it, what it records.

Everything a run writes goes through here, :mod:`keras_nmf.training.run_files` or :mod:`keras_nmf.files`
(atomic writes). :meth:`RunDir.prepare` decides the directory and, on
``--resume``, the configuration, and checks the location, all without writing;
:meth:`RunDir.held` locks it for this process; :meth:`RunDir.start` creates it
and saves ``config.json``; :meth:`RunDir.finish` writes ``model.keras`` and
``results.json``.
"""

import contextlib
import dataclasses
import datetime
import importlib.metadata
import pathlib
import platform
import shlex
import subprocess
import sys

import keras
import numpy as np

import keras_nmf
from keras_nmf.commands import command_line
from keras_nmf.errors import ConfigError, RunFileError
from keras_nmf.training.branches import check_branch, next_steps
from keras_nmf.training.config import TrainConfig, resume_changes, with_absolute_data_paths
from keras_nmf.training.backup import PREVIOUS_STATE_FILE, STATE_FILE
from keras_nmf.training.settings import DataSettings, flag
from keras_nmf.errors import RunWriteError
from keras_nmf.nmf_arguments import with_current_option_names
from keras_nmf.files import RunLock, atomic_write_json, read_json, remove_temporaries
from keras_nmf.training.run_files import atomic_save_model, check_new_run_location
from keras_nmf.errors import MissingFileError, ExistingRunError

#: Where runs go without --logdir.
RUNS = pathlib.Path("runs")


@dataclasses.dataclass
class RunDir:
    """A run's directory and the configuration it runs with.

    Attributes:
        path: the directory.
        config: the configuration (on ``--resume``: the saved one with the accepted changes).
        changes: ``{field: (saved, new)}`` that a resume applied.
        trunk: a new decay branch's trunk configuration (:func:`keras_nmf.training.branches.check_branch`).
    """

    path: pathlib.Path
    config: TrainConfig
    changes: dict
    trunk: TrainConfig = None

    @classmethod
    def prepare(cls, config, given=None):
        """Finds the directory and, on ``--resume``, the configuration; checks the location. Writes nothing.

        Args:
            given: names of the fields set explicitly (the command line's flags); ``None``: those that differ
                from ``TrainConfig``'s defaults. On ``--resume`` these may change only as
                :func:`keras_nmf.training.config.resume_changes` allows.

        Raises:
            ConfigError: a flag that cannot change on --resume.
            FileNotFoundError, FileExistsError: no run to resume, or a finished one (each with the fix).
        """
        if config.execution.distribute == "multiworker" and not config.execution.logdir:
            raise MissingFileError(
                "--distribute multiworker needs --logdir DIR on a filesystem that every worker shares "
                "(the chief writes it, the others read its backups)."
            )
        if given is None:
            defaults = TrainConfig().to_dict()
            given = {name for name, value in config.to_dict().items() if value != defaults[name]}
        path = _find(config)
        config = with_absolute_data_paths(config)
        if not config.session.resume:
            config = config.replace(logdir=str(path))
            if config.optimisation.branch_from is None:
                return cls(path, config, {})
            config = config.replace(branch_from=str(pathlib.Path(config.optimisation.branch_from).resolve()))
            return cls(path, config, {}, trunk=check_branch(config))
        saved_path = path / "config.json"
        if not saved_path.exists():
            raise MissingFileError(f"--resume: {path} has no config.json; is it a keras_nmf run directory?")
        if (path / "results.json").exists():
            raise ExistingRunError(
                f"--resume: the run in {path} already finished (results.json exists); --resume "
                f"continues only an unfinished run. {_after_finish(path)}"
            )
        saved = TrainConfig.load(saved_path)
        trained = _recorded_config(path)
        if trained is not None:
            _check_unedited(saved_path, trained, saved)
        changes, refused = resume_changes(saved, config.replace(logdir=str(path)), given)
        if refused:
            raise ConfigError(
                f"--resume continues a run with its saved configuration; these flags cannot change: "
                f"{', '.join(refused)}. Drop them, or start a new run with another --logdir."
            )
        resumed = saved.replace(resume=True, logdir=str(path), **{name: new for name, (_, new) in changes.items()})
        changed = "; ".join(f"{flag(name)} {old} -> {new}" for name, (old, new) in changes.items())
        print(
            f"Resuming {path} with its saved configuration"
            + (f"; changed: {changed}." if changed else ".")
            + (
                ""
                if _has_backup(path)
                else " It has no backup state (backup/state.json): no epoch finished "
                "before it stopped, or the backup was deleted, so training starts from epoch 1."
            )
        )
        return cls(path, resumed, changes)

    @property
    def backup_dir(self):
        return self.path / "backup"

    @contextlib.contextmanager
    def held(self, writer=True):
        """This process's hold on the directory: a new run's location checked, the directory locked (a second
        process is refused at once) and cleared of the temporary files a killed writer left. ``writer=False`` (a
        non-chief worker) checks nothing, takes no lock and writes nothing.

        Raises:
            FileExistsError, PermissionError: a new run's directory holds a run, or cannot be created.
            RunLockedError: another process trains this run directory.
        """
        if not writer:
            yield self
            return
        if not self.config.session.resume:
            check_new_run_location(self.path)  # before the lock file is made beside the directory
        lock = RunLock(self.path)
        try:
            lock.acquire_or_raise()  # a run that another process trains is named as such, whatever else holds
        except RunWriteError as error:  # a full disk from the start: said here, as train() says its later ones
            print(error, file=sys.stderr)
            raise
        try:
            if not self.config.session.resume:
                _check_unused(self.path)
            for folder in (self.path, self.backup_dir):
                remove_temporaries(folder)
            yield self
        finally:
            lock.release()

    def start(self):
        """Creates the directory and saves config.json (a new run, or a resume that changed flags)."""
        if not self.config.session.resume or self.changes:
            self.path.mkdir(parents=True, exist_ok=True)
            self.config.save(self.path / "config.json")

    def resume_command(self, extra=""):
        """The command that continues this run, with the interpreter that runs now."""
        return f"{command_line('train')} --resume --logdir {shlex.quote(str(self.path))}{extra}"

    def finish(self, model, results):
        """Writes model.keras, then results.json (both atomically), with the run's provenance added."""
        atomic_save_model(model, self.path / "model.keras")
        atomic_write_json(self.path / "results.json", {**results, **provenance()})


def _has_backup(path):
    backup = path / "backup"
    return (backup / STATE_FILE).exists() or (backup / PREVIOUS_STATE_FILE).exists()


def _recorded_config(path):
    """The configuration the run's latest backup state records it trained with, or None (none recorded, or a
    state that the backup itself will report as unreadable)."""
    try:
        recorded = read_json(path / "backup" / STATE_FILE, "the backup's state", "").get("config")
    except (RunFileError, AttributeError):
        return None
    try:
        return None if recorded is None else TrainConfig.of(**with_current_option_names(recorded))
    except (ConfigError, TypeError):
        return None


def _check_unedited(saved_path, trained, saved):
    """Refuses a config.json whose recipe differs from the one its epochs trained with (an edit by hand), as a
    flag that cannot change on --resume is refused; changes a flag could make are those a resume saved."""
    moved = {name: saved.value(name) for name in DataSettings.PATH_FIELDS}  # a data folder may move (a new machine)
    trunks = (trained.value("branch_from"), saved.value("branch_from"))
    if None not in trunks and pathlib.Path(trunks[0]).name == pathlib.Path(trunks[1]).name:
        moved["branch_from"] = trunks[1]  # so may the trunk beside a branch (the records name it by its folder)
    _, edited = resume_changes(trained.replace(**moved), saved)
    if edited:
        raise ConfigError(
            f"{saved_path} was edited since its epochs were trained: {', '.join(edited).replace('given', 'now')} "
            f"(the first value is what the backup records). The run's recipe cannot change on --resume: put the "
            f"recorded values back, or start a new run with another --logdir."
        )


def _find(config):
    """--logdir, the latest runs/<arch>-* to resume, or a new runs/<arch>-<time>."""
    arch = config.model.arch
    if config.execution.logdir:
        return pathlib.Path(config.execution.logdir)
    if config.session.resume:
        candidates = sorted(RUNS.glob(f"{arch}-*"), key=lambda p: p.stat().st_mtime)
        if not candidates:
            raise MissingFileError(f"--resume: no earlier run under {RUNS}/{arch}-*; pass --logdir DIR.")
        return candidates[-1]
    return RUNS / f"{arch}-{datetime.datetime.now().strftime('%Y%m%d-%H%M%S')}"


def _check_unused(path):
    """A new run needs a directory that holds no run (finished or not)."""
    if (path / "results.json").exists():
        raise ExistingRunError(
            f"{path} holds a finished run (results.json): pass another --logdir. A finished run is "
            f"not trained further. {_after_finish(path)}"
        )
    if (path / "config.json").exists():
        raise ExistingRunError(f"{path} holds an unfinished run: pass --resume to continue it, or another --logdir.")


def _after_finish(path):
    """What a finished run in ``path`` offers instead (:func:`keras_nmf.training.branches.next_steps`)."""
    try:
        return next_steps(TrainConfig.load(path / "config.json"), path, command_line("train"))
    except RunFileError:
        return "To train longer, start a new run with another --logdir and the --epochs you want."


def _installed_version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def git_commit():
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=pathlib.Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def provenance():
    """What produced a result: the code's commit and the software versions."""
    backend = keras.backend.backend()
    return {
        "git_commit": git_commit(),
        "versions": {
            "keras_nmf": keras_nmf.__version__,
            "keras": keras.__version__,
            "keras_backend": backend,
            backend: _installed_version(backend),
            "numpy": np.__version__,
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
