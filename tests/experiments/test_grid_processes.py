"""compare.py --processes: one grid shared by several processes, each run trained once, one report."""

import csv
import json
import sys

import pytest

from keras_nmf import backend
from keras_nmf.cli import compare
from keras_nmf.experiments.processes import run_in_processes
from tests.backend import BACKEND, jax_only
from tests.image_folders import make_image_folder

ECHO_ENVIRONMENT = [sys.executable, "-c", "import os; print(os.environ['A'], os.environ['B']); print('done')"]


def test_every_copy_runs_with_the_defaults_under_the_callers_environment(monkeypatch):
    monkeypatch.setenv("A", "caller")
    monkeypatch.delenv("B", raising=False)
    lines = []
    codes = run_in_processes(
        ECHO_ENVIRONMENT, 3, {"A": "default", "B": "default"}, print_fn=lambda line, flush: lines.append(line)
    )
    assert codes == [0, 0, 0]
    assert sorted(lines) == sorted(f"[p{k}] {text}" for k in (1, 2, 3) for text in ("caller default", "done"))


def test_a_failing_copy_gives_its_exit_code():
    codes = run_in_processes([sys.executable, "-c", "raise SystemExit(3)"], 2, print_fn=lambda *a, **k: None)
    assert codes == [3, 3]


def test_the_backends_let_processes_share_a_gpu():
    assert isinstance(backend.SHARED_DEVICE_ENVIRONMENT, dict)
    if BACKEND == "jax":
        assert backend.SHARED_DEVICE_ENVIRONMENT == {"XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
    if BACKEND == "tensorflow":
        assert backend.SHARED_DEVICE_ENVIRONMENT == {"TF_FORCE_GPU_ALLOW_GROWTH": "true"}


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--processes", "0"], "--processes must be at least 1"),
        (["--processes", "2", "--summary-only"], "--summary-only trains nothing"),
        pytest.param(
            ["--processes", "2", "--distribute", "data_parallel"],
            "every process would take every device",
            marks=jax_only,
        ),  # the one strategy that compare.py takes (TensorFlow's are refused before)
    ],
)
def test_processes_that_cannot_take_effect_are_refused(flags, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        compare.main(["--out", str(tmp_path / "grid"), *flags])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "grid").exists()


@pytest.mark.slow
@pytest.mark.skipif(
    BACKEND != "jax",
    reason="starts 2 training processes: run from the JAX suite (make test), "
    "where a process starts in a third of TensorFlow's time",
)
def test_two_processes_share_a_grid_each_run_trained_once(tmp_path, capsys):
    images = make_image_folder(tmp_path / "images", per_class=(6, 2))
    out = tmp_path / "grid"
    argv = [
        "--archs",
        "cnn",
        "--seeds",
        "0",
        "1",
        "2",
        "--out",
        str(out),
        "--data-dir",
        str(images),
        "--epochs",
        "1",
        "--steps-per-epoch",
        "2",
        "--batch-size",
        "4",
        "--bn-recalibration-batches",
        "1",
        "--verbose",
        "0",
        "--processes",
        "2",
    ]
    assert compare.main(argv) == 0
    printed = capsys.readouterr().out
    assert "3 runs planned, 3 to train, 2 at a time in their own processes." in printed
    trained = [line for line in printed.splitlines() if "] training cnn-seed" in line]
    assert len(trained) == 3 and {line[:4] for line in trained} == {"[p1]", "[p2]"}, printed
    assert sorted(line.split("training ")[1].split()[0] for line in trained) == ["cnn-seed0", "cnn-seed1", "cnn-seed2"]
    with open(out / "summary.csv", newline="") as handle:
        assert sorted(row["seed"] for row in csv.DictReader(handle)) == ["0", "1", "2"]
    for seed in (0, 1, 2):
        assert json.loads((out / f"cnn-seed{seed}" / "results.json").read_text())["epochs_run"] == 1

    assert compare.main(argv) == 0  # nothing left: trained in this process, no copies started
    assert "3 runs planned: 3 finished, 0 to train." in capsys.readouterr().out


def test_without_matplotlib_the_grid_is_refused_before_any_training(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.delitem(sys.modules, "keras_nmf.experiments.plots", raising=False)
    assert compare.main(["--archs", "cnn", "--seeds", "0", "--out", str(tmp_path / "grid")]) == 2
    assert "pip install matplotlib" in capsys.readouterr().err
    assert not (tmp_path / "grid").exists()
