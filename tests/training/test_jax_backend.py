"""On the JAX backend the training stack refuses what only TensorFlow can do and runs the rest compiled."""

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

pytest.importorskip("jax")


def test_the_training_stack_on_jax():
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-m", "tests.training.jax_training_checks"], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]
