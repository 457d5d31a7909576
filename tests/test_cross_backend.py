"""The four networks (and cnmf_1x1 with the options beyond the paper) compute the same on TensorFlow, JAX and
PyTorch, and a .keras file moves between them.

One stage per backend (tests/cross_backend_worker.py), each in a subprocess but
the one on this process's backend (TensorFlow's, in its suite): TensorFlow builds
each network and saves its weights; JAX, then PyTorch (where installed), load them;
each saves the training-mode outputs and the gradient of the recipe's loss for
every weight, which must agree with TensorFlow's within 1e-5 relative (biases
that a BatchNorm follows have a zero gradient: both must be zero up to
rounding), and a ``.keras`` file, which the other backends load and must
predict with as the saving backend did.
"""

import importlib.util
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from tests import cross_backend_worker
from tests.conftest import REPO_ROOT
from tests.cross_backend_worker import NETWORKS

pytest.importorskip("jax")

#: The backends compared with TensorFlow: JAX always (make test installs it), PyTorch where it is installed.
OTHERS = ("jax",) + (("torch",) if importlib.util.find_spec("torch") else ())

#: Relative tolerance of outputs and gradients across backends (float32 throughout).
RTOL = 1e-5


#: How the other backends' stages start: as on a host without TensorFlow (this environment has it, and
#: keras.utils.set_random_seed would import it to seed tf.data: about 5 CPU-seconds a stage).
WITHOUT_TENSORFLOW = (
    "import runpy, sys; sys.modules['tensorflow'] = None; "
    "runpy.run_module('tests.cross_backend_worker', run_name='__main__')"
)


def _stage(stage, backend, directory):
    if backend == keras.backend.backend():  # this process's own backend (TensorFlow's suite): no second start
        cross_backend_worker.main(stage, directory)
        return
    # One PyTorch thread per op: the ops are tiny, and beside the suite's other processes a second OpenMP thread
    # waits more than it works (PyTorch's stage: 14 instead of 32 CPU-seconds inside the suite).
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", JAX_PLATFORMS="cpu", OMP_NUM_THREADS="1")
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_TENSORFLOW, stage, str(directory)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"{stage} on {backend} failed:\n{result.stderr[-4000:]}"


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cross_backend")
    _stage("reference", "tensorflow", directory)
    for backend in OTHERS:
        _stage("compare", backend, directory)
    _stage("reload", "tensorflow", directory)
    return directory


def _relative_error(got, expected):
    return float(np.linalg.norm(got - expected) / max(np.linalg.norm(expected), 1e-30))


@pytest.mark.parametrize("backend", OTHERS)
@pytest.mark.parametrize("arch", NETWORKS)
def test_outputs_and_every_weight_gradient_agree(results, arch, backend):
    tensorflow, other = np.load(results / f"{arch}-tensorflow.npz"), np.load(results / f"{arch}-{backend}.npz")
    assert sorted(tensorflow.files) == sorted(other.files)
    gradients = [name for name in tensorflow.files if name.startswith("grad:")]
    assert len(gradients) >= 8  # every trainable weight, not a few
    # A bias followed by BatchNorm has a zero gradient: only rounding noise, which no relative test can compare.
    cancelled = {f"grad:{path}" for path in tensorflow["cancelled"]}
    scale = max(np.linalg.norm(tensorflow[name]) for name in gradients)
    for name in ["outputs"] + gradients:
        assert np.all(np.isfinite(other[name])), name
        if name in cancelled:
            assert max(np.linalg.norm(other[name]), np.linalg.norm(tensorflow[name])) <= RTOL * scale, name
        else:
            error = _relative_error(other[name], tensorflow[name])
            assert error <= RTOL, f"{arch} {backend} {name}: relative error {error:.2e}"


#: (saving backend, loading backend): each later stage loads the files of the stages before it.
TRANSFERS = (
    [("tensorflow", other) for other in OTHERS]
    + [(other, "tensorflow") for other in OTHERS]
    + ([("jax", "torch")] if "torch" in OTHERS else [])
)


@pytest.mark.parametrize("arch", NETWORKS)
@pytest.mark.parametrize("saved_by, loaded_by", TRANSFERS)
def test_a_keras_file_predicts_the_same_on_the_other_backend(results, arch, saved_by, loaded_by):
    expected = np.load(results / f"{arch}-{saved_by}-inference.npy")
    loaded = np.load(results / f"{arch}-{saved_by}-loaded-by-{loaded_by}.npy")
    np.testing.assert_allclose(loaded, expected, rtol=RTOL, atol=1e-7)
