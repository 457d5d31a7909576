"""--distribute data_parallel: Keras's own DataParallel over the local devices (JAX), checked on two CPU devices.

Run by the JAX suite (make test: in the environment without TensorFlow, as a JAX user has it).
"""

import os
import subprocess
import sys

from tests.backend import jax_only
from tests.conftest import REPO_ROOT


@jax_only
def test_a_data_parallel_step_equals_the_single_device_step():
    env = dict(
        os.environ,
        KERAS_BACKEND="jax",
        JAX_PLATFORMS="cpu",
        XLA_FLAGS=f"{os.environ['XLA_FLAGS']} --xla_force_host_platform_device_count=2",
    )
    result = subprocess.run(
        [sys.executable, "-m", "tests.training.data_parallel_check"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]
