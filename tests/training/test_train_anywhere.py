"""The user paths on the active backend, TensorFlow or not: train, TensorBoard logs, evaluate.

`make test` runs this file in an environment without TensorFlow under JAX too (pip install ".[jax,dev]").
"""

import json
import os
import subprocess
import sys

import pytest

from keras_nmf import backend
from keras_nmf.cli import evaluate as evaluate_cli
from keras_nmf.cli import train as train_cli
from tests.conftest import REPO_ROOT
from tests.image_folders import make_image_folder


@pytest.mark.skipif(backend.NAME == "tensorflow", reason="tests/training/test_train_script.py trains on TensorFlow")
def test_train_writes_tensorboard_logs_and_evaluate_agrees(tmp_path, capsys):
    folder = make_image_folder(tmp_path / "data", per_class=(6, 3))
    run = tmp_path / "run"
    assert (
        train_cli.main(
            [
                "--arch",
                "cnmf_1x1",
                "--iterations",
                "3",
                "--epochs",
                "2",
                "--batch-size",
                "6",
                "--bn-recalibration-batches",
                "1",
                "--no-nmf-diagnostics",
                "--data-dir",
                str(folder),
                "--logdir",
                str(run),
                "--verbose",
                "0",
            ]
        )
        == 0
    )
    results = json.loads((run / "results.json").read_text())
    assert results["epochs_run"] == 2 and results["data"]["image_shape"] == [32, 32, 3]
    for logs in ("train", "images"):
        assert any(name.startswith("events.out.tfevents") for name in os.listdir(run / logs)), logs
    capsys.readouterr()
    assert evaluate_cli.main([str(run / "model.keras")]) == 0
    evaluated = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert evaluated["test_accuracy"] == pytest.approx(results["test_accuracy"], abs=1e-6)
    assert evaluated["test_loss"] == pytest.approx(results["test_loss"], rel=1e-5)


def test_import_leaves_the_backend_to_keras_json(tmp_path):
    """No KERAS_BACKEND: keras_nmf takes the backend that keras.json names (Keras's own rule)."""
    pytest.importorskip("jax")
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "jax"}))
    env = {key: value for key, value in os.environ.items() if key != "KERAS_BACKEND"}
    env.update(KERAS_HOME=str(tmp_path), JAX_PLATFORMS="cpu")
    result = subprocess.run(
        [sys.executable, "-c", "import keras_nmf, keras; print(keras.backend.backend())"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0 and result.stdout.strip() == "jax", result.stderr[-2000:]
