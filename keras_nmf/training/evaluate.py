"""``evaluate_saved_model``: test accuracy of a saved ``.keras`` model, on the run's own test images."""

import pathlib

import keras
import numpy as np

from keras_nmf.layers.augmentation import centre_crop
from keras_nmf.data.pipeline import checked_crop_size, eval_batches, load_arrays
from keras_nmf.training.config import TrainConfig
from keras_nmf.errors import RunFileError
from keras_nmf.files import read_json
from keras_nmf.training.run_files import load_keras_model
from keras_nmf.training.settings import RUN_DATA_FIELDS


def model_file(path):
    """The ``.keras`` file that ``path`` names: the file itself, or a run directory's ``model.keras``.

    Raises:
        RunFileError: ``path`` is a run directory whose run has not finished, or a folder that holds no run.
    """
    path = pathlib.Path(path)
    if not path.is_dir():
        return path
    if (path / "model.keras").is_file():
        return path / "model.keras"
    if (path / "config.json").is_file():
        raise RunFileError(
            f"The run in {path} has not finished: it has no model.keras yet. Finish it with "
            f"keras-nmf-train --resume --logdir {path}, then evaluate it."
        )
    raise RunFileError(
        f"{path} is a folder without a run (no model.keras, no config.json): pass a run directory or its model.keras."
    )


def run_data_settings(model_path):
    """The data settings of the run that saved ``<run dir>/model.keras`` (from its config.json), or ``{}`` (also for
    ``None``: no run)."""
    if model_path is None:
        return {}
    config_path = pathlib.Path(model_path).parent / "config.json"
    if not config_path.exists():
        return {}
    saved = read_json(
        config_path,
        "the run's configuration",
        "Pass the data flags (--data-dir, --limit-test, --seed) yourself, or repair the file.",
    )
    return {name: saved.get(name) for name in RUN_DATA_FIELDS}


def data_settings(model_path, given):
    """What to evaluate on: ``TrainConfig``'s defaults, overridden by the run's config.json, then by ``given``.

    Args:
        given: the settings passed explicitly (``None`` values count as not given).

    Returns:
        ``(settings, taken)``: the keyword arguments of :func:`evaluate_saved_model` for the data, and the
        settings that came from the run's config.json.
    """
    defaults = TrainConfig()
    settings = {name: defaults.value(name) for name in RUN_DATA_FIELDS}
    from_run = {name: value for name, value in run_data_settings(model_path).items() if value is not None}
    given = {name: value for name, value in given.items() if value is not None}
    taken = {name: from_run[name] for name in sorted(set(from_run) - set(given))}
    return {**settings, **from_run, **given}, taken


def evaluate_saved_model(
    model_path, data_dir=None, dataset="cifar10", tfds_dir=None, batch_size=50, limit_test=None, seed=0, flip_tta=False
):
    """Loads a model and evaluates it on the test split (centre crops of its input size).

    ``limit_test`` and ``seed`` select the same test images as train.py's
    ``--limit-test`` with that ``--seed``. ``flip_tta``: also the accuracy of
    test-time augmentation by horizontal flips (:func:`flip_tta_accuracy`).

    Returns ``{"test_accuracy", "test_loss", "test_size"}``, plus ``"test_accuracy_flip_tta"`` with ``flip_tta``.

    Raises:
        RunFileError: the path is not a loadable, compiled ``.keras`` file.
    """
    model = load_keras_model(model_path)
    _, (images, labels), _ = load_arrays(
        dataset, data_dir, tfds_dir, verbose=False, limit_train=1, limit_test=limit_test, seed=seed
    )
    inputs = model_inputs(model, images)
    results = model.evaluate(eval_batches(inputs, labels, batch_size), verbose=0, return_dict=True)
    evaluated = {
        "test_accuracy": float(results["accuracy"]),
        "test_loss": float(results["loss"]),
        "test_size": len(labels),
    }
    if flip_tta:
        evaluated["test_accuracy_flip_tta"] = flip_tta_accuracy(model, inputs, labels, batch_size)
    return evaluated


def is_preset(name):
    """Whether ``name`` names a preset: a built-in one (:func:`keras_nmf.models.list_presets`) or a directory
    written by ``save_to_preset`` (its metadata.json beside config.json; a run directory has no metadata.json)."""
    from keras_nmf.models import list_presets
    from keras_nmf.models.presets import CONFIG, METADATA

    path = pathlib.Path(name)
    return (name in list_presets() and not path.exists()) or (
        path.is_dir() and (path / CONFIG).is_file() and (path / METADATA).is_file()
    )


def evaluate_preset(
    preset, data_dir=None, dataset="cifar10", tfds_dir=None, batch_size=50, limit_test=None, seed=0, flip_tta=False
):
    """:func:`evaluate_saved_model` for a preset: its classifier's probabilities (calibrated where the preset
    carries a temperature) on the test images. ``test_loss`` is their negative log-likelihood; ``test_ece`` their
    expected calibration error (:mod:`keras_nmf.models.calibration`).

    Raises:
        PresetError: an unknown or damaged preset.
    """
    from keras_nmf.models import ImageClassifier
    from keras_nmf.models.calibration import expected_calibration_error, negative_log_likelihood

    classifier = ImageClassifier.from_preset(preset)
    _, (images, labels), _ = load_arrays(
        dataset, data_dir, tfds_dir, verbose=False, limit_train=1, limit_test=limit_test, seed=seed
    )
    probabilities = classifier.predict(images, batch_size=batch_size, verbose=0)
    evaluated = {
        "test_accuracy": float(np.mean(np.argmax(probabilities, axis=-1) == labels)),
        "test_loss": negative_log_likelihood(probabilities, labels),
        "test_ece": expected_calibration_error(probabilities, labels),
        "test_size": len(labels),
    }
    if flip_tta:
        evaluated["test_accuracy_flip_tta"] = flip_tta_accuracy(classifier, images, labels, batch_size)
    return evaluated


def flip_tta_accuracy(model, inputs, labels, batch_size=50):
    """Accuracy of the class probabilities averaged over each test image and its horizontal mirror.

    The mirror is taken before the model's centre crop, which is symmetric for the paper's crops (32 -> 28: 2 pixels
    each side), so it is the mirror of the crop. Not part of the paper's evaluation (Figure 5 reports the plain one).
    """
    mirrored = inputs[:, :, ::-1]
    probabilities = (
        sum(model.predict(eval_batches(batch, labels, batch_size), verbose=0) for batch in (inputs, mirrored)) / 2
    )
    return float(np.mean(np.argmax(probabilities, axis=-1) == labels))


def model_inputs(model, images):
    """Raw uint8 test images as ``model`` takes them: as they are when it takes uint8 images (an
    :class:`~keras_nmf.models.ImageClassifier`: centre crop at inference), else their centre crops in [0, 1]
    (a network alone, or a model saved before the augmentation moved into the model)."""
    if keras.backend.standardize_dtype(model.inputs[0].dtype) == "uint8":
        return images
    crop = checked_crop_size(model.input_shape[1], *images.shape[1:3])
    return centre_crop(images, crop).astype("float32") / 255.0
