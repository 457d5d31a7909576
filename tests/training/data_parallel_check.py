"""Run by tests/training/test_data_parallel.py under JAX with two CPU devices: one DataParallel step = one plain step.

The step includes the paper's augmentation (its draws must be the same when the batch is split) and BatchNorm
(its statistics must be the global batch's). Compared per variable: |difference| <= 1e-5 max |value| + 1e-7.
"""

import keras
import numpy as np

from keras_nmf.training.config import TrainConfig
from keras_nmf.training.distribute import make_strategy
from keras_nmf.training.recipe import build_compiled_model


def one_step(strategy):
    config = TrainConfig.of(arch="cnmf_1x1", iterations=3, distribute="data_parallel" if strategy else "none")
    keras.utils.set_random_seed(7)
    with strategy.scope() if strategy else keras.name_scope("plain"):
        model = build_compiled_model(config, (28, 28, 3), 10, strategy=strategy, image_shape=(32, 32, 3))
        # Plain SGD: Adam's first step is lr * sign(g) and would magnify rounding noise in near-zero gradients.
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss=model.loss, jit_compile=True)
        rng = np.random.default_rng(0)
        images, labels = rng.integers(0, 256, (8, 32, 32, 3), dtype=np.uint8), np.arange(8) % 10
        model.fit(images, labels, batch_size=8, epochs=1, shuffle=False, verbose=0)
        return [keras.ops.convert_to_numpy(v) for v in model.weights]


if __name__ == "__main__":
    assert keras.backend.backend() == "jax" and len(keras.distribution.list_devices()) == 2
    strategy = make_strategy("data_parallel")
    assert strategy.num_replicas_in_sync == 2
    plain, parallel = one_step(None), one_step(strategy)
    # Relative to each variable's largest value; 1e-7 absolute for the 1x1 biases in front of a BatchNorm, whose
    # gradient is zero up to rounding (BatchNorm removes the mean), so their values after the step are noise.
    worst = max(float(np.max(np.abs(a - b) / (1e-5 * np.max(np.abs(a)) + 1e-7))) for a, b in zip(plain, parallel))
    print(f"largest difference: {worst:.2f} of the tolerance (1e-5 relative)")
    assert worst <= 1.0, worst
    print("ok")
