"""``NMFDiagnostics``: per NMF layer, how well it factorises its input, logged each epoch."""

import keras
import numpy as np

from keras_nmf.layers.base_nmf import BaseNMF
from keras_nmf.training.compiled import compiled_call
from keras_nmf.training.progress import show_status

#: The quantities logged per layer, as ``<layer>_<quantity>`` (epochs.csv columns, TensorBoard ``epoch_<...>``).
QUANTITIES = ("reconstruction_error", "residual", "sparsity", "iterations")


def nmf_layers(model):
    """The model's NMF layers (``CNMF2D``, ``NMFDense``), in order."""
    return [layer for layer in model.layers if isinstance(layer, BaseNMF)]


def layer_diagnostics(layer, layer_inputs):
    """Means over the patterns of one batch: ``{quantity: value}`` (see :mod:`keras_nmf.ops.diagnostics`)."""
    factorization = layer.factorize(layer_inputs)
    values = {
        "reconstruction_error": factorization.reconstruction_error(),
        "residual": factorization.residual(),
        "sparsity": factorization.sparsity(),
        "iterations": keras.ops.cast(factorization.iterations_used, "float32"),  # N, or fewer with a tolerance
    }
    return {name: float(np.mean(keras.ops.convert_to_numpy(value))) for name, value in values.items()}


class NMFDiagnostics(keras.callbacks.Callback):
    """Adds ``<layer>_<quantity>`` for each of ``QUANTITIES`` to each epoch's logs.

    On one fixed batch (the same every epoch), for every NMF layer: the mean
    reconstruction error |xhat - W h|_1 per pattern, the mean fixed-point
    residual |h(N) - h(N-1)|_1 (how far the N iterations are from the fixed
    point where eqs. 18-19 are derived), the mean Hoyer sparsity of h and the
    mean number of updates the patterns used (N, or fewer with a ``tolerance``).
    Cheap: one forward pass to each layer's input and N iterations per layer. Place it before the loggers
    (``CSVLogger``, ``TensorBoard``).

    Args:
        images: the fixed batch (model inputs).
    """

    def __init__(self, images):
        super().__init__()
        self.images = images
        self._inputs = self._heads = None

    def on_train_begin(self, logs=None):
        # An ImageClassifier shares its network's layers, whose own graph starts at the crops.
        network = getattr(self.model, "network", self.model)
        self._inputs = self.model.crops(self.images) if network is not self.model else self.images
        self._heads = [
            (layer, compiled_call(keras.Model(network.inputs, layer.input), training=False))
            for layer in nmf_layers(network)
        ]

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or not self._heads:
            return
        show_status(self, "measuring the NMF layers' diagnostics")
        for layer, head in self._heads:
            for name, value in layer_diagnostics(layer, head(self._inputs)).items():
                logs[f"{layer.name}_{name}"] = value
