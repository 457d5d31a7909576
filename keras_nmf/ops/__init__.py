"""Pure tensor functions behind the NMF layers (eqs. 6, 18-20)."""

from keras_nmf.ops.checks import (
    InvalidInputError,
    check_initial_h,
    check_mask,
    check_non_negative_finite,
    invalid_input_message,
)
from keras_nmf.nmf_arguments import BACKWARD_MODES, DIVERGENCES, IMPLICIT_DTYPES, LEARNING_MODES
from keras_nmf.ops.nmf import (
    TINY,
    NMFOptions,
    initial_activations,
    l1_normalize,
    nmf,
    nmf_approx,
    nmf_iterations,
    nmf_weights,
)
from keras_nmf.ops.patchwise import observed_patterns, patchwise_nmf
from keras_nmf.ops.patches import (
    PatchGeometry,
    conv_output_length,
    extract_patches,
    merge_groups,
    split_groups,
)
