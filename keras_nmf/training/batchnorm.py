"""Precise BatchNorm: re-estimate the moving statistics for the current weights."""

import functools
import itertools

import keras
import numpy as np

from keras_nmf.training.compiled import compiled_call
from keras_nmf.training.progress import show_status


def batchnorm_layers(model):
    return [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]


def recalibrate_batchnorm(model, dataset, batches=50):
    """Replaces every BatchNorm layer's moving mean and variance by the plain
    average of the batch statistics over the first ``batches`` batches of
    ``dataset`` (any iterable of image batches or ``(images, labels)``
    batches, e.g. a :class:`keras_nmf.data.Batches`).

    Training with the recipe's large k x k learning rate (0.01) moves the
    weights faster than BatchNorm's exponential moving averages follow: at the
    end of an epoch they describe weights of ~10 steps ago, and inference-mode
    accuracy can collapse (measured: cnn after 2 epochs, 16 % on training
    images with the moving averages, 54 % after recalibration). The authors'
    code sidesteps this by using batch statistics at test time; recalibrating
    ("precise BN", Wu & Johnson 2021) keeps inference independent of the batch.

    Each batch runs one training-mode forward pass with momentum 0, so the
    moving statistics become that batch's statistics, which are averaged here.
    Under a ``tf.distribute`` strategy the passes run on every replica over the
    distributed batches (BatchNorm ``synchronized=True`` makes them the global
    batch's statistics), so every replica and worker ends with the same values.
    Weights are untouched. Returns the number of batches used.
    """
    layers = batchnorm_layers(model)
    if not layers or batches < 1:
        return 0
    momenta = [layer.momentum for layer in layers]
    sums = [
        [np.zeros(layer.moving_mean.shape, np.float64), np.zeros(layer.moving_variance.shape, np.float64)]
        for layer in layers
    ]
    image_batches = (
        batch[0] if isinstance(batch, (tuple, list)) else batch for batch in itertools.islice(iter(dataset), batches)
    )
    # TensorFlow: the default strategy for a model built outside any scope; other backends have none.
    strategy = getattr(model, "distribute_strategy", None)
    distributed = strategy is not None and strategy.num_replicas_in_sync > 1
    used = 0
    try:
        for layer in layers:
            layer.momentum = 0.0
        if distributed:
            import tensorflow as tf

            forward = tf.function(lambda images: model(images, training=True))
            global_batches = [tf.data.Dataset.from_tensors(images) for images in image_batches]
            batches_iter = strategy.experimental_distribute_dataset(
                functools.reduce(tf.data.Dataset.concatenate, global_batches)
            )
            step = lambda images: strategy.run(forward, args=(images,))  # noqa: E731
        else:
            batches_iter = image_batches
            step = compiled_call(model, training=True)
        for images in batches_iter:
            step(images)
            used += 1
            for layer, (mean_sum, variance_sum) in zip(layers, sums):
                mean_sum += keras.ops.convert_to_numpy(layer.moving_mean)
                variance_sum += keras.ops.convert_to_numpy(layer.moving_variance)
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
    if used:
        for layer, (mean_sum, variance_sum) in zip(layers, sums):
            layer.moving_mean.assign((mean_sum / used).astype(np.float32))
            layer.moving_variance.assign((variance_sum / used).astype(np.float32))
    return used


class RecalibrateBatchNorm(keras.callbacks.Callback):
    """Runs :func:`recalibrate_batchnorm` once per epoch, before anything evaluates.

    That is before ``fit``'s validation pass (``on_test_begin``) when there is
    one, else at the end of the epoch, so validation metrics, test logging and
    saved models all see statistics of the current weights.
    """

    def __init__(self, dataset, batches=50):
        super().__init__()
        self.dataset = dataset
        self.batches = batches
        self._done_this_epoch = False

    def _recalibrate_once(self):
        if not self._done_this_epoch:
            show_status(self, f"recalibrating BatchNorm on {self.batches} training batches")
            recalibrate_batchnorm(self.model, self.dataset, self.batches)
            self._done_this_epoch = True

    def on_epoch_begin(self, epoch, logs=None):
        self._done_this_epoch = False

    def on_test_begin(self, logs=None):
        self._recalibrate_once()

    def on_epoch_end(self, epoch, logs=None):
        self._recalibrate_once()
