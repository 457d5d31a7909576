"""CNMF2D: numerics against the NumPy reference, shapes as Conv2D, contract, errors."""

import keras
import numpy as np
import pytest

from keras_nmf.layers import CNMF2D
from tests import nmf_reference as ref
from tests.backend import BACKEND, MODES, jax_only, tensorflow_only, to_numpy
from tests.layer_checks import run_layer_test
from tests.layers.gradients import output_and_gradients

CONFIGS = [
    dict(),
    dict(padding="same"),
    dict(strides=2),
    dict(strides=(2, 1), padding="same"),
    dict(dilation_rate=2),
    dict(dilation_rate=(1, 2), padding="same"),
    dict(groups=2),
    dict(groups=2, strides=2, padding="same"),
]
#: Against the reference: every configuration on TensorFlow; on JAX (run again by make test, where each case
#: costs seconds of compilation) half of them, covering padding, strides, dilation and groups between them.
REFERENCE_CONFIGS = CONFIGS if BACKEND == "tensorflow" else CONFIGS[1::2]


def _images_with_zero_patch(rng, shape):
    images = rng.random(shape) * 2.0
    images[0, :4, :4, :] = 0.0  # every 3x3 patch inside this corner is all zero
    return images


@pytest.mark.parametrize("config", REFERENCE_CONFIGS, ids=lambda c: str(c) or "default")
@pytest.mark.parametrize("iterations, epsilon", [(1, None), (5, 0.5), (20, None)])
def test_matches_reference(config, iterations, epsilon):
    rng = np.random.default_rng(len(config) + iterations)
    images = _images_with_zero_patch(rng, (2, 7, 8, 4))
    layer = CNMF2D(6, 3, iterations=iterations, epsilon=epsilon, **config)
    layer.build(images.shape)
    kernel = rng.normal(size=layer.kernel.shape)
    layer.set_weights([kernel.astype("float32")])
    out_shape = layer.compute_output_shape(images.shape)
    phi = rng.normal(size=out_shape)
    out, grad_x, grad_u = output_and_gradients(layer, images, phi)
    reference_config = {
        "strides": layer.strides,
        "padding": layer.padding,
        "dilation_rate": layer.dilation_rate,
        "groups": layer.groups,
    }
    expected = ref.conv_forward_backward(
        images, kernel, iterations=iterations, epsilon=epsilon, phi=phi, **reference_config
    )
    np.testing.assert_allclose(out, expected[0], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(grad_x, expected[1], rtol=2e-3, atol=1e-5)
    np.testing.assert_allclose(grad_u, expected[2], rtol=2e-3, atol=1e-5)
    assert np.all(np.isfinite(grad_x)) and np.all(np.isfinite(grad_u))


@pytest.mark.parametrize("config", [dict(), dict(groups=2, strides=2, padding="same")], ids=str)
@pytest.mark.parametrize("images_per_chunk", [1, 2])
@pytest.mark.parametrize("mode", MODES)
def test_chunked_batch_matches_reference(config, images_per_chunk, mode):
    """A batch of 5 in chunks of 1 or 2 images (the last one padded) changes nothing."""
    rng = np.random.default_rng(11)
    images = _images_with_zero_patch(rng, (5, 7, 8, 4))
    probe = CNMF2D(6, 3, **config)
    out_rows, out_cols = probe.compute_output_shape(images.shape)[1:3]
    layer = CNMF2D(6, 3, iterations=5, chunk_elements=images_per_chunk * out_rows * out_cols * 9 * 4, **config)
    layer.build(images.shape)
    assert layer._images_per_chunk((None, out_rows, out_cols), 4) == images_per_chunk
    kernel = rng.normal(size=layer.kernel.shape)
    layer.set_weights([kernel.astype("float32")])
    phi = rng.normal(size=layer.compute_output_shape(images.shape))
    out, grad_x, grad_u = output_and_gradients(layer, images, phi, mode)
    reference_config = {k: getattr(layer, k) for k in ("strides", "padding", "dilation_rate", "groups")}
    expected = ref.conv_forward_backward(images, kernel, iterations=5, phi=phi, **reference_config)
    np.testing.assert_allclose(out, expected[0], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(grad_x, expected[1], rtol=2e-3, atol=1e-5)
    np.testing.assert_allclose(grad_u, expected[2], rtol=2e-3, atol=1e-5)


@pytest.mark.parametrize("mode", [m for m in MODES if m != "eager"])
def test_an_empty_batch_in_chunks_gives_empty_outputs_and_gradients(mode):
    """A replica of a distributed step can receive no images; nothing may divide by zero."""
    layer = CNMF2D(6, 3, iterations=3, chunk_elements=9 * 4 * 25)
    images = np.zeros((0, 7, 7, 4), "float32")
    layer.build(images.shape)
    out, grad_x, grad_u = output_and_gradients(layer, images, np.zeros((0, 5, 5, 6)), mode)
    assert out.shape == (0, 5, 5, 6) and grad_x.shape == images.shape
    assert grad_u.shape == layer.kernel.shape and not np.any(grad_u)


def test_local_learning_matches_reference():
    rng = np.random.default_rng(7)
    images = _images_with_zero_patch(rng, (2, 6, 6, 4))
    layer = CNMF2D(4, 3, groups=2, learning="local", iterations=5)
    layer.build(images.shape)
    kernel = rng.random(layer.kernel.shape)
    layer.set_weights([kernel.astype("float32")])
    phi = rng.normal(size=layer.compute_output_shape(images.shape))
    out, grad_x, grad_u = output_and_gradients(layer, images, phi)
    expected = ref.conv_forward_backward(images, kernel, groups=2, iterations=5, phi=phi, learning="local")
    np.testing.assert_allclose(grad_x, expected[1], rtol=2e-3, atol=1e-5)
    np.testing.assert_allclose(grad_u, expected[2], rtol=2e-3, atol=1e-5)


@pytest.mark.parametrize("groups", [1, 2])
def test_outputs_are_normalised_per_group_and_zero_on_zero_patches(groups):
    rng = np.random.default_rng(3)
    images = _images_with_zero_patch(rng, (2, 9, 9, 4)).astype("float32")
    out = to_numpy(CNMF2D(8, 3, groups=groups)(images))
    assert np.all(out >= 0)
    per_group = out.reshape(out.shape[:3] + (groups, 8 // groups)).sum(axis=-1)
    np.testing.assert_array_equal(out[0, :2, :2], 0.0)  # patches inside the zero corner
    mask = np.ones(out.shape[:3], bool)
    mask[0, :2, :2] = False
    np.testing.assert_allclose(per_group[mask], 1.0, rtol=1e-5)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: str(c) or "default")
def test_output_shape_matches_conv2d(config):
    images = np.random.default_rng(0).random((1, 11, 10, 4)).astype("float32")
    conv = keras.layers.Conv2D(6, 3, **config)(images)
    assert CNMF2D(6, 3, **config)(images).shape == conv.shape


def _unrolled_tf_float64(images, kernel, iterations):
    """An independent float64 TF transcription of the CNMF2D forward (valid, stride 1)."""
    import tensorflow as tf

    kh, kw, channels, _ = kernel.shape
    patches = tf.image.extract_patches(images, [1, kh, kw, 1], [1, 1, 1, 1], [1, 1, 1, 1], "VALID")
    x = tf.reshape(patches, [-1, kh * kw * channels])
    x = tf.math.divide_no_nan(x, tf.reduce_sum(x, -1, keepdims=True))
    w = tf.abs(kernel) / tf.reduce_sum(tf.abs(kernel), [0, 1, 2], keepdims=True)
    w = tf.reshape(w, [kh * kw * channels, -1])
    h = tf.fill([tf.shape(x)[0], w.shape[1]], tf.constant(1.0 / w.shape[1], tf.float64))
    for _ in range(iterations):
        h = h * tf.matmul(x / (tf.matmul(h, w, transpose_b=True) + 1e-20), w)
        h = h / (tf.reduce_sum(h, -1, keepdims=True) + 1e-20)
    return tf.reshape(h, tf.concat([tf.shape(patches)[:3], [-1]], 0))


@tensorflow_only  # TensorFlow's own autodiff of an independent transcription; the reference tests run on JAX too
def test_autodiff_backward_matches_tensorflow_unrolled_gradient():
    import tensorflow as tf

    rng = np.random.default_rng(5)
    images = rng.random((2, 6, 6, 3))
    kernel = rng.random((3, 3, 3, 5)) + 0.1
    phi = rng.normal(size=(2, 4, 4, 5))
    layer = CNMF2D(5, 3, iterations=5, backward="autodiff")
    layer.build(images.shape)
    layer.set_weights([kernel.astype("float32")])
    out, grad_x, grad_u = output_and_gradients(layer, images, phi)
    x64, u64 = tf.constant(images), tf.constant(kernel)
    with tf.GradientTape() as tape:
        tape.watch([x64, u64])
        loss = tf.reduce_sum(_unrolled_tf_float64(x64, u64, 5) * phi)
    expected_x, expected_u = tape.gradient(loss, [x64, u64])
    np.testing.assert_allclose(grad_x, expected_x.numpy(), rtol=2e-3, atol=1e-5)
    np.testing.assert_allclose(grad_u, expected_u.numpy(), rtol=2e-3, atol=1e-5)

    # The one-step backward approximates it (loosely: it is an approximation).
    approx = CNMF2D(5, 3, iterations=5)
    approx.build(images.shape)
    approx.set_weights([kernel.astype("float32")])
    _, approx_x, approx_u = output_and_gradients(approx, images, phi)
    cosine = lambda a, b: float(np.sum(a * b) / np.linalg.norm(a) / np.linalg.norm(b))  # noqa: E731
    assert cosine(approx_x, grad_x) > 0.5
    assert cosine(approx_u, grad_u) > 0.5


def test_zero_input_gives_zero_output_and_finite_gradients():
    layer = CNMF2D(4, 3)
    out, grad_x, grad_u = output_and_gradients(layer, np.zeros((1, 5, 5, 2)), np.ones((1, 3, 3, 4)))
    np.testing.assert_array_equal(out, 0.0)
    assert np.all(np.isfinite(grad_x)) and np.all(np.isfinite(grad_u))
    np.testing.assert_array_equal(grad_x, 0.0)


@pytest.mark.parametrize("config", [dict(), dict(groups=2, padding="same", strides=2)])
def test_layer_contract(config, tmp_path):
    run_layer_test(
        CNMF2D,
        {"filters": 4, "kernel_size": 3, "iterations": 3, **config},
        (2, 8, 8, 4),
        (2, 4, 4, 4) if config else (2, 6, 6, 4),
        tmp_path,
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"filters": 4, "kernel_size": 3, "iterations": 0}, "Received: iterations=0"),
        ({"filters": 6, "kernel_size": 3, "groups": 4}, "filters=6, groups=4"),
        ({"filters": 4, "kernel_size": 3, "padding": "causal"}, "Received: padding='causal'"),
        ({"filters": 4, "kernel_size": 3, "backward": "full"}, "Received: backward='full'"),
        ({"filters": 4, "kernel_size": 3, "learning": "hebbian"}, "Received: learning='hebbian'"),
        ({"filters": 4, "kernel_size": 0}, "Received: kernel_size=0"),
        ({"filters": 4, "kernel_size": 3, "chunk_elements": 0}, "Received: chunk_elements=0"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CNMF2D(**kwargs)


def test_channels_not_divisible_by_groups():
    with pytest.raises(ValueError, match=r"divisible by `groups`.*input_shape=\(None, 8, 8, 3\)"):
        CNMF2D(4, 3, groups=2)(keras.Input((8, 8, 3)))


def test_kernel_larger_than_valid_input():
    with pytest.raises(ValueError, match="larger than the input with padding='valid'"):
        CNMF2D(4, 5)(keras.Input((4, 4, 3)))


def test_negative_input_in_an_eager_call_names_the_layer():
    model = keras.Sequential([keras.Input((5, 5, 2)), CNMF2D(3, 3, name="cnmf_in")])
    with pytest.raises(ValueError, match="Layer cnmf_in received.*put a ReLU"):
        model(-np.ones((1, 5, 5, 2), "float32"))


@tensorflow_only  # a tf.function graph can assert; a jax.jit step cannot raise (ops.checks)
def test_negative_input_in_a_compiled_step_names_the_layer():
    import tensorflow as tf

    model = keras.Sequential([keras.Input((5, 5, 2)), CNMF2D(3, 3, name="cnmf_in")])
    with pytest.raises(tf.errors.InvalidArgumentError, match="Layer cnmf_in received.*put a ReLU"):
        model.predict(-np.ones((1, 5, 5, 2), "float32"), verbose=0)


@jax_only
def test_a_symbolic_batch_runs_as_one_batch():
    """jax2onnx (Keras's ONNX export on JAX) traces a batch of any size: no chunking can be planned for it, and the
    layer must not compare it with its chunk size (JAX: 'inconclusive'); the exported call equals the layer's."""
    import jax

    images = np.random.default_rng(5).uniform(0, 1, (5, 6, 6, 2)).astype("float32")
    layer = CNMF2D(4, 3, iterations=3, chunk_elements=9 * 2 * 16)  # one image a chunk for a known batch
    expected = to_numpy(layer(images))
    symbolic = jax.ShapeDtypeStruct(jax.export.symbolic_shape("batch, 6, 6, 2"), "float32")
    exported = jax.export.export(jax.jit(lambda x: layer(x)))(symbolic)
    np.testing.assert_allclose(to_numpy(exported.call(images)), expected, rtol=1e-6, atol=1e-7)
