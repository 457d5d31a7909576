"""PatchNormalizedConv2D equals a convolution of explicitly L1-normalised patches."""

import numpy as np
import pytest

from keras_nmf.layers import PatchNormalizedConv2D
from tests import nmf_reference as ref
from tests.backend import to_numpy


@pytest.mark.parametrize("groups", [1, 2])
def test_matches_convolution_of_normalised_patches(groups):
    rng = np.random.default_rng(groups)
    images = rng.random((2, 6, 6, 4)).astype("float32")
    images[0, :3, :3] = 0.0  # an all-zero patch: output is the bias alone
    layer = PatchNormalizedConv2D(6, 3, groups=groups)
    layer.build(images.shape)
    kernel = rng.normal(size=layer.kernel.shape).astype("float32")
    bias = rng.normal(size=6).astype("float32")
    layer.set_weights([kernel, bias])
    expected = np.zeros((2, 4, 4, 6))
    cg, fg = 4 // groups, 6 // groups
    for g in range(groups):
        for b in range(2):
            for i in range(4):
                for j in range(4):
                    patch = images[b, i : i + 3, j : j + 3, g * cg : (g + 1) * cg].reshape(1, -1)
                    x = ref.l1_normalize(patch.astype(float))[0]
                    expected[b, i, j, g * fg : (g + 1) * fg] = x @ kernel[..., g * fg : (g + 1) * fg].reshape(-1, fg)
    expected += bias
    np.testing.assert_allclose(to_numpy(layer(images)), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(to_numpy(layer(images))[0, 0, 0], bias, rtol=1e-6)
