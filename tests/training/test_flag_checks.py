"""Flags that cannot take effect are refused with the reason; what a run records is what ran."""

import keras
import pytest

from keras_nmf.training import TrainConfig
from keras_nmf.training.config import ConfigError
from keras_nmf.training.recipe import check_backend_support, resolve_jit
from keras_nmf.training.run import LARGE_ALPHA, nan_advice
from keras_nmf.training.run_dir import RunDir
from tests.backend import tensorflow_only


@pytest.mark.parametrize("field", ["lr", "kxk_lr", "min_lr", "alpha", "plateau_factor", "epsilon", "val_split"])
@pytest.mark.parametrize("value", [float("inf"), float("nan")])
def test_every_float_flag_must_be_finite(field, value):
    with pytest.raises(ConfigError, match=f"--{field.replace('_', '-')} must be"):
        TrainConfig.of(**{field: value})


@pytest.mark.parametrize(
    "arch, field, value",
    [
        ("cnn", "learning", "local"),
        ("cnn_1x1", "iterations", 5),
        ("cnn", "backward", "autodiff"),
        ("cnn", "epsilon", 0.5),
        ("cnn", "nmf_groups", 2),
        ("cnn", "nmf_chunk_elements", 0),
        ("cnmf", "cnn_kxk_bias", True),
    ],
)
def test_a_flag_of_the_other_arch_family_is_refused(arch, field, value):
    with pytest.raises(ConfigError, match=f"--{field.replace('_', '-')} applies to the .* archs .*, not to {arch}"):
        TrainConfig.of(arch=arch, **{field: value})


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--seed", "-1"], "--seed must be >= 0. Received: -1"),
        (["--seed", str(2**32)], f"--seed must be <= {2**32 - 1}"),
        (["--seed", "1e20"], "argument --seed: invalid int value"),
    ],
)
def test_a_seed_outside_what_the_generators_take_is_a_usage_error(argv, message, capsys):
    from keras_nmf.training import parse_config

    with pytest.raises(SystemExit) as exited:
        parse_config(argv)
    assert exited.value.code == 2 and message in capsys.readouterr().err


@tensorflow_only
def test_deterministic_runs_without_xla_and_says_so():
    assert resolve_jit(TrainConfig.of(arch="cnmf_1x1", deterministic=True)) is False
    assert resolve_jit(TrainConfig.of(arch="cnmf_1x1")) is True
    with pytest.raises(ConfigError, match="--jit does not work with --deterministic"):
        check_backend_support(TrainConfig.of(arch="cnmf_1x1", deterministic=True, jit=True))


def test_the_nan_advice_names_alpha_only_when_it_is_large(tmp_path):
    run = RunDir(tmp_path, TrainConfig(), {})
    usual = nan_advice(TrainConfig(), run)
    assert "--lr 0.0001 --kxk-lr 0.001" in usual and "--alpha" not in usual
    large = nan_advice(TrainConfig.of(alpha=LARGE_ALPHA * 10), run)
    assert "--alpha 1000 weights the squared error" in large and "cannot change on --resume" in large


def test_the_model_records_what_keras_compiled(tmp_path):
    from keras_nmf.training.recipe import build_compiled_model

    assert build_compiled_model(TrainConfig.of(arch="cnn", jit=False), (28, 28, 3), 10).jit_compile is False
    keras.backend.clear_session()
