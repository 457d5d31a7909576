"""What long experiments need: a NaN stops the run resumably, and --deterministic reproduces weights."""

import sys

import keras
import numpy as np
import pytest

from keras_nmf.training import TrainConfig, parse_config, train
from keras_nmf.training.callbacks import NonFiniteLossError
from tests.image_folders import make_image_folder


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp("images"), per_class=(6, 2))


class _PoisonSecondEpoch(keras.callbacks.Callback):
    """Sets one weight to NaN before the second batch of the second epoch (a poisoned step)."""

    def on_train_batch_begin(self, batch, logs=None):
        if self._epoch == 1 and batch == 1:
            kernel = self.model.get_layer("block4_conv").kernel
            kernel.assign(np.full(kernel.shape, np.nan, "float32"))

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch


@pytest.mark.slow
def test_a_nan_loss_stops_the_run_and_leaves_the_last_good_epoch_resumable(image_folder, tmp_path, capsys):
    logdir = tmp_path / "run"
    config = TrainConfig.of(
        arch="cnn",
        data_dir=str(image_folder),
        logdir=str(logdir),
        epochs=3,
        steps_per_epoch=3,
        batch_size=4,
        bn_recalibration_batches=1,
        verbose=0,
    )
    with pytest.raises(NonFiniteLossError, match=r"Non-finite training loss \(nan\) at batch 2 in epoch 2"):
        train(config, extra_callbacks=[_PoisonSecondEpoch()])
    message = capsys.readouterr().out
    assert f"The backup of epoch 1 in {logdir / 'backup'} is the last good state" in message
    command = f"{sys.executable} -m keras_nmf.cli.train --resume --logdir {logdir} --lr 0.0001 --kxk-lr 0.001"
    assert command in message  # the interpreter that ran it (a .venv that is not activated works)
    assert not (logdir / "model.keras").exists() and not (logdir / "results.json").exists()

    # The command the message names works, and its lowered rates take effect in the resumed run.
    seen = _LearningRateAtStart()
    config, given = parse_config(command.split()[3:] + ["--verbose", "0"])
    results = train(config, extra_callbacks=[seen], given=given)
    assert seen.rate == pytest.approx(1e-4) and results["config"]["lr"] == pytest.approx(1e-4)
    assert results["config"]["kxk_lr"] == pytest.approx(1e-3)
    assert np.isfinite(results["test_loss"]) and results["epochs_run"] == 3
    epochs = (logdir / "epochs.csv").read_text().splitlines()[1:]
    assert [row.split(",")[0] for row in epochs] == ["1", "2", "3"]  # resumed after epoch 1, no NaN row
    model = keras.models.load_model(logdir / "model.keras")
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())


class _LearningRateAtStart(keras.callbacks.Callback):
    """Records the base learning rate when training starts (after the backup's restore)."""

    def on_train_begin(self, logs=None):
        self.rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))


# Two --deterministic runs in separate processes end bit-identical: the kill -9 matrix of
# tests/training/test_faults_kill.py checks exactly that (a resumed process against the uninterrupted run).


class _StopAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise KeyboardInterrupt  # as a Ctrl-C after epoch 1's backup


def _interrupted_run(image_folder, logdir):
    config = TrainConfig.of(
        arch="cnn",
        data_dir=str(image_folder),
        logdir=str(logdir),
        epochs=2,
        steps_per_epoch=2,
        batch_size=4,
        bn_recalibration_batches=1,
        verbose=0,
        seed=3,
    )
    with pytest.raises(KeyboardInterrupt):
        train(config, extra_callbacks=[_StopAfterFirstEpoch()])
    assert (logdir / "backup" / "state.json").exists() and not (logdir / "results.json").exists()
    return config


@pytest.mark.parametrize("edit", ["changed", "removed"])
def test_an_edited_seed_in_an_interrupted_runs_config_is_refused(image_folder, tmp_path, edit):
    import json

    from keras_nmf.errors import ConfigError

    logdir = tmp_path / "run"
    _interrupted_run(image_folder, logdir)
    saved = json.loads((logdir / "config.json").read_text())
    if edit == "changed":
        saved["seed"] = 5
    else:
        saved.pop("seed")  # a removed field takes its default, 0
    (logdir / "config.json").write_text(json.dumps(saved))
    config, given = parse_config(["--resume", "--logdir", str(logdir), "--verbose", "0"])
    with pytest.raises(ConfigError, match=r"config.json was edited.*--seed \(saved 3, now [05]\)"):
        train(config, given=given)


def test_a_resume_without_a_backup_says_it_starts_from_epoch_1(image_folder, tmp_path, capsys):
    import shutil

    logdir = tmp_path / "run"
    _interrupted_run(image_folder, logdir)
    shutil.rmtree(logdir / "backup")
    config, given = parse_config(["--resume", "--logdir", str(logdir), "--verbose", "0"])
    capsys.readouterr()
    results = train(config, given=given)
    out = capsys.readouterr().out
    assert "It has no backup state (backup/state.json)" in out and "training starts from epoch 1" in out
    assert results["epochs_run"] == 2
