"""What the tests need from the active Keras backend: gradients, compiled calls, markers.

The layer, ops and model tests run under ``KERAS_BACKEND=tensorflow`` (the
whole suite), ``KERAS_BACKEND=jax`` and ``KERAS_BACKEND=torch`` (``make test``
runs them again on each); these helpers give all three the same words for
taking a gradient and compiling a call. As in :mod:`keras_nmf.backend`, each
backend's helpers live in their own module, selected once here.
"""

import importlib

import keras
import numpy as np
import pytest

from keras_nmf import backend

BACKEND = backend.NAME
_helpers = importlib.import_module(f"tests.backend.{BACKEND}_helpers")

#: How a computation is run: op by op, traced with an unknown batch size (as ``fit`` traces on TensorFlow), or XLA.
#: On JAX the three are one (``jax.jit``, static shapes), so tests parametrised by mode run it once there; PyTorch
#: runs eagerly.
MODES = _helpers.MODES
value_and_gradients = _helpers.value_and_gradients
layer_output_and_gradients = _helpers.layer_output_and_gradients
compiled = _helpers.compiled
compiled_function = _helpers.compiled_function
outputs_and_weight_gradients = _helpers.outputs_and_weight_gradients
on_gpu = _helpers.on_gpu

#: Tests of TensorFlow machinery itself (graph assertions, tf.function tracing, tf.distribute).
tensorflow_only = pytest.mark.skipif(BACKEND != "tensorflow", reason="tests TensorFlow-specific behaviour")

#: Tests of JAX machinery itself (jax.export's symbolic shapes, which Keras's ONNX export on JAX traces with).
jax_only = pytest.mark.skipif(BACKEND != "jax", reason="tests JAX-specific behaviour")

#: Tests of PyTorch machinery itself (what its ONNX exporter traces).
torch_only = pytest.mark.skipif(BACKEND != "torch", reason="tests PyTorch-specific behaviour")

#: The module Keras's ONNX export needs on this backend, from the export extra: tf2onnx (TensorFlow), onnxscript
#: (torch.onnx on PyTorch); None on JAX, whose jax2onnx is not in the extra (docs/deploy.md).
ONNX_CONVERTER = {"tensorflow": "tf2onnx", "torch": "onnxscript"}.get(BACKEND)
onnx_exportable = pytest.mark.skipif(
    ONNX_CONVERTER is None, reason="no ONNX converter of this backend in the export extra"
)

#: Tests of float64 arithmetic (JAX computes in float32 unless JAX_ENABLE_X64=1).
float64_only = pytest.mark.skipif(
    not backend.float64_available(), reason="needs float64 arithmetic (JAX: JAX_ENABLE_X64=1; not on PyTorch)"
)


def to_numpy(value, dtype=np.float64):
    low_precision = keras.backend.standardize_dtype(value.dtype) in ("float16", "bfloat16")
    return np.asarray(
        keras.ops.convert_to_numpy(keras.ops.cast(value, "float32") if low_precision else value), dtype=dtype
    )


def float64_supported():
    """float64 arithmetic in ``keras.ops``: TensorFlow, and JAX with ``JAX_ENABLE_X64=1`` (not PyTorch)."""
    return backend.float64_available()


def gpu_available():
    """Whether the active backend sees a GPU."""
    return backend.gpu_compute_capability() is not None
