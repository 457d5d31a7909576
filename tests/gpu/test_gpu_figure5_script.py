"""scripts/gpu_figure5.sh rehearsed on the CPU at seconds' size (in the JAX suite, whose environment has no
TensorFlow, as the lent GPU host has none): the grid in two processes from a data pack, what OUT returns, and the
summary line. The device time allows no second try of a broken script."""

import csv
import json
import os
import subprocess
import sys
import tarfile

import pytest

from keras_nmf.data.image_pack import pack_image_folder
from tests.backend import BACKEND
from tests.conftest import REPO_ROOT
from tests.image_folders import make_image_folder

#: What the device tool returns from OUT: at most 8 files (/work/.library/device/README.md).
RETURNED_FILES = {
    "summary.csv",
    "summary.md",
    "figure5.png",
    "learning_curves.png",
    "runs.tar.gz",
    "reference.json",
    "gpu_figure5.log",
}


@pytest.mark.slow
@pytest.mark.skipif(BACKEND != "jax", reason="the GPU host's path (JAX): run from the JAX suite")
def test_the_device_command_trains_the_grid_from_a_pack_and_returns_its_records(tmp_path):
    pack = tmp_path / "images.npz"
    pack_image_folder(make_image_folder(tmp_path / "images", per_class=(6, 2)), pack)
    out, grid = tmp_path / "out", tmp_path / "grid"
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "OUT": str(out),
        "GRID": str(grid),
        "DATA": str(pack),
        "REFERENCE": str(tmp_path / "no-reference"),
        "ARCHS": "cnn cnmf_1x1",
        "SEEDS": "0",
        "EPOCHS": "1",
        "PROCESSES": "2",
        "TRAIN_SECONDS": "300",
        "JAX_PLATFORMS": "cpu",
        "RUN_FLAGS": "--steps-per-epoch 2 --batch-size 4 --iterations 2 --bn-recalibration-batches 1",
    }
    result = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "gpu_figure5.sh")], capture_output=True, text=True, env=env, timeout=600
    )
    assert result.returncode == 0, result.stdout[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["grid_exit"] == 0 and summary["runs_finished"] == summary["runs_started"] == 2
    assert set(summary["test_accuracy"]) == {"cnn-seed0", "cnmf_1x1-seed0"}
    assert "No copy of the authors' code" in result.stdout and "2 at a time in their own processes" in result.stdout

    returned = {path.name for path in out.iterdir()}
    assert returned <= RETURNED_FILES and len(returned) <= 8, returned
    with open(out / "summary.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(row["run"] for row in rows) == ["cnmf_1x1-seed0", "cnn-seed0"]
    assert {row["schedule"] for row in rows} == {"wsd, peak 1x, warm-up 0%, decay 20%"}  # the CPU table's recipe
    with tarfile.open(out / "runs.tar.gz") as archive:
        names = set(archive.getnames())
    assert {"cnn-seed0/results.json", "cnmf_1x1-seed0/epochs.csv", "cnmf_1x1-seed0/config.json"} <= names
    assert not any(name.endswith(".keras") for name in names)
    assert "training: archs cnn cnmf_1x1, seeds 0, 1 epochs, 2 processes" in (out / "gpu_figure5.log").read_text()
