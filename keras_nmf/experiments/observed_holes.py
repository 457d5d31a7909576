"""Networks that are told where the holes are: a trained NMF network rebuilt with an ``observed`` input.

The twin has the same layers and weights as the trained network (read from
the crops on, :func:`keras_nmf.models.network_of`); only its NMF blocks are
called with a mask (``build_model(observed_input=True)``: block 1 gets the
holes, later blocks the observed share of each patch). Under the ``holes``
perturbation it then explains only what it sees (the weighted update of
:mod:`keras_nmf.ops.divergences`), with no retraining.
"""

import pathlib

from keras_nmf.architectures import arch_family
from keras_nmf.models import build_model, copy_weights
from keras_nmf.training.config import TrainConfig
from keras_nmf.training.recipe import model_arguments


def observed_twin(network, config):
    """``network`` (a :func:`build_model` network on the crops) with an ``observed`` input, the same weights."""
    twin = build_model(config.arch, input_shape=tuple(network.input_shape[1:]), num_classes=network.output_shape[-1],
                       observed_input=True, **model_arguments(config))
    copy_weights(network, twin)
    return twin


def observed_twins(paths, networks, labels):
    """``{label: twin}`` for every NMF network among ``networks``, from the ``config.json`` beside each model file.

    Raises:
        FileNotFoundError: a model file without its run's ``config.json`` (the twin needs the build arguments).
    """
    twins = {}
    for path, network, label in zip(map(pathlib.Path, paths), networks, labels):
        config_path = path.parent / "config.json"
        if not config_path.is_file():
            raise FileNotFoundError(f"{path}: --holes-observed rebuilds each NMF network from its run's config.json, "
                                    f"which is not beside the model ({config_path}). Pass models inside their run "
                                    f"directories, or drop --holes-observed.")
        config = TrainConfig.load(config_path)
        if arch_family(config.arch) == "nmf":
            twins[label] = observed_twin(network, config)
    return twins
