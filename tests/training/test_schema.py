"""TrainConfig's field metadata is the one source: every parser, check and rule is derived from it."""

import dataclasses

import pytest

from keras_nmf.experiments import grid, variants
from keras_nmf.errors import ConfigError
from keras_nmf.nmf_arguments import NMFOptions
from keras_nmf.training.config import TrainConfig
from keras_nmf.training.flags import build_parser
from keras_nmf.training.settings import FIELD_NAMES, ROLES, field_spec, fields_where, flag, role_of

from keras_nmf.cli import compare
from keras_nmf.cli import train as train_script
from keras_nmf.cli import search

FIELDS = list(FIELD_NAMES)
#: What a value of an NMF option other than its default needs of the other options (NMFOptions's facts).
NMF_OPTION_NEEDS = {option.name: option.metadata["needs"] for option in dataclasses.fields(NMFOptions)}


def test_every_field_has_a_role_a_type_and_a_train_flag():
    options = {option for action in build_parser()._actions for option in action.option_strings}
    for name in FIELDS:
        meta = field_spec(name).metadata
        assert role_of(name) in ROLES and meta["type"] in (str, int, float, bool) and meta["help"]
        assert flag(name) in options


def test_resume_and_grids_accept_the_same_changes():
    """One rule (resume_changes) for --resume and for a grid's saved runs: rates, epochs, runtime flags only."""
    from keras_nmf.training.config import resume_changes

    saved = TrainConfig.of(arch="cnmf", epochs=5)
    accepted, refused = resume_changes(saved, TrainConfig.of(arch="cnmf", epochs=9, lr=1e-4, jit=False, width=2))
    assert set(accepted) == {"epochs", "lr", "jit"} and refused == ["--width (saved 1, given 2)"]
    assert resume_changes(saved, TrainConfig.of(arch="cnmf", epochs=9), names={"width"}) == ({}, [])
    assert resume_changes(saved, TrainConfig.of(arch="cnmf", epochs=9, jit=False), finished=True) == (
        {"jit": (None, False)},
        ["--epochs (saved 5, given 9)"],
    )  # a finished run's results used its epochs


def test_grid_and_variant_rules_are_derived_from_the_roles():
    assert grid.ALL_FIELDS == set(FIELDS)
    assert set(variants.RESERVED_FIELDS) == set(variants.PER_RUN) | set(fields_where(role="volatile"))
    with pytest.raises(ValueError, match="cannot set 'seed'"):
        variants.parse_variant("x:seed=3")
    assert variants.parse_variant("j:jit=false,epsilon=0.5").overrides == (("jit", False), ("epsilon", 0.5))


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--lr", "-1"], "--lr must be > 0.0"),
        (["--nmf-groups", "3"], "Received: nmf_groups=3"),
        (["--limit-train", "0"], "--limit-train must be >= 1 or leave it out"),
        (["--limit-test", "-10"], "--limit-test must be >= 1"),
        (["--steps-per-epoch", "-1"], "--steps-per-epoch must be >= 1"),
        (["--plateau-factor", "1.5"], "--plateau-factor must be < 1.0"),
        (["--val-split", "1"], "--val-split must be < 1.0"),
    ],
)
def test_bad_flags_exit_2_at_parse_time_and_create_nothing(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stop:
        train_script.main(argv + ["--logdir", str(tmp_path / "run")])
    assert stop.value.code == 2 and message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_compare_refuses_the_per_run_flags_with_their_replacement(capsys):
    assert set(variants.PER_RUN) <= set(FIELDS)
    for name, instead in variants.PER_RUN.items():
        if name == "variant":
            continue  # compare.py's own --variant LABEL:FIELD=VALUE
        with pytest.raises(SystemExit):
            compare.parse_args(["--out", "x", flag(name), "1"])
        assert instead in capsys.readouterr().err


def test_search_honours_or_refuses_every_train_flag(tmp_path, capsys):
    """Each train.py flag either reaches every trial's recipe or is an error that says why."""
    samples = {str: None, int: "2", float: "0.5", bool: None}
    base = ["--data-dir", str(tmp_path)]
    for name in FIELDS:
        meta = field_spec(name).metadata
        if name in search.SAMPLED:
            continue  # the sweep's own list flags of those names
        if name in search.TRIAL_REFUSES:
            with pytest.raises(SystemExit):
                search.parse_args(base + [flag(name), "1"])
            assert search.TRIAL_REFUSES[name] in capsys.readouterr().err
            continue
        if meta["type"] is bool:
            argv, expected = [flag(name)], True
        elif meta["choices"]:
            expected = list(meta["choices"])[-1]
            argv = [flag(name), expected]
        elif name in ("data_dir", "tfds_dir"):
            argv, expected = [flag(name), str(tmp_path)], str(tmp_path)
        else:
            text = {
                "crop_size": "24",
                "val_split": "0.2",
                "plateau_factor": "0.5",
                "epsilon": "0.5",
                "learning": "local,local,local,backprop",
            }.get(name, samples[meta["type"]])
            argv, expected = [flag(name), text], meta["type"](text)
        if name == "monitor":
            argv += ["--val-split", "0.1"]
        if name == "cnn_kxk_bias":
            argv += ["--arch", "cnn"]
        for other, value in NMF_OPTION_NEEDS.get(name, {}).items():  # what the rules between NMF options ask
            argv += [flag(other), str(value)]
        if meta["schedules"] and "plateau" not in meta["schedules"]:
            argv += ["--schedule", meta["schedules"][0]]
        _, recipe = search.parse_args(base + argv)
        assert recipe.value(name) == expected, name
    with pytest.raises(SystemExit):
        search.parse_args(base + ["--max-trials", "0"])
    assert "must be an integer >= 1" in capsys.readouterr().err


def test_config_error_names_the_flag():
    with pytest.raises(ConfigError, match=r"--epsilon: `epsilon` .* in \(0, 1\]"):
        TrainConfig.of(epsilon=2.0)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"tolerance": 1e-3, "backward": "autodiff"}, "autodiff cannot differentiate"),
        ({"learning": "local", "backward": "implicit"}, "needs `backward='approx'`"),
        ({"tolerance": -1.0}, "--tolerance: `tolerance` must be None .* > 0"),
    ],
)
def test_the_layers_rules_refuse_a_config_before_anything_runs(values, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig.of(**values)
