"""The fault matrix under kill -9: a child process kills itself; the run resumes to the same end.

A kill leaves on disk what a Ctrl-C at the same moment leaves (``test_faults.py`` stops a run with Ctrl-C at
every moment of ``faults.STOP_POINTS``, in process), but for what a live process still does on its way out: an
interrupted atomic write removes its temporary file, and buffered output is flushed. So a child kills itself at
two moments: in the middle of an epoch (the common case: the process's buffered output is lost), and while the
final model file is being written (its partial temporary file stays behind).

A module of its own so that pytest-xdist runs it beside the Ctrl-C and full-disk cases of ``test_faults.py``.
"""

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT
from tests.training.test_faults import (  # noqa: F401, F811  (the fixtures are used by name)
    _assert_same_run, _check_left_behind, _flags, _resume, image_folder, uninterrupted,
)


@pytest.mark.slow
@pytest.mark.parametrize("point", ("mid_epoch", "during_model_save"))
def test_kill_9_mid_epoch_or_mid_save_resumes_to_the_uninterrupted_run(point, image_folder, tmp_path, uninterrupted):
    logdir = tmp_path / "run"
    command = [sys.executable, "-m", "tests.training.faults", point, "--", *_flags(image_folder, logdir)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=REPO_ROOT,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == -9, result.stderr[-2000:]
    _check_left_behind(logdir, point)
    if point == "during_model_save":
        assert list(logdir.glob(".model.keras.*.tmp*"))  # the partial model file, which no handler removed
    _resume(image_folder, logdir)
    _assert_same_run(logdir, uninterrupted)
