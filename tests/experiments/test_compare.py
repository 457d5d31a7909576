"""scripts/compare.py on a generated image folder: the grid, its report, skipping, resuming, errors."""

import csv
import pathlib
import json

import keras
import pytest

from keras_nmf.experiments import BASE_VARIANT, ConfigMismatchError, parse_variant, plan_grid, run_grid
from keras_nmf.models import build_model, count_parameters
from keras_nmf.training import TrainConfig
from tests.image_folders import make_image_folder

from keras_nmf.cli import compare

QUICK = [
    "--epochs",
    "1",
    "--steps-per-epoch",
    "2",
    "--batch-size",
    "4",
    "--iterations",
    "2",
    "--bn-recalibration-batches",
    "1",
    "--no-jit",
    "--verbose",
    "0",
]


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp("images"), per_class=(6, 2))


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_grid_report_and_rerun(image_folder, tmp_path, capsys):
    out = tmp_path / "grid"
    argv = ["--archs", "cnn", "cnmf", "--seeds", "0", "1", "--out", str(out), "--data-dir", str(image_folder), *QUICK]
    assert compare.main(argv) == 0
    rows = _rows(out / "summary.csv")
    assert sorted((row["arch"], row["seed"]) for row in rows) == [
        ("cnmf", "0"),
        ("cnmf", "1"),
        ("cnn", "0"),
        ("cnn", "1"),
    ]
    for row in rows:
        expected = count_parameters(build_model(row["arch"], input_shape=(28, 28, 3), num_classes=3))
        assert (int(row["parameters_total"]), int(row["parameters_nmf"]), int(row["parameters_cnn"])) == (
            expected["trainable"],
            expected["nmf"],
            expected["cnn"],
        )
        assert row["variant"] == "base" and row["epochs"] == "1" and 0 <= float(row["test_accuracy"]) <= 1
    assert (out / "figure5.png").stat().st_size > 0 and (out / "learning_curves.png").stat().st_size > 0
    assert "| cnn | base |" in (out / "summary.md").read_text()
    assert "[run 4/4] training cnmf-seed1" in capsys.readouterr().out

    finished = {path: path.stat().st_mtime_ns for path in out.glob("*/results.json")}
    assert compare.main(argv) == 0
    assert "4 runs planned: 4 finished, 0 to train." in capsys.readouterr().out
    assert {path: path.stat().st_mtime_ns for path in out.glob("*/results.json")} == finished

    changed = [*argv, "--kxk-lr", "0.02"]
    assert compare.main(changed) == 2
    error = capsys.readouterr().err
    assert "already holds a run with another configuration" in error and "--kxk-lr (saved 0.01, given 0.02)" in error


class _InterruptOnce(keras.callbacks.Callback):
    """Ctrl-C at the end of the first epoch of the first run it sees."""

    fired = False

    def on_epoch_end(self, epoch, logs=None):
        if not _InterruptOnce.fired:
            _InterruptOnce.fired = True
            raise KeyboardInterrupt


@pytest.mark.slow
def test_an_interrupted_run_is_resumed_not_restarted(image_folder, tmp_path):
    base = TrainConfig.of(
        data_dir=str(image_folder),
        epochs=2,
        steps_per_epoch=2,
        batch_size=4,
        iterations=2,
        bn_recalibration_batches=1,
        jit=False,
        verbose=0,
    )
    out = tmp_path / "grid"
    with pytest.raises(KeyboardInterrupt):
        run_grid(plan_grid(base, ["cnn"], [0, 1], [BASE_VARIANT], out), extra_callbacks=[_InterruptOnce()])
    assert (out / "cnn-seed0" / "config.json").exists() and not (out / "cnn-seed0" / "results.json").exists()
    assert not (out / "cnn-seed1").exists()

    counts = run_grid(plan_grid(base, ["cnn"], [0, 1], [BASE_VARIANT], out))
    assert counts == {"trained": 1, "resumed": 1, "skipped_finished": 0, "skipped_locked": 0, "failed": 0, "damaged": 0}
    epochs = (out / "cnn-seed0" / "epochs.csv").read_text().splitlines()[1:]
    assert [row.split(",")[0] for row in epochs] == ["1", "2"]  # epoch 1 kept, epoch 2 ran once
    assert json.loads((out / "cnn-seed0" / "results.json").read_text())["epochs_run"] == 2


def test_plan_names_runs_by_variant_and_checks_saved_configs(tmp_path):
    local = parse_variant("local:learning=local")
    runs = plan_grid(TrainConfig.of(epochs=3), ["cnmf_1x1", "cnmf"], [0, 1], [BASE_VARIANT, local], tmp_path)
    assert [run.name for run in runs[:4]] == [
        "cnmf_1x1-seed0",
        "cnmf-seed0",
        "cnmf_1x1-local-seed0",
        "cnmf-local-seed0",
    ]
    assert runs[3].config.model.learning == "local" and runs[3].config.execution.variant == "local"
    assert runs[0].config.model.learning == "backprop" and runs[0].status == "new"
    with pytest.raises(ValueError, match="--learning applies to the NMF archs"):
        plan_grid(TrainConfig(), ["cnn"], [0], [local], tmp_path)  # a variant that changes nothing for a CNN
    # A base flag of one arch family takes effect in that family's runs only.
    mixed = plan_grid(TrainConfig.of(iterations=5), ["cnn", "cnmf"], [0], [BASE_VARIANT], tmp_path / "mixed")
    assert [run.config.model.iterations for run in mixed] == [20, 5]

    runs[0].run_dir.mkdir(parents=True)
    TrainConfig.of(**{**runs[0].config.to_dict(), "epochs": 5}).save(runs[0].run_dir / "config.json")
    # --resume's rule: epochs may change
    plan_grid(TrainConfig.of(epochs=3), ["cnmf_1x1"], [0], [BASE_VARIANT], tmp_path)
    TrainConfig.of(**{**runs[0].config.to_dict(), "width": 2}).save(runs[0].run_dir / "config.json")
    with pytest.raises(ConfigMismatchError, match=r"--width \(saved 2, given 1\)"):
        plan_grid(TrainConfig.of(epochs=3), ["cnmf_1x1"], [0], [BASE_VARIANT], tmp_path)
    with pytest.raises(ValueError, match="labels must be unique"):
        plan_grid(TrainConfig(), ["cnn"], [0], [local, local], tmp_path)


def test_reserved_and_bad_flags_are_clear_errors(capsys):
    for argv, message in [
        (["--out", "x", "--arch", "cnn"], "--arch is not accepted here: compare.py sets it per run; use --archs"),
        (["--out", "x", "--seed", "3"], "--seed is not accepted here: compare.py sets it per run; use --seeds"),
        (["--out", "x", "--variant", "local:nmf_learning=local"], "unknown field 'nmf_learning'"),
        (["--out", "x", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
        (["--out", "x", "--distribute", "mirrored", "--no-jit"], "--distribute mirrored is not accepted here"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            compare.parse_args(argv)
        assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_summary_only_without_runs_says_so(tmp_path, capsys):
    assert compare.main(["--out", str(tmp_path), "--summary-only"]) == 2
    assert "No finished run" in capsys.readouterr().err


@pytest.mark.parametrize(
    "variants, message",
    [
        (["--variant", "a:iterations=3", "--variant", "a:iterations=4"], "labels must be unique"),
        (["--variant", "bias:cnn_kxk_bias=true"], "--cnn-kxk-bias applies to the CNN archs"),
    ],
)
def test_variant_errors_exit_2_before_any_data_loads(variants, message, tmp_path, capsys):
    argv = [
        "--archs",
        "cnmf",
        "--seeds",
        "0",
        "--out",
        str(tmp_path / "grid"),
        "--data-dir",
        str(tmp_path / "no-such-data"),
        *variants,
    ]
    assert compare.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Data directory not found" not in err


def _results(arch):
    """A finished run's results.json, as small as the reports accept."""
    return {
        "arch": arch,
        "test_accuracy": 0.5,
        "test_loss": 1.0,
        "train_seconds": 3.0,
        "epochs_run": 1,
        "config": {"seed": 0, "backward": "approx", "learning": "backprop"},
        "parameters": {"trainable": 1, "nmf": 0, "cnn": 1},
        "data": {"train_size": 4, "test_size": 2},
        "precision": "float32",
    }


def test_the_cost_table_reads_the_updates_and_epoch_times_of_nmf_runs(tmp_path):
    from keras_nmf.experiments.nmf_cost import write_cost_table

    for name, arch, tolerance, updates in (
        ("a", "cnmf_1x1", None, 20.0),
        ("b", "cnmf_1x1", 0.01, 7.0),
        ("c", "cnn", None, None),
    ):
        run = tmp_path / name
        run.mkdir()
        config = {"arch": arch, "variant": name, "seed": 0, "iterations": 20, "tolerance": tolerance}
        (run / "results.json").write_text(json.dumps({**_results(arch), "config": config}))
        columns = "epoch,seconds" + (",block1_cnmf_iterations,block2_cnmf_iterations" if updates else "")
        values = "1,30.0" + (f",{updates},{updates + 2}" if updates else "")
        (run / "epochs.csv").write_text(f"{columns}\n1,99.0{values[6:]}\n{values.replace('1,', '2,', 1)}\n")
    rows = write_cost_table(tmp_path)
    assert [(row["run"], row["mean_updates"], row["epoch_seconds"]) for row in rows] == [
        ("a", 21.0, 30.0),
        ("b", 8.0, 30.0),
    ]
    assert "| b | kl | 20 | 0.01 | 8.0 | 30 | 50.0 | 1 |" in (tmp_path / "nmf_cost.md").read_text()


def test_the_paper_has_no_number_for_another_divergence_or_a_tolerance():
    from keras_nmf.experiments.summary import paper_accuracy

    assert paper_accuracy("cnmf_1x1", {"backward": "approx", "learning": "backprop"}) == 83.7
    assert paper_accuracy("cnmf_1x1", {"backward": "approx", "divergence": "frobenius"}) is None
    assert (
        paper_accuracy("cnmf_1x1", {"backward": "approx", "nmf_divergence": "frobenius"}) is None
    )  # an earlier record
    assert paper_accuracy("cnmf_1x1", {"backward": "approx", "h0": "trainable"}) is None
    assert paper_accuracy("cnmf_1x1", {"backward": "approx", "tolerance": 0.01}) is None


def test_the_summary_states_each_runs_learning_rate_schedule():
    from keras_nmf.experiments.summary import schedule_text
    from keras_nmf.training import TrainConfig

    assert schedule_text({"seed": 0}) == "plateau (the paper's)"  # a run saved before --schedule existed
    assert schedule_text(TrainConfig().to_dict()) == "plateau (the paper's)"
    assert schedule_text(TrainConfig.of(schedule="wsd", decay_fraction=0.25).to_dict()) == (
        "wsd, peak 1x, warm-up 0%, decay 25%"
    )
    assert schedule_text(TrainConfig.of(schedule="cosine", peak_lr_factor=2, warmup_fraction=0.05).to_dict()) == (
        "cosine, peak 2x, warm-up 5%"
    )


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda results: {**results, "test_accuracy": "abc"}, "has test_accuracy = 'abc', not a finite number"),
        (lambda results: {**results, "test_accuracy": float("nan")}, "has test_accuracy = nan, not a finite number"),
        (lambda results: {**results, "test_accuracy": 7.0}, "outside [0, 1]"),
        (lambda results: {key: value for key, value in results.items() if key != "data"}, "lacks its data"),
        (None, "is not valid JSON"),
    ],
)
def test_a_bad_results_file_is_named_with_the_fix(tmp_path, capsys, damage, message):
    from keras_nmf.cli import compare

    results = _results("cnn")
    run = tmp_path / "cnn-seed0"
    run.mkdir()
    text = json.dumps(results)
    (run / "results.json").write_text(text[:40] if damage is None else json.dumps(damage(results)))
    assert compare.main(["--out", str(tmp_path), "--summary-only"]) == 2
    error = capsys.readouterr().err
    assert f"{run / 'results.json'} (a finished run's results)" in error and message in error
    assert "rerun the command that trained it" in error


def test_the_summary_reads_right_for_one_seed_and_names_no_machine_path(tmp_path):
    from keras_nmf.experiments.summary import collect_rows, summarize, write_markdown

    grid = tmp_path / "some" / "grid"
    (grid / "cnn-seed0").mkdir(parents=True)
    (grid / "cnn-seed0" / "results.json").write_text(json.dumps(_results("cnn")))
    write_markdown(summarize(collect_rows(grid)), tmp_path / "summary.md", grid)
    text = (tmp_path / "summary.md").read_text()
    assert "Rebuilt from 1 finished run directory of the grid `grid`" in text and str(tmp_path) not in text
    assert "| 1 (0) | 50.0 | 81.0 |" in text and "±" not in text.split("|---|")[-1]


def test_compare_prints_one_seed_without_a_spread(tmp_path, capsys):
    (tmp_path / "cnn-seed0").mkdir()
    (tmp_path / "cnn-seed0" / "results.json").write_text(json.dumps(_results("cnn")))
    (tmp_path / "cnn-seed0" / "epochs.csv").write_text("epoch,seconds,test_accuracy\n1,3.0,0.5\n")
    assert compare.main(["--out", str(tmp_path), "--summary-only"]) == 0
    assert "cnn base       50.0 % (1 run)" in capsys.readouterr().out


def test_the_time_left_counts_each_finished_runs_start_up_and_epochs(tmp_path, capsys):
    """The estimate is the runs' measured time, data loading included: 20 s of epochs + 25 s of start-up each."""

    def train(config, extra_callbacks, given):
        run = tmp_path / "grid" / pathlib.Path(config.execution.logdir).name
        run.mkdir(parents=True)
        (run / "results.json").write_text(
            json.dumps({**_results("cnn"), "train_seconds": 20.0, "startup_seconds_this_session": 25.0})
        )
        (run / "model.keras").write_bytes(b"a model")

    runs = plan_grid(TrainConfig.of(verbose=0), ["cnn"], [0, 1, 2], [BASE_VARIANT], tmp_path / "grid")
    run_grid(runs, train_fn=train)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[run")]
    assert [line.split("estimated ")[1] for line in lines] == ["unknown until a run finishes", "~2 min", "~45 s"]


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda run: (run / "model.keras").unlink(), "has results.json but no model.keras"),
        (lambda run: (run / "results.json").write_text('{"arch": "cn'), "results.json"),
    ],
)
def test_a_finished_run_with_damaged_files_is_named_and_not_counted_finished(tmp_path, capsys, damage, message):
    trained = []

    def train(config, extra_callbacks, given):
        run = pathlib.Path(config.execution.logdir)
        run.mkdir(parents=True)
        (run / "results.json").write_text(json.dumps(_results("cnn")))
        (run / "model.keras").write_bytes(b"a model")
        trained.append(run.name)

    runs = plan_grid(TrainConfig.of(verbose=0), ["cnn"], [0, 1], [BASE_VARIANT], tmp_path / "grid")
    run_grid(runs, train_fn=train)
    damage(tmp_path / "grid" / "cnn-seed0")
    counts = run_grid(runs, train_fn=train)
    assert counts["damaged"] == 1 and counts["skipped_finished"] == 1 and trained == ["cnn-seed0", "cnn-seed1"]
    assert [run.status for run in runs] == ["damaged", "finished"]
    out = capsys.readouterr().out
    assert "[run 1/2] cnn-seed0: " in out and message in out
