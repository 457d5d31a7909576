"""PaperNetwork and ImageClassifier: models that describe themselves, and presets, on every backend.

`make test` runs this file on TensorFlow, on JAX without TensorFlow installed, and on PyTorch.
"""

import json

import keras
import numpy as np
import pytest

from keras_nmf.experiments.perturbations import AUTHORS_PERTURBATIONS
from keras_nmf.data.image_folder import list_images
from keras_nmf.experiments.presets import SUBSET, decode_classes, predict_test_images, subset_of
from keras_nmf.models import ImageClassifier, PaperNetwork, build_model, list_presets
from keras_nmf.models.presets import BUILTIN, CIFAR10_CLASSES, read_metadata
from keras_nmf.nmf_arguments import NMFOptions
from tests.backend import BACKEND, to_numpy
from tests.conftest import CIFAR10_JPEG

TRAINED = [name for name in list_presets() if (BUILTIN / name).is_dir()]


def _images(count=4, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (count, 32, 32, 3)).astype("uint8")


def test_a_network_is_its_constructor_arguments():
    network = PaperNetwork(
        "cnmf", width=2, nmf_groups=4, nmf_options=[NMFOptions(3, learning="local")] * 3 + [NMFOptions(3)]
    )
    config = network.get_config()
    assert config["arch"] == "cnmf" and config["width"] == 2
    assert [block["learning"] for block in config["nmf_options"]] == ["local", "local", "local", "backprop"]
    json.dumps(config)  # the options serialise as plain JSON
    rebuilt = PaperNetwork.from_config(config)
    assert rebuilt.get_config() == config and rebuilt.count_params() == network.count_params()
    assert [w.path for w in rebuilt.weights] == [w.path for w in network.weights]
    layers = [layer for layer in rebuilt.layers if layer.name.endswith("_cnmf")]
    assert [layer.options for layer in layers] == [NMFOptions(3, learning="local")] * 3 + [NMFOptions(3)]
    assert PaperNetwork("cnmf").get_config()["nmf_options"] == NMFOptions().to_config()  # one for every block


def test_a_network_config_saved_with_flat_nmf_options_loads_as_the_same_network():
    """Configurations saved before the network took ``nmf_options`` (iterations, nmf_divergence ... as arguments)."""
    new = PaperNetwork("cnmf", nmf_options=NMFOptions(3, divergence="frobenius", tolerance=1e-3)).get_config()
    flat = {key: value for key, value in new.items() if key != "nmf_options"}
    flat.update(
        iterations=3,
        epsilon=None,
        backward="approx",
        nmf_learning="backprop",
        implicit_dtype="float32",
        nmf_divergence="frobenius",
        nmf_tolerance=1e-3,
    )
    assert PaperNetwork.from_config(flat).get_config() == new


def test_a_build_model_networks_weights_load_by_name(tmp_path):
    """Runs trained before the classes existed saved build_model networks: their weights load as they are."""
    old = build_model("cnn_1x1", num_classes=10)
    old.save_weights(tmp_path / "old.weights.h5")
    network = PaperNetwork("cnn_1x1")
    network.load_weights(tmp_path / "old.weights.h5")
    crops = np.random.default_rng(1).uniform(size=(2, 28, 28, 3)).astype("float32")
    np.testing.assert_allclose(to_numpy(network(crops)), to_numpy(old(crops)), rtol=1e-5, atol=1e-7)


def test_a_classifier_takes_raw_images_and_gives_its_network(tmp_path):
    classifier = ImageClassifier(PaperNetwork("cnn"))
    assert classifier.input_shape == (None, 32, 32, 3) and classifier.output_shape == (None, 10)
    # The network's own layers, not a nested model: training the classifier trains the network.
    assert classifier.get_layer("block1_conv") is classifier.network.get_layer("block1_conv")
    images = _images()
    crops = images[:, 2:30, 2:30].astype("float32") / 255.0  # inference: the centre crop
    np.testing.assert_allclose(
        classifier.predict(images, verbose=0), to_numpy(classifier.network(crops)), rtol=1e-5, atol=1e-7
    )
    classifier.save(tmp_path / "classifier.keras")
    loaded = keras.models.load_model(tmp_path / "classifier.keras")
    assert isinstance(loaded, ImageClassifier) and isinstance(loaded.network, PaperNetwork)
    np.testing.assert_allclose(loaded.predict(images, verbose=0), classifier.predict(images, verbose=0), atol=1e-6)


def test_save_to_preset_round_trips(tmp_path):
    classifier = ImageClassifier.from_preset("cnmf_1x1")  # an architecture preset: untrained
    classifier.network.get_layer("block1_mix").set_weights(
        [w + 0.5 for w in classifier.network.get_layer("block1_mix").get_weights()]
    )
    classifier.save_to_preset(tmp_path / "mine", metadata={"note": "a test"})
    assert sorted(path.name for path in (tmp_path / "mine").iterdir()) == [
        "README.md",
        "config.json",
        "metadata.json",
        "model.weights.h5",
    ]
    loaded = ImageClassifier.from_preset(tmp_path / "mine")
    images = _images()
    np.testing.assert_allclose(loaded.predict(images, verbose=0), classifier.predict(images, verbose=0), atol=1e-6)
    metadata = read_metadata(tmp_path / "mine")
    assert metadata["note"] == "a test" and metadata["parameter_count"] == classifier.network.count_params()


def test_an_unknown_preset_names_the_ones_there_are(tmp_path):
    with pytest.raises(ValueError, match=r"Unknown preset 'cnmf_1x1_imagenet'.*cnn, cnmf, cnn_1x1, cnmf_1x1"):
        ImageClassifier.from_preset("cnmf_1x1_imagenet")
    with pytest.raises(ValueError, match="nor a directory written by save_to_preset"):
        ImageClassifier.from_preset(tmp_path)


@pytest.mark.parametrize("name", TRAINED)
def test_a_trained_preset_loads_and_predicts(name):
    metadata = read_metadata(name)
    classifier = ImageClassifier.from_preset(name)
    probabilities = classifier.predict(_images(), verbose=0)
    assert probabilities.shape == (4, 10) and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert metadata["arch"] == classifier.network.get_config()["arch"] and metadata["epochs"] >= 1
    assert set(metadata["robustness"]["accuracy"]) == set(AUTHORS_PERTURBATIONS)
    assert (BUILTIN / name / "model.weights.h5").stat().st_size < 2**20  # the package carries it
    assert json.loads((BUILTIN / name / "config.json").read_text())["class_name"] == "ImageClassifier"
    assert classifier.class_names == metadata["class_names"] == list(CIFAR10_CLASSES)
    calibration = metadata["calibration"]  # measured on the 10,000 test images, the temperature fitted on train images
    assert calibration["test_images"] == 10_000 and "train images" in calibration["fitted_on"]
    assert calibration["temperature"] == classifier.temperature and calibration["fitted_temperature"] > 0
    if classifier.temperature is None:  # a fitted temperature near 1 is not carried
        assert calibration["ece_after"] == calibration["ece_before"]
    else:  # a carried temperature lowers the test images' calibration error
        assert 0 <= calibration["ece_after"] < calibration["ece_before"] <= 1
    assert f"{100 * calibration['ece_after']:.1f} %" in (BUILTIN / name / "README.md").read_text()


#: The images of the fixed subset each suite predicts: all of it on TensorFlow; on the other backends the first 250,
#: compared image by image with the recorded predictions, which a backend computing another function would miss on
#: many (tests/test_cross_backend.py compares the networks themselves to 1e-5). Predicting every test image of the
#: four presets took 153 s on TensorFlow, 306 s on JAX and 312 s on PyTorch on the 2-core reference machine.
SUBSET_IMAGES = None if BACKEND == "tensorflow" else 250
#: A batch size that divides both counts (1,000 and 250): one shape, so one compiled predict function per preset.
PREDICT_BATCH = 125

#: Predictions a backend may differ on from the recorded ones: near ties, decided by float32 rounding.
NEAR_TIES = 2


def _recorded_correct(metadata, data_dir):
    """Whether the prediction a preset's metadata records for each test image of ``data_dir`` is its label."""
    _, labels, _ = list_images(data_dir, "test", class_names=metadata["class_names"])
    return decode_classes(metadata["test_predicted_classes"]) == np.asarray(labels)


@pytest.mark.skipif(not CIFAR10_JPEG.is_dir(), reason="needs ../shared/data/cifar10-jpeg")
@pytest.mark.skipif(BACKEND != "tensorflow", reason="reads files only: the same on every backend")
@pytest.mark.parametrize("name", TRAINED)
def test_a_trained_presets_recorded_predictions_score_what_its_metadata_states(name):
    stated = read_metadata(name)
    correct = _recorded_correct(stated, CIFAR10_JPEG)
    assert len(correct) == stated["test_images"] == 10_000
    assert correct.mean() == pytest.approx(stated["test_accuracy"], abs=1e-12)
    subset = stated["subset_test_accuracy"]
    assert subset["limit_test"] == SUBSET["limit_test"]
    assert subset_of(correct, subset["limit_test"], subset["seed"]).mean() == pytest.approx(subset["accuracy"])


@pytest.mark.skipif(not CIFAR10_JPEG.is_dir(), reason="needs ../shared/data/cifar10-jpeg")
@pytest.mark.parametrize("name", TRAINED)
def test_a_trained_preset_predicts_what_it_recorded_on_the_fixed_subset(name):
    stated = read_metadata(name)
    limit_test, seed = stated["subset_test_accuracy"]["limit_test"], stated["subset_test_accuracy"]["seed"]
    predicted, _ = predict_test_images(
        ImageClassifier.from_preset(name),
        CIFAR10_JPEG,
        limit_test=limit_test,
        seed=seed,
        count=SUBSET_IMAGES,
        batch_size=PREDICT_BATCH,
    )
    recorded = subset_of(decode_classes(stated["test_predicted_classes"]), limit_test, seed)[: len(predicted)]
    assert len(predicted) == (SUBSET_IMAGES or limit_test)
    assert np.sum(predicted != recorded) <= NEAR_TIES


@pytest.mark.slow
def test_a_finished_run_becomes_a_preset_that_scores_what_the_run_measured(tmp_path):
    from keras_nmf.experiments.presets import write_trained_preset
    from keras_nmf.training import TrainConfig
    from keras_nmf.training.run import train
    from tests.image_folders import make_image_folder

    images = make_image_folder(tmp_path / "images", per_class=(4, 3))
    results = train(
        TrainConfig.of(
            arch="cnn",
            data_dir=str(images),
            epochs=1,
            steps_per_epoch=2,
            batch_size=4,
            bn_recalibration_batches=1,
            verbose=0,
            logdir=str(tmp_path / "run"),
        )
    )
    metadata = write_trained_preset(
        tmp_path / "run",
        tmp_path / "preset",
        images,
        subset={"limit_test": 4, "seed": 0},
        noise={"limit_test": 6, "seed": 0, "steps": 3},
    )
    assert metadata["test_accuracy"] == pytest.approx(results["test_accuracy"]) and metadata["test_images"] == 9
    correct = _recorded_correct(metadata, images)
    assert len(correct) == 9 and np.mean(correct) == metadata["test_accuracy"]
    assert ImageClassifier.from_preset(tmp_path / "preset").network.get_config()["arch"] == "cnn"
    card = (tmp_path / "preset" / "README.md").read_text()
    assert "| holes_noise |" in card and f"{100 * metadata['test_accuracy']:.2f} %" in card
