"""Presets: a classifier saved as a directory, keras-hub's layout without depending on keras-hub.

A preset directory holds ``config.json`` (the serialised :class:`keras_nmf.models.ImageClassifier`),
``model.weights.h5`` (its network's weights), ``metadata.json`` (versions, parameters and what the saver adds:
for the trained presets, the test accuracy and the recipe) and a model card ``README.md``. The built-in presets are
the four architectures, untrained, and the trained networks in ``keras_nmf/presets/<name>/``.
"""

import errno
import json
import os
import pathlib
import shutil

import keras
import numpy as np

from keras_nmf.architectures import NETWORKS
from keras_nmf.errors import PresetError, RunFileError
from keras_nmf.files import atomic_save, atomic_write_json, atomic_write_text, read_json
from keras_nmf.models.parameters import count_parameters

#: Where the trained presets of the package lie, one directory each.
BUILTIN = pathlib.Path(__file__).resolve().parent.parent / "presets"
CONFIG, WEIGHTS, METADATA, MODEL_CARD = "config.json", "model.weights.h5", "metadata.json", "README.md"
#: The files every preset directory holds.
PRESET_FILES = (CONFIG, WEIGHTS, METADATA, MODEL_CARD)

#: CIFAR-10's classes in the order of its labels (the image folders' sorted names), which the trained presets carry.
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def list_presets():
    """The built-in presets: the networks by name (untrained: the paper's four and any registered), then the trained
    networks."""
    trained = sorted(path.name for path in BUILTIN.glob("[!.]*") if (path / CONFIG).is_file())  # not a staging one
    return [*NETWORKS, *trained]


def _directory(preset):
    if isinstance(preset, bool) or not isinstance(preset, (str, os.PathLike)) or str(preset) == "":
        raise PresetError(
            f"A preset name or directory is needed ({', '.join(list_presets())}; "
            f"keras_nmf.models.list_presets(), or a directory written by save_to_preset). "
            f"Received: {preset!r}"
        )
    builtin = BUILTIN / str(preset)
    if isinstance(preset, str) and "/" not in preset and (builtin / CONFIG).is_file():
        return builtin
    directory = pathlib.Path(preset)
    if not directory.is_dir() or not any((directory / name).exists() for name in PRESET_FILES):
        raise PresetError(
            f"Unknown preset {str(preset)!r}: neither a built-in preset ({', '.join(list_presets())}; "
            f"keras_nmf.models.list_presets()) nor a directory written by save_to_preset (it holds "
            f"{', '.join(PRESET_FILES)})."
        )
    missing = [name for name in PRESET_FILES[:3] if not (directory / name).is_file()]
    if missing:
        raise PresetError(
            f"The preset {directory} lacks {', '.join(missing)}: it was not written whole (a full "
            f"disk, or a copy that stopped). Write it again with save_to_preset, or copy it again."
        )
    return directory


def load_preset(preset, load_weights=True):
    """The :class:`ImageClassifier` of ``preset`` (see :meth:`ImageClassifier.from_preset`).

    Raises:
        PresetError: not a preset name or directory; a file of the preset missing, unreadable or damaged; weights
            that are not finite."""
    from keras_nmf.models.image_classifier import ImageClassifier
    from keras_nmf.models.paper_network import PaperNetwork

    if isinstance(preset, str) and preset in NETWORKS:
        return ImageClassifier(PaperNetwork(preset))
    directory = _directory(preset)
    again = "Write the preset again with save_to_preset (or copy it again)."
    try:
        config = read_json(directory / CONFIG, "a preset's configuration", again)
        read_json(directory / METADATA, "a preset's metadata", again)
        classifier = keras.saving.deserialize_keras_object(config)
    except RunFileError as error:
        raise PresetError(str(error)) from None
    except (TypeError, ValueError, KeyError) as error:
        raise PresetError(
            f"{directory / CONFIG} does not describe a keras_nmf ImageClassifier ({error}). {again}"
        ) from None
    if load_weights:
        _load_weights(classifier.network, directory / WEIGHTS, again)
    return classifier


def _load_weights(network, path, again):
    try:
        network.load_weights(path)
    except Exception as error:  # h5py's OSError, Keras's ValueError on a missing or misshapen entry
        raise PresetError(
            f"The weights file {path} cannot be read ({type(error).__name__}: {error}): it is "
            f"truncated, damaged or of another network. {again}"
        ) from None
    bad = [
        weight.path for weight in network.weights if not np.all(np.isfinite(keras.ops.convert_to_numpy(weight.value)))
    ]
    if bad:
        raise PresetError(
            f"The weights file {path} holds non-finite values (NaN or infinite) in {', '.join(bad)}: "
            f"the network would answer every image alike. Save the preset from a network whose "
            f"training did not diverge."
        )


def read_metadata(preset):
    """A preset's ``metadata.json`` (``{}`` for an architecture preset)."""
    if isinstance(preset, str) and preset in NETWORKS:
        return {}
    return read_json(_directory(preset) / METADATA, "a preset's metadata", "Write the preset again.")


def parameter_counts(network):
    """A preset's parameter counts: every number in its weights file, and the trained ones (the README's and the
    paper's count; the difference is BatchNorm's moving statistics)."""
    counts = count_parameters(network)
    return {"parameter_count": counts["total"], "trainable_parameter_count": counts["trainable"]}


def _checked_metadata(metadata):
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise PresetError(f"`metadata` must be a dict of JSON values. Received: a {type(metadata).__name__}.")
    try:
        return json.loads(json.dumps(metadata))
    except (TypeError, ValueError) as error:
        raise PresetError(
            f"`metadata` must be JSON values (str, numbers, lists, dicts, None): {error}. Convert "
            f"the value first (e.g. str(), float())."
        ) from None


def save_preset(classifier, directory, metadata=None, model_card=None, overwrite=False):
    """Writes the preset of ``classifier`` (see :meth:`ImageClassifier.save_to_preset`).

    The files are written into a temporary sibling folder, which then takes ``directory``'s place by rename; with
    ``overwrite`` the previous preset is kept until the new one is whole."""
    from keras_nmf import __version__

    metadata = _checked_metadata(metadata)
    if model_card is not None and not isinstance(model_card, str):
        raise PresetError(
            f"`model_card` must be a string (the README.md's Markdown). Received: a {type(model_card).__name__}."
        )
    directory = pathlib.Path(directory)
    held = sorted(path.name for path in directory.iterdir()) if directory.is_dir() else []
    if held and not overwrite:
        shown = ", ".join(held[:5])
        raise PresetError(
            f"{directory} holds files ({shown}{', ...' if len(held) > 5 else ''}): save_to_preset "
            f"writes into an empty or new folder. Choose another, or pass overwrite=True to replace "
            f"its contents."
        )
    if directory.exists() and not directory.is_dir():
        raise PresetError(f"{directory} is a file: save_to_preset needs a folder. Choose another path.")
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(classifier)))  # tuples as lists
    metadata = {
        "keras_nmf_version": __version__,
        "keras_version": keras.__version__,
        **parameter_counts(classifier.network),
        **({"class_names": list(classifier.class_names)} if classifier.class_names else {}),
        **metadata,
    }
    staging = directory.with_name(f".{directory.name}.{os.getpid()}.tmp")
    previous = directory.with_name(f".{directory.name}.{os.getpid()}.old")
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        atomic_write_json(staging / CONFIG, config)
        atomic_save(staging / WEIGHTS, classifier.network.save_weights)
        atomic_write_json(staging / METADATA, metadata)
        atomic_write_text(staging / MODEL_CARD, model_card or _short_card(classifier, metadata))
        if directory.exists():
            directory.rename(previous)
        staging.rename(directory)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        if previous.exists() and not directory.exists():
            previous.rename(directory)
        fix = "free some space and save again" if error.errno == errno.ENOSPC else "choose a folder you can write to"
        raise PresetError(
            f"The preset could not be written to {directory} (it cannot write there: {error}); "
            f"nothing was changed there: {fix}."
        ) from None
    shutil.rmtree(previous, ignore_errors=True)


def _short_card(classifier, metadata):
    lines = [
        f"# {classifier.name}",
        "",
        f"A keras_nmf `ImageClassifier`: the paper's `{classifier.network.name}` "
        f"network ({metadata['parameter_count']:,} parameters, of which "
        f"{metadata['trainable_parameter_count']:,} are trained; the rest are BatchNorm's moving statistics) "
        f"behind the paper's preprocessing.",
        "",
        "```python",
        "import keras_nmf",
        "",
        "classifier = keras_nmf.models.ImageClassifier.from_preset(PRESET_DIRECTORY)",
        "```",
        "",
    ]
    extra = {key: value for key, value in metadata.items() if key not in ("keras_nmf_version", "keras_version")}
    lines += [f"- {key}: {value}" for key, value in extra.items()]
    return "\n".join(lines) + "\n"
