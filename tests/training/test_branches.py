"""Decay branches of a stable wsd trunk (keras_nmf.training.branches): a branch is its budget's direct run.

Every run is a tiny ``--deterministic`` cnn run (2 steps per epoch), so weights compare bit for bit.
"""

import csv
import json
import re

import keras
import numpy as np
import pytest

from keras_nmf.errors import ConfigError
from keras_nmf.training import TrainConfig, parse_config, train
from keras_nmf.training.branches import KeptStates, next_steps
from keras_nmf.training.config import resume_changes
from tests.image_folders import make_image_folder

#: The direct run's budget and the branch point: with --decay-fraction 0.5, epochs 3-4 decay.
BUDGET, BRANCH_EPOCH, DECAY = 4, 2, 0.5


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp("images"), per_class=(6, 2))


def _common(image_folder):
    return [
        "--deterministic",
        "--seed",
        "5",
        "--data-dir",
        str(image_folder),
        "--steps-per-epoch",
        "2",
        "--batch-size",
        "4",
        "--bn-recalibration-batches",
        "2",
        "--verbose",
        "0",
    ]


def _train(argv, extra_callbacks=()):
    config, given = parse_config(argv)
    return train(config, extra_callbacks=extra_callbacks, given=given)


@pytest.fixture(scope="module")
def trunk(image_folder, tmp_path_factory):
    """A stable trunk of 3 epochs that keeps epochs 1 and 2."""
    logdir = tmp_path_factory.mktemp("trunk") / "trunk"
    _train(
        [
            "--arch",
            "cnn",
            "--schedule",
            "wsd",
            "--decay-fraction",
            "0",
            "--epochs",
            "3",
            "--keep-epochs",
            "1,2",
            "--logdir",
            str(logdir),
            *_common(image_folder),
        ]
    )
    return logdir


@pytest.fixture(scope="module")
def direct(image_folder, tmp_path_factory):
    """The direct run of the branch's budget."""
    logdir = tmp_path_factory.mktemp("direct") / "direct"
    _train(
        [
            "--arch",
            "cnn",
            "--schedule",
            "wsd",
            "--decay-fraction",
            str(DECAY),
            "--epochs",
            str(BUDGET),
            "--logdir",
            str(logdir),
            *_common(image_folder),
        ]
    )
    return logdir


def _branch_argv(trunk, logdir, epoch=BRANCH_EPOCH, *extra):
    return [
        "--branch-from",
        str(trunk),
        "--branch-epoch",
        str(epoch),
        "--epochs",
        str(BUDGET),
        "--decay-fraction",
        str(DECAY),
        "--logdir",
        str(logdir),
        "--verbose",
        "0",
        *extra,
    ]


def _history(logdir):
    with open(logdir / "epochs.csv", newline="") as handle:
        return [{key: value for key, value in row.items() if key != "seconds"} for row in csv.DictReader(handle)]


def _assert_same_run(logdir, expected_logdir):
    weights = keras.models.load_model(logdir / "model.keras").get_weights()
    expected = keras.models.load_model(expected_logdir / "model.keras").get_weights()
    assert len(weights) == len(expected)
    for got, want in zip(weights, expected):
        np.testing.assert_array_equal(got, want)
    assert _history(logdir) == _history(expected_logdir)  # the same rate at every epoch, the same losses
    results = json.loads((logdir / "results.json").read_text())
    expected_results = json.loads((expected_logdir / "results.json").read_text())
    for key in ("test_accuracy", "test_loss", "final_train_loss", "epochs_run"):
        assert results[key] == expected_results[key], key


@pytest.mark.slow
def test_a_branch_equals_the_direct_run_of_its_budget_and_names_its_trunk(trunk, direct, tmp_path, capsys):
    logdir = tmp_path / "branch"
    results = _train(_branch_argv(trunk, logdir))
    out = capsys.readouterr().out
    assert f"Branch of {trunk} at its epoch {BRANCH_EPOCH}" in out
    _assert_same_run(logdir, direct)
    saved = json.loads((logdir / "config.json").read_text())
    assert (saved["branch_from"], saved["branch_epoch"]) == (str(trunk), BRANCH_EPOCH)
    assert (saved["schedule"], saved["decay_fraction"], saved["epochs"]) == ("wsd", DECAY, BUDGET)
    assert saved["keep_epochs"] is None and results["config"]["seed"] == 5  # the trunk's seed, its own kept epochs


@pytest.mark.slow
def test_a_killed_branch_resumes_to_the_direct_run(trunk, direct, tmp_path, capsys):
    logdir = tmp_path / "branch"

    class _StopInLastEpoch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.model.optimizer.iterations.numpy() == 2 * BUDGET - 1:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _train(_branch_argv(trunk, logdir), extra_callbacks=[_StopInLastEpoch()])
    assert "Epoch 3 is the last one saved; continue with:" in capsys.readouterr().out
    _train(["--resume", "--logdir", str(logdir), "--verbose", "0"])
    _assert_same_run(logdir, direct)


@pytest.mark.slow
def test_a_branch_stopped_before_its_seed_committed_seeds_again(trunk, direct, tmp_path):
    logdir = tmp_path / "branch"
    with pytest.raises(KeyboardInterrupt), pytest.MonkeyPatch.context() as patch:

        def stopped(*args, **kwargs):
            raise KeyboardInterrupt

        patch.setattr("keras_nmf.training.branches.seed_backup", stopped)
        _train(_branch_argv(trunk, logdir))
    assert (logdir / "config.json").exists() and not (logdir / "backup" / "state.json").exists()
    _train(["--resume", "--logdir", str(logdir), "--verbose", "0"])
    _assert_same_run(logdir, direct)


def test_the_trunk_kept_its_epochs_and_its_last_and_says_how_to_branch_or_extend(trunk):
    kept = KeptStates(trunk)
    assert kept.epochs() == [1, 2, 3]  # --keep-epochs 1,2, and a stable trunk's last epoch
    assert kept.read(2)["epoch"] == 2 and len(kept.read(2)["history"]) == 2
    assert not (trunk / "backup").exists()  # the backup went with the finish; the kept states stay
    text = next_steps(TrainConfig.load(trunk / "config.json"), trunk, "keras-nmf-train")
    assert "Its kept epochs 1, 2, 3 are branch points" in text
    assert f"--branch-from {trunk} --branch-epoch E --epochs T" in text
    assert f"--branch-from {trunk} --branch-epoch 3 --decay-fraction 0 --epochs 6" in text


@pytest.mark.parametrize(
    "schedule, fragment",
    [
        ("plateau", "start a new run with another --logdir and the --epochs you want"),
        ("cosine", "train a stable trunk (--schedule wsd --decay-fraction 0 --keep-epochs"),
    ],
)
def test_a_finished_run_of_another_schedule_says_how_to_extend_it(schedule, fragment, tmp_path):
    assert fragment in next_steps(TrainConfig.of(arch="cnn", schedule=schedule), tmp_path, "keras-nmf-train")


def test_a_branch_takes_its_trunks_settings_by_default(trunk, tmp_path):
    config, given = parse_config(_branch_argv(trunk, tmp_path / "branch"))
    trunk_config = TrainConfig.load(trunk / "config.json")
    assert config.model == trunk_config.model and config.data == trunk_config.data
    assert (config.model.arch, config.optimisation.seed, config.optimisation.deterministic) == ("cnn", 5, True)
    assert given == {"branch_from", "branch_epoch", "epochs", "decay_fraction", "logdir", "verbose"}
    # Without --decay-fraction, a branch of a stable trunk decays with the recipe's 0.2.
    config, _ = parse_config(["--branch-from", str(trunk), "--branch-epoch", "2", "--epochs", "10"])
    assert config.optimisation.decay_fraction == 0.2


@pytest.mark.parametrize(
    "epoch, extra, message",
    [
        (3, ("--epochs", "4"), "lies in the decay of --epochs 4"),
        (1, ("--alpha", "0.25"), r"these settings must be the trunk's: --alpha \(trunk 0.5, branch 0.25\)"),
        (2, ("--epochs", "2"), "leaves nothing to train in --epochs 2"),
    ],
)
def test_a_branch_that_is_not_its_budgets_run_is_refused_with_the_reason(
    trunk, tmp_path, capsys, epoch, extra, message
):
    logdir = tmp_path / "branch"
    with pytest.raises((SystemExit, ConfigError)) as refused:  # the flags' own rules exit 2; the trunk's raise
        config, given = parse_config([*_branch_argv(trunk, logdir, epoch)[:-2], *extra])
        train(config, given=given)
    assert re.search(message, capsys.readouterr().err if refused.type is SystemExit else str(refused.value))
    assert not logdir.exists()


def test_branching_from_an_epoch_the_trunk_did_not_keep_is_refused_before_anything_is_written(trunk, tmp_path):
    logdir = tmp_path / "branch"
    config, given = parse_config(
        ["--branch-from", str(trunk), "--branch-epoch", "3", "--epochs", "8", "--logdir", str(logdir)]
    )
    (trunk / "kept" / "epoch-00003.json").rename(trunk / "kept" / "epoch-00003.json.aside")
    try:
        with pytest.raises(ConfigError, match=f"{trunk} kept no state of epoch 3: it kept epochs 1, 2"):
            train(config, given=given)
    finally:
        (trunk / "kept" / "epoch-00003.json.aside").rename(trunk / "kept" / "epoch-00003.json")
    assert not logdir.exists()


@pytest.mark.parametrize(
    "schedule, reason",
    [
        ("plateau", "the plateau schedule's rates follow the run's own losses"),
        ("cosine", "cosine's rate at each step depends on the run's --epochs"),
    ],
)
def test_branching_from_a_run_whose_schedule_is_not_wsd_is_refused(schedule, reason, tmp_path, capsys):
    source = tmp_path / "source"
    source.mkdir()
    TrainConfig.of(arch="cnn", schedule=schedule, keep_epochs="1").save(source / "config.json")
    with pytest.raises(SystemExit):
        parse_config(["--branch-from", str(source), "--branch-epoch", "1", "--epochs", "5"])
    error = capsys.readouterr().err
    assert f"that run's schedule is {schedule}, not wsd" in error and reason in error


def test_branching_from_a_folder_without_a_run_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        parse_config(["--branch-from", str(tmp_path), "--branch-epoch", "1", "--epochs", "5"])
    assert f"--branch-from {tmp_path}: no config.json there" in capsys.readouterr().err


def test_a_damaged_kept_state_is_named(trunk, tmp_path):
    from keras_nmf.errors import RunFileError

    copy = tmp_path / "trunk"
    (copy / "kept").mkdir(parents=True)
    for name in ("epoch-00001.json", "epoch-00001.weights.h5"):
        (copy / "kept" / name).write_bytes((trunk / "kept" / name).read_bytes())
    with open(copy / "kept" / "epoch-00001.weights.h5", "r+b") as handle:
        handle.seek(-8, 2)
        handle.write(b"\0" * 8)
    with pytest.raises(RunFileError, match="does not match the checksum its state recorded"):
        KeptStates(copy).read(1)


def test_a_stable_trunk_may_be_extended_on_resume_but_a_decaying_run_may_not():
    trunk = TrainConfig.of(arch="cnn", schedule="wsd", decay_fraction=0.0, epochs=16)
    changes, refused = resume_changes(trunk, trunk.replace(epochs=32), {"epochs"})
    assert changes == {"epochs": (16, 32)} and not refused
    decaying = TrainConfig.of(arch="cnn", schedule="wsd", epochs=16)
    _, refused = resume_changes(decaying, decaying.replace(epochs=32), {"epochs"})
    assert refused and "lays the rates over the saved --epochs" in refused[0]


@pytest.mark.parametrize("text, message", [("16,x", "'x' in '16,x' is not an epoch"), ("0", "'0' in '0'")])
def test_keep_epochs_must_be_epochs(text, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig.of(keep_epochs=text)
    assert TrainConfig.of(keep_epochs=" 32, 16,16").execution.keep_epochs == " 32, 16,16"


def test_branch_from_and_branch_epoch_go_together():
    with pytest.raises(ConfigError, match="--branch-from and --branch-epoch go together"):
        TrainConfig.of(schedule="wsd", branch_epoch=3)
    with pytest.raises(ConfigError, match="--branch-from is a setting of --schedule wsd"):
        TrainConfig.of(branch_from="trunk", branch_epoch=3)
