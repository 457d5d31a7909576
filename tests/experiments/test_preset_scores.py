"""A preset's stated accuracies: every test image's prediction once, the fixed subset read from them."""

import numpy as np

from keras_nmf.experiments.presets import correct_predictions, subset_of
from tests.image_folders import CLASSES, make_image_folder


class FirstPixelClassifier:
    """Predicts the class of an image's first pixel value modulo the classes: right on some images, wrong on
    others, and each prediction depends on its own image only, as a network's does."""

    def predict(self, images, batch_size, verbose):
        return np.eye(len(CLASSES))[images[:, 0, 0, 0].astype(int) % len(CLASSES)]


def test_the_subset_read_from_every_images_predictions_is_the_subset_predicted_on_its_own(tmp_path):
    folder = make_image_folder(tmp_path / "images", per_class=(1, 8))
    every = correct_predictions(FirstPixelClassifier(), folder)
    assert every.dtype == bool and len(every) == 8 * len(CLASSES) and 0 < every.sum() < len(every)
    for limit, seed in ((5, 0), (11, 3), (len(every), 1)):
        alone = correct_predictions(FirstPixelClassifier(), folder, limit_test=limit, seed=seed)
        np.testing.assert_array_equal(subset_of(every, limit, seed), alone)
