"""What the NMF layers' input check (``check_inputs=True``) costs in a compiled training step.

Two copies of one network, the same weights, one with ``check_inputs=False`` in every NMF layer, each trained by
``train_on_batch`` (compiled as ``fit``'s steps are) on the same batch, alternately: the median of the paired
differences is the check's cost (:func:`keras_nmf.benchmarks.timing.paired_medians_ms`). On JAX a training step's
check is a host callback (:func:`keras_nmf.ops.check_non_negative_finite`); on TensorFlow a graph assertion.
"""

import keras
import numpy as np

from keras_nmf.benchmarks.timing import paired_medians_ms
from keras_nmf.layers.base_nmf import BaseNMF
from keras_nmf.models import build_model


def _network(arch, check_inputs):
    keras.utils.set_random_seed(0)
    model = build_model(arch)
    layers = [layer for layer in model.layers if isinstance(layer, BaseNMF)]
    for layer in layers:
        layer.check_inputs = check_inputs  # read when the step is traced, so before the first step
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model, len(layers)


def measure(arch="cnmf_1x1", batch_size=50, repeats=10):
    """Milliseconds per training step with and without the check, and their paired difference."""
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(batch_size, 28, 28, 3)).astype("float32")
    labels = np.arange(batch_size) % 10
    (checked, layers), (unchecked, _) = _network(arch, True), _network(arch, False)
    with_check, without_check, difference = paired_medians_ms(
        lambda: checked.train_on_batch(images, labels),
        lambda: unchecked.train_on_batch(images, labels),
        repeats=repeats,
    )
    return {
        "backend": keras.backend.backend(),
        "arch": arch,
        "batch_size": batch_size,
        "nmf_layers": layers,
        "step_ms_checked": round(with_check, 2),
        "step_ms_unchecked": round(without_check, 2),
        "check_ms": round(difference, 2),
        "check_percent": round(100 * difference / without_check, 2),
    }
