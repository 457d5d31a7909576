"""A run directory's own files: where a new one may go, its model file, and its checked ``results.json``.

Writing and reading in general (atomic writes, :func:`~keras_nmf.files.read_json`, the run lock) is
:mod:`keras_nmf.files`; this module adds what only a training run has. Every model file is written through
:func:`atomic_save_model` and read back through :func:`load_keras_model`, which raises
:class:`~keras_nmf.errors.RunFileError` naming the file, what is wrong with it and what to do, never a raw h5py or
zip error.
"""

import math
import pathlib
import tempfile
import zipfile

from keras_nmf.errors import OutputLocationError, RunFileError
from keras_nmf.files import atomic_save, read_json
from keras_nmf.nmf_arguments import with_current_option_names


def check_new_run_location(path):
    """A new run's directory must lie in a writable place: its nearest existing folder takes a file (a probe,
    removed at once). Checked before any work, and before a backend loads.

    Raises:
        PermissionError: a file on the way, or a folder that cannot be written, named with the fix.
    """
    path = pathlib.Path(path)
    existing = path
    while not existing.exists():
        existing = existing.parent
    if existing == path and path.is_dir():
        existing = path.parent  # the lock file lies beside the run directory
    fix = "Pass --logdir DIR in a writable place."
    if not existing.is_dir():
        raise OutputLocationError(f"Cannot create the run directory {path}: {existing} is a file, not a folder. {fix}")
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".keras_nmf-probe-"):
            pass
    except OSError as error:
        raise OutputLocationError(
            f"Cannot create the run directory {path}: {existing} is not a writable folder "
            f"({error.strerror or error}). {fix}"
        ) from None


def atomic_save_model(model, path):
    """``model.save(path)`` (a ``.keras`` file), atomically."""
    atomic_save(path, model.save)


def read_run_results(path):
    """A finished run's ``results.json``, checked: what every report reads from it is there and well formed.

    Raises:
        RunFileError: naming the file, what is wrong, and the fix (the run is evaluated again by ``--resume``-ing a
            copy of its backup, or retrained: delete its results.json, or its folder).
    """
    path = pathlib.Path(path)
    fix = (
        f"Delete {path.parent} (or only {path.name}, if its backup/ is still there) and rerun the command that "
        f"trained it: the run is trained or evaluated again."
    )
    results = read_json(path, "a finished run's results", fix)
    if isinstance(results.get("config"), dict):
        results["config"] = with_current_option_names(results["config"])

    def refuse(problem):
        raise RunFileError(f"{path} (a finished run's results) {problem}. {fix}")

    for key in ("test_accuracy", "test_loss", "train_seconds"):
        value = results.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            refuse(f"has {key} = {value!r}, not a finite number")
    if not 0.0 <= results["test_accuracy"] <= 1.0:
        refuse(f"has test_accuracy = {results['test_accuracy']!r}, outside [0, 1]")
    epochs = results.get("epochs_run")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        refuse(f"has epochs_run = {epochs!r}, not a count of epochs")
    for key, fields in (
        ("config", ("seed",)),
        ("parameters", ("trainable", "nmf", "cnn")),
        ("data", ("train_size", "test_size")),
    ):
        section = results.get(key)
        if not isinstance(section, dict) or any(field not in section for field in fields):
            refuse(f"lacks its {key} ({', '.join(fields)})")
    if not isinstance(results.get("arch"), str):
        refuse("lacks its arch")
    return results


def load_keras_model(path, compile=True):
    """``keras.models.load_model(path)``, with a clear error for a missing, corrupt or uncompiled file.

    Raises:
        RunFileError: naming the file and what to do.
    """
    import keras

    import keras_nmf  # noqa: F401  (registers the layers, loss and optimizer the file names)
    from keras_nmf._native_log import quiet_native_startup

    path = pathlib.Path(path)
    if not path.is_file():
        raise RunFileError(
            f"{path} does not exist (a model file is <run dir>/model.keras, written when a run "
            f"finishes). Pass the path of a finished run's model.keras."
        )
    damaged = None
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()  # the first member whose checksum fails
    except (zipfile.BadZipFile, OSError):
        damaged = "the archive"
    if damaged is not None:
        raise RunFileError(
            f"{path} is not a .keras file ({damaged} fails its zip checksum): it is truncated or "
            f"corrupt. Retrain it, or resume its run with --resume if the run's backup is still there."
        )
    try:
        with quiet_native_startup():  # often the process's first TensorFlow op: its CUDA probe writes to stderr
            model = keras.models.load_model(path, compile=compile)
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, TypeError) as error:
        raise RunFileError(
            f"{path} cannot be loaded as a Keras model ({type(error).__name__}: {error}). The file "
            f"is corrupt or was not written by keras_nmf; retrain it."
        ) from None
    if compile and not getattr(model, "compiled", True):
        raise RunFileError(
            f"{path} holds a model saved without its training configuration (uncompiled), so it "
            f"cannot be evaluated with its loss. Save the model after model.compile(...)."
        )
    return model
