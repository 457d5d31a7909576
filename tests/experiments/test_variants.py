"""Variant labels and overrides: parsed like train.py flags, bad ones rejected with the fix."""

import pytest

from keras_nmf.experiments import BASE_VARIANT, Variant, parse_variant
from keras_nmf.training import TrainConfig


def test_overrides_are_converted_like_the_flags():
    variant = parse_variant("local:learning=local,iterations=5,kxk-lr=0.02")
    assert variant == Variant("local", (("learning", "local"), ("iterations", 5), ("kxk_lr", 0.02)))
    config = variant.apply(TrainConfig.of(arch="cnmf"))
    model = config.model
    assert (model.learning, model.iterations, config.budget.kxk_lr, model.arch) == ("local", 5, 0.02, "cnmf")


def test_a_label_alone_is_a_variant_without_overrides():
    assert parse_variant("approx") == Variant("approx")
    assert BASE_VARIANT.apply(TrainConfig()) == TrainConfig()


@pytest.mark.parametrize(
    "text, message",
    [
        ("local:nmf_learning=local", "unknown field 'nmf_learning'"),  # the earlier name: one name now
        ("x:seed=3", "cannot set 'seed'"),
        ("x:arch=cnn", "cannot set 'arch'"),
        ("x:iterations=many", "bad value 'many' for iterations"),
        ("x:backward=exact", "Unknown --backward 'exact'"),
        ("x:iterations", "is not FIELD=VALUE"),
        ("base:iterations=3", "Bad variant label 'base'"),
        ("my run:iterations=3", "Bad variant label"),
    ],
)
def test_bad_variants_name_the_problem(text, message):
    with pytest.raises(ValueError, match=message):
        parse_variant(text)
