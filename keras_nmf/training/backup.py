"""``RunBackup``: a run's whole resume state (weights, optimizer, epoch, schedule, history) in one atomic backup."""

import csv
import hashlib
import io
import math
import pathlib
import re

import keras
import numpy as np

from keras_nmf.errors import RunFileError
from keras_nmf.files import atomic_save, atomic_write_json, atomic_write_text, read_json

STATE_FILE = "state.json"
#: The state committed one epoch before ``state.json``, kept with its weights as a fallback.
PREVIOUS_STATE_FILE = "state.previous.json"
_WEIGHTS_NAME = re.compile(r"^epoch-\d{5,}\.weights\.h5$")


def weights_name(epoch):
    return f"epoch-{epoch:05d}.weights.h5"


def file_sha256(path):
    """The SHA-256 of a file's bytes, as hex (the backup's check that its weights are the ones it wrote)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def history_csv(rows):
    """The epoch history as CSV text: ``epoch`` (from 1) first, then every logged key, sorted."""
    keys = sorted({key for row in rows for key in row} - {"epoch"})
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["epoch", *keys], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


class RunBackup(keras.callbacks.Callback):
    """Backs up the training state after every epoch and restores it when training starts.

    Like ``keras.callbacks.BackupAndRestore`` (model weights and optimizer
    variables through ``model.save_weights``, the epoch to start from), plus
    the state of ``stateful`` callbacks (the plateau schedule's counters, the
    learning-rate floor) and the epoch history, all committed at once. After
    epoch E:

    1. the weights go to ``epoch-E.weights.h5`` (atomically);
    2. the state so far is kept as ``state.previous.json`` (with its weights);
    3. ``state.json`` (epoch, weights file, callback states, every epoch's
       logs) is written to a temporary file and renamed over the old one:
       the commit;
    4. ``<run dir>/epochs.csv`` is rewritten from the committed history.

    A process killed at any point leaves either the previous epoch's complete
    state or the new one, never a mix, and ``epochs.csv`` is derived from the
    commit (rewritten on restore), so it never has a gap, a duplicate or a
    second header. Only the two newest weight files are kept.

    Place it after every callback whose state or logs it saves and after the
    non-finite check (a NaN state is never backed up). The caller removes the
    backup (:meth:`remove`) once the run's results are safely written.

    Args:
        backup_dir: the folder of the backup.
        epochs: the run's maximum epochs (a state beyond it is refused as corrupt).
        stateful: ``{name: callback}``; each has ``get_state()`` and ``set_state(dict)``.
        history_path: where the history is written as CSV (``None``: nowhere).
        write: ``False`` on non-chief workers of a multi-worker run: they
            restore the chief's backup but never write it.
        learning_rate: if set, the base learning rate after a restore (a resumed run with lowered rates).
        kept: a :class:`keras_nmf.training.branches.KeptStates` that keeps the committed state of each epoch of
            ``keep_epochs`` (branch points), written after the commit; a stop between the two is made good when
            the state is restored.
        code_version: the code this process trains with (its git commit): the state records, as ``segments``
            (``[{"first_epoch", "git_commit"}]``), from which epoch on each version of the code trained the run
            (a long run resumed on newer code); ``None`` where unknown.
        recipe: the run's configuration (``TrainConfig.to_dict()``), recorded in each state as ``config``: a
            resume refuses a ``config.json`` whose recipe was edited since (:func:`keras_nmf.training.run_dir`).
        print_fn: where the restore message goes.
    """

    def __init__(
        self,
        backup_dir,
        epochs,
        stateful=None,
        history_path=None,
        write=True,
        learning_rate=None,
        kept=None,
        keep_epochs=(),
        code_version=None,
        recipe=None,
        print_fn=print,
    ):
        super().__init__()
        self.backup_dir = pathlib.Path(backup_dir)
        self.epochs = epochs
        self.stateful = dict(stateful or {})
        self.history_path = None if history_path is None else pathlib.Path(history_path)
        self.write = write
        self.learning_rate = learning_rate
        self.kept = kept
        self.keep_epochs = frozenset(keep_epochs)
        self.code_version = code_version
        self.recipe = recipe
        self.segments = []
        self.print_fn = print_fn
        self.restored_epoch = None
        self.history = []
        self._state = None
        self._state_file = self.state_path  # the file the backup's state was read from
        self._announced_fallback = False

    @property
    def state_path(self):
        return self.backup_dir / STATE_FILE

    # Reading and checking a committed state.

    def _fix(self, path):
        """What to do about a corrupt state file: the intact fallback, if any, else a new run directory."""
        run_dir = self.backup_dir.parent
        previous = self.backup_dir / PREVIOUS_STATE_FILE
        if path.name == STATE_FILE and previous.exists():
            try:
                epoch = self.read_state(previous)["epoch"]
            except RunFileError:
                pass
            else:
                return (
                    f"The state of epoch {epoch} is intact: to go back to it, replace {path} by {previous} "
                    f"(the epochs after it are trained again)."
                )
        return f"No intact backup state is left: start a new run with another --logdir (or delete {run_dir})."

    def _checked(self, state, path):
        """``state`` after checking its fields; raises RunFileError naming what is wrong."""

        def refuse(problem):
            raise RunFileError(f"{path} (the run's backup state) is corrupt: {problem}. {self._fix(path)}")

        epoch = state.get("epoch")
        if not isinstance(epoch, int) or isinstance(epoch, bool) or not 1 <= epoch <= self.epochs:
            refuse(
                f"its epoch is {epoch!r}, not a finished epoch of this run (1 to {self.epochs}; the file was "
                f"edited, or --resume lowered --epochs below it)"
            )
        weights = state.get("weights")
        if not isinstance(weights, str) or not _WEIGHTS_NAME.match(weights):
            refuse(f"its weights file {weights!r} is not an epoch-NNNNN.weights.h5 file of the backup folder")
        if not (self.backup_dir / weights).is_file():
            refuse(f"its weights file {self.backup_dir / weights} is missing")
        callbacks = state.get("callbacks")
        if not isinstance(callbacks, dict) or not all(isinstance(callbacks.get(name), dict) for name in self.stateful):
            refuse(f"it lacks the state of {', '.join(self.stateful)}")
        history = state.get("history")
        if (
            not isinstance(history, list)
            or len(history) != epoch
            or not all(isinstance(row, dict) and row.get("epoch") == k + 1 for k, row in enumerate(history))
        ):
            refuse(f"its history does not hold epochs 1 to {epoch} in order")
        return state

    def read_state(self, path=None):
        """The committed state, checked (``None`` when there is no backup).

        Without ``state.json`` but with ``state.previous.json`` (the file was deleted or lost), the previous
        epoch's state is the backup: the epochs after it are trained again, and the run says so.

        Raises:
            RunFileError: the state file is truncated, corrupt or inconsistent (the message says what is intact).
        """
        if path is None:
            path = self.state_path
            previous = self.backup_dir / PREVIOUS_STATE_FILE
            if not path.exists() and previous.exists():
                state = self._checked(
                    read_json(previous, "the run's previous backup state", self._fix(previous)), previous
                )
                if not self._announced_fallback:
                    self.print_fn(
                        f"{path} is missing; going back to the state before it, {previous} (epoch "
                        f"{state['epoch']}): the epochs after it are trained again."
                    )
                    self._announced_fallback = True
                self._state_file = previous
                return state
            self._state_file = path
        if not path.exists():
            return None
        return self._checked(read_json(path, "the run's backup state", self._fix(path)), path)

    def training_finished(self, state):
        """Whether ``state`` is the end of training: the last epoch, or a stop by a callback (the LR floor)."""
        if state is None:
            return False
        stopped = any(saved.get("stopped_epoch") for saved in state["callbacks"].values())
        return state["epoch"] >= self.epochs or stopped

    # Restoring.

    def restore(self):
        """Restores the committed state into the model and callbacks; returns its epoch (0 without a backup)."""
        if self.restored_epoch is not None:
            return self.restored_epoch
        state = self.read_state()
        self.restored_epoch = 0
        if state is None:
            return 0
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        path = self.backup_dir / state["weights"]
        expected = state.get("weights_sha256")  # absent in backups written before the checksum existed
        if expected is not None and file_sha256(path) != expected:
            raise RunFileError(
                f"{path} (the backup's weights of epoch {state['epoch']}) does not match the checksum "
                f"its state recorded: the file was changed or damaged after it was written. "
                f"{self._fix(self._state_file)}"
            )
        try:
            self.model.load_weights(path)
        except (OSError, ValueError, KeyError, RuntimeError) as error:
            raise RunFileError(
                f"{path} (the backup's weights of epoch {state['epoch']}) cannot be loaded "
                f"({type(error).__name__}: {error}). {self._fix(self._state_file)}"
            ) from None
        broken = [
            variable.path
            for variable in self.model.weights
            if not np.all(np.isfinite(keras.ops.convert_to_numpy(variable)))
        ]
        if broken:
            raise RunFileError(
                f"{path} (the backup's weights of epoch {state['epoch']}) holds NaN/Inf values in "
                f"{', '.join(broken[:3])}. {self._fix(self._state_file)}"
            )
        self.model._initial_epoch = state["epoch"]  # what Keras's BackupAndRestore sets
        for name, callback in self.stateful.items():
            callback.set_state(state["callbacks"][name])
        self._state, self.history = state, [dict(row) for row in state["history"]]
        segments = state.get("segments")  # absent from states written before segments were recorded
        self.segments = (
            [dict(segment) for segment in segments]
            if isinstance(segments, list)
            else [{"first_epoch": 1, "git_commit": None}]
        )
        self.restored_epoch = state["epoch"]
        self._write_history()
        self._keep_if_asked(state)  # a stop between the commit and the kept copy
        self.print_fn(
            f"Restored the backup of epoch {state['epoch']}: "
            + (
                "training had finished."
                if self.training_finished(state)
                else f"training goes on with epoch {state['epoch'] + 1}."
            )
        )
        return state["epoch"]

    def on_train_begin(self, logs=None):
        self.restore()
        if self.learning_rate is not None:
            old = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            self.model.optimizer.learning_rate.assign(self.learning_rate)
            self.print_fn(f"Base learning rate set to {self.learning_rate:g} (was {old:g}).")
            self.learning_rate = None  # once: a later fit in this process continues from the schedule

    # Committing.

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1}
        for key, value in sorted((logs or {}).items()):
            value = float(keras.ops.convert_to_numpy(value))
            row[key] = value if math.isfinite(value) else None
        self.history.append(row)
        if not self.segments or self.segments[-1]["git_commit"] != self.code_version:
            self.segments.append({"first_epoch": epoch + 1, "git_commit": self.code_version})
        if not self.write:
            return
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        weights = weights_name(epoch + 1)
        atomic_save(self.backup_dir / weights, self.model.save_weights)
        state = {
            "epoch": epoch + 1,
            "weights": weights,
            "weights_sha256": file_sha256(self.backup_dir / weights),
            "callbacks": {name: callback.get_state() for name, callback in self.stateful.items()},
            "history": list(self.history),  # a copy: the next epoch's row must not reach this state
            "segments": [dict(segment) for segment in self.segments],
        }
        if self.recipe is not None:
            state["config"] = self.recipe
        previous, self._state = self._state, state
        if previous is not None:
            atomic_write_json(self.backup_dir / PREVIOUS_STATE_FILE, previous)
        atomic_write_json(self.state_path, state)  # the commit
        keep = {weights, previous and previous["weights"]}
        self._keep_if_asked(state)
        for old in self.backup_dir.glob("epoch-*.weights.h5"):
            if old.name not in keep:
                old.unlink()
        self._write_history()

    def _keep_if_asked(self, state):
        """Keeps the committed ``state`` as a branch point if its epoch is one of ``keep_epochs`` and not kept yet."""
        epoch = state["epoch"]
        if self.write and self.kept is not None and epoch in self.keep_epochs and epoch not in self.kept.epochs():
            self.kept.keep(state, self.backup_dir)

    def _write_history(self):
        if self.write and self.history_path is not None:
            atomic_write_text(self.history_path, history_csv(self.history))

    def remove(self):
        """Deletes the backup (once the run's results are written)."""
        if not self.write or not self.backup_dir.exists():
            return
        for path in self.backup_dir.iterdir():
            path.unlink()
        self.backup_dir.rmdir()
