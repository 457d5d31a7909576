"""``evaluate_saved_model``: test accuracy of a saved ``.keras`` model, on the run's own test images."""

import json
import pathlib
import zipfile

import keras

import keras_nmf  # noqa: F401  (registers the custom layers, loss and optimizer)
from keras_nmf.data import load_dataset
from keras_nmf.training.config import TrainConfig

#: Data settings that evaluate.py takes from the run's config.json when the model sits in a run directory.
RUN_DATA_FIELDS = ("dataset", "data_dir", "tfds_dir", "limit_test", "seed")


class ModelFileError(ValueError):
    """A path that is not a ``.keras`` model file; the message says what is expected."""


def check_model_file(path):
    path = pathlib.Path(path)
    if not path.is_file():
        raise ModelFileError(f"Model file not found: {path}")
    if path.suffix != ".keras" or not zipfile.is_zipfile(path):
        raise ModelFileError(
            f"{path} is not a .keras model file (a zip archive written by model.save, e.g. <run dir>/model.keras "
            f"of scripts/train.py).")


def run_data_settings(model_path):
    """The data settings of the run that saved ``<run dir>/model.keras`` (from its config.json), or ``{}``."""
    config_path = pathlib.Path(model_path).parent / "config.json"
    if not config_path.exists():
        return {}
    saved = json.loads(config_path.read_text())
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
    settings = {name: getattr(defaults, name) for name in RUN_DATA_FIELDS}
    from_run = {name: value for name, value in run_data_settings(model_path).items() if value is not None}
    given = {name: value for name, value in given.items() if value is not None}
    taken = {name: from_run[name] for name in sorted(set(from_run) - set(given))}
    return {**settings, **from_run, **given}, taken


def evaluate_saved_model(model_path, data_dir=None, dataset="cifar10", tfds_dir=None, batch_size=50, limit_test=None,
                         seed=0):
    """Loads a model and evaluates it on the test split (centre crops of its input size).

    ``limit_test`` and ``seed`` select the same test images as train.py's
    ``--limit-test`` with that ``--seed``.

    Returns ``{"test_accuracy", "test_loss", "test_size"}``.

    Raises:
        ModelFileError: the path is not a ``.keras`` file.
    """
    check_model_file(model_path)
    model = keras.models.load_model(model_path)
    data = load_dataset(
        name=dataset, data_dir=data_dir, tfds_dir=tfds_dir, batch_size=batch_size,
        crop_size=model.input_shape[1], limit_test=limit_test, seed=seed,
    )
    results = model.evaluate(data.test, verbose=0, return_dict=True)
    return {"test_accuracy": float(results["accuracy"]), "test_loss": float(results["loss"]), "test_size": data.test_size}
