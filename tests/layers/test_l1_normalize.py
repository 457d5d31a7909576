"""L1Normalize: values, zero rows, config round trip."""

import numpy as np

from keras_nmf.layers import L1Normalize
from tests.backend import to_numpy


def test_normalises_over_axis_and_keeps_zero_rows_zero():
    x = np.array([[[1.0, 3.0], [0.0, 0.0]]], "float32")
    np.testing.assert_allclose(to_numpy(L1Normalize()(x)), [[[0.25, 0.75], [0.0, 0.0]]])
    np.testing.assert_allclose(to_numpy(L1Normalize(axis=1)(x)), [[[1.0, 1.0], [0.0, 0.0]]])


def test_config_round_trip():
    layer = L1Normalize(axis=2, name="norm")
    assert L1Normalize.from_config(layer.get_config()).axis == 2
