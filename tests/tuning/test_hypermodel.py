"""The sweep space of section 3.1: all 100 variants build, bad groups are rejected with the fix."""

import itertools

import keras_tuner as kt
import pytest

from keras_nmf.layers import CNMF2D
from keras_nmf.models import build_model, count_parameters
from keras_nmf.training import TrainConfig
from keras_nmf.architectures import SWEEP_GROUPS as GROUPS, SWEEP_WIDTHS as WIDTHS
from keras_nmf.tuning.hypermodel import NMFHyperModel
from keras_nmf.nmf_arguments import NMFOptions


def _hp(width, nmf_groups, conv_groups):
    hp = kt.HyperParameters()
    hp.Fixed("width", width)
    hp.Fixed("nmf_groups", nmf_groups)
    hp.Fixed("conv_groups", conv_groups)
    return hp


def test_all_100_variants_build_with_their_shapes():
    hypermodel = NMFHyperModel(TrainConfig.of(arch="cnmf_1x1", iterations=2))
    variants = hypermodel.variants()
    assert len(variants) == 4 * 5 * 5 == 100 and len(set(variants)) == 100
    sizes = set()
    for width, nmf_groups, conv_groups in variants:
        model = hypermodel.build(_hp(width, nmf_groups, conv_groups))
        block2 = model.get_layer("block2_cnmf")
        assert isinstance(block2, CNMF2D) and block2.filters == 64 * width and block2.groups == nmf_groups
        assert model.get_layer("block2_mix").groups == conv_groups and model.output_shape == (None, 10)
        assert model.optimizer is not None
        sizes.add(count_parameters(model)["trainable"])
    assert len(sizes) == 100  # nmf and conv groups move the size independently


def test_a_fresh_hyperparameter_set_builds_and_cnn_archs_drop_the_nmf_choice():
    model = NMFHyperModel(TrainConfig.of(arch="cnmf_1x1", iterations=2)).build(kt.HyperParameters())
    assert model.get_layer("block2_cnmf").groups == GROUPS[0]
    cnn = NMFHyperModel(TrainConfig.of(arch="cnn_1x1"))
    assert {v[1] for v in cnn.variants()} == {1} and len(cnn.variants()) == len(WIDTHS) * len(GROUPS)
    hp = kt.HyperParameters()
    cnn.build(hp)
    assert "nmf_groups" not in hp.values


@pytest.mark.parametrize(
    "field, values, message",
    [
        (
            "nmf_groups",
            [1, 3],
            "`nmf_groups` must divide the channels of every grouped layer .* Received: nmf_groups=3",
        ),
        ("conv_groups", [32, 64], "Received: conv_groups=64"),
    ],
)
def test_invalid_group_choices_are_rejected(field, values, message):
    with pytest.raises(ValueError, match=message):
        NMFHyperModel(TrainConfig.of(arch="cnmf_1x1"), widths=[1], **{field: values})


def test_variants_match_the_factory_parameter_counts():
    hypermodel = NMFHyperModel(
        TrainConfig.of(arch="cnmf_1x1", iterations=2), widths=[2], nmf_groups=[4], conv_groups=[8]
    )
    ((width, nmf_groups, conv_groups),) = hypermodel.variants()
    built = hypermodel.build(_hp(width, nmf_groups, conv_groups))
    direct = build_model("cnmf_1x1", width=2, nmf_groups=4, conv_groups=8, nmf_options=NMFOptions(2))
    assert count_parameters(built) == count_parameters(direct)
    assert list(itertools.chain(*[v.shape for v in built.weights])) == list(
        itertools.chain(*[v.shape for v in direct.weights])
    )


def test_a_trial_follows_the_recipes_fixed_budget_schedule():
    """--schedule reaches a sweep's trials: the rate is laid over the trial's epochs x steps (one-cycle ends at 0)."""
    import keras
    import numpy as np

    from keras_nmf.schedules import WarmupStableDecay

    recipe = TrainConfig.of(arch="cnn", epochs=2, schedule="onecycle", warmup_fraction=0.25, jit=False, verbose=0)
    hypermodel = NMFHyperModel(recipe, (24, 24, 3), 3, widths=[1], conv_groups=[1])
    model = hypermodel.build(_hp(1, 1, 1))
    images = np.random.default_rng(0).uniform(0, 1, (8, 24, 24, 3)).astype("float32")
    labels = np.arange(8) % 3
    hypermodel.fit(_hp(1, 1, 1), model, images, labels, batch_size=4, epochs=2, steps_per_epoch=2, verbose=0)
    assert isinstance(model.optimizer._learning_rate, WarmupStableDecay)
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 4
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == 0.0
