"""Callbacks: the basis image grid."""

import numpy as np

from keras_nmf.training.callbacks import basis_grid


def test_basis_grid_tiles_every_filter_in_unit_range():
    kernel = np.random.default_rng(0).normal(size=(5, 5, 3, 10))
    grid = basis_grid(kernel, nmf=True, columns=4, scale=2)
    assert grid.shape == (1, 2 * (3 * 6 + 1), 2 * (4 * 6 + 1), 3)
    assert grid.min() >= 0.0 and grid.max() == 1.0
