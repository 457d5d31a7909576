"""The input contract of an :class:`~keras_nmf.models.ImageClassifier`, checked before any compiled step.

A classifier takes a batch of images (images, height, width, channels) of pixel values in [0, 255]: uint8 as the
training images were, or any integer or float dtype holding the same values. What it cannot answer rightly is
refused with the value, where it is and the fix (:class:`ImageInputError`), never a confident wrong class:

* values outside [0, 255], NaN or infinite ones;
* a float batch whose values all lie in [0, 1] (and not all 0): most pipelines hand images over so, and read as
  [0, 255] they would be near-black;
* labels that are not whole numbers, or lie outside the classes, or come one-hot.

A batch of another height and width is resized as CIFAR-10's images were made from photos: its centred square,
resized to the classifier's image size with antialiasing (:func:`prepare_images`). The network's input is then the
centre crop of that image, as for every test image.
"""

import numpy as np

from keras_nmf.errors import ImageInputError

#: The pixel values the classifiers take, as the trained presets' metadata declares them.
PIXEL_RANGE = (0, 255)

_FIX = "pass uint8 images, or integers or floats in [0, 255]"


def _as_array(images, what):
    if images is None or isinstance(images, (str, bytes)):
        raise ImageInputError(f"`{what}` must be an array of images. Received: a {type(images).__name__}.")
    if hasattr(images, "detach"):  # a PyTorch tensor, on any device
        images = images.detach().cpu()
    try:
        return np.asarray(images)
    except (TypeError, ValueError) as error:
        raise ImageInputError(
            f"`{what}` must be an array of images. Received: {type(images).__name__} ({error})."
        ) from None


def _first(mask):
    """``(image, row, column, channel)`` of the first True entry of a (B, H, W, C) mask."""
    return tuple(int(i) for i in np.argwhere(mask)[0])


def _where(mask):
    image, row, column, channel = _first(mask)
    return f"image {image}, pixel ({row}, {column}), channel {channel}"


def check_pixel_values(images):
    """Raises :class:`ImageInputError` unless every value of the (B, H, W, C) ``images`` is a pixel value."""
    if images.dtype == bool or not (
        np.issubdtype(images.dtype, np.integer) or np.issubdtype(images.dtype, np.floating)
    ):
        raise ImageInputError(f"Images of dtype {images.dtype} are not pixel values: {_FIX}.")
    if images.size == 0 or images.dtype == np.uint8:
        return
    if np.issubdtype(images.dtype, np.floating):
        for mask, name in ((np.isnan(images), "NaN"), (np.isinf(images), "infinite")):
            if mask.any():
                raise ImageInputError(
                    f"The images hold {name} values ({int(mask.sum())}, the first at {_where(mask)}): {_FIX}."
                )
    low, high = images.min(), images.max()
    if low < PIXEL_RANGE[0]:
        raise ImageInputError(
            f"The images hold values below 0 (minimum {low}, at {_where(images == low)}): "
            f"{_FIX}. (A mean-subtracted image: undo the normalisation; NMF needs x >= 0.)"
        )
    if high > PIXEL_RANGE[1]:
        raise ImageInputError(
            f"The images hold values above 255 (maximum {high}, at {_where(images == high)}): {_FIX}."
        )
    if np.issubdtype(images.dtype, np.floating) and 0 < high <= 1:
        raise ImageInputError(
            f"The images' values lie in [0, 1] (maximum {high}), but the classifier takes pixel values in [0, 255] "
            f"(its preset declares it): multiply them by 255 (or pass uint8 images). Read as they are they would be "
            f"near-black images and give a wrong class."
        )


def resize_images(images, image_shape):
    """(B, H, W, C) pixel values -> (B, height, width, C) uint8 of ``image_shape``: each image's centred square
    (centred rectangle of ``image_shape``'s aspect), resized with bilinear antialiasing, rounded."""
    import keras

    height, width = image_shape[:2]
    resized = keras.ops.image.resize(
        images.astype("float32"), (height, width), interpolation="bilinear", antialias=True, crop_to_aspect_ratio=True
    )
    return np.clip(np.round(keras.ops.convert_to_numpy(resized)), 0, 255).astype("uint8")


def prepare_images(images, image_shape, what="images"):
    """The uint8 (B, height, width, channels) batch a classifier of ``image_shape`` answers for ``images``.

    Raises:
        ImageInputError: not a batch of images with ``image_shape``'s channels, or values that are not pixel
            values (see the module's docstring).
    """
    images = _as_array(images, what)
    height, width, channels = image_shape
    if images.ndim != 4:
        single = (
            " One image of shape (height, width, channels): pass images[None] (a batch of one)."
            if images.ndim == 3
            else ""
        )
        raise ImageInputError(
            f"`{what}` must be a batch (images, height, width, channels). Received: shape {images.shape}.{single}"
        )
    if images.shape[-1] != channels:
        raise ImageInputError(
            f"The classifier takes images of {channels} channels. Received: shape {images.shape}"
            + (": convert grayscale to RGB first (repeat the channel 3 times)." if channels == 3 else ".")
        )
    check_pixel_values(images)
    if images.shape[1:3] != (height, width) and images.shape[0]:
        return resize_images(images, image_shape)
    return images.astype("uint8", copy=False)


def prepare_labels(labels, num_classes, count):
    """int32 (B,) class indices for ``count`` images, from whole numbers in [0, num_classes) of shape (B,) or (B, 1).

    Raises:
        ImageInputError: one-hot labels, a count other than the images', values that are not whole numbers or lie
            outside the classes.
    """
    labels = _as_array(labels, "labels")
    if labels.ndim == 2 and labels.shape[1] == num_classes and num_classes > 1:
        raise ImageInputError(
            f"The labels look one-hot (shape {labels.shape}): pass class indices, "
            f"labels.argmax(axis=-1), as the loss takes them."
        )
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise ImageInputError(f"The labels must be class indices of shape (images,). Received: shape {labels.shape}.")
    if len(labels) != count:
        raise ImageInputError(f"{len(labels)} labels for {count} images: give one label per image.")
    if labels.dtype == bool or not (
        np.issubdtype(labels.dtype, np.integer) or np.issubdtype(labels.dtype, np.floating)
    ):
        raise ImageInputError(
            f"Labels of dtype {labels.dtype} are not class indices: pass integers 0 to {num_classes - 1}."
        )
    if np.issubdtype(labels.dtype, np.floating):
        whole = np.isfinite(labels) & (labels == np.round(labels))
        if not whole.all():
            index = int(np.argmin(whole))
            raise ImageInputError(
                f"The labels are not whole numbers (label {labels[index]} of image {index}): "
                f"pass class indices 0 to {num_classes - 1}."
            )
    outside = (labels < 0) | (labels >= num_classes)
    if outside.any():
        index = int(np.argmax(outside))
        raise ImageInputError(
            f"The label {labels[index]:g} of image {index} is outside the classes: the classifier "
            f"has {num_classes}, labelled 0 to {num_classes - 1}. ({int(outside.sum())} labels "
            f"are outside.)"
        )
    return labels.astype("int32")
