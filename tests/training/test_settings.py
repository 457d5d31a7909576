"""A run's settings are six sections, each of one role; every consumer takes its section, and every config.json that
keras_nmf ever wrote (one level, keyed by the flags) still loads."""

import dataclasses
import json
import subprocess
import sys

import pytest

from keras_nmf.nmf_arguments import with_current_option_names

from keras_nmf.errors import ConfigError
from keras_nmf.training.config import TrainConfig, resume_changes
from keras_nmf.training.settings import (
    FIELD_NAMES,
    ROLES,
    SECTION_OF,
    SECTIONS,
    BudgetSettings,
    DataSettings,
    ExecutionSettings,
    ModelSettings,
    OptimisationSettings,
    role_of,
)
from tests.conftest import REPO_ROOT

COMMITTED_RUN_CONFIGS = sorted((REPO_ROOT / "docs").glob("**/run_records/*/config.json"))


def test_each_setting_lives_in_one_section_and_takes_its_role():
    assert {section.NAME for section in SECTIONS} == {spec.name for spec in dataclasses.fields(TrainConfig)}
    assert sorted(FIELD_NAMES) == sorted(spec.name for section in SECTIONS for spec in dataclasses.fields(section))
    assert {section.ROLE for section in SECTIONS} == set(ROLES)
    assert all(role_of(name) == SECTION_OF[name].ROLE for name in FIELD_NAMES)
    assert SECTION_OF["lr"] is BudgetSettings and SECTION_OF["iterations"] is ModelSettings


def test_the_flags_names_build_the_sections_and_come_back():
    config = TrainConfig.of(arch="cnmf", iterations=5, data_dir="images", lr=1e-4, jit=False, seed=3, verbose=0)
    assert config.model == ModelSettings(arch="cnmf", iterations=5)
    assert config.data.data_dir == "images" and config.budget.lr == 1e-4 and config.execution.jit is False
    assert config.optimisation.seed == 3 and config.session.verbose == 0
    assert TrainConfig.of(**config.to_dict()) == config
    assert list(config.to_dict()) == list(FIELD_NAMES)  # one level, in the sections' order
    assert config.replace(epochs=7).budget == BudgetSettings(epochs=7, lr=1e-4)
    assert config.value("iterations") == 5
    built = TrainConfig(model=ModelSettings(arch="cnn"), optimisation=OptimisationSettings(schedule="wsd"))
    assert built == TrainConfig.of(arch="cnn", schedule="wsd")


def test_settings_are_frozen_so_a_run_cannot_change_them_behind_its_config_json():
    config = TrainConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.budget.lr = 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.model = ModelSettings(arch="cnn")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: TrainConfig.of(learning_rate=1), "Unknown setting(s): learning_rate"),
        (lambda: ModelSettings(arch="cnn", iterations=5), "--iterations applies to the NMF archs"),
        (lambda: TrainConfig.of(arch="cnn", nmf_chunk_elements=5), "--nmf-chunk-elements applies to the NMF archs"),
        (lambda: OptimisationSettings(min_lr=0.5, schedule="wsd"), "--min-lr is a setting of --schedule plateau"),
        (lambda: TrainConfig.of(monitor="val_loss"), "--monitor val_loss needs a validation split"),
        (lambda: ExecutionSettings(jit=True, distribute="mirrored"), "--jit does not work with --distribute"),
        (lambda: DataSettings(limit_test=0), "--limit-test must be >= 1"),
        (lambda: TrainConfig(model=DataSettings()), "TrainConfig.model must be a ModelSettings"),
    ],
)
def test_each_section_checks_its_rules_and_the_config_those_between_sections(make, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_the_role_is_the_sections_on_resume():
    """Budget changes continue an unfinished run, execution and session ones any run, others none."""
    saved = TrainConfig.of(arch="cnmf", epochs=5)
    requested = saved.replace(epochs=9, lr=1e-4, jit=False, verbose=0, width=2, limit_test=10)
    changes, refused = resume_changes(saved, requested)
    assert set(changes) == {"epochs", "lr", "jit", "verbose"}
    assert refused == ["--width (saved 1, given 2)", "--limit-test (saved None, given 10)"]


@pytest.mark.skipif(not COMMITTED_RUN_CONFIGS, reason="no committed run records")
def test_every_committed_run_record_loads(tmp_path):
    """The run records of docs/ were written by earlier versions (flat, with fewer fields): they load as they are,
    and a saved configuration reads back equal."""
    for path in COMMITTED_RUN_CONFIGS:
        config = TrainConfig.load(path)
        saved = with_current_option_names(json.loads(path.read_text()))  # the options' earlier names translated
        assert all(
            config.value(name) == value for name, value in saved.items() if name not in DataSettings.PATH_FIELDS
        ), path
        config.save(tmp_path / "config.json")
        assert TrainConfig.load(tmp_path / "config.json") == config


def test_the_consumers_take_their_section():
    """The network from ModelSettings, the recipe's callbacks from OptimisationSettings: no whole config needed."""
    pytest.importorskip("keras")
    from keras_nmf.training.recipe import network_arguments, recipe_callbacks

    arguments = network_arguments(ModelSettings(arch="cnmf", iterations=4, learning="local"), 0)
    assert arguments["arch"] == "cnmf" and arguments["nmf_chunk_elements"] is None
    assert [options.iterations for options in arguments["nmf_options"]] == [4] * 4
    assert [options.learning for options in arguments["nmf_options"]] == ["local"] * 4
    callbacks, stateful = recipe_callbacks(OptimisationSettings(schedule="wsd"), None)
    assert stateful == {} and len(callbacks) == 1  # the stop on a non-finite loss only
    assert set(recipe_callbacks(OptimisationSettings(), None)[1]) == {"plateau", "floor"}


def test_the_settings_modules_are_leaves():
    """The settings, the configuration and the flags import neither Keras nor a backend (the commands parse first)."""
    program = """
import sys
sys.argv = ["/env/bin/keras-nmf-train"]  # a command of the package: keras_nmf defers loading Keras
from keras_nmf.training.flags import parse_config
config, _ = parse_config(["--arch", "cnmf", "--epochs", "3"])
assert config.budget.epochs == 3
print(sorted(m for m in sys.modules if m.split(".")[0] in ("keras", "tensorflow", "jax", "torch")))
"""
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    assert result.stdout.strip() == "[]", result.stderr
