"""What one NMF layer makes of its input, position by position: its reconstruction, its error and which part
explains each region.

A ``CNMF2D`` layer explains every patch x as a non-negative mixture W h of its parts (the columns of W, eq. 20),
from the L1-normalised patch x / sum(x) (eq. 6). Here that is read back in the input's own terms:

* the reconstruction: each patch's W h times its sum, folded back onto the input, where overlapping patches are
  averaged (for block 1, an image in pixel space);
* the error map: ``|xhat - W h|_1`` of the patch at each output position (0 to 2), summed over the groups;
* the dominant part: at each position the part with the largest h, and its share of h.
"""

import dataclasses

import keras
import numpy as np

from keras_nmf import ops
from keras_nmf.errors import ExplainError
from keras_nmf.layers import CNMF2D


@dataclasses.dataclass(frozen=True)
class LayerMaps:
    """One ``CNMF2D`` layer's explanation of a batch, NumPy arrays.

    Attributes:
        h: (B, H', W', I) the activations, as the layer outputs them.
        error: (B, H', W') the reconstruction error of the patch at each position.
        dominant: (B, H', W') int, the part with the largest h there (-1 where h is 0: an all-zero patch).
        dominant_share: (B, H', W') that part's share of h (of the sum over every group's parts).
        reconstruction: (B, H, W, C) the patches' reconstructions W h, each times its patch's sum, folded back onto
            the input with overlaps averaged.
    """

    h: np.ndarray
    error: np.ndarray
    dominant: np.ndarray
    dominant_share: np.ndarray
    reconstruction: np.ndarray


def _grid(layer, input_shape):
    """(H', W') of the layer's output for inputs of ``input_shape``."""
    output_shape = layer.compute_output_shape(tuple(input_shape))
    return (output_shape[0] if isinstance(output_shape[0], tuple) else output_shape)[1:3]


def layer_maps(layer, inputs):
    """The :class:`LayerMaps` of a ``CNMF2D`` ``layer`` for its ``inputs`` (B, H, W, C), non-negative.

    Raises:
        ExplainError: ``layer`` is not a ``CNMF2D`` (the maps are per patch position).
    """
    if not isinstance(layer, CNMF2D):
        raise ExplainError(
            f"{layer.name!r} is a {type(layer).__name__}: the maps are per patch position, which CNMF2D layers have. "
            "Its per-image reconstruction error is keras_nmf.explain.reconstruction_errors."
        )
    inputs = keras.ops.convert_to_tensor(np.asarray(inputs, "float32"))
    factorization = layer.factorize(inputs)
    rows, cols = _grid(layer, inputs.shape)
    h = ops.merge_groups(factorization.h, (rows, cols))
    error = factorization.reconstruction_error()
    if len(error.shape) == 2:  # ([G,] P): the groups' errors of one position add up
        error = keras.ops.sum(error, axis=0)
    scaled = factorization.reconstruction * keras.ops.sum(factorization.patterns, axis=-1, keepdims=True)
    reconstruction = layer.geometry.fold_averaged(scaled, keras.ops.shape(inputs))
    h = keras.ops.convert_to_numpy(h).astype("float64")
    total = h.sum(-1)
    dominant = np.where(total > 0, h.argmax(-1), -1)
    share = np.divide(h.max(-1), total, out=np.zeros_like(total), where=total > 0)
    return LayerMaps(
        h=h,
        error=keras.ops.convert_to_numpy(keras.ops.reshape(error, (-1, rows, cols))),
        dominant=dominant,
        dominant_share=share,
        reconstruction=keras.ops.convert_to_numpy(reconstruction),
    )


def reconstruction_errors(layer, inputs):
    """Each image's mean reconstruction error over the layer's patterns (``|xhat - W h|_1``, summed over the
    groups), (B,): any NMF layer (``CNMF2D``: the patches; ``NMFDense``: the vector; ``ConvolutiveNMF2D``: the
    image)."""
    inputs = np.asarray(inputs, "float32")
    error = keras.ops.convert_to_numpy(layer.factorize(keras.ops.convert_to_tensor(inputs)).reconstruction_error())
    if error.ndim == 2:
        error = error.sum(0)
    return error.reshape(len(inputs), -1).mean(-1)
