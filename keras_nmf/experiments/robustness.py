"""Noise robustness of saved models: accuracy against perturbation strength eta.

The test images are centre-cropped to each model's input size; for every
(perturbation, eta) the perturbed test set is drawn once, from a generator
seeded by (seed, perturbation, step), and every model is evaluated on that same
set, so the draws are identical across models and reruns.
"""

import pathlib
import time

import numpy as np

import keras_nmf  # noqa: F401  (registers the custom layers, loss and optimizer)
from keras_nmf.errors import ConfigError
from keras_nmf.data import DataError, load_arrays
from keras_nmf.layers.augmentation import centre_crop
from keras_nmf.experiments.csv_rows import CsvRowWriter
from keras_nmf.experiments.perturbations import AUTHORS_PERTURBATIONS, PERTURBATIONS, holes_of, perturb
from keras_nmf.training.saved_networks import load_network

CSV_COLUMNS = ("model", "perturbation", "eta", "accuracy", "images", "path")


def model_labels(paths):
    """Readable, unique labels: the run directory's name for ``<run>/model.keras``, else the file stem."""
    labels = []
    for path in map(pathlib.Path, paths):
        label = path.parent.name if path.name == "model.keras" and path.parent.name else path.stem
        while label in labels:
            label += "'"
        labels.append(label)
    return labels


def load_models(paths):
    """Loads the networks of ``.keras`` models (from the crops on:
    :func:`keras_nmf.training.saved_networks.load_network`); all must take the same input shape.

    Raises:
        RunFileError: a missing, truncated or corrupt file (a ValueError).
        ConfigError: models with different input shapes (evaluate them in separate calls).
    """
    # Perturbations apply to the centre crops that the network proper takes (after a model's augmentation layer).
    models = [load_network(path) for path in paths]
    shapes = {tuple(model.input_shape[1:]) for model in models}
    if len(shapes) != 1:
        raise ConfigError(
            f"The models take different input shapes ({', '.join(map(str, sorted(shapes)))}); "
            "run robustness.py once per input shape."
        )
    return models


def prepare_images(name, data_dir, tfds_dir, input_shape, limit_test=None, seed=0):
    """Centre-cropped test images and labels, and centre-cropped training images (for ``picture``), in [0, 1].

    ``limit_test`` keeps the same seeded test subset as train.py's ``--limit-test`` with the same ``--seed``.
    """
    train, test, _ = load_arrays(name, data_dir, tfds_dir, limit_test=limit_test, seed=seed)
    crop, channels = input_shape[0], input_shape[-1]
    if test[0].shape[-1] != channels or min(test[0].shape[1:3]) < crop:
        raise DataError(f"The data's images {test[0].shape[1:]} do not fit the models' input {tuple(input_shape)}.")
    images, labels = test
    to_unit = lambda array: centre_crop(array, crop).astype(np.float32) / 255.0  # noqa: E731
    return to_unit(images), labels, to_unit(train[0])


def _generator(kind, step, seed):
    return np.random.default_rng([seed, PERTURBATIONS.index(kind), step])


def perturbed_test_set(kind, step, eta, images, train_images, seed):
    """The test set under one (perturbation, eta): the same for every model and every rerun."""
    rng = _generator(kind, step, seed)
    others = train_images[rng.integers(0, len(train_images), len(images))] if kind == "picture" else None
    return perturb(kind, images, eta, rng, others)


def observed_mask(step, eta, images, seed):
    """The mask of :func:`perturbed_test_set`'s ``holes`` at (step, eta): 1 observed, 0 a hole (the same draw)."""
    return (~holes_of(images.shape, eta, _generator("holes", step, seed))).astype(np.float32)


def accuracy(model, images, labels, batch_size):
    probabilities = model.predict(images, batch_size=batch_size, verbose=0)
    if not np.all(np.isfinite(probabilities)):
        raise FloatingPointError(f"Model {model.name} output non-finite values on perturbed images.")
    return float(np.mean(np.argmax(probabilities, axis=-1) == labels))


def evaluate_robustness(
    models,
    labels_of_models,
    images,
    labels,
    train_images,
    perturbations=AUTHORS_PERTURBATIONS,
    steps=21,
    seed=0,
    batch_size=100,
    print_fn=print,
    on_row=None,
    observed_twins=None,
):
    """Accuracy of every model under every perturbation at eta = 0, 1/(steps-1), ..., 1.

    ``on_row(row)`` is called as soon as each row is measured (e.g. a
    :class:`~keras_nmf.experiments.csv_rows.CsvRowWriter`'s ``write``).
    ``observed_twins`` (``{label: model}``, :func:`keras_nmf.experiments.observed_holes.observed_twins`):
    under ``holes`` each twin is also evaluated with the holes given as its ``observed`` input, as the
    rows of model ``"<label> +observed"``.

    Returns rows ``{"model", "perturbation", "eta", "accuracy", "images"}``.
    """
    if steps < 2:
        raise ConfigError(f"--steps must be >= 2 (eta from 0 to 1). Received: steps={steps}")
    rows, start = [], time.perf_counter()
    conditions = [(kind, step) for kind in perturbations for step in range(steps)]
    for done, (kind, step) in enumerate(conditions, start=1):
        eta = step / (steps - 1)
        perturbed = perturbed_test_set(kind, step, eta, images, train_images, seed)
        line = []
        evaluations = [(model, label, perturbed) for model, label in zip(models, labels_of_models)]
        if kind == "holes" and observed_twins:
            mask = observed_mask(step, eta, images, seed)
            evaluations += [(twin, f"{label} +observed", [perturbed, mask]) for label, twin in observed_twins.items()]
        for model, label, inputs in evaluations:
            value = accuracy(model, inputs, labels, batch_size)
            rows.append(
                {"model": label, "perturbation": kind, "eta": round(eta, 6), "accuracy": value, "images": len(labels)}
            )
            if on_row is not None:
                on_row(rows[-1])
            line.append(f"{label} {100 * value:.1f}%")
        left = (time.perf_counter() - start) / done * (len(conditions) - done)
        print_fn(
            f"[{done}/{len(conditions)}] {kind} eta={eta:.2f}: {' | '.join(line)} | ~{left / 60:.0f} min left",
            flush=True,
        )
    return rows


def robustness_csv(path):
    """A row-by-row writer of ``robustness.csv`` (columns ``CSV_COLUMNS``)."""
    return CsvRowWriter(path, CSV_COLUMNS)
