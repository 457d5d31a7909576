"""Presets: a classifier saved as a directory, keras-hub's layout without depending on keras-hub.

A preset directory holds ``config.json`` (the serialised :class:`keras_nmf.models.ImageClassifier`),
``model.weights.h5`` (its network's weights), ``metadata.json`` (versions, parameters and what the saver adds:
for the trained presets, the test accuracy and the recipe) and a model card ``README.md``. The built-in presets are
the four architectures, untrained, and the trained networks in ``keras_nmf/presets/<name>/``.
"""

import json
import pathlib

import keras

from keras_nmf.architectures import ARCHITECTURES
from keras_nmf.training.run_files import atomic_save, atomic_write_json, atomic_write_text, read_json

#: Where the trained presets of the package lie, one directory each.
BUILTIN = pathlib.Path(__file__).resolve().parent.parent / "presets"
CONFIG, WEIGHTS, METADATA, MODEL_CARD = "config.json", "model.weights.h5", "metadata.json", "README.md"


def list_presets():
    """The built-in presets: the four architectures (untrained), then the trained networks."""
    trained = sorted(path.name for path in BUILTIN.glob("*") if (path / CONFIG).is_file())
    return [*ARCHITECTURES, *trained]


def _directory(preset):
    builtin = BUILTIN / str(preset)
    if isinstance(preset, str) and "/" not in preset and (builtin / CONFIG).is_file():
        return builtin
    directory = pathlib.Path(preset)
    if not (directory / CONFIG).is_file():
        raise ValueError(f"Unknown preset {str(preset)!r}: neither a built-in preset ({', '.join(list_presets())}; "
                         f"keras_nmf.models.list_presets()) nor a directory written by save_to_preset (it holds "
                         f"{CONFIG} and {WEIGHTS}).")
    return directory


def load_preset(preset, load_weights=True):
    """The :class:`ImageClassifier` of ``preset`` (see :meth:`ImageClassifier.from_preset`)."""
    from keras_nmf.models.image_classifier import ImageClassifier
    from keras_nmf.models.paper_network import PaperNetwork

    if preset in ARCHITECTURES:
        return ImageClassifier(PaperNetwork(preset))
    directory = _directory(preset)
    classifier = keras.saving.deserialize_keras_object(
        read_json(directory / CONFIG, "a preset's configuration", "Write the preset again with save_to_preset."))
    if load_weights:
        classifier.network.load_weights(directory / WEIGHTS)
    return classifier


def read_metadata(preset):
    """A preset's ``metadata.json`` (``{}`` for an architecture preset)."""
    if preset in ARCHITECTURES:
        return {}
    return read_json(_directory(preset) / METADATA, "a preset's metadata", "Write the preset again.")


def save_preset(classifier, directory, metadata=None, model_card=None):
    """Writes the preset of ``classifier`` (see :meth:`ImageClassifier.save_to_preset`)."""
    from keras_nmf import __version__

    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(classifier)))  # tuples as lists
    metadata = {"keras_nmf_version": __version__, "keras_version": keras.__version__,
                "parameter_count": classifier.network.count_params(), **(metadata or {})}
    atomic_write_json(directory / CONFIG, config)
    atomic_save(directory / WEIGHTS, classifier.network.save_weights)
    atomic_write_json(directory / METADATA, metadata)
    atomic_write_text(directory / MODEL_CARD, model_card or _short_card(classifier, metadata))


def _short_card(classifier, metadata):
    lines = [f"# {classifier.name}", "", f"A keras_nmf `ImageClassifier`: the paper's `{classifier.network.name}` "
             f"network ({metadata['parameter_count']:,} parameters) behind the paper's preprocessing.", "",
             "```python", "import keras_nmf", "",
             "classifier = keras_nmf.models.ImageClassifier.from_preset(PRESET_DIRECTORY)", "```", ""]
    extra = {key: value for key, value in metadata.items() if key not in ("keras_nmf_version", "keras_version")}
    lines += [f"- {key}: {value}" for key, value in extra.items()]
    return "\n".join(lines) + "\n"
