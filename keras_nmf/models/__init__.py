"""The paper's networks: ``build_model`` and parameter accounting."""

from keras_nmf.models.factory import (
    ARCHITECTURES, NUM_BLOCKS, block_learning_modes, build_model, check_groups, copy_weights, network_of,
    takes_raw_images,
)
from keras_nmf.models.parameters import count_parameters
