"""Precise BatchNorm: moving statistics become the average of the batch statistics."""

import keras
import numpy as np
import tensorflow as tf

from keras_nmf.training.batchnorm import recalibrate_batchnorm


def test_moving_statistics_are_the_average_over_batches():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.BatchNormalization(momentum=0.9)(inputs))
    batches = [np.random.default_rng(i).normal(i, 1.0 + i, (8, 3)).astype("float32") for i in range(3)]
    dataset = tf.data.Dataset.from_tensor_slices((np.stack(batches), np.zeros(3))).map(lambda x, y: (x, y))
    assert recalibrate_batchnorm(model, dataset, batches=5) == 3
    layer = model.layers[-1]
    np.testing.assert_allclose(layer.moving_mean.numpy(), np.mean([b.mean(0) for b in batches], 0), rtol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), np.mean([b.var(0) for b in batches], 0), rtol=1e-4)
    assert layer.momentum == 0.9  # restored
