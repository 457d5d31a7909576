"""The models and the image batch of the gradient-fidelity report."""

import pathlib

import keras
import numpy as np

from keras_nmf.errors import ConfigError
from keras_nmf.data import DataError, load_arrays
from keras_nmf.layers.augmentation import centre_crop
from keras_nmf.data.subsets import SubsetSizeError
from keras_nmf.models import ARCHITECTURES, PaperNetwork
from keras_nmf.training.saved_networks import load_network
from keras_nmf.errors import MissingFileError

UNTRAINED = "untrained:"


def load_fidelity_model(spec, seed=0):
    """``(label, network)`` from a ``.keras`` path or ``untrained:<arch>`` (a ``PaperNetwork`` seeded with ``seed``).

    Raises:
        FileNotFoundError, ValueError: a missing file or an unknown arch, with the accepted forms.
    """
    if spec.startswith(UNTRAINED):
        arch = spec[len(UNTRAINED) :]
        if arch not in ARCHITECTURES:
            raise ConfigError(f"Unknown arch in {spec!r}: use untrained:<arch> with one of {', '.join(ARCHITECTURES)}.")
        keras.utils.set_random_seed(seed)
        return f"{arch} (untrained)", PaperNetwork(arch)
    path = pathlib.Path(spec)
    if not path.is_file():
        raise MissingFileError(f"Model file not found: {spec} (give a .keras file or untrained:<arch>).")
    label = path.parent.name if path.name == "model.keras" else path.stem
    return label, load_network(path)  # gradients from the crops on


def fidelity_batch(model, name, data_dir, tfds_dir, batch_size, seed):
    """``batch_size`` seeded test images, centre-cropped to the model's input, in [0, 1], and their labels."""
    try:
        _, (images, labels), _ = load_arrays(
            name, data_dir, tfds_dir, verbose=False, limit_train=1, limit_test=batch_size, seed=seed
        )
    except SubsetSizeError as error:
        raise DataError(
            f"--batch-size {batch_size} is more than the data set's {error.total} test images: pass at "
            f"most {error.total}."
        ) from None
    crop, channels = model.input_shape[1], model.input_shape[-1]
    if images.shape[-1] != channels or min(images.shape[1:3]) < crop:
        raise DataError(f"The data's images {images.shape[1:]} do not fit the model's input {model.input_shape[1:]}.")
    return centre_crop(images, crop).astype(np.float32) / 255.0, labels
