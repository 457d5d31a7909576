"""Fault injection for training runs: a stop (kill -9, Ctrl-C) or a full disk at a chosen moment of ``train()``.

Used in-process by ``test_faults.py`` and, for kill -9, in a child process:
``python -m tests.training.faults POINT -- TRAIN.PY FLAGS`` kills itself
with SIGKILL at POINT. Every point fires in epoch ``FAULT_EPOCH`` (from 1)
or, for the final saves, after the last epoch.
"""

import contextlib
import errno
import os
import signal
import sys

import keras

from keras_nmf.training import backup as backup_module
from keras_nmf.training import run_dir as run_module
from keras_nmf import files

FAULT_EPOCH = 2

#: Where a stop can happen: in the middle of an epoch, between the epoch's weights file and its commit, right
#: after the commit (before epochs.csv is rewritten), after the last epoch before the model is saved, and
#: while the model file is being written.
STOP_POINTS = ("mid_epoch", "before_commit", "after_commit", "before_model_save", "during_model_save")
#: Where the disk can fill up: at an epoch's backup, and at the final model save.
DISK_POINTS = ("full_disk_backup", "full_disk_model")


class _AtBatch(keras.callbacks.Callback):
    def __init__(self, action):
        super().__init__()
        self.action, self.epoch = action, None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch + 1 == FAULT_EPOCH and batch == 1:
            self.action()


def disk_full():
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@contextlib.contextmanager
def injected(point, action):
    """Patches ``train()``'s writers so that ``action()`` runs at ``point``; yields the extra callbacks to pass."""
    callbacks = []
    patches = []

    def patch(module, name, replacement):
        patches.append((module, name, getattr(module, name)))
        setattr(module, name, replacement)

    real_json, real_save, real_model = (
        backup_module.atomic_write_json,
        backup_module.atomic_save,
        run_module.atomic_save_model,
    )

    def write_state(path, data):
        is_commit = path.name == backup_module.STATE_FILE and data.get("epoch") == FAULT_EPOCH
        if is_commit and point == "before_commit":
            action()
        real_json(path, data)
        if is_commit and point == "after_commit":
            action()

    def save_weights(path, save):
        if point == "full_disk_backup" and path.name == backup_module.weights_name(FAULT_EPOCH):

            def partial_then_full(temporary):
                temporary.write_bytes(b"\0" * 4096)
                action()

            return real_save(path, partial_then_full)
        return real_save(path, save)

    def save_model(model, path):
        if point == "before_model_save":
            action()
        if point in ("during_model_save", "full_disk_model"):

            def partial(temporary):
                model.save(temporary)
                with open(temporary, "r+b") as handle:
                    handle.truncate(64 * 1024)
                action()

            return files.atomic_save(path, partial)
        return real_model(model, path)

    if point == "mid_epoch":
        callbacks.append(_AtBatch(action))
    patch(backup_module, "atomic_write_json", write_state)
    patch(backup_module, "atomic_save", save_weights)
    patch(run_module, "atomic_save_model", save_model)
    try:
        yield callbacks
    finally:
        for module, name, original in reversed(patches):
            setattr(module, name, original)


def kill_self():
    os.kill(os.getpid(), signal.SIGKILL)


def main(argv):
    point, separator, *train_argv = argv
    assert separator == "--", argv
    from keras_nmf.training import parse_config, train

    config, given = parse_config(train_argv)
    with injected(point, kill_self) as callbacks:
        train(config, extra_callbacks=callbacks, given=given)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
