"""A trained network leaves Keras: SavedModel and ONNX predict as the model does (docs/deploy.md)."""

import numpy as np
import pytest

from keras_nmf.data import PaperAugmentation
from keras_nmf.models import build_model
from tests.backend import tensorflow_only

pytestmark = tensorflow_only  # Keras exports SavedModel and (through tf2onnx) ONNX from the TensorFlow backend


@pytest.fixture(scope="module")
def model_and_images():
    """cnmf_1x1 on raw uint8 images (its augmentation centre-crops at inference), with a tolerance: a while loop."""
    model = build_model("cnmf_1x1", iterations=3, nmf_tolerance=1e-2, augmentation=PaperAugmentation(28),
                        image_shape=(32, 32, 3))
    images = np.random.default_rng(0).integers(0, 256, (6, 32, 32, 3)).astype("uint8")
    return model, images, model.predict(images, verbose=0)


def test_a_saved_model_serves_the_same_predictions(model_and_images, tmp_path):
    import tensorflow as tf

    model, images, expected = model_and_images
    model.export(str(tmp_path / "saved"), format="tf_saved_model", verbose=False)
    loaded = tf.saved_model.load(str(tmp_path / "saved"))  # held: its functions reference its variables
    served = loaded.serve(tf.constant(images))
    np.testing.assert_allclose(served.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_onnx_runtime_predicts_like_keras(model_and_images, tmp_path):
    pytest.importorskip("tf2onnx", reason="the export extra: pip install 'keras_nmf[export]'")
    onnxruntime = pytest.importorskip("onnxruntime", reason="the export extra: pip install 'keras_nmf[export]'")
    model, images, expected = model_and_images
    model.export(str(tmp_path / "model.onnx"), format="onnx", verbose=False)
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    predicted = session.run(None, {session.get_inputs()[0].name: images})[0]
    np.testing.assert_allclose(predicted, expected, rtol=1e-5, atol=1e-6)
