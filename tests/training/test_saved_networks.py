"""Saved models as the paper's classes: a run's model of an earlier version is rebuilt once, from its config.json."""

import keras
import numpy as np
import pytest

from keras_nmf.layers import PaperAugmentation
from keras_nmf.models import ImageClassifier, PaperNetwork, build_model
from keras_nmf.training import TrainConfig
from keras_nmf.training.recipe import compile_model
from keras_nmf.errors import RunFileError
from keras_nmf.training.saved_networks import load_network, load_paper_model
from tests.backend import to_numpy

RAW = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)


def _legacy_run(run_dir, config):
    """A run directory as train.py wrote it before ImageClassifier: a flat functional model.keras and config.json."""
    run_dir.mkdir()
    config.save(run_dir / "config.json")
    model = build_model(
        config.model.arch,
        nmf_options=config.model.nmf_options(),
        image_shape=(32, 32, 3),
        augmentation=PaperAugmentation(28, seed=config.optimisation.seed, name="augmentation"),
    )
    compile_model(model, config, jit=False)
    model.save(run_dir / "model.keras")
    return model


@pytest.mark.parametrize("compile", [False, True])
def test_a_run_saved_before_the_model_classes_loads_as_an_image_classifier(tmp_path, compile):
    config = TrainConfig.of(arch="cnmf_1x1", iterations=2, divergence="frobenius", seed=3)
    legacy = _legacy_run(tmp_path / "run", config)
    model = load_paper_model(tmp_path / "run" / "model.keras", compile=compile)
    assert isinstance(model, ImageClassifier) and model.network.get_config()["nmf_options"]["divergence"] == "frobenius"
    np.testing.assert_allclose(model.predict(RAW, verbose=0), legacy.predict(RAW, verbose=0), atol=1e-6)
    assert model.compiled is compile
    network = load_network(tmp_path / "run" / "model.keras")
    crops = RAW[:, 2:30, 2:30].astype("float32") / 255.0
    assert isinstance(network, PaperNetwork)
    np.testing.assert_allclose(to_numpy(network(crops)), legacy.predict(RAW, verbose=0), atol=1e-6)


def test_a_classifier_file_loads_as_itself(tmp_path):
    classifier = ImageClassifier(PaperNetwork("cnn"))
    classifier.save(tmp_path / "model.keras")
    loaded = load_paper_model(tmp_path / "model.keras")
    assert isinstance(loaded, ImageClassifier) and isinstance(load_network(tmp_path / "model.keras"), PaperNetwork)


def test_a_model_that_is_not_a_paper_network_is_refused_by_name(tmp_path):
    keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]).save(tmp_path / "model.keras")
    with pytest.raises(RunFileError, match="not one of keras_nmf's networks"):
        load_paper_model(tmp_path / "model.keras")
