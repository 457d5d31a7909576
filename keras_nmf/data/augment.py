"""The paper's augmentation (Nouri et al., training; the authors' code), per image, in ``tf.data``.

Train: random crop, random horizontal flip, colour jitter with the authors'
torchvision values (brightness 0.5, contrast 0.1, saturation 0.1, hue 0.15),
applied in that fixed order with factors drawn per image (the authors' code
draws one per batch, and torchvision shuffles the order). Test: centre crop.
Images are float32 in [0, 1] (no mean subtraction: NMF needs x >= 0).
"""

import tensorflow as tf

BRIGHTNESS, CONTRAST, SATURATION, HUE = 0.5, 0.1, 0.1, 0.15


def random_crop_and_flip(image, crop_size):
    """One uint8 image (H, W, C) -> random crop_size x crop_size crop, maybe mirrored."""
    channels = image.shape[-1]
    image = tf.image.random_crop(image, (crop_size, crop_size, channels))
    return tf.image.random_flip_left_right(image)


def centre_crop(images, crop_size):
    """Centre crop of a batch (B, H, W, C) or one image (H, W, C)."""
    height, width = images.shape[-3], images.shape[-2]
    top, left = (height - crop_size) // 2, (width - crop_size) // 2
    return images[..., top : top + crop_size, left : left + crop_size, :]


def _per_image_factor(batch, low, high):
    return tf.random.uniform([batch, 1, 1, 1], low, high)


def _grayscale(images):
    return tf.image.rgb_to_grayscale(images) if images.shape[-1] == 3 else images


def colour_jitter(images):
    """torchvision ColorJitter(0.5, 0.1, 0.1, 0.15) on a float batch in [0, 1]."""
    batch = tf.shape(images)[0]
    images = tf.clip_by_value(images * _per_image_factor(batch, 1 - BRIGHTNESS, 1 + BRIGHTNESS), 0.0, 1.0)
    mean = tf.reduce_mean(_grayscale(images), axis=[1, 2, 3], keepdims=True)
    contrast = _per_image_factor(batch, 1 - CONTRAST, 1 + CONTRAST)
    images = tf.clip_by_value((images - mean) * contrast + mean, 0.0, 1.0)
    if images.shape[-1] != 3:
        return images
    gray = _grayscale(images)
    saturation = _per_image_factor(batch, 1 - SATURATION, 1 + SATURATION)
    images = tf.clip_by_value((images - gray) * saturation + gray, 0.0, 1.0)
    hsv = tf.image.rgb_to_hsv(images)
    hue_shift = tf.random.uniform([batch, 1, 1], -HUE, HUE)
    hue = tf.math.floormod(hsv[..., 0] + hue_shift, 1.0)
    return tf.image.hsv_to_rgb(tf.stack([hue, hsv[..., 1], hsv[..., 2]], axis=-1))


def to_unit_range(images):
    """uint8 -> float32 in [0, 1]."""
    return tf.cast(images, tf.float32) / 255.0
