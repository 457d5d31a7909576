"""``ResumableReduceLROnPlateau``: the plateau schedule survives ``--resume``."""

import json
import pathlib

import keras


class ResumableReduceLROnPlateau(keras.callbacks.ReduceLROnPlateau):
    """``ReduceLROnPlateau`` whose counters (best, wait, cooldown) persist in a JSON file.

    ``BackupAndRestore`` restores the model and the optimizer (its learning
    rate included) but not callback state; without this, a resumed run would
    forget how many epochs it had already waited on a plateau.
    """

    def __init__(self, state_path, write_state=True, **kwargs):
        super().__init__(**kwargs)
        self.state_path = pathlib.Path(state_path)
        self.write_state = write_state  # False on non-chief workers: they read the chief's file

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self.state_path.exists():
            state = json.loads(self.state_path.read_text())
            self.best, self.wait, self.cooldown_counter = state["best"], state["wait"], state["cooldown_counter"]

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        if not self.write_state:
            return
        state = {"best": float(self.best), "wait": int(self.wait), "cooldown_counter": int(self.cooldown_counter)}
        self.state_path.write_text(json.dumps(state))
