"""The paper's augmentation (Nouri et al., training; the authors' code), per image, in ``tf.data``.

Train: random crop, random horizontal flip, colour jitter with the authors'
torchvision values (brightness 0.5, contrast 0.1, saturation 0.1, hue 0.15),
applied in that fixed order with factors drawn per image (the authors' code
draws one per batch, and torchvision shuffles the order). Test: centre crop.
Images are float32 in [0, 1] (no mean subtraction: NMF needs x >= 0).

Every random draw of the training pipeline is a stateless function of a seed
(``seed`` argument), so an image's augmentation depends on the run's seed,
the epoch and the image's position in that epoch only: a resumed run draws
what the uninterrupted run would have drawn.
"""

import tensorflow as tf

BRIGHTNESS, CONTRAST, SATURATION, HUE = 0.5, 0.1, 0.1, 0.15


#: Colour-jitter factors drawn per image: brightness, contrast, saturation, hue shift.
JITTER_FACTORS = 4


def random_crop_and_flip(image, crop_size, seed):
    """One uint8 image (H, W, C) -> random crop_size x crop_size crop, mirrored with probability 1/2.

    ``seed``: a stateless seed (shape (2,) integer tensor) that fixes both draws.
    """
    channels = image.shape[-1]
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, num=2))
    image = tf.image.stateless_random_crop(image, (crop_size, crop_size, channels), seed=crop_seed)
    return tf.image.stateless_random_flip_left_right(image, seed=flip_seed)


#: The jitter factors' ranges, in ``jitter_factors``' order.
_JITTER_LOW = (1 - BRIGHTNESS, 1 - CONTRAST, 1 - SATURATION, -HUE)
_JITTER_HIGH = (1 + BRIGHTNESS, 1 + CONTRAST, 1 + SATURATION, HUE)


def _scaled_to_jitter_ranges(unit):
    """Uniform [0, 1) draws (..., 4) -> jitter factors in the authors' ranges."""
    low = tf.constant(_JITTER_LOW, tf.float32)
    return low + (tf.constant(_JITTER_HIGH, tf.float32) - low) * unit


def jitter_factors(seed):
    """The four colour-jitter factors of one image, (4,) float32, uniform in the authors' ranges."""
    return _scaled_to_jitter_ranges(tf.random.stateless_uniform([JITTER_FACTORS], seed=seed))


def centre_crop(images, crop_size):
    """Centre crop of a batch (B, H, W, C) or one image (H, W, C)."""
    height, width = images.shape[-3], images.shape[-2]
    top, left = (height - crop_size) // 2, (width - crop_size) // 2
    return images[..., top : top + crop_size, left : left + crop_size, :]


def _grayscale(images):
    return tf.image.rgb_to_grayscale(images) if images.shape[-1] == 3 else images


def colour_jitter(images, factors=None):
    """torchvision ColorJitter(0.5, 0.1, 0.1, 0.15) on a float batch in [0, 1].

    ``factors``: (B, 4) per-image factors from :func:`jitter_factors`; ``None`` draws them here (unseeded).
    """
    batch = tf.shape(images)[0]
    if factors is None:
        factors = _scaled_to_jitter_ranges(tf.random.uniform([batch, JITTER_FACTORS]))
    brightness, contrast, saturation, hue_shift = (tf.reshape(factors[:, k], [batch, 1, 1, 1])
                                                   for k in range(JITTER_FACTORS))
    images = tf.clip_by_value(images * brightness, 0.0, 1.0)
    mean = tf.reduce_mean(_grayscale(images), axis=[1, 2, 3], keepdims=True)
    images = tf.clip_by_value((images - mean) * contrast + mean, 0.0, 1.0)
    if images.shape[-1] != 3:
        return images
    gray = _grayscale(images)
    images = tf.clip_by_value((images - gray) * saturation + gray, 0.0, 1.0)
    hsv = tf.image.rgb_to_hsv(images)
    hue_shift = hue_shift[..., 0]
    hue = tf.math.floormod(hsv[..., 0] + hue_shift, 1.0)
    return tf.image.hsv_to_rgb(tf.stack([hue, hsv[..., 1], hsv[..., 2]], axis=-1))


def to_unit_range(images):
    """uint8 -> float32 in [0, 1]."""
    return tf.cast(images, tf.float32) / 255.0
