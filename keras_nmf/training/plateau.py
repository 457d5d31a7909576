"""``ResumableReduceLROnPlateau``: the plateau schedule, with counters that ``--resume`` restores."""

import keras


class ResumableReduceLROnPlateau(keras.callbacks.ReduceLROnPlateau):
    """``ReduceLROnPlateau`` whose counters (best, wait, cooldown) are part of the run's backup.

    ``keras.callbacks.BackupAndRestore`` restores the model and the optimizer
    (its learning rate included) but no callback state; without this, a
    resumed run would forget how many epochs it had already waited on a
    plateau. :class:`keras_nmf.training.backup.RunBackup` saves
    :meth:`get_state` with the weights, atomically, and restores it with
    :meth:`set_state` after this callback's ``on_train_begin`` reset.
    """

    def __init__(self, print_fn=print, **kwargs):
        super().__init__(**kwargs)
        self.print_fn = print_fn

    def get_state(self):
        return {"best": float(self.best), "wait": int(self.wait), "cooldown_counter": int(self.cooldown_counter)}

    def set_state(self, state):
        self.best, self.wait, self.cooldown_counter = state["best"], state["wait"], state["cooldown_counter"]

    def on_epoch_end(self, epoch, logs=None):
        before = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        super().on_epoch_end(epoch, logs)
        after = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        if after != before:
            self.print_fn(
                f"Epoch {epoch + 1}: {self.monitor} did not improve for {self.patience} epochs; "
                f"learning rates x{self.factor:g} (base rate {before:.1e} -> {after:.1e})."
            )
