"""The parts an NMF layer learned, as pictures.

* Block 1's parts are the columns of its W (eq. 20) as (kh, kw, C) patches: W as trained, non-negative with unit
  sums, so that a patch's reconstruction is their mixture W h (:func:`first_layer_parts`).
* A deeper layer's parts are not patches of pixels: BatchNorm, ReLU and the signed 1x1 interactions lie between
  them and the image, so no weight product maps them back honestly. They are shown by what they explain in real
  images: for each part, the image regions (the receptive field of a position, :func:`receptive_field`) where the
  part's activation h_i is the largest over a set of images (:func:`top_regions`), data-driven as the "maximally
  activating patches" of CNN visualisation.
"""

import dataclasses

import keras
import numpy as np

from keras_nmf import ops
from keras_nmf.errors import ExplainError
from keras_nmf.layers import CNMF2D


def _dilated(layer, axis):
    """A convolution's kernel size along ``axis`` with its dilation: the span of input it reads."""
    return (layer.kernel_size[axis] - 1) * layer.dilation_rate[axis] + 1


#: Layers that change the spatial grid, and how: ``layer -> (kernel span, stride, padding)`` per axis.
_SPATIAL = {
    keras.layers.Conv2D: lambda layer, axis: (_dilated(layer, axis), layer.strides[axis], layer.padding),
    CNMF2D: lambda layer, axis: (_dilated(layer, axis), layer.strides[axis], layer.padding),
    keras.layers.AveragePooling2D: lambda layer, axis: (layer.pool_size[axis], layer.strides[axis], layer.padding),
    keras.layers.MaxPooling2D: lambda layer, axis: (layer.pool_size[axis], layer.strides[axis], layer.padding),
}


def first_layer_parts(layer):
    """A ``CNMF2D`` layer's parts: (I, kh, kw, C / G) patches, the columns of W (eq. 20), each summing to 1."""
    if not isinstance(layer, CNMF2D):
        raise ExplainError(f"{layer.name!r} is a {type(layer).__name__}: parts as patches are a CNMF2D's.")
    weights = keras.ops.convert_to_numpy(ops.nmf_weights(layer.kernel))  # (kh, kw, C/G, I)
    return np.moveaxis(weights, -1, 0)


@dataclasses.dataclass(frozen=True)
class ReceptiveField:
    """Where an output position of a layer looks in the network's input, per axis (rows, columns): position p
    covers input pixels [start + p * jump, start + p * jump + size) (clipped to the image)."""

    size: tuple
    jump: tuple
    start: tuple

    def box(self, row, col):
        """(top, left, bottom, right) of position (row, col)."""
        top, left = (self.start[a] + p * self.jump[a] for a, p in ((0, row), (1, col)))
        return top, left, top + self.size[0], left + self.size[1]


def _chain(network, layer):
    """The layers from the network's input to ``layer``, included, for a network that is a chain of layers."""
    layers = [candidate for candidate in network.layers if not isinstance(candidate, keras.layers.InputLayer)]
    if layer not in layers:
        raise ExplainError(f"{layer.name!r} is not a layer of {network.name!r}.")
    chain = layers[: layers.index(layer) + 1]
    for previous, current in zip(chain, chain[1:]):
        if current.input is not previous.output:
            raise ExplainError(
                f"{network.name!r} is not a chain of layers up to {layer.name!r} ({current.name!r} does not take "
                f"{previous.name!r}'s output): receptive fields are computed for chains, as the package's networks are."
            )
    return chain


def receptive_field(network, layer):
    """The :class:`ReceptiveField` of ``layer``'s output positions in ``network``'s input (a chain of layers;
    every layer that is not a convolution, a ``CNMF2D`` or a pooling keeps the grid). "same" padding is taken as
    (kernel - 1) // 2 before, exact at stride 1 (at larger strides TensorFlow's split depends on the input size)."""
    size, jump, start = [1, 1], [1, 1], [0, 0]
    for current in _chain(network, layer):
        geometry = next((rule for kind, rule in _SPATIAL.items() if isinstance(current, kind)), None)
        if geometry is None:
            continue
        for axis in (0, 1):
            kernel, stride, padding = geometry(current, axis)
            pad = (kernel - 1) // 2 if padding == "same" else 0
            start[axis] -= pad * jump[axis]
            size[axis] += (kernel - 1) * jump[axis]
            jump[axis] *= stride
    return ReceptiveField(tuple(size), tuple(jump), tuple(start))


def top_regions(field, inputs, h, per_part=6, parts=None):
    """For each part of a layer, the ``per_part`` regions of the images where its h is the largest, one per image.

    Args:
        field: the layer's :class:`ReceptiveField` (:func:`receptive_field`).
        inputs: (N, H, W, C) the images as the network took them.
        h: (N, H', W', I) the layer's activations for those images.
        parts: the parts' indices (None: every part).

    Returns:
        ``(regions, values)``: (parts, per_part, size, size, C) crops of ``inputs`` (zero outside the image) and
        (parts, per_part) the activations there, largest first.
    """
    parts = list(range(h.shape[-1])) if parts is None else list(parts)
    cols = h.shape[2]
    flat = np.asarray(h)[..., parts].reshape(len(h), -1, len(parts))
    values, where = flat.max(1), flat.argmax(1)  # (N, parts): each image's largest h per part, and where
    order = np.argsort(-values, axis=0, kind="stable")[:per_part]  # (per_part, parts)
    regions = np.zeros((len(parts), min(per_part, len(inputs)), *field.size, inputs.shape[-1]), "float32")
    for k in range(len(parts)):
        for rank, image in enumerate(order[:, k]):
            top, left, bottom, right = field.box(*divmod(int(where[image, k]), cols))
            crop = inputs[image, max(top, 0) : bottom, max(left, 0) : right]
            row, col = max(-top, 0), max(-left, 0)
            regions[k, rank, row : row + crop.shape[0], col : col + crop.shape[1]] = crop
    return regions, np.take_along_axis(values, order, axis=0).T
