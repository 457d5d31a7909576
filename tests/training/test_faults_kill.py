"""The fault matrix under kill -9: a child process kills itself at each moment; the run resumes to the same end.

A module of its own so that pytest-xdist runs it beside the Ctrl-C and full-disk cases of ``test_faults.py``.
"""

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT
from tests.training import faults
from tests.training.test_faults import (  # noqa: F401, F811  (the fixtures are used by name)
    _assert_same_run, _check_left_behind, _flags, _resume, image_folder, uninterrupted,
)


@pytest.mark.slow
@pytest.mark.parametrize("point", faults.STOP_POINTS)
def test_kill_9_at_any_moment_resumes_to_the_uninterrupted_run(point, image_folder, tmp_path, uninterrupted):
    logdir = tmp_path / "run"
    command = [sys.executable, "-m", "tests.training.faults", point, "--", *_flags(image_folder, logdir)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=REPO_ROOT,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == -9, result.stderr[-2000:]
    _check_left_behind(logdir, point)
    _resume(image_folder, logdir)
    _assert_same_run(logdir, uninterrupted)
