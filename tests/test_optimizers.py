"""MultiRateAdam really takes a 10x step on the kxk variables."""

import keras
import numpy as np

from keras_nmf.optimizers import MultiRateAdam


def _one_step(optimizer, gradient):
    variables = [keras.Variable(np.zeros(3, "float32"), name="kxk"), keras.Variable(np.zeros(3, "float32"), name="mix")]
    for scale in (1.0, 0.5):
        step = keras.ops.convert_to_tensor(gradient * scale)  # a backend tensor, as training passes (PyTorch needs one)
        optimizer.apply_gradients([(step, variables[0]), (step, variables[1])])
    return [keras.ops.convert_to_numpy(v) for v in variables]


def test_multiplier_scales_the_adam_step_not_the_gradient():
    gradient = np.array([0.3, -2.0, 1e-3], "float32")
    kxk, mix = _one_step(MultiRateAdam(1e-3, {"^kxk": 10.0}), gradient)
    np.testing.assert_allclose(kxk, 10 * mix, rtol=1e-5)
    # Identical to a separate Adam with the 10x learning rate (two steps, so moments matter).
    reference = _one_step(keras.optimizers.Adam(1e-2), gradient)[0]
    np.testing.assert_allclose(kxk, reference, rtol=1e-5)


def test_config_round_trip_keeps_multipliers():
    optimizer = MultiRateAdam(1e-3, {r"^block\d+_cnmf/": 10.0})
    restored = MultiRateAdam.from_config(optimizer.get_config())
    assert restored.rate_multipliers == {r"^block\d+_cnmf/": 10.0}
    assert restored.max_multiplier == 10.0
