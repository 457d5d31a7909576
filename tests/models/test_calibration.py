"""Calibration: the expected calibration error, and a temperature fitted on held-out predictions."""

import numpy as np
import pytest

from keras_nmf.models.calibration import expected_calibration_error, fit_temperature, with_temperature


def test_the_calibration_error_of_known_predictions():
    # Two bins: 0.95-confident and right half the time (gap 0.45), 0.55-confident and always right (gap 0.45).
    probabilities = np.array([[0.95, 0.05]] * 4 + [[0.45, 0.55]] * 4)
    labels = np.array([0, 0, 1, 1, 1, 1, 1, 1])
    assert expected_calibration_error(probabilities, labels, bins=10) == pytest.approx(0.45)
    perfect = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert expected_calibration_error(perfect, np.array([0, 1])) == 0.0


def test_a_fitted_temperature_calibrates_overconfident_and_flat_predictions():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4000, 10)) * 2
    labels = np.array([rng.choice(10, p=np.exp(row) / np.exp(row).sum()) for row in logits])  # calibrated at T = 1
    for scale in (3.0, 0.2):  # overconfident (too sharp), then nearly flat (cnmf's output)
        p = np.exp(logits * scale) / np.exp(logits * scale).sum(axis=1, keepdims=True)
        temperature = fit_temperature(p, labels)
        assert temperature == pytest.approx(scale, rel=0.1)
        calibrated = with_temperature(p, temperature)
        assert expected_calibration_error(calibrated, labels) < 0.03 < expected_calibration_error(p, labels)
        np.testing.assert_allclose(calibrated.sum(axis=1), 1.0, rtol=1e-6)


def test_a_temperature_of_one_changes_nothing_and_zero_probabilities_stay_finite():
    p = np.array([[0.0, 0.2, 0.8]])
    np.testing.assert_allclose(with_temperature(p, 1.0), p, atol=1e-7)
    assert np.all(np.isfinite(with_temperature(p, 0.5)))
