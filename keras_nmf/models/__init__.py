"""The paper's networks: ``PaperNetwork`` (the network), ``ImageClassifier`` (raw images in: the paper's
preprocessing, then the network; presets), ``build_model`` and parameter accounting."""

from keras_nmf.architectures import ARCHITECTURES, NUM_BLOCKS, block_learning_modes, block_nmf_options, check_groups
from keras_nmf.models.factory import build_model, copy_weights
from keras_nmf.models.image_classifier import ImageClassifier, decode_predictions
from keras_nmf.models.paper_network import PaperNetwork
from keras_nmf.models.parameters import count_parameters
from keras_nmf.models.presets import CIFAR10_CLASSES, list_presets
