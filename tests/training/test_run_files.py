"""Run files: atomic writes, the run lock, and every corrupt file refused with a message that says what to do."""

import json
import re
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_nmf.training import TrainConfig
from keras_nmf.training.backup import PREVIOUS_STATE_FILE, STATE_FILE, RunBackup
from keras_nmf.training.plateau import ResumableReduceLROnPlateau
from keras_nmf.errors import RunFileError, RunWriteError
from keras_nmf.files import RunLock, atomic_save, atomic_write_text, read_json
from keras_nmf.training.run_files import load_keras_model
from tests.conftest import LOAD_RUN_LOCK_ALONE

EPOCHS = 3


def _model():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss="mse")
    return model


def _backup(folder, model=None):
    plateau = ResumableReduceLROnPlateau(monitor="loss", patience=1, verbose=0)
    backup = RunBackup(folder, EPOCHS, stateful={"plateau": plateau}, print_fn=lambda *a, **k: None)
    if model is not None:
        backup.set_model(model)
        plateau.set_model(model)
    return backup, plateau


@pytest.fixture
def two_epochs(tmp_path):
    """A backup folder after two committed epochs (state.json of epoch 2, state.previous.json of epoch 1)."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 4)).astype("float32"), rng.normal(size=(16, 1)).astype("float32")
    backup, plateau = _backup(tmp_path / "backup")
    _model().fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[plateau, backup])
    return tmp_path / "backup"


def test_two_commits_keep_the_previous_state_and_both_weight_files(two_epochs):
    assert json.loads((two_epochs / STATE_FILE).read_text())["epoch"] == 2
    assert json.loads((two_epochs / PREVIOUS_STATE_FILE).read_text())["epoch"] == 1
    assert sorted(p.name for p in two_epochs.glob("*.weights.h5")) == [
        "epoch-00001.weights.h5",
        "epoch-00002.weights.h5",
    ]


def _edit_state(folder, **changes):
    state = json.loads((folder / STATE_FILE).read_text())
    state.update(changes)
    (folder / STATE_FILE).write_text(json.dumps(state))


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda f: (f / STATE_FILE).write_text('{"epoch": 2, "weig'), "is not valid JSON"),
        (lambda f: (f / STATE_FILE).write_text(""), "is empty"),
        (lambda f: _edit_state(f, epoch=99), "its epoch is 99, not a finished epoch of this run (1 to 3;"),
        (lambda f: _edit_state(f, epoch=-5), "its epoch is -5"),
        (lambda f: _edit_state(f, weights="../../elsewhere.weights.h5"), "is not an epoch-NNNNN.weights.h5 file"),
        (lambda f: _edit_state(f, callbacks={}), "it lacks the state of plateau"),
        (lambda f: _edit_state(f, history=[]), "its history does not hold epochs 1 to 2"),
        (lambda f: (f / "epoch-00002.weights.h5").unlink(), "is missing"),
    ],
)
def test_a_corrupt_state_names_the_file_and_the_intact_previous_state(two_epochs, damage, message):
    damage(two_epochs)
    with pytest.raises(RunFileError) as error:
        _backup(two_epochs)[0].read_state()
    text = str(error.value)
    assert str(two_epochs / STATE_FILE) in text and message in text
    assert (
        f"The state of epoch 1 is intact: to go back to it, replace {two_epochs / STATE_FILE} by "
        f"{two_epochs / PREVIOUS_STATE_FILE}" in text
    )


def test_without_an_intact_state_the_fix_is_a_new_run_directory(two_epochs):
    (two_epochs / STATE_FILE).write_text("{")
    (two_epochs / PREVIOUS_STATE_FILE).write_text("{")
    with pytest.raises(RunFileError, match="No intact backup state is left: start a new run with another --logdir"):
        _backup(two_epochs)[0].read_state()


def _without_checksum(backup_dir):
    """The state as a backup written before the weights' checksum existed holds it."""
    path = backup_dir / STATE_FILE
    state = json.loads(path.read_text())
    del state["weights_sha256"]
    path.write_text(json.dumps(state))


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda path: path.write_bytes(path.read_bytes()[:200]), "cannot be loaded"),
        (lambda path: path.write_bytes(b"random bytes" * 100), "cannot be loaded"),
    ],
)
@pytest.mark.parametrize("checksum", [True, False])
def test_broken_backup_weights_are_refused_on_restore(two_epochs, damage, message, checksum):
    damage(two_epochs / "epoch-00002.weights.h5")
    if checksum:
        message = "does not match the checksum its state recorded"
    else:
        _without_checksum(two_epochs)
    backup, _ = _backup(two_epochs, _model())
    with pytest.raises(RunFileError, match=message):
        backup.restore()


def test_nan_weights_in_a_backup_are_refused_on_restore(two_epochs):
    _without_checksum(two_epochs)  # (with it, any rewrite fails the checksum first)
    model = _model()
    model.load_weights(two_epochs / "epoch-00002.weights.h5")
    model.layers[0].kernel.assign(np.full((4, 3), np.nan, "float32"))
    model.save_weights(two_epochs / "epoch-00002.weights.h5")
    backup, _ = _backup(two_epochs, _model())
    with pytest.raises(RunFileError, match="holds NaN/Inf values"):
        backup.restore()


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("batch_size", True, "--batch-size must be an integer. Received: True (bool)"),
        ("epochs", 3.0, "--epochs must be an integer. Received: 3.0 (float)"),
        ("lr", "0.1", "--lr must be a number. Received: '0.1' (str)"),
        ("jit", 1, "--jit must be true or false. Received: 1 (int)"),
        ("arch", 5, "--arch must be a string"),
    ],
)
def test_config_json_fields_are_checked_by_type(tmp_path, field, value, message):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**TrainConfig().to_dict(), field: value}))
    with pytest.raises(RunFileError, match=re.escape(message)):
        TrainConfig.load(path)


def test_a_path_object_is_taken_as_its_text(tmp_path):
    config = TrainConfig.of(data_dir=tmp_path, logdir=tmp_path / "run")
    assert (config.data.data_dir, config.execution.logdir) == (str(tmp_path), str(tmp_path / "run"))


def test_config_json_truncated_or_with_unknown_fields_is_refused(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(TrainConfig().to_dict())[:50])
    with pytest.raises(RunFileError, match=r"config.json \(the run's configuration\) is not valid JSON"):
        TrainConfig.load(path)
    path.write_text(json.dumps({**TrainConfig().to_dict(), "learning_rate": 1}))
    with pytest.raises(RunFileError, match="has unknown fields: learning_rate"):
        TrainConfig.load(path)
    path.write_text(json.dumps({**TrainConfig().to_dict(), "epochs": -1}))
    with pytest.raises(RunFileError, match="--epochs must be >= 1"):
        TrainConfig.load(path)


def test_keras_files_byte_flipped_truncated_or_uncompiled_are_refused(tmp_path):
    model = _model()
    model.save(tmp_path / "good.keras")
    data = bytearray((tmp_path / "good.keras").read_bytes())
    (tmp_path / "truncated.keras").write_bytes(data[:1000])
    with pytest.raises(RunFileError, match="not a .keras file .* truncated or corrupt"):
        load_keras_model(tmp_path / "truncated.keras")
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(b ^ 0xFF for b in data[middle : middle + 64])
    (tmp_path / "flipped.keras").write_bytes(data)
    with pytest.raises(RunFileError, match="fails its zip checksum"):
        load_keras_model(tmp_path / "flipped.keras")
    uncompiled = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    uncompiled.save(tmp_path / "uncompiled.keras")
    with pytest.raises(RunFileError, match="saved without its training configuration"):
        load_keras_model(tmp_path / "uncompiled.keras")
    assert load_keras_model(tmp_path / "uncompiled.keras", compile=False) is not None
    with pytest.raises(RunFileError, match="does not exist"):
        load_keras_model(tmp_path / "missing.keras")


def test_atomic_writes_leave_the_old_file_when_the_writer_fails(tmp_path):
    path = tmp_path / "results.json"
    atomic_write_text(path, "old")

    def fails(temporary):
        pathlib.Path(temporary).write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(RunWriteError, match=f"Could not write {path}: the disk is full"):
        atomic_save(path, fails)
    assert path.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]
    with pytest.raises(RunFileError, match="does not exist. Do this."):
        read_json(tmp_path / "missing.json", "a file", "Do this.")


def test_the_lock_is_reentrant_in_one_process_and_exclusive_across_processes(tmp_path):
    run_dir = tmp_path / "run"
    outer, inner = RunLock(run_dir), RunLock(run_dir)
    assert outer.acquire() and inner.acquire()  # a grid locks a run, then train() locks it again
    inner.release()
    probe = [sys.executable, "-c", LOAD_RUN_LOCK_ALONE + f"print(RunLock({str(run_dir)!r}).acquire())"]
    assert subprocess.run(probe, capture_output=True, text=True).stdout.strip() == "False"
    outer.release()
    assert subprocess.run(probe, capture_output=True, text=True).stdout.strip() == "True"
