"""The noise-robustness perturbations of the authors' evaluation scripts.

Each takes a batch of images in [0, 1], shape (B, H, W, C), a strength eta in
[0, 1] and a NumPy generator, and returns the perturbed batch (float32):

* ``uniform``: each image mixed with uniform noise, (1 - eta) x^ + eta n^,
  where ^ is L1 normalisation over the whole image;
* ``picture``: mixed the same way with another image (from the training set);
* ``holes``: each pixel entry (per channel) set to 0 with probability eta;
* ``holes_noise``: those entries replaced by uniform noise L1-normalised over
  the whole image, n / sum(n), as the authors' ``noise_holes_w_noise.py`` draws
  it (entries ~1/(H W C / 2), ~1e-3 for CIFAR-10, next to pixels ~0.5: the holes
  are nearly dark);
* ``holes_noise_unit``: those entries replaced by Uniform(0, 1) noise on the
  image's own 0-1 scale (bright noise; this package's earlier ``holes_noise``).

Mixtures are scaled back to the clean image's own L1 norm, so the model sees
the brightness it was trained on; the paper's networks L1-normalise every
patch before their first layer, so for them this equals the authors' feeding
of L1-normalised images (and the authors' final normalisation of the holed
image changes nothing for them either).
At eta = 0 every perturbation returns the images unchanged.
"""

import numpy as np

PERTURBATIONS = ("uniform", "picture", "holes", "holes_noise", "holes_noise_unit")
#: The four of the authors' evaluation scripts (robustness.py's default).
AUTHORS_PERTURBATIONS = PERTURBATIONS[:4]


def _l1_normalised(images):
    totals = images.sum(axis=(1, 2, 3), keepdims=True)
    return np.divide(images, totals, out=np.zeros_like(images), where=totals > 0)


def mix(images, others, eta):
    """(1 - eta) x^ + eta o^, scaled to the L1 norm of each x (x + eta (o^ |x|_1 - x))."""
    totals = images.sum(axis=(1, 2, 3), keepdims=True)
    return images + eta * (_l1_normalised(others) * totals - images)


def holes_of(shape, eta, rng):
    """Where the ``holes`` perturbations put their holes: each entry with probability eta (the generator's first draw).

    rng.random < 1 always, so eta = 1 makes every entry a hole.
    """
    return rng.random(shape) < eta


def perturb(kind, images, eta, rng, others=None):
    """Applies perturbation ``kind`` of strength ``eta`` to ``images``.

    Args:
        kind: one of ``PERTURBATIONS``.
        images: float array (B, H, W, C) in [0, 1].
        eta: strength in [0, 1].
        rng: ``numpy.random.Generator``; the same generator state gives the same draws.
        others: images of the same shape to mix in (``picture`` only).

    Raises:
        ValueError: unknown kind, eta outside [0, 1], or ``picture`` without ``others``.
    """
    if kind not in PERTURBATIONS:
        raise ValueError(f"Unknown perturbation {kind!r}. Valid choices: {', '.join(PERTURBATIONS)}.")
    if not 0.0 <= eta <= 1.0:
        raise ValueError(f"eta must be in [0, 1]. Received: eta={eta!r}")
    images = np.asarray(images, np.float32)
    if kind == "uniform":
        return mix(images, rng.random(images.shape, dtype=np.float32), eta)
    if kind == "picture":
        if others is None or np.shape(others) != images.shape:
            raise ValueError(f"'picture' needs `others` of shape {images.shape}. Received: {np.shape(others)}")
        return mix(images, np.asarray(others, np.float32), eta)
    holes = holes_of(images.shape, eta, rng)
    if kind == "holes":
        return np.where(holes, np.float32(0), images)
    noise = rng.random(images.shape, dtype=np.float32)
    if kind == "holes_noise":
        noise = _l1_normalised(noise)
    return np.where(holes, noise, images)
