"""Parameter counts split into NMF and CNN parameters (the sweeps' CNN/NMF ratio)."""

import math

import keras

from keras_nmf.layers.base_nmf import BaseNMF


def count_parameters(model: keras.Model) -> dict:
    """Trainable parameters of NMF layers and of all other layers.

    Returns ``{"total", "trainable", "nmf", "cnn", "cnn_nmf_ratio"}``: ``total``
    includes non-trainable state (BatchNorm moving statistics); ``cnn`` counts
    every trainable parameter outside NMF layers (convolutions, BatchNorm).
    """
    nmf = sum(
        math.prod(v.shape) for layer in model.layers if isinstance(layer, BaseNMF) for v in layer.trainable_weights
    )
    trainable = sum(math.prod(v.shape) for v in model.trainable_weights)
    return {
        "total": int(model.count_params()),
        "trainable": trainable,
        "nmf": nmf,
        "cnn": trainable - nmf,
        "cnn_nmf_ratio": (trainable - nmf) / nmf if nmf else None,
    }
