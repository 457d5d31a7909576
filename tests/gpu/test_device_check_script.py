"""scripts/device_check.sh on a machine without a GPU: it skips the GPU parts cleanly and says so."""

import json
import os
import subprocess
import sys

import pytest
import tensorflow as tf

from tests.conftest import REPO_ROOT


@pytest.mark.skipif(bool(tf.config.list_physical_devices("GPU")), reason="a GPU is present: run the script itself")
def test_without_a_gpu_the_script_skips_and_prints_its_summary(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "OUT": str(tmp_path)}
    result = subprocess.run(["bash", str(REPO_ROOT / "scripts" / "device_check.sh")], capture_output=True,
                            text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "No GPU: the GPU tests were skipped" in result.stdout
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["gpus"] == 0 and "skipped" in summary["gpu_tests"] and "images_per_s_float32" not in summary
