"""``build_model``: the paper's four CIFAR-10 networks (Nouri et al., Figure 4 and the authors' code)."""

import keras

from keras_nmf.architectures import NMF_LAYERS, NetworkSpec, check_groups, network_spec, per_block
from keras_nmf.initializers import FanInUniform, NearIdentity
from keras_nmf.layers import CNMF2D, ConvolutiveNMF2D, L1Normalize, ObservedFraction, PatchNormalizedConv2D
from keras_nmf.nmf_arguments import NMFOptions

#: The authors' kxk convolutions are PyTorch ``Conv2d(bias=False)`` layers
#: with PyTorch's default initialisation, Uniform(+-1 / sqrt(fan_in)); this is
#: that distribution (VarianceScaling: limit sqrt(3 * scale / fan_in)). Keras's
#: default, Glorot uniform, starts 2.0-2.4x larger on these shapes.
TORCH_CONV_INITIALIZER = {
    "class_name": "VarianceScaling",
    "config": {"scale": 1.0 / 3.0, "mode": "fan_in", "distribution": "uniform"},
}

#: PyTorch's BatchNorm epsilon, as in the authors' code (Keras's default is 1e-3).
TORCH_BN_EPSILON = 1e-5


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(
            f"Unknown {name} {value!r}. Valid choices: {', '.join(map(str, choices))}. Received: {name}={value!r}"
        )


def build_model(
    arch: str | NetworkSpec = "cnmf_1x1",
    input_shape: tuple = (28, 28, 3),
    num_classes: int = 10,
    width: int = 1,
    nmf_groups: int = 1,
    conv_groups: int = 1,
    nmf_options: NMFOptions | dict | tuple | None = None,
    nmf_chunk_elements: int | None = 2**20,
    nmf_layer: str = "patches",
    cnn_kxk_bias: bool = False,
    observed_input: bool = False,
    bn_momentum: float = 0.9,
    bn_epsilon: float = TORCH_BN_EPSILON,
    bn_synchronized: bool = False,
    augmentation: keras.layers.Layer | None = None,
    image_shape: tuple | None = None,
) -> keras.Model:
    """Builds a network from its spec (:class:`keras_nmf.architectures.NetworkSpec`) as a functional ``keras.Model``.

    The paper's four (:data:`keras_nmf.architectures.PAPER_BLOCKS`): four blocks with 32, 64, 96 (times ``width``)
    and ``num_classes`` channels; kernels 5x5, 5x5, whole map, 1x1; 2x2 average pools after the first two. Every
    block is one module:

    * ``cnn``: ReLU -> patch L1 normalisation + Conv(kxk) -> BatchNorm
    * ``cnmf``: ReLU -> CNMF2D(kxk) -> BatchNorm
    * ``cnn_1x1`` / ``cnmf_1x1``: the module above, then the local
      interactions: ReLU -> L1Normalize(channels) -> Conv 1x1 (bias, near
      identity) -> BatchNorm.

    BatchNorm is left out where the map is 1x1 (blocks 3 and 4). The output is
    the softmax class probabilities, float32 under mixed precision.

    Groups apply to every layer between hidden blocks (block 1's 1x1, blocks 2
    and 3); block 1's kxk layer (the image channels) and block 4 (the classes)
    are never grouped. ``nmf_groups`` splits the NMF layers, ``conv_groups`` the
    CNN kxk convolutions and the 1x1 mixing convolutions.

    Args:
        arch: a network's name (:data:`keras_nmf.architectures.NETWORKS`: the paper's ``cnn``, ``cnmf``,
            ``cnn_1x1``, ``cnmf_1x1``) or its :class:`~keras_nmf.architectures.NetworkSpec`.
        input_shape: (height, width, channels) of the (cropped) images.
        num_classes: number of classes.
        width: multiplier of the hidden channels (the paper sweeps 1, 2, 4, 8).
        nmf_groups: groups of the CNMF2D layers of blocks 2 and 3.
        conv_groups: groups of the CNN kxk convs of blocks 2, 3 and the 1x1 convs.
        nmf_options: the ``CNMF2D`` layers' :class:`keras_nmf.NMFOptions` (N, eq. 6's step, the backward:
            eqs. 18-19, autodiff or the exact fixed-point gradient; the learning rule, divergence, tolerance), passed
            whole to each layer: one for every block (an ``NMFOptions`` or its dict; None: the paper's), or one per
            block, block 1 first (``learning="local"`` in blocks 1-3 and ``"backprop"`` in block 4 is the section
            4.2 ablation with a back-propagated classifier block;
            :func:`keras_nmf.architectures.block_nmf_options` builds them from the run's flags).
        nmf_chunk_elements: ``CNMF2D``'s ``chunk_elements`` (memory bound of the
            one-step backward; None: the whole batch at once).
        nmf_layer: ``"patches"`` (``CNMF2D``: one NMF problem per patch, the paper's) or ``"convolutive"``
            (:class:`keras_nmf.layers.ConvolutiveNMF2D`: one per image, overlapping patches competing for pixels,
            ``normalize="channels"`` so that each position's h sums to 1 as CNMF2D's does; same weight names and
            shapes; no ``observed_input``).
        cnn_kxk_bias: the CNN archs' kxk convolutions get a bias, initialised
            as PyTorch does (Uniform(+-1/sqrt(fan_in))); trained at the kxk rate.
            ``docs/experiments/cnn_baseline.md`` holds the measurements behind the default.
        bn_momentum: BatchNorm momentum (0.9 matches PyTorch's default 0.1).
        bn_epsilon: BatchNorm epsilon (1e-5, PyTorch's and the authors'). The
            CNN's BatchNorm inputs have per-channel variances of ~1e-6 at the
            start (each patch is L1-normalised), so Keras's 1e-3 would
            dominate them.
        observed_input: a second input ``observed`` of ``input_shape``: 1 where an entry is observed,
            0 where it is missing. Every NMF block receives a mask as ``observed``: block 1 this one,
            block k + 1 the fraction of observed entries in each of block k's patches, pooled like
            the map (:class:`keras_nmf.layers.ObservedFraction`). Needs ``augmentation=None`` (the
            mask is given for the crops) and an NMF arch.
        bn_synchronized: BatchNorm statistics over the global batch across
            replicas of a ``tf.distribute`` strategy (``synchronized=True``).
        augmentation, image_shape: a layer from raw images of ``image_shape``
            to ``input_shape`` crops (e.g.
            :class:`keras_nmf.layers.PaperAugmentation`), placed first: the model
            then takes the raw uint8 images (input ``images``). This is the
            graph that :class:`keras_nmf.models.ImageClassifier` builds (and
            that ``train.py`` saved before it), as a plain functional model.

    Returns:
        An uncompiled ``keras.Model`` named after ``arch``.

    Raises:
        ValueError: for an unknown ``arch``, a bad ``width``, groups that do not
            divide the channels, or an input too small for the blocks.
    """
    spec = network_spec(arch)
    _check_choice("nmf_layer", nmf_layer, NMF_LAYERS)
    nmf = spec.family == "nmf"
    if nmf_layer != "patches" and not nmf:
        raise ValueError(
            f"`nmf_layer` chooses the NMF archs' kxk layer; {spec.name!r} has none. Received: nmf_layer={nmf_layer!r}"
        )
    check_groups(width, nmf_groups, conv_groups, nmf, spec.blocks)
    block_options = per_block(nmf_options, len(spec.blocks))

    if observed_input and nmf_layer == "convolutive":
        raise ValueError(
            "`observed_input=True` needs nmf_layer='patches': ConvolutiveNMF2D has no update for missing entries."
        )
    if observed_input and (augmentation is not None or not nmf):
        raise ValueError(
            "`observed_input=True` needs an NMF arch (cnmf, cnmf_1x1) and no augmentation (the mask "
            f"is given for the network's input). Received: arch={arch!r}, augmentation={augmentation!r}"
        )
    mask_input = observed = keras.Input(input_shape, name="observed") if observed_input else None
    if augmentation is None:
        inputs = x = keras.Input(input_shape, name="images")
    else:
        inputs = keras.Input(image_shape, dtype="uint8", name="images")
        x = augmentation(inputs)
        if tuple(x.shape[1:]) != tuple(input_shape):
            raise ValueError(
                f"The augmentation gives {tuple(x.shape[1:])} crops of {tuple(image_shape)} images, "
                f"not input_shape={tuple(input_shape)}."
            )
    blocks = [(num_classes if b.channels is None else b.channels * width, b.kernel, b.pool) for b in spec.blocks]
    for index, (filters, kernel, pool) in enumerate(blocks, start=1):
        prefix = f"block{index}"
        height, width_px = x.shape[1], x.shape[2]
        kernel = kernel or height
        if kernel > min(height, width_px):
            raise ValueError(
                f"input_shape={tuple(input_shape)} is too small: block {index} needs a "
                f"{kernel}x{kernel} map but gets {height}x{width_px}. Use inputs of at least 24x24."
            )
        inner = index not in (1, len(blocks))
        x = keras.layers.ReLU(name=f"{prefix}_relu")(x)
        if nmf and nmf_layer == "convolutive":
            x = ConvolutiveNMF2D(
                filters,
                kernel,
                groups=nmf_groups if inner else 1,
                normalize="channels",
                **block_options[index - 1].to_config(),
                name=f"{prefix}_cnmf",
            )(x)
        elif nmf:
            x = CNMF2D(
                filters,
                kernel,
                groups=nmf_groups if inner else 1,
                **block_options[index - 1].to_config(),
                chunk_elements=nmf_chunk_elements,
                name=f"{prefix}_cnmf",
            )(x, observed=observed)
            if observed is not None:
                observed = ObservedFraction(kernel, 2 if pool else 1, name=f"{prefix}_observed")(observed)
        else:
            groups = conv_groups if inner else 1
            x = PatchNormalizedConv2D(
                filters,
                kernel,
                groups=groups,
                use_bias=cnn_kxk_bias,
                kernel_initializer=TORCH_CONV_INITIALIZER,
                bias_initializer=FanInUniform(kernel * kernel * x.shape[-1] // groups),
                name=f"{prefix}_conv",
            )(x)
        spatial = x.shape[1] * x.shape[2] > 1
        if spatial:
            x = keras.layers.BatchNormalization(
                momentum=bn_momentum, epsilon=bn_epsilon, synchronized=bn_synchronized, name=f"{prefix}_bn"
            )(x)
        if spec.interactions:
            x = keras.layers.ReLU(name=f"{prefix}_mix_relu")(x)
            x = L1Normalize(name=f"{prefix}_mix_norm")(x)
            x = keras.layers.Conv2D(
                filters,
                1,
                groups=conv_groups if index < len(blocks) else 1,
                kernel_initializer=NearIdentity(),
                bias_initializer="zeros",
                name=f"{prefix}_mix",
            )(x)
            if spatial:
                x = keras.layers.BatchNormalization(
                    momentum=bn_momentum, epsilon=bn_epsilon, synchronized=bn_synchronized, name=f"{prefix}_mix_bn"
                )(x)
        if pool:
            x = keras.layers.AveragePooling2D(2, name=f"{prefix}_pool")(x)
    x = keras.layers.Flatten(name="logits")(x)
    outputs = keras.layers.Activation("softmax", dtype="float32", name="probabilities")(x)
    return keras.Model([inputs, mask_input] if observed_input else inputs, outputs, name=spec.name)


def copy_weights(source: keras.Model, target: keras.Model) -> None:
    """Sets the weights of every layer of ``target`` that has any to those of ``source``'s layer of its name.

    For models of the same network, where ``target`` may lack layers of ``source`` (a network without the
    classifier's augmentation) or add weightless ones (``observed_input=True``).
    """
    for layer in target.layers:
        if layer.weights:
            layer.set_weights(source.get_layer(layer.name).get_weights())
