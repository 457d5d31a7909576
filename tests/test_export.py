"""A trained network leaves Keras: SavedModel and ONNX predict as the model does (docs/deploy.md)."""

import numpy as np
import pytest

from keras_nmf.layers import PaperAugmentation
from keras_nmf.models import build_model
from keras_nmf.nmf_arguments import NMFOptions
from tests.backend import ONNX_CONVERTER, onnx_exportable, tensorflow_only, torch_only


def _network(tolerance):
    """cnmf_1x1 on raw uint8 images (its augmentation centre-crops at inference), and its predictions."""
    model = build_model(
        "cnmf_1x1",
        nmf_options=NMFOptions(3, tolerance=tolerance),
        augmentation=PaperAugmentation(28),
        image_shape=(32, 32, 3),
    )
    images = np.random.default_rng(0).integers(0, 256, (6, 32, 32, 3)).astype("uint8")
    return model, images, model.predict(images, verbose=0)


@pytest.fixture(scope="module")
def with_tolerance():
    """With a tolerance: a while loop in the exported graph."""
    return _network(1e-2)


def _from_the_export_extra(module):
    return pytest.importorskip(module, reason="the export extra: pip install '.[export]' in the repository")


def _onnx_predictions(model, images, path):
    _from_the_export_extra(ONNX_CONVERTER)
    onnxruntime = _from_the_export_extra("onnxruntime")
    model.export(str(path), format="onnx", verbose=False)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: images})[0]


@tensorflow_only
def test_a_saved_model_serves_the_same_predictions(with_tolerance, tmp_path):
    import tensorflow as tf

    model, images, expected = with_tolerance
    model.export(str(tmp_path / "saved"), format="tf_saved_model", verbose=False)
    loaded = tf.saved_model.load(str(tmp_path / "saved"))  # held: its functions reference its variables
    served = loaded.serve(tf.constant(images))
    np.testing.assert_allclose(served.numpy(), expected, rtol=1e-5, atol=1e-6)


@tensorflow_only
def test_onnx_runtime_runs_the_tolerance_loop_like_keras(with_tolerance, tmp_path):
    model, images, expected = with_tolerance
    np.testing.assert_allclose(
        _onnx_predictions(model, images, tmp_path / "model.onnx"), expected, rtol=1e-5, atol=1e-6
    )


@onnx_exportable
def test_onnx_runtime_predicts_like_keras_with_a_fixed_n(tmp_path):
    """On PyTorch the NMF layers' custom gradient is left out while the exporter traces (it cannot write one)."""
    model, images, expected = _network(None)
    np.testing.assert_allclose(
        _onnx_predictions(model, images, tmp_path / "model.onnx"), expected, rtol=1e-5, atol=1e-6
    )


@torch_only
def test_exporting_a_tolerance_from_pytorch_is_refused_with_the_way_out(with_tolerance, tmp_path):
    """PyTorch's exporter would record the while loop with its sample's iteration count."""
    model, images, _ = with_tolerance
    _from_the_export_extra(ONNX_CONVERTER)
    with pytest.raises(ValueError, match="tolerance=0.01 while PyTorch's exporter traces.*tolerance=None"):
        model.export(str(tmp_path / "model.onnx"), format="onnx", verbose=False)
