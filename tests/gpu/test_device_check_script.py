"""scripts/device_check.sh on a machine without a GPU: the TensorFlow path skips the GPU parts and says so (in the
TensorFlow suite); the JAX path runs end to end at smoke sizes on the CPU (in the JAX suite, whose environment has no
TensorFlow, as the lent GPU machine has none)."""

import json
import os
import subprocess
import sys

import pytest

from tests.backend import BACKEND, gpu_available
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.skipif(gpu_available(), reason="a host without a GPU")


@pytest.mark.skipif(BACKEND != "tensorflow", reason="the TensorFlow path: run from the TensorFlow suite")
def test_without_a_gpu_the_script_skips_and_prints_its_summary(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "OUT": str(tmp_path), "KERAS_BACKEND": "tensorflow"}
    result = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "device_check.sh")], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "No GPU: the GPU tests were skipped" in result.stdout
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["gpus"] == 0 and "skipped" in summary["gpu_tests"] and "images_per_s_float32" not in summary


@pytest.mark.skipif(BACKEND != "jax", reason="the JAX path: run from the JAX suite")
def test_the_jax_path_runs_its_tests_benchmarks_and_epoch_on_the_cpu(tmp_path):
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "OUT": str(tmp_path),
        "KERAS_BACKEND": "jax",
        "DEVICE_CHECK_QUICK": "1",
        "JAX_PLATFORMS": "cpu",
    }
    result = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "device_check.sh")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["backend"] == "jax" and summary["gpus"] == 0 and "skipped" in summary["gpu_tests"]
    steps = summary["train_float32"]
    assert set(steps) == {"cnmf_1x1"} and steps["cnmf_1x1"]["step_vs_iteration_matmuls"] > 0
    assert summary["cnmf_1x1_epoch_float32"]["train_images"] == 40
