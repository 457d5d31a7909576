"""scripts/train.py end to end on a generated image folder: run, reload, resume, errors."""

import contextlib
import io
import json
import types

import keras
import numpy as np
import pytest

from keras_nmf.data import load_dataset
from keras_nmf.training import TrainConfig, train
from keras_nmf.training.evaluate import evaluate_saved_model
from tests.image_folders import make_image_folder

from keras_nmf.cli import train as train_script

QUICK = ["--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "4", "--verbose", "0"]
#: NMF-only flags: refused with a CNN arch.
NMF_QUICK = ["--iterations", "2", "--nmf-chunk-elements", "4096", "--no-jit"]  # XLA compiles for a minute here


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp("images"), per_class=(6, 2))


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["cnn", "cnmf_1x1"])
def test_train_writes_results_and_a_reloadable_model(arch, image_folder, tmp_path):
    logdir = tmp_path / "run"
    # One image per NMF chunk: fit runs the chunked one-step backward.
    code = train_script.main(
        [
            "--arch",
            arch,
            "--data-dir",
            str(image_folder),
            "--logdir",
            str(logdir),
            *QUICK,
            *(NMF_QUICK if arch.startswith("cnmf") else []),
        ]
    )
    assert code == 0
    results = json.loads((logdir / "results.json").read_text())
    assert np.isfinite(results["test_loss"]) and 0.0 <= results["test_accuracy"] <= 1.0
    assert results["epochs_run"] == 1 and results["config"]["arch"] == arch
    assert results["parameters"]["trainable"] == results["parameters"]["nmf"] + results["parameters"]["cnn"]
    assert {keras.backend.backend(), "keras"} <= set(results["versions"])
    assert (logdir / "images").is_dir() and any(logdir.glob("train/events.*"))
    model = keras.models.load_model(logdir / "model.keras")
    data = load_dataset(data_dir=image_folder, batch_size=4, verbose=False)
    images = np.concatenate([data.test[i][0] for i in range(len(data.test))])  # raw uint8: the model crops
    np.testing.assert_allclose(model.predict(images, verbose=0).sum(-1), 1.0, rtol=1e-5)
    evaluated = evaluate_saved_model(logdir / "model.keras", data_dir=image_folder)
    assert evaluated["test_accuracy"] == pytest.approx(results["test_accuracy"])


class _InterruptAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            raise KeyboardInterrupt


class _InterruptAtFirstBatch(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        raise KeyboardInterrupt


def _interrupted_run(image_folder, logdir, interrupt):
    """A two-epoch cnn run stopped by ``interrupt`` (a Ctrl-C inside fit)."""
    config = TrainConfig.of(
        arch="cnn", data_dir=str(image_folder), logdir=str(logdir), epochs=2, steps_per_epoch=2, batch_size=4, verbose=0
    )
    with pytest.raises(KeyboardInterrupt):
        train(config, extra_callbacks=[interrupt])


@pytest.mark.slow
def test_resume_continues_at_the_next_epoch(image_folder, tmp_path, capsys):
    logdir = tmp_path / "run"
    _interrupted_run(image_folder, logdir, _InterruptAfterFirstEpoch())
    assert "Epoch 1 is the last one saved" in capsys.readouterr().out
    assert not (logdir / "results.json").exists()
    results = train(TrainConfig.of(resume=True, logdir=str(logdir), verbose=0))
    epochs = (logdir / "epochs.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in epochs[1:]] == ["1", "2"]  # epoch 2 ran once, after epoch 1
    assert results["epochs_run"] == 2
    assert "epoch    2/2" in capsys.readouterr().out


@pytest.mark.slow
def test_learning_rate_floor_stops_training(image_folder, tmp_path):
    config = TrainConfig.of(
        arch="cnn",
        data_dir=str(image_folder),
        logdir=str(tmp_path / "run"),
        epochs=5,
        steps_per_epoch=1,
        batch_size=4,
        lr=1e-11,
        kxk_lr=1e-10,
        verbose=0,
    )
    results = train(config)
    assert results["epochs_run"] == 1 and results["stopped_by_lr_floor"]


def _run_main(*args):
    """scripts/train.py's main() in this process: its exit status and output, without a new TensorFlow start."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            returncode = train_script.main(list(args))
        except SystemExit as exit_:  # argparse
            returncode = exit_.code
    return types.SimpleNamespace(returncode=returncode, stdout=stdout.getvalue(), stderr=stderr.getvalue())


def test_cli_errors_are_clear(tmp_path, image_folder):
    unknown = _run_main("--arch", "resnet")
    assert unknown.returncode == 2 and "invalid choice: 'resnet'" in unknown.stderr
    flag = _run_main("--no-such-flag")
    assert flag.returncode == 2 and "unrecognized arguments: --no-such-flag" in flag.stderr
    missing = _run_main("--data-dir", str(tmp_path / "missing"), "--logdir", str(tmp_path / "r1"))
    assert missing.returncode == 2 and "Data directory not found" in missing.stderr
    empty = tmp_path / "empty"
    (empty / "test" / "cat").mkdir(parents=True)
    no_train = _run_main("--data-dir", str(empty), "--logdir", str(tmp_path / "r2"))
    assert no_train.returncode == 2 and "has no 'train/' folder" in no_train.stderr
    assert not (tmp_path / "r2").exists()  # nothing written before the data loads
    monitor = _run_main("--monitor", "val_loss")
    assert monitor.returncode == 2 and "--val-split" in monitor.stderr
    chunks = _run_main("--nmf-chunk-elements", "-1")
    assert chunks.returncode == 2 and "--nmf-chunk-elements must be >= 0" in chunks.stderr


def test_help_is_the_manual():
    result = _run_main("--help")
    assert result.returncode == 0
    for flag in ("--arch", "--width", "--nmf-groups", "--resume", "--jit", "--precision", "--kxk-lr"):
        assert flag in result.stdout


def test_existing_run_directory_is_not_overwritten(image_folder, tmp_path):
    logdir = tmp_path / "run"
    logdir.mkdir()
    (logdir / "config.json").write_text(json.dumps(TrainConfig().to_dict()))
    with pytest.raises(FileExistsError, match="holds an unfinished run: pass --resume to continue it"):
        train(TrainConfig.of(data_dir=str(image_folder), logdir=str(logdir)))


def test_a_finished_run_is_neither_overwritten_nor_sent_round_in_a_loop(image_folder, tmp_path):
    """Without --resume the finished run's directory is refused, and so is --resume: both say what to do instead."""
    logdir = tmp_path / "run"
    logdir.mkdir()
    (logdir / "config.json").write_text(json.dumps(TrainConfig().to_dict()))
    (logdir / "results.json").write_text("{}")
    with pytest.raises(FileExistsError, match="holds a finished run .*pass another --logdir") as new_run:
        train(TrainConfig.of(data_dir=str(image_folder), logdir=str(logdir)))
    assert "pass --resume" not in str(new_run.value)
    with pytest.raises(
        FileExistsError, match="already finished .*start a new run with another --logdir and the --epochs you want"
    ):
        train(
            TrainConfig.of(data_dir=str(image_folder), logdir=str(logdir), resume=True, epochs=600),
            given={"resume", "logdir", "epochs"},
        )


@pytest.mark.slow
def test_evaluate_script_reproduces_results_json_on_the_runs_own_test_subset(image_folder, tmp_path, capsys):
    from keras_nmf.cli import evaluate as evaluate_script

    logdir = tmp_path / "run"
    assert (
        train_script.main(
            [
                "--arch",
                "cnn",
                "--data-dir",
                str(image_folder),
                "--logdir",
                str(logdir),
                "--limit-train",
                "10",
                "--limit-test",
                "4",
                "--seed",
                "3",
                *QUICK,
            ]
        )
        == 0
    )
    results = json.loads((logdir / "results.json").read_text())
    capsys.readouterr()
    for target in (logdir / "model.keras", logdir):  # the file, or the run directory that holds it
        assert evaluate_script.main([str(target)]) == 0
        printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert printed["test_size"] == 4 == results["data"]["test_size"]
        assert printed["test_accuracy"] == pytest.approx(results["test_accuracy"])
        assert printed["test_loss"] == pytest.approx(results["test_loss"], rel=1e-5)
    assert evaluate_script.main([str(logdir), "--flip-tta"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["test_accuracy"] == pytest.approx(results["test_accuracy"])
    assert printed["test_accuracy_flip_tta"] in {k / 4 for k in range(5)}  # 4 images, each right or wrong


def test_evaluate_script_on_a_folder_says_what_it_lacks(tmp_path, capsys):
    from keras_nmf.cli import evaluate as evaluate_script

    assert evaluate_script.main([str(tmp_path)]) == 2
    assert "is a folder without a run" in capsys.readouterr().err
    (tmp_path / "config.json").write_text(json.dumps(TrainConfig().to_dict()))
    assert evaluate_script.main([str(tmp_path)]) == 2
    assert (
        f"has not finished: it has no model.keras yet. Finish it with keras-nmf-train --resume --logdir {tmp_path}"
        in capsys.readouterr().err
    )


def test_evaluate_script_says_when_a_file_is_not_a_keras_model(tmp_path, capsys):
    from keras_nmf.cli import evaluate as evaluate_script

    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a model")
    assert evaluate_script.main([str(text_file)]) == 2
    assert "is not a .keras file" in capsys.readouterr().err


@pytest.mark.slow
def test_ctrl_c_before_any_epoch_says_so_and_resume_refuses_a_changed_recipe(image_folder, tmp_path, capsys):
    from keras_nmf.training.config import ConfigError

    logdir = tmp_path / "run"
    _interrupted_run(image_folder, logdir, _InterruptAtFirstBatch())
    out = capsys.readouterr().out
    assert "No epoch had finished, so none was saved; --resume starts from epoch 1" in out
    assert "last one saved" not in out
    with pytest.raises(ConfigError, match=r"these flags cannot change: --arch \(saved 'cnn', given 'cnmf'\)"):
        train(
            TrainConfig.of(resume=True, logdir=str(logdir), arch="cnmf", verbose=0),
            given={"resume", "logdir", "arch", "verbose"},
        )


def test_the_data_path_is_saved_absolute_and_a_relative_one_still_resumes(tmp_path, monkeypatch):
    """config.json names the data from anywhere (keras-nmf-evaluate in another folder); a run saved with a relative
    --data-dir, resumed from the same folder with the same flag, is not refused as a change of data."""
    from keras_nmf.training.run_dir import RunDir

    monkeypatch.chdir(tmp_path)
    prepared = RunDir.prepare(TrainConfig.of(data_dir="images", logdir="run"), given={"data_dir", "logdir"})
    assert prepared.config.data.data_dir == str(tmp_path / "images")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text(json.dumps(TrainConfig.of(data_dir="images", logdir="run").to_dict()))
    resumed = RunDir.prepare(
        TrainConfig.of(data_dir="images", logdir="run", resume=True), given={"data_dir", "logdir", "resume"}
    )
    assert resumed.config.data.data_dir == str(tmp_path / "images") and resumed.changes == {}


def test_evaluate_takes_a_preset_and_states_its_calibration(image_folder, tmp_path, capsys):
    import json

    from keras_nmf.cli import evaluate as evaluate_script
    from keras_nmf.models import ImageClassifier, PaperNetwork

    classifier = ImageClassifier(PaperNetwork("cnn", num_classes=3), class_names=["a", "b", "c"], temperature=2.0)
    classifier.save_to_preset(tmp_path / "preset")
    assert evaluate_script.main([str(tmp_path / "preset"), "--data-dir", str(image_folder)]) == 0
    out = capsys.readouterr().out
    results = json.loads(out.strip().splitlines()[-1])
    assert results["test_size"] == 6 and 0 <= results["test_ece"] <= 1 and "calibration error" in out
    assert evaluate_script.main(["no_such_preset_or_file"]) == 2
    assert "no_such_preset_or_file" in capsys.readouterr().err
