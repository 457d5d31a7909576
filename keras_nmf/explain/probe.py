"""A trained model's NMF layers and what they receive for a batch of images: what every explanation reads.

The NMF layers' inputs are read from the model's graph (a sub-model from its input to each NMF layer's input), so
the layers themselves run as trained, in inference mode, and any model with a graph works: the package's networks,
an :class:`~keras_nmf.models.ImageClassifier` (raw images in [0, 255], its centre crops feed the network), or a
user's own functional or sequential model with NMF layers.
"""

import dataclasses

import keras
import numpy as np

from keras_nmf.errors import ExplainError
from keras_nmf.layers.base_nmf import BaseNMF
from keras_nmf.models.image_classifier import ImageClassifier
from keras_nmf.models.image_inputs import prepare_images


def _sublayers(layer):
    for sublayer in getattr(layer, "layers", ()):
        yield sublayer
        yield from _sublayers(sublayer)


def nmf_layers(model):
    """The NMF layers of ``model`` (``CNMF2D``, ``NMFDense``, ``ConvolutiveNMF2D``), in the order of its layers.

    Raises:
        ExplainError: the model has none.
    """
    layers = [layer for layer in _sublayers(model) if isinstance(layer, BaseNMF)]
    if not layers:
        raise ExplainError(
            f"The model {model.name!r} has no NMF layers (CNMF2D, NMFDense, ConvolutiveNMF2D): there are no parts or "
            "reconstructions to explain. Pass a network of the package (cnmf, cnmf_1x1, a preset) or a model of "
            "your own with NMF layers."
        )
    return layers


@dataclasses.dataclass(frozen=True)
class ProbedBatch:
    """One batch as the model saw it.

    Attributes:
        inputs: the batch as the network takes it (a classifier's centre crops in [0, 1]).
        layer_inputs: ``{layer name: its input}`` for each probed NMF layer, NumPy arrays.
        probabilities: (B, K) the model's class probabilities (a classifier's calibrated ones).
    """

    inputs: np.ndarray
    layer_inputs: dict
    probabilities: np.ndarray


class NMFProbe:
    """Runs a trained model on images and returns each NMF layer's input beside the class probabilities.

    Args:
        model: an ``ImageClassifier`` (raw images of its ``image_shape``, values in [0, 255]), or a functional or
            sequential Keras model with NMF layers (its own input: non-negative images).
        layers: None for every NMF layer, or the names of those to probe.

    Raises:
        ExplainError: a model without NMF layers or without a graph, or a layer name it does not have.
    """

    def __init__(self, model, layers=None):
        self.model = model
        self.classifier = model if isinstance(model, ImageClassifier) else None
        self.network = model.network if self.classifier is not None else model
        if not getattr(self.network, "inputs", None):
            raise ExplainError(
                f"The model {model.name!r} has no graph of layers (a subclassed keras.Model, or one not built "
                "yet): the NMF layers' inputs are read from the graph. Build it as a functional or sequential "
                "model, or call it once on a batch first."
            )
        if len(self.network.inputs) != 1:
            raise ExplainError(
                f"The model {model.name!r} takes {len(self.network.inputs)} inputs; explain runs models of one input, "
                "the images (a network with an `observed` mask input is explained through one without it)."
            )
        available = nmf_layers(self.network)
        if layers is None:
            self.layers = available
        else:
            by_name = {layer.name: layer for layer in available}
            unknown = [name for name in layers if name not in by_name]
            if unknown:
                raise ExplainError(
                    f"The model {model.name!r} has no NMF layer named {', '.join(map(repr, unknown))}. Its NMF layers: "
                    f"{', '.join(by_name)}."
                )
            self.layers = [by_name[name] for name in layers]
        self._graph = keras.Model(
            self.network.inputs[0], [layer.input for layer in self.layers] + [self.network.outputs[0]]
        )

    def network_inputs(self, images):
        """``images`` as the network takes them: a classifier's checked centre crops, else the images, checked
        non-negative and finite (the NMF layers factorise non-negative input).

        Raises:
            ExplainError, ImageInputError: images the model would misread.
        """
        if self.classifier is not None:
            return np.asarray(self.classifier.crops(prepare_images(images, self.classifier.image_shape)))
        images = np.asarray(images, dtype="float32")
        expected = tuple(self.network.inputs[0].shape[1:])
        if images.ndim != len(expected) + 1 or any(
            e is not None and e != s for e, s in zip(expected, images.shape[1:])
        ):
            raise ExplainError(
                f"The images have shape {images.shape}; the model {self.model.name!r} takes (batch, "
                f"{', '.join(map(str, expected))})."
            )
        if not np.all(np.isfinite(images)) or images.min(initial=0.0) < 0:
            raise ExplainError(
                f"The images hold negative or non-finite values (min {np.nanmin(images):.4g}): the NMF layers "
                "explain non-negative input. Pass the images as the model was trained on them (e.g. pixel values "
                "scaled to [0, 1])."
            )
        return images

    def probe(self, images):
        """The :class:`ProbedBatch` of one batch of ``images``."""
        inputs = self.network_inputs(images)
        *layer_inputs, outputs = self._graph(inputs, training=False)
        probabilities = outputs
        if self.classifier is not None and self.classifier.temperature is not None:
            probabilities = self.classifier.get_layer("temperature")(outputs)
        return ProbedBatch(
            inputs,
            {layer.name: keras.ops.convert_to_numpy(x) for layer, x in zip(self.layers, layer_inputs)},
            keras.ops.convert_to_numpy(probabilities),
        )

    def batches(self, images, batch_size=128):
        """``(start, ProbedBatch)`` for consecutive batches of ``images`` (an array of any length)."""
        for start in range(0, len(images), batch_size):
            yield start, self.probe(images[start : start + batch_size])
