"""RunBackup: weights, optimizer, plateau counters and epoch are committed together, or not at all."""

import os
import pathlib

import keras
import numpy as np
import pytest

from keras_nmf import files
from keras_nmf.training.backup import RunBackup
from keras_nmf.training.plateau import ResumableReduceLROnPlateau


def _model():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss="mse")
    return model


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(16, 4)).astype("float32"), rng.normal(size=(16, 1)).astype("float32")


class _Snapshots(keras.callbacks.Callback):
    """The state after each epoch's backup: weights, optimizer iterations, plateau counters."""

    def __init__(self, plateau):
        super().__init__()
        self.plateau, self.by_epoch = plateau, {}

    def on_epoch_end(self, epoch, logs=None):
        self.by_epoch[epoch + 1] = (
            [w.copy() for w in self.model.get_weights()],
            int(self.model.optimizer.iterations.numpy()),
            self.plateau.get_state(),
        )


def test_a_stop_between_weights_and_commit_leaves_the_previous_epoch_whole(tmp_path, monkeypatch):
    x, y = _data()
    plateau = ResumableReduceLROnPlateau(monitor="loss", patience=1, factor=0.5, verbose=0)
    snapshots = _Snapshots(plateau)
    backup = RunBackup(tmp_path / "backup", 5, stateful={"plateau": plateau}, print_fn=lambda *a, **k: None)
    commits = []
    real_replace = os.replace

    def dies_at_the_third_commit(source, target):
        if pathlib.Path(target).name == "state.json":
            commits.append(target)
        if len(commits) == 3:
            raise SystemExit("killed between the weights and the commit of epoch 3")
        real_replace(source, target)

    monkeypatch.setattr(files.os, "replace", dies_at_the_third_commit)
    with pytest.raises(SystemExit):
        _model().fit(x, y, epochs=5, batch_size=4, verbose=0, callbacks=[plateau, backup, snapshots])
    monkeypatch.setattr(files.os, "replace", real_replace)
    assert backup.read_state()["epoch"] == 2  # epoch 3's weights were written, never committed

    plateau_again = ResumableReduceLROnPlateau(monitor="loss", patience=1, factor=0.5, verbose=0)
    restored = _model()
    restore = RunBackup(tmp_path / "backup", 5, stateful={"plateau": plateau_again}, print_fn=lambda *a, **k: None)
    restore.set_model(restored)
    plateau_again.set_model(restored)
    plateau_again.on_train_begin()
    restore.on_train_begin()
    weights, iterations, plateau_state = snapshots.by_epoch[2]
    for got, expected in zip(restored.get_weights(), weights):
        np.testing.assert_array_equal(got, expected)
    assert int(restored.optimizer.iterations.numpy()) == iterations
    assert plateau_again.get_state() == plateau_state
    assert restored._initial_epoch == 2
    assert [p.name for p in (tmp_path / "backup").glob("epoch-*.weights.h5")] != []


def test_remove_deletes_the_backup(tmp_path):
    x, y = _data()
    backup = RunBackup(tmp_path / "backup", 2, print_fn=lambda *a, **k: None)
    _model().fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[backup])
    assert backup.read_state()["epoch"] == 2  # kept after fit: the caller removes it once its results are written
    backup.remove()
    assert not (tmp_path / "backup").exists()


def test_the_state_names_the_code_that_trained_each_stretch_of_epochs(tmp_path):
    x, y = _data()
    quiet = dict(print_fn=lambda *a, **k: None)
    first = RunBackup(tmp_path / "backup", 4, code_version="aaa", **quiet)
    _model().fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[first])
    again = RunBackup(tmp_path / "backup", 4, code_version="aaa", **quiet)  # resumed on the same code
    _model().fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[again])
    newer = RunBackup(tmp_path / "backup", 4, code_version="bbb", **quiet)  # resumed on newer code
    _model().fit(x, y, epochs=4, batch_size=8, verbose=0, callbacks=[newer])
    assert newer.read_state()["segments"] == [
        {"first_epoch": 1, "git_commit": "aaa"},
        {"first_epoch": 4, "git_commit": "bbb"},
    ]
    state = newer.read_state()
    del state["segments"]  # a state written before segments were recorded
    files.atomic_write_json(tmp_path / "backup" / "state.json", state)
    older = RunBackup(tmp_path / "backup", 5, code_version="ccc", **quiet)
    _model().fit(x, y, epochs=5, batch_size=8, verbose=0, callbacks=[older])
    assert older.segments == [{"first_epoch": 1, "git_commit": None}, {"first_epoch": 5, "git_commit": "ccc"}]
