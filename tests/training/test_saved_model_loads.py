"""A trained run's ``model.keras`` loads the README's way on every backend: ``import keras_nmf`` then
``keras.models.load_model``, in a fresh process, and predicts on raw uint8 images; without ``import keras_nmf``
first, the load is refused with an error that names the package.

The network is trained here by ``train()`` (the augmentation in front, a fixed-budget schedule in the
optimizer, XLA on), so the file holds every object this package can put in a saved model.
"""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_nmf.training import TrainConfig, train
from tests.conftest import REPO_ROOT
from tests.image_folders import make_image_folder

#: The README's load, then a prediction on raw images, in a process that has imported nothing else. Given
#: ``--first-without-the-package``, the process first tries the load without ``import keras_nmf`` and reports how
#: it was refused (one process for both: each start of TensorFlow costs seconds of the suite).
LOAD_AS_DOCUMENTED = """
import json, sys, time
import numpy as np
import keras

refusal = None
if "--first-without-the-package" in sys.argv:
    try:
        keras.models.load_model(sys.argv[1])
        refusal = "it loaded"
    except Exception as error:
        refusal = f"{type(error).__name__}: {error}"
import keras_nmf

model = keras.models.load_model(sys.argv[1])
images = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype="uint8")
start = time.perf_counter()
probabilities = model.predict(images, verbose=0)
print(json.dumps({"probabilities": np.asarray(probabilities).tolist(), "jit_compile": bool(model.jit_compile),
                  "predict_seconds": time.perf_counter() - start, "refusal_without_the_package": refusal}))
"""

BACKENDS = ["tensorflow", "jax", "torch"]


def _installed(backend):
    return importlib.util.find_spec(backend) is not None


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory):
    images = make_image_folder(tmp_path_factory.mktemp("images"), per_class=(4, 2))
    logdir = tmp_path_factory.mktemp("run") / "run"
    train(
        TrainConfig.of(
            arch="cnmf_1x1",
            iterations=2,
            data_dir=str(images),
            epochs=1,
            steps_per_epoch=1,
            batch_size=4,
            bn_recalibration_batches=1,
            schedule="wsd",
            jit=True,
            nmf_diagnostics=False,
            verbose=0,
            logdir=str(logdir),
        )
    )
    return logdir / "model.keras"


def _load(backend, path, *flags):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", JAX_PLATFORMS="cpu")
    return subprocess.run(
        [sys.executable, "-c", LOAD_AS_DOCUMENTED, str(path), *flags],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_a_trained_model_loads_as_the_readme_says_on_every_backend(trained_model):
    outputs = {}
    for backend in filter(_installed, BACKENDS):
        result = _load(backend, trained_model, *(["--first-without-the-package"] if backend == "tensorflow" else []))
        assert result.returncode == 0, f"load on {backend} failed:\n{result.stderr[-3000:]}"
        outputs[backend] = json.loads(result.stdout.strip().splitlines()[-1])
        assert "recompile_limit" not in result.stderr, backend
    for backend, output in outputs.items():
        probabilities = np.array(output["probabilities"])
        assert probabilities.shape == (4, 3) and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5), backend
        np.testing.assert_allclose(
            probabilities, outputs["tensorflow"]["probabilities"], rtol=1e-4, atol=1e-6, err_msg=backend
        )
    # Without `import keras_nmf` first, Keras refuses the file with an error that names the package to import.
    refusal = outputs["tensorflow"]["refusal_without_the_package"]
    assert "keras_nmf" in refusal and "register_keras_serializable" in refusal, refusal
    if "torch" in outputs:  # PyTorch's jit_compile is torch.compile, which recompiles per shape: off after a load
        assert outputs["torch"]["jit_compile"] is False
