"""Novelty scores from the NMF layers' reconstruction error and the baseline, the AUROC, and the probe that reads
the layers' inputs from a model's graph (a classifier preset, a user's model) or refuses what it cannot explain."""

import keras
import numpy as np
import pytest

from keras_nmf.errors import ExplainError, ImageInputError
from keras_nmf.explain import NMFProbe, auroc, combined_scores, nmf_layers, novelty_scores, reconstruction_errors
from keras_nmf.explain.report import explain_images
from keras_nmf.layers import CNMF2D, L1Normalize, NMFDense
from keras_nmf.models import ImageClassifier


def _users_model():
    """A model of one's own: two CNMF2D blocks with a signed 1x1 mix between them, 3 classes."""
    inputs = keras.Input((10, 10, 3))
    x = CNMF2D(6, 3, iterations=3, name="parts")(inputs)
    x = keras.layers.Conv2D(4, 1, name="mix")(L1Normalize()(x))
    x = CNMF2D(5, 3, iterations=3, name="deeper")(keras.layers.ReLU()(x))
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x), name="mine")


def test_auroc_of_a_hand_computed_case():
    pytest.importorskip("sklearn", reason="AUROC is scikit-learn's (the explain extra)")
    # Out-of-distribution scores above in-distribution ones, pair by pair: 0.8 beats all three (3), 0.35 beats 0.1
    # and ties 0.35 (1.5), 0.5 beats all three (3): 7.5 of 9 pairs.
    assert auroc([0.1, 0.4, 0.35], [0.8, 0.35, 0.5]) == pytest.approx(7.5 / 9)
    assert auroc([0.0, 0.1], [0.2, 0.3]) == 1.0 and auroc([0.2, 0.3], [0.0, 0.1]) == 0.0
    with pytest.raises(ExplainError, match="out-of-distribution scores are empty or not finite"):
        auroc([0.1], [float("nan")])


def test_the_probe_reads_each_nmf_layers_input_and_the_scores_follow_from_it():
    model = _users_model()
    images = np.random.default_rng(0).random((5, 10, 10, 3)).astype("float32")
    probe = NMFProbe(model)
    assert [layer.name for layer in probe.layers] == ["parts", "deeper"]
    batch = probe.probe(images)
    np.testing.assert_allclose(batch.layer_inputs["parts"], images)
    np.testing.assert_allclose(batch.probabilities, keras.ops.convert_to_numpy(model(images)), rtol=1e-5, atol=1e-6)
    seen = []
    scores = novelty_scores(probe, images, batch_size=2, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(2, 5), (4, 5), (5, 5)]
    np.testing.assert_allclose(
        scores.layers["parts"], reconstruction_errors(model.get_layer("parts"), images), rtol=1e-5
    )
    deeper_input = batch.layer_inputs["deeper"]
    np.testing.assert_allclose(
        scores.layers["deeper"], reconstruction_errors(model.get_layer("deeper"), deeper_input), rtol=1e-5
    )
    np.testing.assert_allclose(scores.max_softmax, 1.0 - batch.probabilities.max(-1), rtol=1e-6)
    combined = combined_scores(scores, scores)
    assert combined.shape == (5,) and abs(combined.mean()) < 1e-9  # standardised against themselves


def test_a_classifier_preset_is_probed_on_raw_images_with_its_calibrated_probabilities():
    classifier = ImageClassifier.from_preset("cnmf_1x1_cifar10")
    images = np.random.default_rng(1).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    probe = NMFProbe(classifier)
    assert [layer.name for layer in probe.layers] == [f"block{k}_cnmf" for k in (1, 2, 3, 4)]
    batch = probe.probe(images)
    np.testing.assert_allclose(batch.layer_inputs["block1_cnmf"].shape, (3, 28, 28, 3))
    np.testing.assert_allclose(batch.probabilities, classifier.predict(images, verbose=0), rtol=1e-4, atol=1e-6)
    with pytest.raises(ImageInputError):
        probe.probe(images.astype("float32") - 300.0)


def test_what_cannot_be_explained_is_refused_with_the_reason():
    plain = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3), keras.layers.Flatten()], name="cnn")
    with pytest.raises(ExplainError, match="'cnn' has no NMF layers"):
        nmf_layers(plain)
    with pytest.raises(ExplainError, match="no NMF layer named 'block9'. Its NMF layers: parts, deeper"):
        NMFProbe(_users_model(), layers=["block9"])
    with pytest.raises(ExplainError, match="negative or non-finite values"):
        NMFProbe(_users_model()).probe(-np.ones((1, 10, 10, 3), "float32"))
    with pytest.raises(ExplainError, match=r"takes \(batch, 10, 10, 3\)"):
        NMFProbe(_users_model()).probe(np.ones((1, 12, 12, 3), "float32"))

    dense = keras.Sequential([keras.Input((12,)), NMFDense(4, name="dense_nmf")], name="dense_only")
    with pytest.raises(ExplainError, match="'dense_only' has no CNMF2D layer"):
        explain_images(dense, np.ones((2, 12), "float32"), "unused")

    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__(name="subclassed")
            self.nmf = CNMF2D(4, 3)

        def call(self, x):
            return self.nmf(x)

    with pytest.raises(ExplainError, match="'subclassed' has no graph of layers"):
        NMFProbe(Subclassed())
