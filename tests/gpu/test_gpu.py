"""CNMF2D on a GPU against the float64 reference (run by scripts/device_check.sh; skipped without a GPU).

Runs on the TensorFlow and the JAX backend. Also measures whether the NMF
iterations keep their accuracy under TF32, the default float32 matmul mode of
TensorFlow and JAX on Ampere and newer NVIDIA GPUs; the errors are written to
$KERAS_NMF_GPU_REPORT (JSON) when it is set.
"""

import json
import os

import keras
import numpy as np
import pytest

from keras_nmf.layers import CNMF2D
from keras_nmf import backend as backend_settings
from keras_nmf.training.recipe import process_settings
from tests import nmf_reference as ref
from tests.backend import BACKEND, gpu_available, on_gpu
from tests.layers.gradients import output_and_gradients

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not gpu_available(), reason=f"no GPU visible to {BACKEND}"),
]

#: Tolerances by policy: float32 math, or outputs rounded to a 16-bit compute dtype.
TOLERANCES = {"float32": (1e-4, 2e-3), "mixed_float16": (2e-3, 2e-2), "mixed_bfloat16": (1e-2, 5e-2)}


def _case(chunk_elements=2**20, seed=0, shape=(4, 12, 12, 8), filters=16, iterations=20):
    """A layer with random weights, its input, an upstream gradient and the reference results."""
    rng = np.random.default_rng(seed)
    images = rng.random(shape)
    layer = CNMF2D(filters, 5, iterations=iterations, chunk_elements=chunk_elements)
    layer.build(images.shape)
    kernel = rng.random(layer.kernel.shape)
    layer.set_weights([kernel.astype("float32")])
    phi = rng.normal(size=layer.compute_output_shape(images.shape))
    expected = ref.conv_forward_backward(images, kernel, iterations=iterations, phi=phi)
    return layer, images, phi, expected


def _relative_errors(got, expected):
    return [float(np.max(np.abs(g - e)) / np.max(np.abs(e))) for g, e in zip(got, expected)]


def _report(key, value):
    path = os.environ.get("KERAS_NMF_GPU_REPORT")
    if path:
        report = json.loads(open(path).read()) if os.path.exists(path) else {}
        report[key] = value
        with open(path, "w") as handle:
            json.dump(report, handle, indent=2)


@pytest.fixture(autouse=True)
def _restore_tf32():
    previous = backend_settings.tf32_enabled()
    yield
    backend_settings.set_tf32(previous)


@pytest.mark.parametrize("policy", list(TOLERANCES))
@pytest.mark.parametrize("chunk_elements", [2**20, None], ids=["chunked", "whole-batch"])
def test_outputs_and_gradients_on_gpu_match_reference(policy, chunk_elements):
    with process_settings(policy):  # as train.py: float32 without TF32, the mixed policies with TF32 on
        layer, images, phi, expected = _case(chunk_elements)
        with on_gpu():
            got = output_and_gradients(layer, images, phi, mode="xla")
        assert layer.compute_dtype == keras.config.dtype_policy().compute_dtype
    output_tolerance, gradient_tolerance = TOLERANCES[policy]
    errors = _relative_errors(got, expected)
    _report(f"{BACKEND}/{policy}/{'chunked' if chunk_elements else 'whole-batch'}", errors)
    assert errors[0] < output_tolerance and max(errors[1:]) < gradient_tolerance, errors


def test_tf32_effect_on_the_iterations_is_measured():
    """True float32 must match the reference; TF32's error is measured and reported for the README."""
    layer, images, phi, expected = _case()
    errors = {}
    for tf32 in (False, True):
        backend_settings.set_tf32(tf32)
        with on_gpu():
            errors["tf32" if tf32 else "float32"] = _relative_errors(
                output_and_gradients(layer, images, phi, mode="xla"), expected
            )
    _report(f"{BACKEND}/tf32_vs_float32", errors)
    assert errors["float32"][0] < 1e-4 and max(errors["float32"][1:]) < 2e-3, errors
