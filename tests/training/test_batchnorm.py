"""Precise BatchNorm: moving statistics become the average of the batch statistics."""

import keras
import numpy as np

from keras_nmf.training.batchnorm import recalibrate_batchnorm


def test_moving_statistics_are_the_average_over_batches():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.BatchNormalization(momentum=0.9)(inputs))
    batches = [np.random.default_rng(i).normal(i, 1.0 + i, (8, 3)).astype("float32") for i in range(3)]
    dataset = [(batch, np.zeros(8)) for batch in batches]  # any iterable of (images, labels) batches
    assert recalibrate_batchnorm(model, dataset, batches=5) == 3
    layer = model.layers[-1]
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer.moving_mean), np.mean([b.mean(0) for b in batches], 0), rtol=1e-5
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer.moving_variance), np.mean([b.var(0) for b in batches], 0), rtol=1e-4
    )
    assert layer.momentum == 0.9  # restored


def test_callback_recalibrates_before_validation_once_per_epoch(monkeypatch):
    from keras_nmf.training import batchnorm

    calls = []
    monkeypatch.setattr(batchnorm, "recalibrate_batchnorm", lambda model, data, batches: calls.append(batches))
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.BatchNormalization()(inputs)))
    model.compile("sgd", "mse")
    x, y = np.ones((8, 3), "float32"), np.ones((8, 1), "float32")
    callback = batchnorm.RecalibrateBatchNorm(None, batches=7)
    model.fit(x, y, epochs=2, validation_data=(x, y), callbacks=[callback], verbose=0)
    assert calls == [7, 7]
