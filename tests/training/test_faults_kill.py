"""The fault matrix under kill -9: a child process kills itself; the run resumes to the same end.

A kill leaves on disk what a Ctrl-C at the same moment leaves (``test_faults.py`` stops a run with Ctrl-C at
every moment of ``faults.STOP_POINTS``, in process), but for what a live process still does on its way out: an
interrupted atomic write removes its temporary file, and buffered output is flushed. So a child kills itself at
two moments: in the middle of an epoch (the common case: the process's buffered output is lost), and while the
final model file is being written (its partial file stays behind in the writer's staging folder, in memory, and the
next run of the directory removes it).

A module of its own so that pytest-xdist runs it beside the Ctrl-C and full-disk cases of ``test_faults.py``.
"""

import os
import pathlib
import subprocess
import sys
import tempfile
import types

import pytest

from keras_nmf.files import STAGING_DIR, STAGING_PREFIX
from tests.conftest import REPO_ROOT
from tests.training.test_faults import (  # noqa: F401, F811  (the fixtures are used by name)
    _assert_same_run,
    _check_left_behind,
    _flags,
    _resume,
    image_folder,
    uninterrupted,
)


@pytest.mark.slow
@pytest.mark.parametrize("point", ("mid_epoch", "during_model_save"))
def test_kill_9_mid_epoch_or_mid_save_resumes_to_the_uninterrupted_run(point, image_folder, tmp_path, uninterrupted):  # noqa: F811
    logdir = tmp_path / "run"
    command = [sys.executable, "-m", "tests.training.faults", point, "--", *_flags(image_folder, logdir)]
    child = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    _, stderr = child.communicate(timeout=600)
    result = types.SimpleNamespace(returncode=child.returncode, stderr=stderr, pid=child.pid)
    assert result.returncode == -9, result.stderr[-2000:]
    _check_left_behind(logdir, point)
    staging = list(pathlib.Path(STAGING_DIR or tempfile.gettempdir()).glob(f"{STAGING_PREFIX}{result.pid}-*"))
    if point == "during_model_save":
        assert len(staging) == 1  # the partial model file, which no handler removed, lies in the writer's staging
        assert not list(logdir.glob(".model.keras.*.tmp*"))
    _resume(image_folder, logdir)
    assert not any(folder.exists() for folder in staging)  # the next run of the directory removed it
    _assert_same_run(logdir, uninterrupted)
