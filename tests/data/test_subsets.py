"""--limit-test draws the same test images whatever the training subset (one stream per split)."""

import numpy as np
import pytest

from keras_nmf.data import DataError, load_arrays, subset_indices
from tests.image_folders import make_image_folder


def test_the_test_subset_does_not_depend_on_the_training_subset(tmp_path):
    folder = make_image_folder(tmp_path, per_class=(6, 5))
    with_train_limit = load_arrays(data_dir=folder, limit_train=4, limit_test=6, seed=3, verbose=False)
    without = load_arrays(data_dir=folder, limit_test=6, seed=3, verbose=False)
    np.testing.assert_array_equal(with_train_limit[1][0], without[1][0])
    np.testing.assert_array_equal(with_train_limit[1][1], without[1][1])
    assert len(with_train_limit[0][1]) == 4 and len(without[0][1]) == 18


def test_subset_indices_are_seeded_sorted_and_checked():
    first, again = subset_indices(100, 10, 5, "test"), subset_indices(100, 10, 5, "test")
    np.testing.assert_array_equal(first, again)
    assert list(first) == sorted(first) and len(set(first)) == 10
    assert not np.array_equal(first, subset_indices(100, 10, 6, "test"))
    assert len(subset_indices(7, None, 0, "train")) == 7
    with pytest.raises(DataError, match=r"limit_test=200 \(--limit-test\) is not between 1 and the 100 test images"):
        subset_indices(100, 200, 0, "test")
