"""Presets on disk: written whole or not at all, never over the user's files, and read back or refused by name."""

import errno
import json
import shutil

import numpy as np
import pytest

from keras_nmf.models import ImageClassifier, PaperNetwork
from keras_nmf.models import presets
from keras_nmf.errors import PresetError


@pytest.fixture(scope="module")
def classifier():
    return ImageClassifier(PaperNetwork("cnn"))


@pytest.fixture
def saved(tmp_path, classifier):
    classifier.save_to_preset(tmp_path / "preset")
    return tmp_path / "preset"


def _listing(folder):
    return sorted(path.name for path in folder.iterdir())


def test_save_to_preset_refuses_a_folder_that_holds_files(tmp_path, classifier):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "README.md").write_text("my notes")
    (mine / "config.json").write_text('{"mine": 1}')
    with pytest.raises(PresetError, match=r"holds files \(README.md, config.json\).*overwrite=True"):
        classifier.save_to_preset(mine)
    assert (mine / "README.md").read_text() == "my notes" and (mine / "config.json").read_text() == '{"mine": 1}'
    classifier.save_to_preset(mine, overwrite=True)
    assert _listing(mine) == ["README.md", "config.json", "metadata.json", "model.weights.h5"]
    assert ImageClassifier.from_preset(mine).count_params() == classifier.count_params()
    (tmp_path / "empty").mkdir()
    classifier.save_to_preset(tmp_path / "empty")  # an empty folder is fine


@pytest.mark.parametrize(
    "arguments, problem",
    [
        ({"metadata": {"when": object()}}, "`metadata` must be JSON"),
        ({"metadata": ["a"]}, "`metadata` must be a dict"),
        ({"model_card": 5}, "`model_card` must be a string"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_written(tmp_path, classifier, arguments, problem):
    with pytest.raises(PresetError, match=problem):
        classifier.save_to_preset(tmp_path / "preset", **arguments)
    assert not (tmp_path / "preset").exists()


def test_a_full_disk_leaves_no_half_preset_and_keeps_the_old_one(tmp_path, classifier, saved, monkeypatch):
    before = {name: (saved / name).read_bytes() for name in _listing(saved)}

    def full_disk(path, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(presets, "atomic_write_json", full_disk)
    with pytest.raises(PresetError, match="No space left on device.*free some space"):
        classifier.save_to_preset(tmp_path / "new")
    assert not (tmp_path / "new").exists()
    with pytest.raises(PresetError, match="No space left"):
        classifier.save_to_preset(saved, overwrite=True)
    assert {name: (saved / name).read_bytes() for name in _listing(saved)} == before
    assert _listing(tmp_path) == ["preset"]  # no temporary folder left behind


def test_a_read_only_target_is_named(tmp_path, classifier):
    with pytest.raises(PresetError, match="cannot write.*/proc"):
        classifier.save_to_preset("/proc/keras_nmf_preset")


@pytest.mark.parametrize(
    "damage, problem",
    [
        (lambda d: (d / "model.weights.h5").unlink(), r"lacks model.weights.h5"),
        (lambda d: (d / "model.weights.h5").write_bytes(b"not an h5 file"), r"model.weights.h5.*cannot be read"),
        (
            lambda d: (d / "model.weights.h5").write_bytes((d / "model.weights.h5").read_bytes()[:3000]),
            r"model.weights.h5.*cannot be read",
        ),
        (lambda d: (d / "config.json").write_text("{ truncated"), r"config.json"),
        (lambda d: (d / "metadata.json").unlink(), r"lacks metadata.json"),
    ],
)
def test_a_damaged_preset_names_the_file_and_the_fix(saved, damage, problem):
    damage(saved)
    with pytest.raises(PresetError, match=f"{problem}.*(save_to_preset|again)"):
        ImageClassifier.from_preset(saved)


def test_a_folder_with_only_its_config_is_not_a_preset(tmp_path, saved):
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(saved / "config.json", partial / "config.json")  # what a full disk could leave
    with pytest.raises(PresetError, match="lacks model.weights.h5, metadata.json"):
        ImageClassifier.from_preset(partial)


def test_non_finite_weights_are_refused(tmp_path):
    network = PaperNetwork("cnn")
    layer = network.get_layer("block1_conv")
    layer.set_weights([np.full_like(w, np.nan) for w in layer.get_weights()])
    ImageClassifier(network).save_to_preset(tmp_path / "nan")
    with pytest.raises(PresetError, match="non-finite.*block1_conv"):
        ImageClassifier.from_preset(tmp_path / "nan")


@pytest.mark.parametrize("preset", [None, 5, ""])
def test_a_preset_that_is_no_name_is_named(preset):
    with pytest.raises(PresetError, match="preset name"):
        ImageClassifier.from_preset(preset)


def test_metadata_states_the_parameters_both_ways(saved, classifier):
    metadata = json.loads((saved / "metadata.json").read_text())
    assert metadata["trainable_parameter_count"] < metadata["parameter_count"] == classifier.network.count_params()
    assert "BatchNorm" in (saved / "README.md").read_text()
