"""The networks as specs (:class:`NetworkSpec`: their blocks, kxk layer and local interactions), the paper's four
by name, and the checks of their options, without Keras.

A leaf module (the standard library only): the run configuration reads it before any backend is imported, and
:func:`keras_nmf.models.build_model` builds a network from its spec.
"""

import dataclasses

from keras_nmf.nmf_arguments import LEARNING_MODES, NMF_OPTION_NAMES, NMFOptions

#: The NMF archs' kxk layers: ``CNMF2D`` (one NMF problem per patch, the paper's) or ``ConvolutiveNMF2D`` (one per
#: image, with h normalised over the filters at each position, as CNMF2D's output is).
NMF_LAYERS = ("patches", "convolutive")

#: A block's kxk layer: NMF (``CNMF2D``; the NMF family) or a convolution of L1-normalised patches (the CNNs).
KXK_LAYERS = ("nmf", "conv")


@dataclasses.dataclass(frozen=True)
class BlockSpec:
    """One block of a network: its kxk layer's output channels and kernel, and a 2x2 average pool after it.

    Args:
        channels: output channels at width 1 (times ``width`` in the network); None: the classes (the output block,
            never widened).
        kernel: the kxk layer's kernel size; None: the whole remaining map.
        pool: a 2x2 average pool after the block.
    """

    channels: int | None
    kernel: int | None
    pool: bool = False


#: The paper's four blocks (Figure 4): 32, 64 and 96 channels, kernels 5x5, 5x5 and the whole remaining map (4x4 for
#: 28x28 crops), 2x2 average pools after the first two, then the classes by a 1x1 layer.
PAPER_BLOCKS = (BlockSpec(32, 5, True), BlockSpec(64, 5, True), BlockSpec(96, None), BlockSpec(None, 1))


@dataclasses.dataclass(frozen=True)
class NetworkSpec:
    """What a network is, as :func:`keras_nmf.models.build_model` builds it: everything that differs between the
    paper's four networks lives here, so a fifth network is one more spec (:func:`register_network`).

    Args:
        name: the network's name (``--arch``, the model's name).
        kxk: ``"nmf"`` (``CNMF2D`` in every block) or ``"conv"`` (``PatchNormalizedConv2D``).
        interactions: the local interactions after each block's kxk layer: ReLU, L1 normalisation over the
            channels, a 1x1 convolution with signed weights, BatchNorm (the ``_1x1`` networks).
        blocks: the blocks, the output block last (:data:`PAPER_BLOCKS`).
        xla_on_tensorflow: whether a TensorFlow step is XLA-compiled by default. Measured on the 2-CPU reference
            machine (batch 50, float32, 25 interleaved steps, medians): cnmf_1x1 344 ms with XLA against 411 ms
            without (patch extraction and its gradient fuse); cnn 36 ms against 31 ms.
        published_accuracy: the paper's CIFAR-10 test accuracy in % (Figure 5), where it has one.
        published_local_learning_accuracy: the paper's accuracy with the local learning rule (section 4.2), in %.
        reference_neuron_types: the network in the authors' code (github mahbodnr/deep_nmf), for the side-by-side
            benchmark: their ``type_of_neuron_a`` (1: NNMF, 2: perceptron; the kxk layer) and ``type_of_neuron_b``
            (0: none, 2: perceptron; the 1x1 mixing), per block, as their config's comments define them. (Their
            ``cnn_1x1cnn.json`` is not the CNN: its types are NNMF for both, an NMF 1x1 network.)
    """

    name: str
    kxk: str
    interactions: bool
    blocks: tuple = PAPER_BLOCKS
    xla_on_tensorflow: bool = False
    published_accuracy: float | None = None
    published_local_learning_accuracy: float | None = None
    reference_neuron_types: tuple | None = None

    def __post_init__(self):
        if self.kxk not in KXK_LAYERS:
            raise ValueError(f"`kxk` must be one of {', '.join(KXK_LAYERS)}. Received: kxk={self.kxk!r}")
        if not self.blocks or self.blocks[-1].channels is not None:
            raise ValueError(f"A network's last block gives the classes (channels=None). Received: {self.blocks!r}")

    @property
    def family(self):
        """``"nmf"`` for the NMF networks, ``"cnn"`` for the CNNs."""
        return "nmf" if self.kxk == "nmf" else "cnn"


#: The networks by name, the paper's four first (Figure 4).
NETWORKS = {
    spec.name: spec
    for spec in (
        NetworkSpec("cnn", "conv", False, published_accuracy=81.0, reference_neuron_types=(2, 0)),
        NetworkSpec(
            "cnmf",
            "nmf",
            False,
            xla_on_tensorflow=True,
            published_accuracy=81.5,
            published_local_learning_accuracy=32.0,
            reference_neuron_types=(1, 0),
        ),
        NetworkSpec("cnn_1x1", "conv", True, published_accuracy=82.8, reference_neuron_types=(2, 2)),
        NetworkSpec(
            "cnmf_1x1", "nmf", True, xla_on_tensorflow=True, published_accuracy=83.7, reference_neuron_types=(1, 2)
        ),
    )
}

#: The paper's four networks' names.
ARCHITECTURES = tuple(NETWORKS)

#: Blocks of the paper's networks (three hidden blocks and the output block).
NUM_BLOCKS = len(PAPER_BLOCKS)

#: The paper's sweep over the networks' size (section 3.1): widths, and groups of the NMF and of the CNN layers.
SWEEP_WIDTHS = (1, 2, 4, 8)
SWEEP_GROUPS = (1, 2, 4, 8, 16)


def register_network(spec):
    """Adds ``spec`` to :data:`NETWORKS`, so that ``build_model(spec.name)`` and the training stack know it.

    Raises:
        ValueError: a network of that name exists with another spec.
    """
    if NETWORKS.get(spec.name, spec) != spec:
        raise ValueError(f"A network named {spec.name!r} exists: {NETWORKS[spec.name]!r}. Choose another name.")
    NETWORKS[spec.name] = spec
    return spec


def network_spec(arch):
    """The :class:`NetworkSpec` of ``arch`` (a name of :data:`NETWORKS`, or a spec, returned as it is).

    Raises:
        ValueError: an unknown name, with the known ones.
    """
    if isinstance(arch, NetworkSpec):
        return arch
    if arch not in NETWORKS:
        raise ValueError(f"Unknown arch {arch!r}. Valid choices: {', '.join(NETWORKS)}. Received: arch={arch!r}")
    return NETWORKS[arch]


def arch_family(arch):
    """``"nmf"`` for the NMF networks, ``"cnn"`` for the CNNs (:attr:`NetworkSpec.family`)."""
    return network_spec(arch).family


def archs_of_family(family):
    """The names of the known networks of ``family``, as messages list them."""
    return [name for name, spec in NETWORKS.items() if spec.family == family]


def block_learning_modes(learning, num_blocks=NUM_BLOCKS):
    """One ``CNMF2D`` learning mode per block from ``"local"``, ``"local,local,local,backprop"`` or a sequence.

    A single mode applies to every block; otherwise give exactly one per block
    (block 1 first). ``("local", "local", "local", "backprop")`` is the
    section 4.2 ablation with a back-propagated classifier block.

    ``num_blocks`` None checks the modes alone, whatever their count (a run's flag, before its network is known).

    Raises:
        ValueError: an unknown mode, or a count other than 1 or ``num_blocks``.
    """
    modes = tuple(m.strip() for m in learning.split(",")) if isinstance(learning, str) else tuple(learning)
    unknown = [m for m in modes if m not in LEARNING_MODES]
    if unknown or (num_blocks is not None and len(modes) not in (1, num_blocks)):
        blocks = num_blocks or "four in the paper's networks"
        raise ValueError(
            f"`learning` takes one of {', '.join(LEARNING_MODES)}, or one per NMF block ({blocks}, block 1 first, "
            f"e.g. local,local,local,backprop). Received: learning={learning!r}"
        )
    if num_blocks is None:
        return modes
    return modes * num_blocks if len(modes) == 1 else modes


def block_nmf_options(settings, num_blocks=NUM_BLOCKS):
    """One :class:`NMFOptions` per NMF block (block 1 first) from settings named as the options (and their flags):
    ``learning`` may give one mode per block (:func:`block_learning_modes`); a missing option takes
    :class:`NMFOptions`'s default, other keys are ignored.

    Raises:
        ValueError: an option outside its domain (:class:`NMFOptions`).
    """
    values = {name: settings[name] for name in NMF_OPTION_NAMES if name in settings}
    modes = block_learning_modes(values.pop("learning", "backprop"), num_blocks)
    return tuple(NMFOptions(**values, learning=mode) for mode in modes)


def per_block(nmf_options, num_blocks=NUM_BLOCKS):
    """``nmf_options`` as one :class:`NMFOptions` per block: None (the defaults), one options object or dict (every
    block), or a sequence of ``num_blocks`` of them (block 1 first).

    Raises:
        ValueError: a sequence of another length, or an entry that is not options.
    """
    if nmf_options is None or isinstance(nmf_options, (NMFOptions, dict)):
        nmf_options = [nmf_options] * num_blocks
    if not isinstance(nmf_options, (list, tuple)) or len(nmf_options) != num_blocks:
        raise ValueError(
            f"`nmf_options` takes one NMFOptions (or its dict) for every block, or one per NMF block "
            f"({num_blocks}, block 1 first). Received: nmf_options={nmf_options!r}"
        )
    blocks = []
    for options in nmf_options:
        if options is None:
            options = NMFOptions()
        elif isinstance(options, dict):
            options = NMFOptions.from_config(options)
        elif not isinstance(options, NMFOptions):
            raise ValueError(f"`nmf_options` entries are NMFOptions or dicts of its fields. Received: {options!r}")
        blocks.append(options)
    return tuple(blocks)


def _check_groups(name, groups, channel_counts):
    """Groups must divide every grouped layer's input and output channels."""
    valid = [g for g in range(1, min(channel_counts) + 1) if all(c % g == 0 for c in channel_counts)]
    if not isinstance(groups, int) or groups not in valid:
        raise ValueError(
            f"`{name}` must divide the channels of every grouped layer "
            f"({', '.join(map(str, sorted(set(channel_counts))))}). Valid choices: "
            f"{', '.join(map(str, valid))}. Received: {name}={groups!r}"
        )


def check_groups(
    width: int = 1, nmf_groups: int = 1, conv_groups: int = 1, nmf: bool = True, blocks: tuple = PAPER_BLOCKS
):
    """Raises ValueError unless the groups divide the channels of every grouped layer at ``width``: the kxk layers
    of the hidden blocks after the first and every hidden block's 1x1 layer (``blocks``: a network's, the output
    block last).

    ``nmf=False`` (the CNN archs, which have no NMF layers) checks ``conv_groups`` only.
    """
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"`width` must be a positive integer. Received: width={width!r}")
    grouped_channels = [block.channels * width for block in blocks[:-1]]
    if nmf:
        _check_groups("nmf_groups", nmf_groups, grouped_channels)
    _check_groups("conv_groups", conv_groups, grouped_channels)
