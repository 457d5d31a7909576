"""Networks that are told where the holes are: a trained NMF network rebuilt with an ``observed`` input.

The twin has the same layers and weights as the trained network (a :class:`keras_nmf.models.PaperNetwork` on the
crops); only its NMF blocks are called with a mask (``observed_input=True``: block 1 gets the holes, later blocks
the observed share of each patch). Under the ``holes`` perturbation it then explains only what it sees (the
weighted update of :mod:`keras_nmf.ops.divergences`), with no retraining.
"""

from keras_nmf.architectures import arch_family
from keras_nmf.models import PaperNetwork, copy_weights


def observed_twin(network):
    """``network`` (a ``PaperNetwork`` on the crops) with an ``observed`` input, the same weights."""
    twin = PaperNetwork.from_config(
        {**network.get_config(), "observed_input": True, "name": f"{network.name}_observed"}
    )
    copy_weights(network, twin)
    return twin


def observed_twins(networks, labels):
    """``{label: twin}`` for every NMF network among ``networks`` (``PaperNetwork`` instances)."""
    return {
        label: observed_twin(network)
        for network, label in zip(networks, labels)
        if arch_family(network.arguments["arch"]) == "nmf"
    }
