"""The HyperModel builds compiled models from sampled widths and groups."""

import keras_tuner as kt

from keras_nmf.layers import CNMF2D
from tuning.hypermodel import NMFHyperModel


def test_build_on_fresh_hyperparameters_and_a_chosen_point():
    hypermodel = NMFHyperModel("cnmf_1x1", iterations=2)
    model = hypermodel.build(kt.HyperParameters())
    assert model.optimizer is not None and model.output_shape == (None, 10)
    hp = kt.HyperParameters()
    hp.Fixed("width", 2)
    hp.Fixed("groups", 4)
    model = hypermodel.build(hp)
    layer = model.get_layer("block2_cnmf")
    assert isinstance(layer, CNMF2D) and layer.groups == 4 and layer.filters == 128
