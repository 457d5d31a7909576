"""The paper's augmentation (Nouri et al., training; the authors' code) as a Keras layer, in ``keras.ops``.

Train: a random crop, a random horizontal flip and colour jitter with the
authors' torchvision values (brightness 0.5, contrast 0.1, saturation 0.1,
hue 0.15), each drawn per image, applied in that fixed order (torchvision
shuffles the order of the four jitter steps; the authors' code draws one set
of factors per batch). Test: the centre crop. Images come in as uint8 (or
float) values in [0, 255] and leave as float32 in [0, 1]; there is no mean
subtraction: NMF needs x >= 0.

It runs inside the model, in the training step, on every backend and device.
Keras's own ``RandomCrop`` draws one offset per batch and its colour layers
(``RandomColorJitter``) use other definitions (additive brightness, per-channel
contrast), so the torchvision semantics are written here. The random draws
come from the layer's ``SeedGenerator``, whose state is saved with the
weights: a run resumed from a backup draws what the uninterrupted run drew.
"""

import keras
from keras import ops

BRIGHTNESS, CONTRAST, SATURATION, HUE = 0.5, 0.1, 0.1, 0.15

#: The jitter factors' ranges: brightness, contrast, saturation (multipliers) and the hue shift (turns).
JITTER_LOW = (1 - BRIGHTNESS, 1 - CONTRAST, 1 - SATURATION, -HUE)
JITTER_HIGH = (1 + BRIGHTNESS, 1 + CONTRAST, 1 + SATURATION, HUE)

#: torchvision's (and ITU-R 601-2's) luma weights of ``rgb_to_grayscale``.
LUMA = (0.2989, 0.587, 0.114)

#: Uniform draws per image: crop top, crop left, flip, four jitter factors.
_DRAWS = 7


def centre_crop(images, crop_size):
    """Centre crop of a batch (B, H, W, C) or one image (H, W, C)."""
    height, width = images.shape[-3], images.shape[-2]
    top, left = (height - crop_size) // 2, (width - crop_size) // 2
    return images[..., top : top + crop_size, left : left + crop_size, :]


def crop_and_flip(images, tops, lefts, flips, crop_size):
    """Per-image crops (B, H, W, C) -> (B, crop, crop, C) at ``tops``/``lefts`` (B,), mirrored where ``flips``.

    One gather over the flattened batch, so every image has its own offset and flip.
    """
    batch, height, width, channels = ops.shape(images)
    steps = ops.arange(crop_size, dtype="int32")
    rows = ops.expand_dims(tops, 1) + steps  # (B, crop)
    columns = ops.expand_dims(lefts, 1) + ops.where(ops.expand_dims(flips, 1), crop_size - 1 - steps, steps)
    base = ops.arange(batch, dtype="int32") * (height * width)
    flat = ops.reshape(base, (-1, 1, 1)) + ops.expand_dims(rows, 2) * width + ops.expand_dims(columns, 1)
    pixels = ops.reshape(images, (-1, channels))
    return ops.reshape(ops.take(pixels, ops.reshape(flat, (-1,)), axis=0), (batch, crop_size, crop_size, channels))


def _grayscale(images):
    if images.shape[-1] != 3:
        return images
    return ops.sum(images * ops.convert_to_tensor(LUMA, images.dtype), axis=-1, keepdims=True)


def colour_jitter(images, factors):
    """torchvision ``ColorJitter(0.5, 0.1, 0.1, 0.15)`` on float images (B, H, W, C) in [0, 1].

    ``factors``: (B, 4) per image: brightness, contrast and saturation
    multipliers and the hue shift, in :data:`JITTER_LOW` .. :data:`JITTER_HIGH`.
    Grayscale images get brightness and contrast only.
    """
    images, factors = ops.convert_to_tensor(images), ops.convert_to_tensor(factors)
    brightness, contrast, saturation, hue_shift = (ops.reshape(factors[:, k], (-1, 1, 1, 1)) for k in range(4))
    images = ops.clip(images * brightness, 0.0, 1.0)
    mean = ops.mean(_grayscale(images), axis=(1, 2, 3), keepdims=True)
    images = ops.clip((images - mean) * contrast + mean, 0.0, 1.0)
    if images.shape[-1] != 3:
        return images
    gray = _grayscale(images)
    images = ops.clip((images - gray) * saturation + gray, 0.0, 1.0)
    hsv = keras.ops.image.rgb_to_hsv(images)
    hue = ops.mod(hsv[..., :1] + hue_shift, 1.0)
    return keras.ops.image.hsv_to_rgb(ops.concatenate([hue, hsv[..., 1:]], axis=-1))


@keras.saving.register_keras_serializable(package="keras_nmf")
class PaperAugmentation(keras.layers.Layer):
    """Raw images (B, H, W, C) in [0, 255] -> float32 crops (B, crop, crop, C) in [0, 1].

    ``training=True``: the paper's random crop, flip and colour jitter, drawn
    per image; otherwise the centre crop. Computes in float32 under any
    dtype policy (the colour arithmetic, and the NMF input it feeds).

    Args:
        crop_size: side of the square crops (the paper: 28 for CIFAR-10's 32).
        seed: seed of the layer's ``SeedGenerator`` (None: drawn from Keras's global seed).
    """

    def __init__(self, crop_size: int, seed: int | None = None, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        if isinstance(crop_size, bool) or not isinstance(crop_size, int) or crop_size < 1:
            raise ValueError(f"`crop_size` must be a positive integer. Received: crop_size={crop_size!r}")
        self.crop_size, self.seed = int(crop_size), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        if len(input_shape) != 4 or not all(input_shape[1:]):
            raise ValueError(
                f"PaperAugmentation takes images (batch, height, width, channels) of a fixed size. "
                f"Received: input_shape={input_shape}"
            )
        if not self.crop_size <= min(input_shape[1], input_shape[2]):
            raise ValueError(
                f"`crop_size` {self.crop_size} does not fit {input_shape[1]}x{input_shape[2]} images: "
                f"pass at most {min(input_shape[1], input_shape[2])}."
            )

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.crop_size, self.crop_size, input_shape[3])

    def call(self, images, training=False):
        images = ops.cast(images, "float32") / 255.0
        if not training:
            return centre_crop(images, self.crop_size)
        height, width = images.shape[1], images.shape[2]
        draws = keras.random.uniform((ops.shape(images)[0], _DRAWS), seed=self.seed_generator)
        tops = ops.minimum(ops.cast(draws[:, 0] * (height - self.crop_size + 1), "int32"), height - self.crop_size)
        lefts = ops.minimum(ops.cast(draws[:, 1] * (width - self.crop_size + 1), "int32"), width - self.crop_size)
        images = crop_and_flip(images, tops, lefts, draws[:, 2] < 0.5, self.crop_size)
        low = ops.convert_to_tensor(JITTER_LOW, "float32")
        factors = low + (ops.convert_to_tensor(JITTER_HIGH, "float32") - low) * draws[:, 3:]
        return colour_jitter(images, factors)

    # The generator's state is saved with the weights, so a resumed run continues its random draws.
    def save_own_variables(self, store):
        store["seed_generator_state"] = self.seed_generator.state

    def load_own_variables(self, store):
        if "seed_generator_state" in store:
            self.seed_generator.state.assign(store["seed_generator_state"])

    def get_config(self):
        return {**super().get_config(), "crop_size": self.crop_size, "seed": self.seed}
