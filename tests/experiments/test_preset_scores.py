"""A preset's stated accuracies: every test image's prediction once, recorded; the fixed subset read from them."""

import numpy as np
import pytest

from keras_nmf.experiments.presets import decode_classes, encode_classes, predict_test_images, subset_of
from tests.image_folders import CLASSES, make_image_folder


class FirstPixelClassifier:
    """Predicts the class of an image's first pixel value modulo the classes: right on some images, wrong on
    others, and each prediction depends on its own image only, as a network's does."""

    def predict(self, images, batch_size, verbose):
        return np.eye(len(CLASSES))[images[:, 0, 0, 0].astype(int) % len(CLASSES)]


def test_the_subset_read_from_every_images_predictions_is_the_subset_predicted_on_its_own(tmp_path):
    folder = make_image_folder(tmp_path / "images", per_class=(1, 8))
    predicted, labels = predict_test_images(FirstPixelClassifier(), folder)
    correct = predicted == labels
    assert len(correct) == 8 * len(CLASSES) and 0 < correct.sum() < len(correct)
    for limit, seed in ((5, 0), (11, 3), (len(correct), 1)):
        alone_predicted, alone_labels = predict_test_images(FirstPixelClassifier(), folder, limit_test=limit, seed=seed)
        np.testing.assert_array_equal(subset_of(predicted, limit, seed), alone_predicted)
        np.testing.assert_array_equal(subset_of(labels, limit, seed), alone_labels)
    first, first_labels = predict_test_images(FirstPixelClassifier(), folder, limit_test=11, seed=3, count=4)
    np.testing.assert_array_equal(first, subset_of(predicted, 11, 3)[:4])
    np.testing.assert_array_equal(first_labels, subset_of(labels, 11, 3)[:4])


def test_recorded_classes_read_back_as_they_were_predicted():
    classes = np.random.default_rng(0).integers(0, 256, 10_000)
    text = encode_classes(classes)
    assert isinstance(text, str) and len(text) == 13_336
    np.testing.assert_array_equal(decode_classes(text), classes)
    assert decode_classes(encode_classes([])).shape == (0,)
    with pytest.raises(ValueError, match="0-255"):
        encode_classes([3, 256])
