"""Factorisation diagnostics against NumPy, and the callback that logs them each epoch."""

import keras
import numpy as np

from keras_nmf.layers import CNMF2D, NMFDense
from keras_nmf.ops import diagnostics
from keras_nmf.training.diagnostics import NMFDiagnostics
from tests import nmf_reference as ref
from tests.backend import to_numpy


def test_quantities_match_numpy():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (4, 6)).astype("float32")
    w = rng.uniform(0, 1, (6, 3)).astype("float32")
    w /= w.sum(0)
    h = rng.uniform(0, 1, (4, 3)).astype("float32")
    previous = rng.uniform(0, 1, (4, 3)).astype("float32")
    x_hat = x / x.sum(-1, keepdims=True)
    np.testing.assert_allclose(diagnostics.reconstruction_error(x, w, h), np.abs(x_hat - h @ w.T).sum(-1), rtol=1e-5)
    np.testing.assert_allclose(diagnostics.fixed_point_residual(h, previous), np.abs(h - previous).sum(-1), rtol=1e-6)
    hoyer = (np.sqrt(3) - np.abs(h).sum(-1) / np.sqrt((h**2).sum(-1))) / (np.sqrt(3) - 1)
    np.testing.assert_allclose(diagnostics.hoyer_sparsity(h), hoyer, rtol=1e-5)
    one_hot = np.eye(3, dtype="float32")
    np.testing.assert_allclose(diagnostics.hoyer_sparsity(one_hot), 1.0, rtol=1e-6)
    np.testing.assert_allclose(diagnostics.hoyer_sparsity(np.zeros((1, 3), "float32")), 0.0)


def test_factorize_gives_h_and_the_reconstruction_beside_the_layer_output():
    inputs = np.random.default_rng(1).uniform(0, 1, (3, 7)).astype("float32")
    layer = NMFDense(4, iterations=6)
    output = layer(inputs)
    factorization = layer.factorize(inputs)
    h = to_numpy(factorization.h)
    np.testing.assert_allclose(h, to_numpy(output), rtol=1e-6)
    w = ref.weights_from_kernel(to_numpy(layer.kernel))
    expected_h = ref.nmf_forward(inputs.astype(np.float64) / inputs.sum(-1, keepdims=True), w, 6)
    np.testing.assert_allclose(h, expected_h, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(to_numpy(factorization.reconstruction), expected_h @ w.T, rtol=1e-4, atol=1e-6)
    previous = ref.nmf_forward(inputs.astype(np.float64) / inputs.sum(-1, keepdims=True), w, 5)
    np.testing.assert_allclose(to_numpy(factorization.residual()), np.abs(expected_h - previous).sum(-1), atol=1e-5)


def test_the_callback_writes_its_scalars_each_epoch():
    images = np.random.default_rng(2).uniform(0, 1, (4, 8, 8, 2)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((8, 8, 2)),
            CNMF2D(3, 3, iterations=4, name="block1_cnmf"),
            keras.layers.Flatten(),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    history = model.fit(images, np.array([0, 1, 0, 1]), epochs=2, verbose=0, callbacks=[NMFDiagnostics(images[:2])])
    for name in ("reconstruction_error", "residual", "sparsity"):
        values = history.history[f"block1_cnmf_{name}"]
        assert len(values) == 2 and all(np.isfinite(values))
    assert 0 <= history.history["block1_cnmf_sparsity"][0] <= 1
