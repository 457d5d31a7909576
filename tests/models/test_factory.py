"""build_model: the paper's block structure, parameter counts, errors."""

import keras
import numpy as np
import pytest

from keras_nmf.architectures import block_nmf_options
from keras_nmf.layers import CNMF2D, L1Normalize, PatchNormalizedConv2D
from keras_nmf.models import ARCHITECTURES, build_model, copy_weights, count_parameters
from keras_nmf.nmf_arguments import NMFOptions
from tests.backend import BACKEND, outputs_and_weight_gradients, to_numpy

#: Tests of the networks' wiring and parameter counts, which Keras's functional API gives identically on every
#: backend: run on TensorFlow. On JAX (where make test runs this file again and each model build compiles its
#: initializers) the four networks are built, and checked against TensorFlow's numbers, by tests/test_cross_backend.py.
wiring = pytest.mark.skipif(BACKEND != "tensorflow", reason="backend-independent wiring (see the marker)")


def _layer_types(model):
    return {layer.name: type(layer) for layer in model.layers}


@wiring
@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_block_structure(arch):
    model = build_model(arch)
    types = _layer_types(model)
    assert model.output_shape == (None, 10)
    kxk = CNMF2D if arch.startswith("cnmf") else PatchNormalizedConv2D
    suffix = "cnmf" if arch.startswith("cnmf") else "conv"
    expected_maps = {1: (24, 24, 32), 2: (8, 8, 64), 3: (1, 1, 96), 4: (1, 1, 10)}
    for block, shape in expected_maps.items():
        layer = model.get_layer(f"block{block}_{suffix}")
        assert types[layer.name] is kxk
        assert layer.output.shape[1:] == shape
        assert (f"block{block}_bn" in types) == (block <= 2)  # BatchNorm only on maps > 1x1
        mixing = f"block{block}_mix" in types
        assert mixing == arch.endswith("_1x1")
        if mixing:
            assert types[f"block{block}_mix_norm"] is L1Normalize
            assert model.get_layer(f"block{block}_mix").kernel_size == (1, 1)
    assert model.get_layer("block3_" + suffix).kernel_size == (4, 4)  # whole 4x4 map
    assert [n for n in types if n.endswith("_pool")] == ["block1_pool", "block2_pool"]


@wiring
def test_nmf_parameter_counts_follow_width_and_groups():
    def nmf_count(width, groups):
        return count_parameters(build_model("cnmf", width=width, nmf_groups=groups))["nmf"]

    w = 2
    expected = 5 * 5 * 3 * 32 * w + 5 * 5 * 32 * w * 64 * w + 4 * 4 * 64 * w * 96 * w + 96 * w * 10
    assert nmf_count(w, 1) == expected
    grouped = 5 * 5 * 3 * 32 + (5 * 5 * 32 * 64 + 4 * 4 * 64 * 96) // 4 + 96 * 10
    assert nmf_count(1, 4) == grouped


@wiring
def test_cnn_and_nmf_split_of_parameters():
    counts = count_parameters(build_model("cnmf_1x1"))
    mixing = (32 * 32 + 32) + (64 * 64 + 64) + (96 * 96 + 96) + (10 * 10 + 10)
    batchnorm = 2 * 2 * (32 + 64)  # gamma and beta of block*_bn and block*_mix_bn
    assert counts["cnn"] == mixing + batchnorm
    assert counts["trainable"] == counts["cnn"] + counts["nmf"]
    assert count_parameters(build_model("cnn"))["nmf"] == 0


def test_mixing_convs_start_near_identity():
    kernel = to_numpy(build_model("cnmf_1x1").get_layer("block2_mix").kernel)[0, 0]
    np.testing.assert_allclose(kernel, np.eye(64), atol=2e-3)


@wiring
def test_grouped_mixing_kernel_is_identity_within_groups():
    kernel = to_numpy(build_model("cnn_1x1", conv_groups=4).get_layer("block2_mix").kernel)[0, 0]
    assert kernel.shape == (16, 64)
    np.testing.assert_allclose(kernel[:, :16], np.eye(16), atol=2e-3)


def test_small_inputs_build_with_whole_map_block3():
    model = build_model("cnmf_1x1", input_shape=(24, 24, 1))
    assert model.get_layer("block3_cnmf").kernel_size == (3, 3)
    assert model.output_shape == (None, 10)


def test_output_is_float32_probabilities_under_mixed_precision():
    keras.config.set_dtype_policy("mixed_bfloat16")
    model = build_model("cnmf_1x1", nmf_options=NMFOptions(2))
    out = model(np.random.rand(2, 28, 28, 3).astype("float32"))
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    np.testing.assert_allclose(np.sum(keras.ops.convert_to_numpy(out), axis=-1), 1.0, rtol=1e-5)


def test_unknown_arch_lists_choices():
    with pytest.raises(ValueError, match="Valid choices: cnn, cnmf, cnn_1x1, cnmf_1x1"):
        build_model("resnet")


def test_groups_that_do_not_divide_list_valid_choices():
    with pytest.raises(ValueError, match=r"Valid choices: 1, 2, 4, 8, 16, 32\. Received: nmf_groups=3"):
        build_model("cnmf", nmf_groups=3)
    with pytest.raises(ValueError, match="Received: conv_groups=5"):
        build_model("cnn", conv_groups=5)


def test_too_small_input_is_rejected():
    with pytest.raises(ValueError, match="too small"):
        build_model("cnn", input_shape=(12, 12, 3))


@wiring
@pytest.mark.parametrize("chunk_elements", [2**20, None])
def test_nmf_chunk_elements_reach_every_cnmf_layer(chunk_elements):
    model = build_model("cnmf_1x1", nmf_chunk_elements=chunk_elements)
    nmf_layers = [layer for layer in model.layers if isinstance(layer, CNMF2D)]
    assert len(nmf_layers) == 4
    assert all(layer.chunk_elements == chunk_elements for layer in nmf_layers)


def test_per_block_learning_local_hidden_blocks_and_a_backprop_classifier():
    images = np.random.default_rng(0).uniform(0, 1, (2, 28, 28, 3)).astype("float32")
    labels = np.array([1, 7])
    models = {
        mode: build_model("cnmf", nmf_options=block_nmf_options({"iterations": 3, "learning": mode}))
        for mode in ("backprop", "local", "local,local,local,backprop")
    }
    weights = models["backprop"].get_weights()
    gradients = {}
    for mode, model in models.items():
        model.set_weights(weights)
        kernels = [layer.kernel for layer in model.layers if isinstance(layer, CNMF2D)]
        _, gradients[mode] = outputs_and_weight_gradients(
            model, images, lambda out: keras.ops.sum(keras.losses.sparse_categorical_crossentropy(labels, out)), kernels
        )
    assert [layer.learning for layer in models["local,local,local,backprop"].layers if isinstance(layer, CNMF2D)] == [
        "local",
        "local",
        "local",
        "backprop",
    ]
    mixed = gradients["local,local,local,backprop"]
    for block in range(3):  # hidden blocks: the unsupervised rule, whatever the task
        np.testing.assert_allclose(mixed[block], gradients["local"][block], rtol=1e-5, atol=1e-8)
        assert not np.allclose(mixed[block], gradients["backprop"][block])
    np.testing.assert_allclose(mixed[3], gradients["backprop"][3], rtol=1e-5, atol=1e-8)  # the classifier: the task


def test_bad_per_block_learning_is_named():
    with pytest.raises(ValueError, match="one per NMF block"):
        block_nmf_options({"learning": "local,backprop"})
    with pytest.raises(ValueError, match="one per NMF block"):
        build_model("cnmf", nmf_options=[NMFOptions(), NMFOptions()])


@wiring
@pytest.mark.parametrize(
    "arch, without, added", [("cnn", 153_056, 32 + 64 + 96 + 10), ("cnn_1x1", 167_886, 32 + 64 + 96 + 10)]
)
def test_the_kxk_bias_adds_one_parameter_per_filter(arch, without, added):
    assert count_parameters(build_model(arch))["trainable"] == without
    with_bias = build_model(arch, cnn_kxk_bias=True)
    assert count_parameters(with_bias)["trainable"] == without + added  # 168,088 for cnn_1x1, as the authors' figure
    bias = to_numpy(with_bias.get_layer("block2_conv").bias)
    limit = 1 / np.sqrt(5 * 5 * 32)  # PyTorch's Uniform(+-1/sqrt(fan_in)), fan_in = k * k * C_in
    assert np.abs(bias).max() <= limit and np.abs(bias).max() > limit / 2


def test_a_model_with_the_augmentation_is_the_classifiers_graph_and_weights_layout(tmp_path):
    """build_model(augmentation=...) is what train.py saved before ImageClassifier: its weights file loads into one."""
    import warnings

    from keras_nmf.layers import PaperAugmentation
    from keras_nmf.models import ImageClassifier, PaperNetwork

    model = build_model("cnmf_1x1", augmentation=PaperAugmentation(28, name="augmentation"), image_shape=(32, 32, 3))
    assert model.input_shape == (None, 32, 32, 3) and model.inputs[0].dtype == "uint8"
    model.save_weights(tmp_path / "old.weights.h5")
    classifier = ImageClassifier(PaperNetwork("cnmf_1x1"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Keras warns of every group of the file that does not match
        classifier.load_weights(tmp_path / "old.weights.h5")
    raw = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    crops = raw[:, 2:30, 2:30].astype("float32") / 255.0  # inference: the centre crop
    np.testing.assert_allclose(to_numpy(classifier.network(crops)), to_numpy(model(raw)), atol=1e-6)


@wiring
def test_the_nmf_options_reach_every_cnmf_layer():
    model = build_model("cnmf", nmf_options=NMFOptions(3, divergence="itakura_saito", tolerance=1e-3))
    layers = [layer for layer in model.layers if isinstance(layer, CNMF2D)]
    assert len(layers) == 4 and {(layer.divergence, layer.tolerance) for layer in layers} == {("itakura_saito", 1e-3)}


def test_an_all_observed_mask_input_gives_the_plain_network():
    plain = build_model("cnmf_1x1", nmf_options=NMFOptions(3))
    masked = build_model("cnmf_1x1", nmf_options=NMFOptions(3), observed_input=True)
    copy_weights(plain, masked)
    images = np.random.default_rng(0).random((2, 28, 28, 3)).astype("float32")
    ones = np.ones((2, 28, 28, 3), "float32")
    np.testing.assert_allclose(to_numpy(masked([images, ones])), to_numpy(plain(images)), rtol=1e-4, atol=1e-6)
    holes = ones.copy()
    holes[:, 4:20, 4:20, :2] = 0.0
    assert np.abs(to_numpy(masked([images, holes])) - to_numpy(plain(images))).max() > 1e-5  # 100x the rounding
    with pytest.raises(ValueError, match="needs an NMF arch"):
        build_model("cnn", observed_input=True)


def test_the_convolutive_nmf_layer_takes_the_place_of_cnmf2d_with_the_same_weights_layout():
    """nmf_layer="convolutive": every block's kxk layer a ConvolutiveNMF2D (h normalised per position), with the
    same weight names and shapes, so the two networks' weights are interchangeable and the recipe's rates apply."""
    from keras_nmf.layers import ConvolutiveNMF2D
    from keras_nmf.models import PaperNetwork

    patches = build_model("cnmf_1x1", nmf_options=NMFOptions(iterations=3))
    network = PaperNetwork("cnmf_1x1", nmf_layer="convolutive", nmf_options=NMFOptions(iterations=3))
    layers = [layer for layer in network.layers if layer.name.endswith("_cnmf")]
    assert len(layers) == 4 and all(isinstance(layer, ConvolutiveNMF2D) for layer in layers)
    assert {layer.normalize for layer in layers} == {"channels"} and {layer.iterations for layer in layers} == {3}
    assert [(w.path, w.shape) for w in network.weights] == [(w.path, w.shape) for w in patches.weights]
    copy_weights(patches, network)
    images = np.random.default_rng(0).random((2, 28, 28, 3)).astype("float32")
    probabilities = to_numpy(network(images))
    assert np.allclose(probabilities.sum(-1), 1.0, atol=1e-5)
    first = [
        to_numpy(keras.Model(model.inputs, model.get_layer("block1_cnmf").output)(images))
        for model in (network, patches)
    ]
    np.testing.assert_allclose(first[0].sum(-1), 1.0, rtol=1e-5)  # each position's h sums to 1, as CNMF2D's
    assert np.abs(first[0] - first[1]).max() > 1e-2  # another factorisation of the same W
    assert PaperNetwork.from_config(network.get_config()).get_config() == network.get_config()


@pytest.mark.parametrize(
    "arguments, message",
    [
        (dict(arch="cnn", nmf_layer="convolutive"), "'cnn' has none"),
        (dict(arch="cnmf", nmf_layer="whole"), "Unknown nmf_layer 'whole'"),
        (dict(arch="cnmf", nmf_layer="convolutive", observed_input=True), "needs nmf_layer='patches'"),
    ],
)
def test_a_bad_nmf_layer_is_named(arguments, message):
    with pytest.raises(ValueError, match=message):
        build_model(**arguments)


def test_a_width_given_as_text_is_shown_as_text():
    """A preset or config with ``"width": "2"`` is named with its quotes: the type is the problem."""
    with pytest.raises(ValueError, match=r"Received: width='2'"):
        build_model("cnn", width="2")


@pytest.fixture
def fifth_network():
    """A network that is not the paper's, registered for the test."""
    from keras_nmf.architectures import NETWORKS, BlockSpec, NetworkSpec, register_network

    blocks = (BlockSpec(16, 5, True), BlockSpec(24, None), BlockSpec(None, 1))
    yield register_network(NetworkSpec("cnmf_small", "nmf", True, blocks=blocks))
    NETWORKS.pop("cnmf_small")


def test_a_fifth_network_is_one_spec(fifth_network):
    from keras_nmf.architectures import NetworkSpec, register_network
    from keras_nmf.experiments.summary import paper_accuracy
    from keras_nmf.models import PaperNetwork
    from keras_nmf.training import TrainConfig

    model = build_model("cnmf_small", num_classes=7)
    assert model.name == "cnmf_small" and model.output_shape == (None, 7)
    assert [layer.name for layer in model.layers if layer.weights and "_bn" not in layer.name] == [
        "block1_cnmf",
        "block1_mix",
        "block2_cnmf",
        "block2_mix",
        "block3_cnmf",
        "block3_mix",
    ]
    assert model.get_layer("block2_cnmf").kernel_size == (12, 12)  # the whole 12x12 map after the pool
    config = TrainConfig.of(arch="cnmf_small", learning="local,local,backprop")  # one mode per block: three
    assert config.model.family == "nmf" and paper_accuracy("cnmf_small", {}) is None
    network = PaperNetwork("cnmf_small", nmf_options=config.model.nmf_options())  # as a run builds it
    assert [layer.learning for layer in network.layers if isinstance(layer, CNMF2D)] == ["local", "local", "backprop"]
    with pytest.raises(ValueError, match="exists"):
        register_network(NetworkSpec("cnmf_small", "conv", False))
    with pytest.raises(ValueError, match="Unknown arch 'cnmf_large'.*cnmf_small"):
        build_model("cnmf_large")


def test_every_nmf_option_reaches_the_layers_from_the_run_flags():
    """An option has one name from the flag to the layer: h0, added to the layers alone before, included."""
    from keras_nmf.models import PaperNetwork
    from keras_nmf.nmf_arguments import NMF_OPTION_NAMES
    from keras_nmf.training.flags import parse_config

    config, given = parse_config(["--arch", "cnmf", "--h0", "trainable", "--backward", "autodiff", "--iterations", "3"])
    assert {"h0", "backward", "iterations"} <= given and set(NMF_OPTION_NAMES) <= set(config.to_dict())
    network = PaperNetwork("cnmf", nmf_options=config.model.nmf_options())
    layers = [layer for layer in network.layers if isinstance(layer, CNMF2D)]
    assert [(layer.h0, layer.backward, layer.iterations) for layer in layers] == [("trainable", "autodiff", 3)] * 4
    assert all(layer.h0_kernel is not None for layer in layers)  # built: a learned h(0) per layer
