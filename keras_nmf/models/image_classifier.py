"""``ImageClassifier``: raw images in, class probabilities out: the paper's preprocessing, then a ``PaperNetwork``."""

import keras
import numpy as np

from keras_nmf.errors import ImageInputError
from keras_nmf.layers.augmentation import PaperAugmentation
from keras_nmf.models import presets
from keras_nmf.models.calibration import Temperature, check_temperature
from keras_nmf.models.image_inputs import prepare_images, prepare_labels
from keras_nmf.models.paper_network import PaperNetwork


def check_class_names(class_names, num_classes):
    """``class_names`` as a list of ``num_classes`` distinct strings, or None; a clear error otherwise."""
    if class_names is None:
        return None
    if isinstance(class_names, str) or not all(isinstance(name, str) for name in class_names):
        raise ValueError(f"`class_names` must be a list of strings, one per class. Received: {class_names!r}")
    class_names = list(class_names)
    if len(class_names) != num_classes:
        raise ValueError(
            f"{len(class_names)} class names for {num_classes} classes: give one name per class, in "
            f"the order of the labels."
        )
    if len(set(class_names)) != len(class_names):
        repeated = sorted({name for name in class_names if class_names.count(name) > 1})
        raise ValueError(f"The class names repeat {', '.join(map(repr, repeated))}: give each class its own name.")
    return class_names


def decode_predictions(probabilities, class_names=None, top_k=5):
    """The ``top_k`` (class name, probability) pairs of each row of ``probabilities`` (B, K), most probable first.

    ``class_names``: K names (None: ``"class 0"``, ``"class 1"``, ...)."""
    probabilities = np.asarray(probabilities)
    classes = probabilities.shape[-1]
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= classes:
        raise ValueError(f"`top_k` must be an integer from 1 to {classes} (the classes). Received: top_k={top_k!r}")
    names = class_names if class_names is not None else [f"class {k}" for k in range(classes)]
    order = np.argsort(-probabilities, axis=-1, kind="stable")[..., :top_k]
    return [[(names[k], float(row[k])) for k in ranks] for row, ranks in zip(probabilities, order)]


def _is_dataset(data):
    return hasattr(data, "element_spec")  # a tf.data.Dataset


def _is_array(data):
    return isinstance(data, (np.ndarray, list, tuple)) or hasattr(data, "__array__") or hasattr(data, "detach")


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
        class_names: one name per class, in the order of the labels (:meth:`decode_predictions`); the trained
            presets carry CIFAR-10's, a run trained by ``train.py`` its image folders'.
        temperature: None, or T > 0: at inference the probabilities are softmax(log p / T), calibrated
            (:mod:`keras_nmf.models.calibration`); in training the network's own.

    The input contract (:mod:`keras_nmf.models.image_inputs`): ``predict``, ``evaluate``, ``fit`` and the
    ``*_on_batch`` methods take uint8 images, or integers or floats in [0, 255], of any height and width (resized
    as the training images were made); they refuse values they would answer wrongly (a float batch in [0, 1], NaN,
    out of range) and labels outside the classes before the compiled step. Arrays are checked; a ``tf.data``
    dataset must yield uint8 images of ``image_shape`` (checked from its element spec); other iterables pass as
    they are.

    The output is class probabilities, not logits (keras-hub's image classifiers return logits unless given
    ``activation="softmax"``): the paper's loss (eq. 21) is on the probabilities.

    Example::

        classifier = keras_nmf.models.ImageClassifier.from_preset("cnmf_1x1_cifar10")
        probabilities = classifier.predict(images_uint8)          # (B, 32, 32, 3) -> (B, 10)
        classifier.network                                        # the network alone, on 28x28 crops
    """

    def __init__(self, network, image_shape=None, seed=None, class_names=None, temperature=None, **kwargs):
        if isinstance(network, dict):
            network = keras.saving.deserialize_keras_object(network)
        if not isinstance(network, PaperNetwork) or network.arguments["observed_input"]:
            raise ValueError(
                f"`network` must be a PaperNetwork of one input (an `observed` mask is given for the "
                f"crops, after this preprocessing). Received: {network!r}"
            )
        crop, _, channels = network.arguments["input_shape"]
        temperature = check_temperature(temperature)
        image_shape = tuple(image_shape) if image_shape is not None else (crop + 4, crop + 4, channels)
        inputs = keras.Input(image_shape, dtype="uint8", name="images")
        x = PaperAugmentation(crop, seed=seed, name="augmentation")(inputs)
        for layer in network.layers:  # a chain from the crops to the probabilities (PaperNetwork, one input)
            if not isinstance(layer, keras.layers.InputLayer):
                x = layer(x)
        if temperature is not None:
            x = Temperature(temperature, name="temperature")(x)
        kwargs.setdefault("name", f"{network.name}_classifier")
        super().__init__(inputs=inputs, outputs=x, **kwargs)
        self.network, self.image_shape, self.seed = network, image_shape, seed
        self.class_names, self.temperature = class_names, temperature

    @property
    def class_names(self):
        """The classes' names in the order of the labels, or None."""
        return self._class_names

    @class_names.setter
    def class_names(self, class_names):
        self._class_names = check_class_names(class_names, self.num_classes)

    @property
    def num_classes(self):
        return self.network.arguments["num_classes"]

    def decode_predictions(self, probabilities, top_k=5):
        """The ``top_k`` (class name, probability) pairs of each image's probabilities (:func:`decode_predictions`)."""
        return decode_predictions(probabilities, self.class_names, top_k)

    # The input contract: every entry point checks arrays before Keras builds or runs a step.
    def _images(self, x):
        if _is_dataset(x):
            self._check_dataset(x)
            return x
        return prepare_images(x, self.image_shape) if _is_array(x) else x

    def _labels(self, y, x):
        if y is None or not _is_array(y) or not isinstance(x, np.ndarray):
            return y
        return prepare_labels(y, self.num_classes, len(x))

    def _data(self, x, y):
        x = self._images(x)
        return x, self._labels(y, x)

    def _check_dataset(self, dataset):
        spec = dataset.element_spec
        images = spec[0] if isinstance(spec, tuple) else spec
        if getattr(images, "dtype", None) != "uint8" or tuple(images.shape[1:]) != tuple(self.image_shape):
            raise ImageInputError(
                f"A dataset's images must be uint8 batches of shape (None, {', '.join(map(str, self.image_shape))}) "
                f"for this classifier; they are {getattr(images, 'dtype', '?')} {tuple(images.shape)}. Its values "
                f"cannot be checked before the compiled step: map it to uint8 pixel values of that size first (or "
                f"pass arrays, which are checked and resized)."
            )

    def call(self, inputs, training=None, mask=None):
        if isinstance(inputs, np.ndarray):  # an eager call on an array: the contract holds there too
            inputs = prepare_images(inputs, self.image_shape)
        return super().call(inputs, training=training, mask=mask)

    def predict(self, x, *args, **kwargs):
        return super().predict(self._images(x), *args, **kwargs)

    def predict_on_batch(self, x):
        return super().predict_on_batch(self._images(x))

    def evaluate(self, x=None, y=None, *args, **kwargs):
        return super().evaluate(*self._data(x, y), *args, **kwargs)

    def test_on_batch(self, x, y=None, *args, **kwargs):
        return super().test_on_batch(*self._data(x, y), *args, **kwargs)

    def train_on_batch(self, x, y=None, *args, **kwargs):
        return super().train_on_batch(*self._data(x, y), *args, **kwargs)

    def fit(self, x=None, y=None, *args, validation_data=None, **kwargs):
        x, y = self._data(x, y)
        if isinstance(validation_data, tuple) and validation_data and _is_array(validation_data[0]):
            validation_data = self._data(*validation_data[:2]) + tuple(validation_data[2:])
        elif validation_data is not None:
            validation_data = self._images(validation_data)
        return super().fit(x, y, *args, validation_data=validation_data, **kwargs)

    def crops(self, images):
        """The network's input for raw ``images`` at inference: their centre crops in [0, 1] (what ``predict``
        feeds ``.network``)."""
        return self.get_layer("augmentation")(images, training=False)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "network": keras.saving.serialize_keras_object(self.network),
            "image_shape": list(self.image_shape),
            "seed": self.seed,
            "class_names": None if self.class_names is None else list(self.class_names),
            "temperature": self.temperature,
        }

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

    def save_to_preset(self, directory, metadata=None, model_card=None, overwrite=False):
        """Writes ``config.json``, ``model.weights.h5`` (the network's), ``metadata.json`` and a model card
        ``README.md`` (``model_card``, or a short one from the metadata) to ``directory``, as a whole: a failure
        (a full disk) leaves no half preset and the previous one intact.

        Raises:
            PresetError: ``directory`` holds files and ``overwrite`` is False; ``metadata`` is not a dict of JSON
                values or ``model_card`` not a string (checked before anything is written); a write failed."""
        presets.save_preset(self, directory, metadata, model_card, overwrite)
