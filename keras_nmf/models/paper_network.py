"""``PaperNetwork``: one of the paper's four networks as a Keras model class that describes itself."""

import inspect

import keras

from keras_nmf.architectures import block_nmf_options, network_spec, per_block
from keras_nmf.models.factory import build_model
from keras_nmf.nmf_arguments import NMF_OPTION_NAMES, with_current_option_names

#: The network arguments of :func:`keras_nmf.models.build_model` (all but the preprocessing in front of it).
_NETWORK_ARGUMENTS = tuple(
    name for name in inspect.signature(build_model).parameters if name not in ("augmentation", "image_shape")
)


@keras.saving.register_keras_serializable(package="keras_nmf")
class PaperNetwork(keras.Model):
    """One of the paper's networks (Nouri et al., Figure 4): ``cnn``, ``cnmf``, ``cnn_1x1`` or ``cnmf_1x1``.

    A functional model from the cropped images in [0, 1] (``input_shape``) to the class probabilities, built by
    :func:`keras_nmf.models.build_model`, whose arguments are this class's (every one is documented there).
    ``get_config()`` is those arguments, so ``PaperNetwork.from_config(network.get_config())`` builds the same
    network, and the layers keep ``build_model``'s names (``block1_cnmf``, ``block1_bn``, ...), so the weights of a
    ``build_model`` network of the same arguments load into it.

    Example::

        network = keras_nmf.models.PaperNetwork("cnmf_1x1", width=2)
        probabilities = network(crops)           # (B, 28, 28, 3) in [0, 1] -> (B, 10)
    """

    def __init__(
        self,
        arch="cnmf_1x1",
        input_shape=(28, 28, 3),
        num_classes=10,
        width=1,
        nmf_groups=1,
        conv_groups=1,
        nmf_options=None,
        nmf_chunk_elements=2**20,
        nmf_layer="patches",
        cnn_kxk_bias=False,
        observed_input=False,
        bn_momentum=0.9,
        bn_epsilon=1e-5,
        bn_synchronized=False,
        **kwargs,
    ):
        arguments = {name: value for name, value in locals().items() if name in _NETWORK_ARGUMENTS}
        arguments["input_shape"] = tuple(input_shape)
        arguments["nmf_options"] = per_block(nmf_options, len(network_spec(arch).blocks))
        graph = build_model(**arguments)
        kwargs.setdefault("name", graph.name)
        super().__init__(inputs=graph.inputs if observed_input else graph.inputs[0], outputs=graph.outputs[0], **kwargs)
        self.arguments = arguments

    def get_config(self):
        blocks = [options.to_config() for options in self.arguments["nmf_options"]]
        nmf_options = blocks[0] if all(block == blocks[0] for block in blocks) else blocks
        return {"name": self.name, "trainable": self.trainable, **self.arguments, "nmf_options": nmf_options}

    @classmethod
    def from_config(cls, config):
        return cls(**_with_nmf_options(config))


def _with_nmf_options(config):
    """``config`` with flat NMF option keys (``iterations``, ``nmf_divergence`` ..., as saved before the network
    took ``nmf_options``; earlier names translated, :func:`keras_nmf.nmf_arguments.with_current_option_names`)
    gathered into ``nmf_options``, so that earlier presets and models load."""
    config = with_current_option_names(config)
    flat = {key: config[key] for key in NMF_OPTION_NAMES if key in config}
    if not flat:
        return config
    rest = {key: value for key, value in config.items() if key not in flat}
    return {**rest, "nmf_options": list(block_nmf_options(flat))}
