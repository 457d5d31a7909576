"""The model and the images that ``keras-nmf-explain`` explains."""

import pathlib

import numpy as np
from PIL import Image, UnidentifiedImageError

from keras_nmf.data.image_folder import decode_images, list_images
from keras_nmf.errors import ExplainError, MissingFileError
from keras_nmf.models import ImageClassifier, list_presets
from keras_nmf.training.evaluate import is_preset, model_file
from keras_nmf.training.saved_networks import load_paper_model


def load_classifier(name):
    """A preset (built-in name or folder), a run directory, or a ``.keras`` file, as an ``ImageClassifier``."""
    if is_preset(name):
        return ImageClassifier.from_preset(name)
    path = pathlib.Path(name)
    if not path.exists():
        raise MissingFileError(
            f"{name} is neither a preset nor a run directory or .keras file. Built-in presets: "
            f"{', '.join(sorted(list_presets()))}."
        )
    model = load_paper_model(model_file(path))
    return model if isinstance(model, ImageClassifier) else ImageClassifier(model)


def read_images(files, image_shape):
    """``(images, names)``: image files decoded as RGB (or grey) and resized to ``image_shape``, uint8."""
    height, width, channels = image_shape
    images = []
    for file in files:
        try:
            with Image.open(file) as image:
                image = image.convert("RGB" if channels == 3 else "L").resize((width, height), Image.BILINEAR)
                images.append(np.asarray(image, np.uint8).reshape(height, width, channels))
        except FileNotFoundError:
            raise MissingFileError(f"Image file not found: {file}.") from None
        except (UnidentifiedImageError, OSError) as error:
            raise ExplainError(f"{file} is not an image Pillow can read ({error}).") from None
    return np.stack(images), [pathlib.Path(file).name for file in files]


def test_images(data_dir, image_shape, count):
    """``(images, names)``: ``count`` test images of ``data_dir`` evenly spread over its files (None: all)."""
    paths, _, _ = list_images(data_dir, "test")
    if count is not None and count < len(paths):
        paths = [paths[int(k)] for k in np.linspace(0, len(paths) - 1, count)]
    names = [str(pathlib.Path(path).relative_to(pathlib.Path(data_dir) / "test")) for path in paths]
    return decode_images(paths, tuple(image_shape)), names
