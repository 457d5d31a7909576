"""Small image-folder data sets generated inside tests."""

import pathlib

import numpy as np
import PIL.Image

CLASSES = ("cat", "dog", "ship")


def make_image_folder(root, per_class=(6, 2), size=32, channels=3, classes=CLASSES, seed=0):
    """Writes root/train/<class>/*.png and root/test/<class>/*.png with random pixels.

    Each class gets a different mean brightness so that a model can learn something.
    """
    rng = np.random.default_rng(seed)
    root = pathlib.Path(root)
    for split, count in zip(("train", "test"), per_class):
        for label, name in enumerate(classes):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(count):
                base = 40 + 80 * label
                pixels = np.clip(rng.normal(base, 30, (size, size, channels)), 0, 255).astype(np.uint8)
                PIL.Image.fromarray(pixels[..., 0] if channels == 1 else pixels).save(folder / f"{index:04d}.png")
    return root
