"""The paper's four networks as names and channel counts, and the checks of their options, without Keras.

A leaf module (the standard library only): the run configuration reads it before any backend is imported, and
:mod:`keras_nmf.models` builds the networks from it.
"""

from keras_nmf.nmf_arguments import LEARNING_MODES, NMF_OPTION_NAMES, NMFOptions

ARCHITECTURES = ("cnn", "cnmf", "cnn_1x1", "cnmf_1x1")

#: The NMF archs' kxk layers: ``CNMF2D`` (one NMF problem per patch, the paper's) or ``ConvolutiveNMF2D`` (one per
#: image, with h normalised over the filters at each position, as CNMF2D's output is).
NMF_LAYERS = ("patches", "convolutive")

#: Hidden blocks: (channels at width 1, kernel size, 2x2 average pool after it).
#: Block 3's kernel covers the whole remaining map (4x4 for 28x28 inputs).
HIDDEN_BLOCKS = ((32, 5, True), (64, 5, True), (96, None, False))

#: NMF blocks of every network (three hidden blocks and the output block).
NUM_BLOCKS = len(HIDDEN_BLOCKS) + 1

#: The paper's sweep over the networks' size (section 3.1): widths, and groups of the NMF and of the CNN layers.
SWEEP_WIDTHS = (1, 2, 4, 8)
SWEEP_GROUPS = (1, 2, 4, 8, 16)


def arch_family(arch):
    """``"nmf"`` for the CNMF archs, ``"cnn"`` for the CNNs."""
    return "nmf" if arch.startswith("cnmf") else "cnn"


def block_learning_modes(nmf_learning, num_blocks=NUM_BLOCKS):
    """One ``CNMF2D`` learning mode per block from ``"local"``, ``"local,local,local,backprop"`` or a sequence.

    A single mode applies to every block; otherwise give exactly one per block
    (block 1 first). ``("local", "local", "local", "backprop")`` is the
    section 4.2 ablation with a back-propagated classifier block.

    Raises:
        ValueError: an unknown mode, or a count other than 1 or ``num_blocks``.
    """
    modes = tuple(m.strip() for m in nmf_learning.split(",")) if isinstance(nmf_learning, str) else tuple(nmf_learning)
    unknown = [m for m in modes if m not in LEARNING_MODES]
    if unknown or len(modes) not in (1, num_blocks):
        raise ValueError(
            f"`nmf_learning` takes one of {', '.join(LEARNING_MODES)}, or one per NMF block ({num_blocks}, block 1 "
            f"first, e.g. local,local,local,backprop). Received: nmf_learning={nmf_learning!r}"
        )
    return modes * num_blocks if len(modes) == 1 else modes


#: The run's names of the NMF options (``keras-nmf-train``'s flags, ``--nmf-divergence`` ...), where they differ
#: from :class:`NMFOptions`'s: the one mapping between the two namings (:func:`block_nmf_options`).
RUN_NAMES_OF_NMF_OPTIONS = {
    "learning": "nmf_learning",
    "divergence": "nmf_divergence",
    "tolerance": "nmf_tolerance",
    "solver": "nmf_solver",
}


def block_nmf_options(settings, num_blocks=NUM_BLOCKS):
    """One :class:`NMFOptions` per NMF block (block 1 first) from settings named as the run's flags.

    ``settings`` maps ``iterations``, ``epsilon``, ``backward``, ``implicit_dtype``, ``nmf_learning`` (one mode or
    one per block, :func:`block_learning_modes`), ``nmf_divergence``, ``nmf_tolerance`` and ``nmf_solver`` to
    values; a missing one takes :class:`NMFOptions`'s default, other keys are ignored.

    Raises:
        ValueError: an option outside its domain (:class:`NMFOptions`).
    """
    values = {}
    for option in NMF_OPTION_NAMES:
        name = RUN_NAMES_OF_NMF_OPTIONS.get(option, option)
        if name in settings:
            values[option] = settings[name]
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


def check_groups(width: int = 1, nmf_groups: int = 1, conv_groups: int = 1, nmf: bool = True):
    """Raises ValueError unless the groups divide the channels of every grouped layer at ``width``.

    ``nmf=False`` (the CNN archs, which have no NMF layers) checks ``conv_groups`` only.
    """
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"`width` must be a positive integer. Received: width={width!r}")
    channels = [c * width for c, _, _ in HIDDEN_BLOCKS]
    grouped_channels = channels + [channels[0]]
    if nmf:
        _check_groups("nmf_groups", nmf_groups, grouped_channels)
    _check_groups("conv_groups", conv_groups, grouped_channels)
