"""Calibrated class probabilities: the expected calibration error, temperature scaling, and its Keras layer.

The paper's networks end in a softmax; their probabilities are what eq. 21's loss (cross-entropy plus the MSE of
the probabilities) was trained on, and need not be calibrated. The NMF network without local interactions
(``cnmf``) feeds its softmax the activations of its output NMF layer, which sum to 1, so its probabilities are
nearly flat (its top probability a few tenths even when right). Temperature scaling (Guo et al., 2017) divides the
logits by one fitted T > 0; softmax(log p / T) does so from the probabilities, since log p is the logits up to a
constant. T is fitted to the negative log-likelihood of held-out training images, never the test images, and
changes no argmax, so no accuracy.
"""

import keras
import numpy as np

#: Probabilities are clipped here before their log (a softmax in float32 can give an exact 0).
_SMALLEST = 1e-30


def expected_calibration_error(probabilities, labels, bins=15):
    """ECE: the gap between confidence and accuracy, averaged over equal-width confidence bins weighted by their
    share of the images (Guo et al., 2017, eq. 3). ``probabilities`` (N, K), ``labels`` (N,) class indices."""
    probabilities, labels = np.asarray(probabilities, "float64"), np.asarray(labels)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    error = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            error += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(error)


def with_temperature(probabilities, temperature):
    """softmax(log p / T) of (N, K) probabilities, in float64."""
    logits = np.log(np.clip(np.asarray(probabilities, "float64"), _SMALLEST, None)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    scaled = np.exp(logits)
    return scaled / scaled.sum(axis=1, keepdims=True)


def negative_log_likelihood(probabilities, labels):
    p = np.asarray(probabilities, "float64")[np.arange(len(labels)), np.asarray(labels)]
    return float(-np.mean(np.log(np.clip(p, _SMALLEST, None))))


def fit_temperature(probabilities, labels, low=0.01, high=100.0, steps=60):
    """The T in [low, high] that minimises the negative log-likelihood of softmax(log p / T): a golden-section
    search over log T (the NLL is convex in 1 / T)."""

    def loss(log_t):
        return negative_log_likelihood(with_temperature(probabilities, np.exp(log_t)), labels)

    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    a, b = np.log(low), np.log(high)
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    loss_c, loss_d = loss(c), loss(d)
    for _ in range(steps):
        if loss_c < loss_d:
            b, d, loss_d = d, c, loss_c
            c = b - ratio * (b - a)
            loss_c = loss(c)
        else:
            a, c, loss_c = c, d, loss_d
            d = a + ratio * (b - a)
            loss_d = loss(d)
    return float(np.exp((a + b) / 2.0))


def check_temperature(temperature):
    """``temperature`` as a float, or None; a clear error unless a finite number > 0."""
    if temperature is None:
        return None
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float))
        or not (np.isfinite(temperature) and temperature > 0)
    ):
        raise ValueError(
            f"`temperature` must be a finite number > 0 (None: the network's own probabilities). "
            f"Received: temperature={temperature!r}"
        )
    return float(temperature)


@keras.saving.register_keras_serializable(package="keras_nmf")
class Temperature(keras.layers.Layer):
    """Probabilities -> softmax(log p / T) at inference; unchanged in training (the network trains on its own).

    No weights: a classifier with or without it has the same weights file."""

    def __init__(self, temperature, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.temperature = check_temperature(temperature)

    def call(self, probabilities, training=False):
        if training:
            return probabilities
        logits = keras.ops.log(keras.ops.maximum(probabilities, _SMALLEST)) / self.temperature
        return keras.ops.softmax(logits, axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}
