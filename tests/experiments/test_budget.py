"""The budget campaign (keras_nmf.experiments.budget, keras-nmf-budget): its plan, its order, its report, and its
records on a new machine."""

import csv
import json
import subprocess
import sys

import keras
import pytest

from keras_nmf.cli import budget as budget_command
from keras_nmf.errors import ConfigError
from keras_nmf.experiments.budget import branch_epoch, plan_budget, run_budget
from keras_nmf.experiments.budget_records import export_budget, restore_budget
from keras_nmf.experiments.budget_report import ordering_verdicts, with_direct
from keras_nmf.training import TrainConfig
from keras_nmf.training.branches import KeptStates
from tests.conftest import LOAD_RUN_LOCK_ALONE
from tests.image_folders import make_image_folder

QUICK = [
    "--steps-per-epoch",
    "2",
    "--batch-size",
    "4",
    "--bn-recalibration-batches",
    "1",
    "--verbose",
    "0",
    "--decay-fraction",
    "0.5",
]


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp("images"), per_class=(6, 2))


def _base(**fields):
    return TrainConfig.of(schedule="wsd", **fields)


def test_the_plan_is_a_stable_trunk_and_a_branch_per_budget(tmp_path):
    runs = plan_budget(_base(eval_every=2), ["cnmf_1x1", "cnn_1x1"], [0], [80, 20, 40], tmp_path)
    assert [run.name for run in runs] == [
        "cnmf_1x1-seed0-trunk",
        "cnmf_1x1-seed0-e20",
        "cnmf_1x1-seed0-e40",
        "cnmf_1x1-seed0-e80",
        "cnn_1x1-seed0-trunk",
        "cnn_1x1-seed0-e20",
        "cnn_1x1-seed0-e40",
        "cnn_1x1-seed0-e80",
    ]
    trunk = runs[0].config
    assert (trunk.budget.epochs, trunk.optimisation.decay_fraction, trunk.execution.keep_epochs) == (
        64,
        0.0,
        "16,32,64",
    )
    assert trunk.execution.eval_every == 2 and runs[0].is_trunk and runs[0].ready
    branch = runs[2]
    assert (branch.budget, branch.branch_epoch, branch.config.budget.epochs) == (40, 32, 40)
    assert branch.config.optimisation.branch_from == str((tmp_path / "cnmf_1x1-seed0-trunk").resolve())
    assert branch.config.optimisation.decay_fraction == 0.2 and not branch.ready  # the trunk kept nothing yet


@pytest.mark.parametrize(
    "base, budgets, message",
    [
        (TrainConfig.of(), [20], "branches a --schedule wsd trunk; the base is --schedule plateau"),
        (_base(), [21], "decays from epoch 16.8: a branch starts from a whole epoch"),
        (_base(warmup_fraction=0.05), [20], "would not share their warm-up with the trunk"),
        (_base(decay_fraction=0.0), [20], "leaves the branches without a decay"),
    ],
)
def test_a_plan_that_cannot_branch_is_refused(base, budgets, message, tmp_path):
    with pytest.raises(ConfigError, match=message):
        plan_budget(base, ["cnn"], [0], budgets, tmp_path)


def test_branch_epochs_of_the_recipes_budgets():
    assert [branch_epoch(budget, 0.2) for budget in (20, 40, 80, 25)] == [16, 32, 64, 20]


def _fake_train(calls):
    """A train() that only writes what a run leaves: results.json, and a trunk's kept states."""

    def train(config, given=None, extra_callbacks=()):
        run = pathlib_of(config)
        calls.append(run.name)
        run.mkdir(parents=True, exist_ok=True)
        config.save(run / "config.json")
        for epoch in (int(text) for text in (config.execution.keep_epochs or "").split(",") if text):
            (run / "kept").mkdir(exist_ok=True)
            (run / "kept" / f"epoch-{epoch:05d}.json").write_text("{}")
        (run / "results.json").write_text("{}")

    return train


def pathlib_of(config):
    import pathlib

    return pathlib.Path(config.execution.logdir)


def test_runs_go_in_the_plans_order_and_a_branch_waits_for_a_trunk_held_elsewhere(tmp_path):
    runs = plan_budget(_base(decay_fraction=0.25), ["cnn"], [0], [4, 8], tmp_path)
    trunk_dir = runs[0].run_dir
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            LOAD_RUN_LOCK_ALONE
            + (f"import time; RunLock({str(trunk_dir)!r}).acquire(); print('held', flush=True); time.sleep(60)"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        calls, waits, messages = [], [], []

        def sleep(seconds):  # meanwhile the other process keeps epoch 3 (the 4-epoch budget's branch point)
            waits.append(seconds)
            if len(waits) == 1:
                (trunk_dir / "kept").mkdir(parents=True)
                (trunk_dir / "kept" / "epoch-00003.json").write_text("{}")
            else:
                holder.kill()
                holder.wait()

        counts = run_budget(
            runs,
            print_fn=lambda text, **_: messages.append(text),
            train_fn=_fake_train(calls),
            poll_seconds=5,
            sleep=sleep,
        )
    finally:
        holder.kill()
    assert "Waiting for a branch point: cnn-seed0-e4 needs epoch 3, cnn-seed0-e8 needs epoch 6" in messages[0]
    # The 4-epoch branch as soon as its point was kept; the trunk once its holder was gone; then the last branch.
    assert calls == ["cnn-seed0-e4", "cnn-seed0-trunk", "cnn-seed0-e8"]
    assert counts == {"trained": 3, "resumed": 0, "failed": 0} and waits == [5, 5]


def test_a_ready_branch_goes_before_any_trunk(tmp_path):
    runs = plan_budget(_base(decay_fraction=0.25), ["cnn", "cnn_1x1"], [0], [4], tmp_path)
    (runs[0].run_dir / "kept").mkdir(parents=True)  # the cnn trunk, unfinished, kept the branch point already
    (runs[0].run_dir / "kept" / "epoch-00003.json").write_text("{}")
    calls = []
    run_budget(runs, print_fn=lambda *_, **__: None, train_fn=_fake_train(calls))
    assert calls == ["cnn-seed0-e4", "cnn-seed0-trunk", "cnn_1x1-seed0-trunk", "cnn_1x1-seed0-e4"]


@pytest.mark.slow
def test_the_campaign_trains_reports_and_resumes_from_its_records_on_a_new_machine(image_folder, tmp_path, capsys):
    out = tmp_path / "campaign"
    argv = ["--archs", "cnn", "--budgets", "2", "4", "--out", str(out), "--data-dir", str(image_folder), *QUICK]

    class _StopTheTrunkAfterItsFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt

    # A first sitting: the trunk trains epoch 1 (the 2-epoch budget's branch point), and the machine goes.
    config = plan_budget(
        TrainConfig.of(
            schedule="wsd",
            data_dir=str(image_folder),
            steps_per_epoch=2,
            batch_size=4,
            bn_recalibration_batches=1,
            verbose=0,
            decay_fraction=0.5,
        ),
        ["cnn"],
        [0],
        [2, 4],
        out,
    )[0].config
    from keras_nmf.training import train

    with pytest.raises(KeyboardInterrupt):
        train(config, extra_callbacks=[_StopTheTrunkAfterItsFirstEpoch()])
    records = tmp_path / "records"
    copied = export_budget(out, records)
    assert copied == {
        "finished": [],
        "resume_points": {"cnn-seed0-trunk": 1},
        "branch_points": {"cnn-seed0-trunk": [1]},
    }
    saved = json.loads((records / "run_records" / "cnn-seed0-trunk" / "config.json").read_text())
    assert saved["logdir"] == "cnn-seed0-trunk" and not saved["data_dir"].startswith("/")
    for state in ("backup/state.json", "kept/epoch-00001.json"):  # the recipes the states record: no machine path
        assert str(tmp_path) not in (records / "run_records" / "cnn-seed0-trunk" / state).read_text(), state

    # A new machine: the records restored into an empty folder, and the same command goes on from them.
    new_out = tmp_path / "new_machine"
    assert restore_budget(records, new_out) == ["cnn-seed0-trunk"]
    capsys.readouterr()
    argv[argv.index(str(out))] = str(new_out)
    assert budget_command.main(argv) == 0
    output = capsys.readouterr().out
    assert "Restored the backup of epoch 1: training goes on with epoch 2." in output
    assert KeptStates(new_out / "cnn-seed0-trunk").epochs() == [1, 2]
    with open(new_out / "summary.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["budget_epochs"], row["branch_epoch"]) for row in rows] == [("2", "1"), ("4", "2")]
    assert all(0 <= float(row["test_accuracy"]) <= 100 for row in rows)
    assert (new_out / "budget.png").stat().st_size and (new_out / "learning_curves.png").stat().st_size
    branch = json.loads((new_out / "cnn-seed0-e4" / "config.json").read_text())
    assert (branch["branch_from"], branch["branch_epoch"]) == (str(new_out / "cnn-seed0-trunk"), 2)
    assert budget_command.main(argv) == 0 and "Budget runs done here: {'trained': 0" in capsys.readouterr().out

    # Exported again, the finished runs keep no resume point (the trunk's of epoch 1 was stale) and no machine path.
    assert export_budget(new_out, records)["resume_points"] == {}
    assert not list((records / "run_records").glob("*/backup"))
    results = json.loads((records / "run_records" / "cnn-seed0-e4" / "results.json").read_text())
    assert results["data"]["source"] == results["config"]["data_dir"] and not results["data"]["source"].startswith("/")
    assert results["config"]["branch_from"] == "cnn-seed0-trunk"


def test_the_report_sets_branches_beside_direct_runs_and_the_papers_ordering():
    rows = [
        {"network": "cnmf_1x1", "seed": 0, "budget_epochs": 20, "test_accuracy": 79.0},
        {"network": "cnn_1x1", "seed": 0, "budget_epochs": 20, "test_accuracy": 75.0},
        {"network": "cnn_1x1", "seed": 0, "budget_epochs": 40, "test_accuracy": 78.0},
        {"network": "cnn", "seed": 0, "budget_epochs": 40, "test_accuracy": 79.0},
    ]
    joined = with_direct(rows, [{"network": "cnmf_1x1", "seed": 0, "budget_epochs": 20, "test_accuracy": 79.21}])
    assert (joined[0]["direct_accuracy"], joined[0]["branch_minus_direct"]) == (79.21, -0.21)
    assert joined[1]["direct_accuracy"] is None
    assert ordering_verdicts(rows) == [
        "- 20 epochs: `cnmf_1x1` 79.00 > `cnn_1x1` 75.00 %: the paper's ordering.",
        "- 40 epochs: `cnn` 79.00 > `cnn_1x1` 78.00 %: not the paper's ordering (`cnn_1x1` > `cnn`).",
    ]


def test_budget_flags_that_the_plan_sets_are_refused(capsys):
    with pytest.raises(SystemExit):
        budget_command.parse_args(["--out", "x", "--epochs", "5"])
    assert (
        "--epochs is not accepted here: each branch's epochs are its budget; use --budgets" in capsys.readouterr().err
    )
