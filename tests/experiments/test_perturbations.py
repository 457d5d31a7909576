"""The perturbations: identity at eta = 0, their definitions at eta = 1, reproducible draws."""

import numpy as np
import pytest

from keras_nmf.experiments import PERTURBATIONS, perturb


@pytest.fixture
def images():
    return np.random.default_rng(0).random((4, 6, 6, 3), dtype=np.float32)


@pytest.mark.parametrize("kind", PERTURBATIONS)
def test_eta_zero_returns_the_images(kind, images):
    others = np.random.default_rng(1).random(images.shape, dtype=np.float32)
    np.testing.assert_array_equal(perturb(kind, images, 0.0, np.random.default_rng(2), others), images)


def test_uniform_mixes_l1_normalised_images_at_the_images_own_scale(images):
    eta = 0.25
    noise = np.random.default_rng(3).random(images.shape, dtype=np.float32)
    mixed = perturb("uniform", images, eta, np.random.default_rng(3))
    totals = images.sum(axis=(1, 2, 3), keepdims=True)
    expected = ((1 - eta) * images / totals + eta * noise / noise.sum(axis=(1, 2, 3), keepdims=True)) * totals
    np.testing.assert_allclose(mixed, expected, rtol=1e-5)
    np.testing.assert_allclose(mixed.sum(axis=(1, 2, 3)), totals.ravel(), rtol=1e-5)


def test_picture_at_eta_one_is_the_other_picture_rescaled(images):
    others = np.random.default_rng(4).random(images.shape, dtype=np.float32)
    mixed = perturb("picture", images, 1.0, None, others)
    scale = images.sum(axis=(1, 2, 3), keepdims=True) / others.sum(axis=(1, 2, 3), keepdims=True)
    np.testing.assert_allclose(mixed, others * scale, rtol=1e-5)


def test_holes_at_eta_one_are_all_zero_and_holes_noise_unit_is_uniform(images):
    assert not perturb("holes", images, 1.0, np.random.default_rng(5)).any()
    noisy = perturb("holes_noise_unit", images, 1.0, np.random.default_rng(5))
    assert not np.isin(noisy, images).any() and 0.0 <= noisy.min() and noisy.max() < 1.0


def test_holes_noise_follows_the_authors_formula_on_a_hand_made_image():
    """noise_holes_w_noise.py: image * keep + (1 - keep) * n / sum(n), n ~ U(0, 1) over the whole image."""
    image = np.full((1, 2, 2, 1), 0.5, np.float32)
    rng = np.random.default_rng(7)
    holes = rng.random(image.shape) < 0.5  # the draws perturb() makes, in its order
    noise = rng.random(image.shape, dtype=np.float32)
    expected = np.where(holes, noise / noise.sum(), image)
    got = perturb("holes_noise", image, 0.5, np.random.default_rng(7))
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert holes.any() and not holes.all()  # this seed makes both kinds of entry
    at_one = perturb("holes_noise", image, 1.0, np.random.default_rng(8))
    np.testing.assert_allclose(at_one.sum(), 1.0, rtol=1e-6)  # all holes: one L1-normalised noise image


def test_holes_remove_about_eta_of_the_entries():
    images = np.ones((10, 20, 20, 3), np.float32)
    kept = perturb("holes", images, 0.3, np.random.default_rng(6)).mean()
    assert kept == pytest.approx(0.7, abs=0.02)


@pytest.mark.parametrize("kind", PERTURBATIONS)
def test_the_same_seed_gives_the_same_draws(kind, images):
    others = np.random.default_rng(7).random(images.shape, dtype=np.float32)
    first = perturb(kind, images, 0.5, np.random.default_rng(8), others)
    again = perturb(kind, images, 0.5, np.random.default_rng(8), others)
    np.testing.assert_array_equal(first, again)


def test_bad_arguments_are_named(images):
    with pytest.raises(ValueError, match="Unknown perturbation 'blur'"):
        perturb("blur", images, 0.5, np.random.default_rng(0))
    with pytest.raises(ValueError, match="eta must be in"):
        perturb("holes", images, 1.5, np.random.default_rng(0))
    with pytest.raises(ValueError, match="'picture' needs `others`"):
        perturb("picture", images, 0.5, np.random.default_rng(0))
