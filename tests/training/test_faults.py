"""The fault matrix: a kill -9, Ctrl-C or full disk at any moment of a run loses no finished epoch.

Each case stops a ``--deterministic`` run at one moment (``tests.training.faults``), checks what it left
(files, message), resumes it, and compares the result with the same run uninterrupted: every weight, every
``epochs.csv`` value but the timings, and the final metrics are equal.
"""

import contextlib
import csv
import errno
import json
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_nmf.cli import train as train_cli
from keras_nmf.training import TrainConfig, train
from keras_nmf.errors import RunWriteError
from tests.conftest import LOAD_RUN_LOCK_ALONE, REPO_ROOT
from tests.image_folders import make_image_folder
from tests.training import faults

EPOCHS = 2


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp("images"), per_class=(6, 2))


def _flags(image_folder, logdir):
    return [
        "--arch",
        "cnn",
        "--deterministic",
        "--seed",
        "5",
        "--data-dir",
        str(image_folder),
        "--logdir",
        str(logdir),
        "--epochs",
        str(EPOCHS),
        "--steps-per-epoch",
        "2",
        "--batch-size",
        "4",
        "--bn-recalibration-batches",
        "2",
        "--plateau-patience",
        "0",
        "--verbose",
        "0",
    ]


def _config(image_folder, logdir, **changes):
    from keras_nmf.training import parse_config

    config, _ = parse_config(_flags(image_folder, logdir))
    return TrainConfig.of(**{**config.to_dict(), **changes})


def _history(logdir):
    with open(logdir / "epochs.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [{key: value for key, value in row.items() if key != "seconds"} for row in rows]


def _outcome(logdir):
    results = json.loads((logdir / "results.json").read_text())
    weights = keras.models.load_model(logdir / "model.keras").get_weights()
    return results, weights, _history(logdir)


@pytest.fixture(scope="module")
def uninterrupted(image_folder, tmp_path_factory):
    logdir = tmp_path_factory.mktemp("reference") / "run"
    train(_config(image_folder, logdir))
    return _outcome(logdir)


def _assert_same_run(logdir, uninterrupted):
    results, weights, history = _outcome(logdir)
    expected_results, expected_weights, expected_history = uninterrupted
    assert len(weights) == len(expected_weights)
    for got, expected in zip(weights, expected_weights):
        np.testing.assert_array_equal(got, expected)
    assert history == expected_history  # every epoch once, in order, with the same numbers
    for key in ("test_accuracy", "test_loss", "final_train_loss", "epochs_run", "stopped_by_lr_floor"):
        assert results[key] == expected_results[key], key
    assert results["epochs_run"] == EPOCHS
    assert (
        results["train_seconds"]
        >= sum(float(row["seconds"]) for row in csv.DictReader(open(logdir / "epochs.csv"))) - 1e-6
    )
    assert not (logdir / "backup").exists()
    assert not list(logdir.glob(".*.tmp*"))
    # The last logged test accuracy is the final one: both use the recalibrated BatchNorm statistics.
    assert float(history[-1]["test_accuracy"]) == results["test_accuracy"]


def _saved_epochs_after(point):
    return {"mid_epoch": 1, "before_commit": 1, "after_commit": 2}.get(point, EPOCHS)


def _check_left_behind(logdir, point):
    assert not (logdir / "results.json").exists()
    state = json.loads((logdir / "backup" / "state.json").read_text())
    assert state["epoch"] == _saved_epochs_after(point)
    rows = _history(logdir)
    assert [int(row["epoch"]) for row in rows] == list(range(1, len(rows) + 1))  # no gap, no duplicate
    if (logdir / "model.keras").exists():
        keras.models.load_model(logdir / "model.keras")  # never a truncated model file


def _resume(image_folder, logdir):
    return train(_config(image_folder, logdir, resume=True), given={"resume", "logdir"})


@pytest.mark.slow
@pytest.mark.parametrize("point", faults.STOP_POINTS)
def test_ctrl_c_at_any_moment_resumes_to_the_uninterrupted_run(point, image_folder, tmp_path, uninterrupted, capsys):
    logdir = tmp_path / "run"

    def interrupt():
        raise KeyboardInterrupt

    with faults.injected(point, interrupt) as callbacks, pytest.raises(KeyboardInterrupt):
        train(_config(image_folder, logdir), extra_callbacks=callbacks)
    message = capsys.readouterr().out
    _check_left_behind(logdir, point)
    saved = _saved_epochs_after(point)
    if saved == EPOCHS:
        assert f"Training had finished (epoch {EPOCHS} is saved" in message
        assert "evaluates and saves it without training" in message
    else:
        assert f"Epoch {saved} is the last one saved; continue with:" in message
    assert f"--resume --logdir {logdir}" in message
    _resume(image_folder, logdir)
    _assert_same_run(logdir, uninterrupted)


@pytest.mark.slow
@pytest.mark.parametrize("point", faults.DISK_POINTS)
def test_a_full_disk_is_a_clear_error_and_the_run_resumes(point, image_folder, tmp_path, uninterrupted, capsys):
    logdir = tmp_path / "run"
    with faults.injected(point, faults.disk_full) as callbacks, pytest.raises(RunWriteError) as raised:
        train(_config(image_folder, logdir), extra_callbacks=callbacks)
    assert raised.value.errno == errno.ENOSPC
    message = capsys.readouterr().err
    written = "epoch-00002.weights.h5" if point == "full_disk_backup" else "model.keras"
    assert f"Could not write {logdir}" in message and written in message and "the disk is full" in message
    assert ("Epoch 1 is the last one saved" if point == "full_disk_backup" else "Training had finished") in message
    _check_left_behind(logdir, "mid_epoch" if point == "full_disk_backup" else point)
    assert not (logdir / "model.keras").exists()
    _resume(image_folder, logdir)
    _assert_same_run(logdir, uninterrupted)


def _mount_small_tmpfs(folder, size):
    folder.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, text=True
    )
    return result.returncode == 0


@pytest.mark.slow
def test_a_really_full_disk_at_a_backup(image_folder, tmp_path, capsys):
    """On a small tmpfs (where this machine allows a mount): the disk fills up for real during epoch 2."""
    disk = tmp_path / "disk"
    if not _mount_small_tmpfs(disk, "16m"):
        pytest.skip("cannot mount a tmpfs here (needs root); the patched full-disk cases cover the logic")
    try:
        logdir = disk / "run"

        class FillTheDisk(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                if epoch == 1:
                    with open(disk / "filler", "wb") as handle:
                        try:
                            while True:
                                handle.write(b"\0" * 65536)
                        except OSError:
                            pass

        with pytest.raises(RunWriteError, match="the disk is full"):
            train(_config(image_folder, logdir), extra_callbacks=[FillTheDisk()])
        assert "Epoch 1 is the last one saved" in capsys.readouterr().err
        assert json.loads((logdir / "backup" / "state.json").read_text())["epoch"] == 1
        (disk / "filler").unlink()
        results = _resume(image_folder, logdir)
        assert results["epochs_run"] == EPOCHS
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


@pytest.mark.parametrize("existing", [False, True], ids=["new-run", "run-in-the-directory"])
def test_a_second_process_on_a_run_directory_is_refused_naming_the_holder(image_folder, tmp_path, existing):
    """Named as a live run whatever the directory holds (not "pass --resume" for one with a config.json)."""
    from keras_nmf.errors import RunLockedError
    from keras_nmf.files import RunLock

    logdir = tmp_path / "run"
    if existing:
        logdir.mkdir()
        (logdir / "config.json").write_text(json.dumps(TrainConfig().to_dict()))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            LOAD_RUN_LOCK_ALONE + f"RunLock({str(logdir)!r}).acquire_or_raise(); "
            "print('locked', flush=True); import time; time.sleep(60)",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunLockedError, match=rf"{logdir} is being trained by process {holder.pid}"):
            train(_config(image_folder, logdir))
        assert logdir.exists() == existing  # refused before anything was written
    finally:
        holder.kill()
        holder.wait()
    assert RunLock(logdir).acquire()  # a killed holder leaves no stale lock
    RunLock(logdir).release()


@pytest.mark.slow
def test_a_fixed_budget_schedule_continues_exactly_after_ctrl_c(image_folder, tmp_path_factory, capsys):
    """Ctrl-C in epoch 2 of a --schedule run, then --resume: the schedule goes on from the saved step counter, so
    every weight and logged number equals the uninterrupted run's, and the logged rates are the schedule's.

    One schedule: each is a function of the optimizer's step counter alone (tests/training/test_schedules.py pins
    every schedule's rates and its serialisation with the optimizer), so what a resume must restore is that counter,
    the same for all of them. wsd has all three phases (warm-up, hold, decay)."""
    from keras_nmf.schedules import fixed_budget_schedule

    schedule = "wsd"
    changes = dict(schedule=schedule, plateau_patience=10, warmup_fraction=0.25, peak_lr_factor=2.0, decay_fraction=0.5)
    reference = tmp_path_factory.mktemp(f"{schedule}-reference") / "run"
    config = _config(image_folder, reference, **changes)
    train(config)
    uninterrupted = _outcome(reference)

    logdir = tmp_path_factory.mktemp(f"{schedule}-stopped") / "run"

    def interrupt():
        raise KeyboardInterrupt

    with faults.injected("mid_epoch", interrupt) as callbacks, pytest.raises(KeyboardInterrupt):
        train(_config(image_folder, logdir, **changes), extra_callbacks=callbacks)
    assert "Epoch 1 is the last one saved" in capsys.readouterr().out
    train(_config(image_folder, logdir, resume=True, **changes), given={"resume", "logdir"})
    _assert_same_run(logdir, uninterrupted)

    steps_per_epoch = 2
    shape = config.optimisation
    expected = fixed_budget_schedule(
        schedule,
        config.budget.lr,
        EPOCHS,
        steps_per_epoch,
        shape.peak_lr_factor,
        shape.warmup_fraction,
        shape.decay_fraction,
    )
    logged = [float(row["learning_rate"]) for row in _history(logdir)]  # the rate of the next step, at epoch end
    assert logged == pytest.approx([float(expected(steps_per_epoch * (epoch + 1))) for epoch in range(EPOCHS)])
    assert json.loads((logdir / "results.json").read_text())["stopped_by_lr_floor"] is False


@pytest.mark.slow
def test_a_lost_state_file_falls_back_to_the_previous_epoch_and_says_so(image_folder, tmp_path, uninterrupted, capsys):
    """state.json deleted after epoch 2's commit: --resume goes back to state.previous.json (epoch 1), trains epoch
    2 again and ends as the uninterrupted run; nothing of the backup was deleted before it was restored from."""
    logdir = tmp_path / "run"

    def interrupt():
        raise KeyboardInterrupt

    with faults.injected("after_commit", interrupt) as callbacks, pytest.raises(KeyboardInterrupt):
        train(_config(image_folder, logdir), extra_callbacks=callbacks)
    (logdir / "backup" / "state.json").unlink()
    capsys.readouterr()
    _resume(image_folder, logdir)
    out = capsys.readouterr().out
    assert "state.json is missing; going back to the state before it" in out and "(epoch 1)" in out
    assert "Restored the backup of epoch 1" in out
    _assert_same_run(logdir, uninterrupted)


@pytest.mark.slow
def test_backup_weights_changed_after_their_commit_are_refused(image_folder, tmp_path):
    """A finite but foreign value (a BatchNorm gamma of 1e30) written into the backup's weights fails the checksum
    that state.json holds, instead of being restored silently."""
    import h5py

    logdir = tmp_path / "run"

    def interrupt():
        raise KeyboardInterrupt

    with faults.injected("mid_epoch", interrupt) as callbacks, pytest.raises(KeyboardInterrupt):
        train(_config(image_folder, logdir), extra_callbacks=callbacks)
    weights = logdir / "backup" / "epoch-00001.weights.h5"
    with h5py.File(weights, "r+") as handle:
        gammas = []
        handle.visititems(
            lambda name, item: (
                gammas.append(item) if isinstance(item, h5py.Dataset) and "batch_normalization" in name else None
            )
        )
        gammas[0][...] = 1e30
    from keras_nmf.errors import RunFileError

    with pytest.raises(RunFileError, match="does not match the checksum its state recorded"):
        _resume(image_folder, logdir)
    assert weights.exists()  # refused, not deleted


#: train.py's main with a callback that fills the disk at the start of epoch 2, leaving argv[1] bytes free: less
#: than the backup's weights file needs, so the disk fills while that file is written.
_FILL_DURING_THE_BACKUP = """
import os, sys
import keras_nmf, keras
from keras_nmf.cli import train as cli
from keras_nmf.training import run

disk, left, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]

class FillTheDisk(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            status = os.statvfs(disk)
            with open(os.path.join(disk, "filler"), "wb") as handle:
                handle.write(b"\\0" * max(0, status.f_bavail * status.f_frsize - left))

real = run.train  # main() takes train() from keras_nmf.training.run once its flags are parsed
run.train = lambda config, **kwargs: real(config, extra_callbacks=[FillTheDisk()], **kwargs)
sys.exit(cli.main(argv))
"""


@pytest.mark.slow
def test_a_disk_that_fills_while_the_weights_are_written_exits_4_without_a_crash(image_folder, tmp_path, capsys):
    """On a real small tmpfs: the disk fills in the middle of epoch 2's weights file (h5py's writer used to leave
    that file open, print tracebacks and crash with a segfault at exit); then a disk full from the start (the lock
    file). Both end with exit 4, the message and nothing else."""
    disk = tmp_path / "disk"
    if not _mount_small_tmpfs(disk, "24m"):
        pytest.skip("cannot mount a tmpfs here (needs root); the patched full-disk cases cover the logic")
    try:
        flags = [
            "--arch",
            "cnmf_1x1",
            "--iterations",
            "2",
            "--data-dir",
            str(image_folder),
            "--epochs",
            "2",
            "--steps-per-epoch",
            "1",
            "--batch-size",
            "4",
            "--bn-recalibration-batches",
            "1",
            "--verbose",
            "0",
            "--no-nmf-diagnostics",
        ]
        result = subprocess.run(
            [sys.executable, "-c", _FILL_DURING_THE_BACKUP, str(disk), "700000", *flags, "--logdir", str(disk / "run")],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 4, result.stderr[-3000:]
        assert "epoch-00002.weights.h5: the disk is full. Epoch 1 is the last one saved" in result.stderr
        assert "Traceback" not in result.stderr and "h5py" not in result.stderr
        assert json.loads((disk / "run" / "backup" / "state.json").read_text())["epoch"] == 1

        with contextlib.suppress(OSError), open(disk / "filler-2", "wb", buffering=0) as handle:  # the rest of it
            while True:
                handle.write(b"\0" * 65536)
        capsys.readouterr()
        code = train_cli.main([*flags, "--logdir", str(disk / "new")])  # refused before any file: in this process
        stderr = capsys.readouterr().err
        assert code == 4, stderr[-3000:]
        assert (
            f"Could not write {disk / '.new.lock'}, the run's lock: the disk is full. Nothing was trained" in stderr
            and "Traceback" not in stderr
        )
        assert not (disk / "new").exists()
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
