"""``RunBackup``: a run's whole resume state (weights, optimizer, epoch, schedule) in one atomic backup."""

import json
import os
import pathlib

import keras

STATE_FILE = "state.json"


class RunBackup(keras.callbacks.Callback):
    """Backs up the training state after every epoch and restores it when training starts.

    Like ``keras.callbacks.BackupAndRestore`` (model weights and optimizer
    variables through ``model.save_weights``, the epoch to start from), plus
    the state of ``stateful`` callbacks (the plateau schedule's counters), all
    committed at once: the weights go to a new file, then ``state.json``
    (epoch, weights file, callback states) is written to a temporary file and
    renamed over the old one, which is atomic. A process killed at any point
    leaves either the previous epoch's complete state or the new one, never a
    mix. Older weight files are removed after the commit.

    Place it after the callbacks whose state it saves and after the
    non-finite check (a NaN state is never backed up). The backup is deleted
    when training ends normally.

    Args:
        backup_dir: the folder of the backup.
        stateful: ``{name: callback}``; each has ``get_state()`` and ``set_state(dict)``.
        write: ``False`` on non-chief workers of a multi-worker run: they
            restore the chief's backup but never write it.
        learning_rate: if set, the base learning rate after a restore (a resumed run with lowered rates).
        print_fn: where the restore message goes.
    """

    def __init__(self, backup_dir, stateful=None, write=True, learning_rate=None, print_fn=print):
        super().__init__()
        self.backup_dir = pathlib.Path(backup_dir)
        self.stateful = dict(stateful or {})
        self.write = write
        self.learning_rate = learning_rate
        self.print_fn = print_fn
        self.restored_epoch = None

    @property
    def state_path(self):
        return self.backup_dir / STATE_FILE

    def read_state(self):
        """The committed state (``None`` when there is no backup)."""
        if not self.state_path.exists():
            return None
        return json.loads(self.state_path.read_text())

    def on_train_begin(self, logs=None):
        state = self.read_state()
        if state is not None:
            optimizer = self.model.optimizer
            if optimizer is not None and not optimizer.built:
                optimizer.build(self.model.trainable_variables)
            self.model.load_weights(self.backup_dir / state["weights"])
            self.model._initial_epoch = state["epoch"]  # what Keras's BackupAndRestore sets
            for name, callback in self.stateful.items():
                callback.set_state(state["callbacks"][name])
            self.restored_epoch = state["epoch"]
            self.print_fn(f"Restored the backup of epoch {state['epoch']}: training goes on with epoch "
                          f"{state['epoch'] + 1}.")
        if self.learning_rate is not None:
            old = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            self.model.optimizer.learning_rate.assign(self.learning_rate)
            self.print_fn(f"Base learning rate set to {self.learning_rate:g} (was {old:g}).")

    def on_epoch_end(self, epoch, logs=None):
        if not self.write:
            return
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        weights = f"epoch-{epoch + 1:05d}.weights.h5"
        self.model.save_weights(self.backup_dir / weights, overwrite=True)
        state = {"epoch": epoch + 1, "weights": weights,
                 "callbacks": {name: callback.get_state() for name, callback in self.stateful.items()}}
        temporary = self.backup_dir / (STATE_FILE + ".tmp")
        with open(temporary, "w") as handle:
            handle.write(json.dumps(state))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.state_path)  # the commit
        for old in self.backup_dir.glob("epoch-*.weights.h5"):
            if old.name != weights:
                old.unlink()

    def on_train_end(self, logs=None):
        if not self.write or not self.backup_dir.exists():
            return
        for path in self.backup_dir.iterdir():
            path.unlink()
        self.backup_dir.rmdir()
