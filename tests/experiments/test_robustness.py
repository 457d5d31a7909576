"""scripts/robustness.py on saved models: plain accuracy at eta = 0, all-zero holes, identical draws."""

import csv

import keras
import numpy as np
import pytest

from keras_nmf.experiments.robustness import model_labels, perturbed_test_set, prepare_images
from keras_nmf.models import PaperNetwork
from keras_nmf.training import TrainConfig
from keras_nmf.training.evaluate import evaluate_saved_model
from keras_nmf.training.recipe import compile_model
from tests.image_folders import make_image_folder

from keras_nmf.cli import robustness
from keras_nmf.nmf_arguments import NMFOptions


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp("images"), per_class=(6, 4))


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    paths = []
    for arch in ("cnn", "cnmf_1x1"):
        model = PaperNetwork(arch, num_classes=3, nmf_options=NMFOptions(3))
        compile_model(model, TrainConfig.of(arch=arch), jit=False)
        (folder / f"{arch}-seed0").mkdir()
        paths.append(folder / f"{arch}-seed0" / "model.keras")
        model.save(paths[-1])
    return paths


def _read(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_curves_start_at_the_plain_accuracy_and_rerun_identically(image_folder, saved_models, tmp_path):
    argv = [*map(str, saved_models), "--data-dir", str(image_folder), "--steps", "3", "--seed", "5"]
    assert robustness.main([*argv, "--out", str(tmp_path / "a")]) == 0
    rows = _read(tmp_path / "a" / "robustness.csv")
    assert len(rows) == 2 * 4 * 3 and {row["model"] for row in rows} == {"cnn-seed0", "cnmf_1x1-seed0"}
    assert (tmp_path / "a" / "robustness.png").stat().st_size > 0
    for path, label in zip(saved_models, ("cnn-seed0", "cnmf_1x1-seed0")):
        plain = evaluate_saved_model(path, data_dir=image_folder)["test_accuracy"]
        at_zero = {
            row["perturbation"]: float(row["accuracy"])
            for row in rows
            if row["model"] == label and float(row["eta"]) == 0.0
        }
        assert at_zero == pytest.approx(dict.fromkeys(("uniform", "picture", "holes", "holes_noise"), plain))
    assert robustness.main([*argv, "--out", str(tmp_path / "b")]) == 0
    assert _read(tmp_path / "b" / "robustness.csv") == rows


def test_draws_are_the_same_for_every_model_and_holes_at_one_are_black(image_folder, saved_models):
    images, labels, train_images = prepare_images("cifar10", str(image_folder), None, (28, 28, 3), seed=0)
    assert images.shape == (12, 28, 28, 3) and train_images.shape == (18, 28, 28, 3)
    for kind in ("uniform", "picture", "holes_noise"):
        first = perturbed_test_set(kind, 1, 0.5, images, train_images, seed=3)
        np.testing.assert_array_equal(first, perturbed_test_set(kind, 1, 0.5, images, train_images, seed=3))
        assert not np.array_equal(first, perturbed_test_set(kind, 1, 0.5, images, train_images, seed=4))
    black = perturbed_test_set("holes", 2, 1.0, images, train_images, seed=3)
    assert not black.any()
    nmf_model = keras.models.load_model(saved_models[1])
    probabilities = nmf_model.predict(black, verbose=0)
    assert np.all(np.isfinite(probabilities))
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-5)


def test_labels_and_errors(tmp_path, saved_models, capsys):
    assert model_labels(["a/run1/model.keras", "b/run1/model.keras", "c/net.keras"]) == ["run1", "run1'", "net"]
    assert robustness.main([str(tmp_path / "missing.keras"), "--out", str(tmp_path)]) == 2
    assert "missing.keras does not exist" in capsys.readouterr().err
    wide = PaperNetwork("cnn", input_shape=(24, 24, 3), num_classes=3)
    wide.save(tmp_path / "small.keras")
    assert robustness.main([str(saved_models[0]), str(tmp_path / "small.keras"), "--out", str(tmp_path)]) == 2
    assert "different input shapes" in capsys.readouterr().err


def test_holes_observed_adds_the_twin_of_each_nmf_model(image_folder, saved_models, tmp_path, capsys):
    """The twin has the model's weights: equal at eta = 0; its mask is the draw that made the holes. The saved
    networks describe themselves: no run configuration is needed."""
    from keras_nmf.experiments.robustness import observed_mask

    argv = [
        *map(str, saved_models),
        "--data-dir",
        str(image_folder),
        "--steps",
        "2",
        "--perturbations",
        "holes",
        "--holes-observed",
        "--out",
        str(tmp_path / "out"),
    ]
    assert robustness.main(argv) == 0
    rows = _read(tmp_path / "out" / "robustness.csv")
    accuracy = {(row["model"], float(row["eta"])): float(row["accuracy"]) for row in rows}
    assert set(accuracy) == {
        (model, eta) for model in ("cnn-seed0", "cnmf_1x1-seed0", "cnmf_1x1-seed0 +observed") for eta in (0.0, 1.0)
    }
    assert accuracy[("cnmf_1x1-seed0 +observed", 0.0)] == accuracy[("cnmf_1x1-seed0", 0.0)]
    images, _, train_images = prepare_images("cifar10", str(image_folder), None, (28, 28, 3), seed=0)
    holed = perturbed_test_set("holes", 1, 0.4, images, train_images, 0)
    mask = observed_mask(1, 0.4, images, 0)
    assert 0.5 < mask.mean() < 0.7 and np.all(holed[mask == 0] == 0) and np.all(holed[mask == 1] == images[mask == 1])
