"""The paper's networks: ``PaperNetwork`` (the network), ``ImageClassifier`` (raw images in: the paper's
preprocessing, then the network; presets), ``build_model`` and parameter accounting."""

from keras_nmf.models.factory import (
    ARCHITECTURES, NUM_BLOCKS, block_learning_modes, build_model, check_groups, copy_weights, network_of,
    takes_raw_images,
)
from keras_nmf.models.image_classifier import ImageClassifier
from keras_nmf.models.paper_network import PaperNetwork
from keras_nmf.models.parameters import count_parameters
from keras_nmf.models.presets import list_presets
