"""Out-of-distribution images that install with the packages and need no download at run time.

Every set is a uint8-range float32 batch (N, size, size, 3) in [0, 255], what an ``ImageClassifier`` takes:

* ``digits``: scikit-learn's bundled handwritten digits (8x8, 0-16; 1,797 of them), upscaled (bilinear) and grey
  as RGB;
* ``photos``: random crops of scikit-image's bundled colour photographs (an astronaut, a cat, coffee, a rocket,
  the Hubble deep field, a stained tissue, a retina), each photograph first shrunk so that its short side is
  ``3 * size`` pixels, so that a crop holds an object's part at about CIFAR-10's scale;
* ``textures``: the same crops of its bundled grey photographs and textures (a camera man, coins, grass, gravel,
  brick, the moon, a page, text), grey as RGB;
* ``noise``: uniform noise;
* ``<perturbation>_<eta>``: in-distribution images under one of the package's robustness perturbations
  (:mod:`keras_nmf.experiments.perturbations`) at strength eta, clipped to the pixel range.
"""

import importlib

import numpy as np
from PIL import Image

from keras_nmf.errors import MissingExtraError
from keras_nmf.experiments.perturbations import perturb

#: scikit-image's bundled colour and grey photographs (in the wheel: no download).
COLOUR_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "retina")
GREY_PHOTOS = ("camera", "coins", "grass", "gravel", "brick", "moon", "page", "text")


def _extra(module):
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        raise MissingExtraError(
            f"The out-of-distribution images come from scikit-learn and scikit-image ({module} is missing): install "
            "the explain extra (pip install 'keras_nmf[explain]')."
        ) from error


def _rgb(grey):
    return np.repeat(grey[..., None], 3, axis=-1)


def _resized(image, height, width):
    """A uint8 (H, W, 3) image resized (bilinear) to (height, width)."""
    return np.asarray(Image.fromarray(np.asarray(image, np.uint8)).resize((width, height), Image.BILINEAR))


def digits(count, size=32):
    """The first ``count`` of scikit-learn's 1,797 bundled digits as (count, size, size, 3) images."""
    images = _extra("sklearn.datasets").load_digits().images[:count] * (255.0 / 16.0)
    return np.stack([_resized(_rgb(image), size, size) for image in images]).astype("float32")


def _crops(photos, count, size, rng):
    shrunk = []
    for photo in photos:
        height, width = photo.shape[:2]
        scale = 3 * size / min(height, width)
        shrunk.append(_resized(photo, round(height * scale), round(width * scale)))
    crops = []
    for index in rng.integers(0, len(shrunk), count):
        photo = shrunk[index]
        top = rng.integers(0, photo.shape[0] - size + 1)
        left = rng.integers(0, photo.shape[1] - size + 1)
        crops.append(photo[top : top + size, left : left + size])
    return np.stack(crops).astype("float32")


def photos(count, size=32, seed=0):
    """``count`` random crops of the bundled colour photographs."""
    data = _extra("skimage.data")
    return _crops([getattr(data, name)()[..., :3] for name in COLOUR_PHOTOS], count, size, np.random.default_rng(seed))


def textures(count, size=32, seed=0):
    """``count`` random crops of the bundled grey photographs and textures, grey as RGB."""
    data = _extra("skimage.data")
    return _crops([_rgb(getattr(data, name)()) for name in GREY_PHOTOS], count, size, np.random.default_rng(seed))


def noise(count, size=32, seed=0):
    """``count`` images of uniform noise in [0, 255]."""
    return (np.random.default_rng(seed).random((count, size, size, 3)) * 255.0).astype("float32")


def perturbed(images, kind, eta, seed=0, others=None):
    """``images`` (pixel values in [0, 255]) under perturbation ``kind`` at strength ``eta``, clipped to [0, 255]."""
    rng = np.random.default_rng(seed)
    others = None if others is None else np.asarray(others, "float32") / 255.0
    changed = perturb(kind, np.asarray(images, "float32") / 255.0, eta, rng, others)
    return np.clip(changed * 255.0, 0.0, 255.0).astype("float32")


def out_of_distribution_sets(
    count, size=32, seed=0, in_distribution=None, strengths=(0.25, 0.5), kinds=("uniform", "holes")
):
    """``{name: images}``: the bundled sets (``count`` images each, ``digits`` at most 1,797), and with
    ``in_distribution`` images its perturbations of each kind at each strength (their first ``count``)."""
    sets = {
        "digits": digits(count, size),
        "photos": photos(count, size, seed),
        "textures": textures(count, size, seed),
        "noise": noise(count, size, seed),
    }
    if in_distribution is not None:
        chosen = np.asarray(in_distribution[:count], "float32")
        for kind in kinds:
            for eta in strengths:
                sets[f"{kind}_{eta:g}"] = perturbed(chosen, kind, eta, seed)
    return sets
