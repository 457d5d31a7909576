"""A saved model file as the paper's model classes: an ``ImageClassifier`` or a ``PaperNetwork``.

``train.py`` saves an :class:`~keras_nmf.models.ImageClassifier` (raw images in), which describes itself. Runs
saved before the model classes existed (keras_nmf up to commit 6e23a6d) hold a plain functional graph: the
augmentation layer and the network's layers in one chain (or the network's layers alone, on the crops). Such a
file does not say which network it is, so it is rebuilt here, once, from its run's ``config.json``, and its
weights are copied layer by layer (the layer names are the same). This is the only place that reads a run's
configuration to rebuild a model.
"""

import pathlib

import keras

from keras_nmf.models import ImageClassifier, PaperNetwork, copy_weights
from keras_nmf.training.config import TrainConfig
from keras_nmf.training.recipe import network_arguments
from keras_nmf.errors import RunFileError
from keras_nmf.training.run_files import load_keras_model


def load_paper_model(path, compile=False):
    """The ``ImageClassifier`` or ``PaperNetwork`` saved in ``path`` (a ``.keras`` file), with its weights.

    Raises:
        RunFileError: a missing or corrupt file, or one that is neither class (a model of an earlier version
            without its run's ``config.json`` beside it, or a model from elsewhere).
    """
    path = pathlib.Path(path)
    model = load_keras_model(path, compile=compile)
    if isinstance(model, (ImageClassifier, PaperNetwork)):
        return model
    return _rebuilt(model, path, compile)


def load_network(path):
    """The network of the model saved in ``path``: a ``PaperNetwork`` on the crops in [0, 1] (what perturbation and
    gradient experiments feed), without the classifier's augmentation."""
    model = load_paper_model(path)
    return model.network if isinstance(model, ImageClassifier) else model


def _rebuilt(model, path, compile):
    """A functional model saved by ``train.py`` before the model classes, as the class it is, from its run's config."""
    config_path = path.parent / "config.json"
    if "block1_relu" not in {layer.name for layer in model.layers} or not config_path.is_file():
        raise RunFileError(
            f"{path} holds a Keras model that is not one of keras_nmf's networks (an ImageClassifier "
            f"or a PaperNetwork), nor a run's model of an earlier version with its config.json beside "
            f"it. Pass a model.keras inside its run directory, or a model saved by keras_nmf."
        )
    config = TrainConfig.load(config_path)
    crops = model.get_layer("block1_relu").input
    raw_images = keras.backend.standardize_dtype(model.inputs[0].dtype) == "uint8"
    rebuilt = PaperNetwork(
        input_shape=tuple(crops.shape[1:]),
        num_classes=model.output_shape[-1],
        bn_synchronized=model.get_layer("block1_bn").synchronized,
        **network_arguments(config.model, config.execution.nmf_chunk_elements),
    )
    if raw_images:
        rebuilt = ImageClassifier(rebuilt, tuple(model.input_shape[1:]), seed=config.optimisation.seed)
    copy_weights(model, rebuilt)
    if compile:
        rebuilt.compile_from_config(model.get_compile_config())
    return rebuilt
