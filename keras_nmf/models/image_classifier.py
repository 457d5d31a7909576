"""``ImageClassifier``: raw images in, class probabilities out: the paper's preprocessing, then a ``PaperNetwork``."""

import keras

from keras_nmf.layers.augmentation import PaperAugmentation
from keras_nmf.models import presets
from keras_nmf.models.paper_network import PaperNetwork


@keras.saving.register_keras_serializable(package="keras_nmf")
class ImageClassifier(keras.Model):
    """Raw uint8 images (B, H, W, C) -> class probabilities, as the paper trains and tests its networks.

    The preprocessing is :class:`keras_nmf.layers.PaperAugmentation`: in training (``fit``) the paper's random crop,
    flip and colour jitter, drawn per image; at inference (``predict``, ``evaluate``) the centre crop. Then the
    network (``.network``, a :class:`PaperNetwork` on crops in [0, 1]).

    The classifier's graph is the augmentation followed by the network's own layers (the same layer objects, so
    training the classifier trains ``.network``), not the network as one nested layer: its weights file then has
    the layout of the models that ``train.py`` saved before these classes existed (a test), and their backups and
    weights load into it as they are.

    Args:
        network: the :class:`PaperNetwork` (or its serialised config).
        image_shape: (height, width, channels) of the raw images; default: the network's crops plus 4 pixels a side
            (the paper's 28x28 crops of CIFAR-10's 32x32 images).
        seed: seed of the augmentation's random draws (None: Keras's global seed).

    Example::

        classifier = keras_nmf.models.ImageClassifier.from_preset("cnmf_1x1_cifar10")
        probabilities = classifier.predict(images_uint8)          # (B, 32, 32, 3) -> (B, 10)
        classifier.network                                        # the network alone, on 28x28 crops
    """

    def __init__(self, network, image_shape=None, seed=None, **kwargs):
        if isinstance(network, dict):
            network = keras.saving.deserialize_keras_object(network)
        if not isinstance(network, PaperNetwork) or network.arguments["observed_input"]:
            raise ValueError(f"`network` must be a PaperNetwork of one input (an `observed` mask is given for the "
                             f"crops, after this preprocessing). Received: {network!r}")
        crop, _, channels = network.arguments["input_shape"]
        image_shape = tuple(image_shape) if image_shape is not None else (crop + 4, crop + 4, channels)
        inputs = keras.Input(image_shape, dtype="uint8", name="images")
        x = PaperAugmentation(crop, seed=seed, name="augmentation")(inputs)
        for layer in network.layers:  # a chain from the crops to the probabilities (PaperNetwork, one input)
            if not isinstance(layer, keras.layers.InputLayer):
                x = layer(x)
        kwargs.setdefault("name", f"{network.name}_classifier")
        super().__init__(inputs=inputs, outputs=x, **kwargs)
        self.network, self.image_shape, self.seed = network, image_shape, seed

    def crops(self, images):
        """The network's input for raw ``images`` at inference: their centre crops in [0, 1] (what ``predict``
        feeds ``.network``)."""
        return self.get_layer("augmentation")(images, training=False)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "network": keras.saving.serialize_keras_object(self.network), "image_shape": list(self.image_shape),
                "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    @classmethod
    def from_preset(cls, preset, load_weights=True):
        """A classifier from a preset: a built-in name (:func:`keras_nmf.models.list_presets`: an architecture,
        untrained, or a trained network such as ``"cnn_cifar10"``) or a directory written by :meth:`save_to_preset`.

        Raises:
            ValueError: an unknown name, or a directory without a preset.
        """
        return presets.load_preset(preset, load_weights)

    def save_to_preset(self, directory, metadata=None, model_card=None):
        """Writes ``config.json``, ``model.weights.h5`` (the network's), ``metadata.json`` and a model card
        ``README.md`` (``model_card``, or a short one from the metadata) to ``directory``, each atomically."""
        presets.save_preset(self, directory, metadata, model_card)
