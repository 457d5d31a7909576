"""CrossEntropyMSE is eq. 21."""

import json

import keras
import numpy as np
import pytest

from keras_nmf.losses import CrossEntropyMSE


def test_matches_eq21_by_hand():
    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], "float32")
    labels = np.array([0, 1])
    # Example 1: -log 0.7 + 0.5 * (0.3^2 + 0.2^2 + 0.1^2); example 2: -log 0.1 + 0.5 * (0.1^2 + 0.9^2 + 0.8^2).
    expected = np.mean([-np.log(0.7) + 0.5 * 0.14, -np.log(0.1) + 0.5 * 1.46])
    assert float(CrossEntropyMSE()(labels, probabilities)) == pytest.approx(expected, rel=1e-5)
    one_hot = np.eye(3, dtype="float32")[labels]
    assert float(CrossEntropyMSE()(one_hot, probabilities)) == pytest.approx(expected, rel=1e-5)
    assert float(CrossEntropyMSE(alpha=0.0)(labels, probabilities)) == pytest.approx(
        np.mean([-np.log(0.7), -np.log(0.1)]), rel=1e-5
    )


def test_serializable_and_rejects_negative_alpha():
    loss = CrossEntropyMSE(alpha=0.25)
    restored = keras.losses.deserialize(json.loads(json.dumps(keras.losses.serialize(loss))))
    assert restored.alpha == 0.25
    with pytest.raises(ValueError, match="Received: alpha=-1"):
        CrossEntropyMSE(alpha=-1)
