"""The parts as pictures: block 1's W as patches, the receptive fields of deeper positions (against the support of
a gradient), and the regions each part explains most."""

import keras
import numpy as np
import pytest

from keras_nmf.errors import ExplainError
from keras_nmf.explain.parts import first_layer_parts, receptive_field, top_regions
from keras_nmf.layers import CNMF2D
from tests.backend import BACKEND


def test_block_1s_parts_are_the_columns_of_w_as_patches():
    layer = CNMF2D(5, 3)
    layer.build((None, 8, 8, 3))
    parts = first_layer_parts(layer)
    assert parts.shape == (5, 3, 3, 3) and np.all(parts >= 0)
    np.testing.assert_allclose(parts.reshape(5, -1).sum(-1), 1.0, rtol=1e-5)


def _chain():
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(1, 3, use_bias=False, kernel_initializer="ones", name="conv")(inputs)
    x = keras.layers.AveragePooling2D(2, name="pool")(x)
    x = keras.layers.Conv2D(1, 3, padding="same", use_bias=False, kernel_initializer="ones", name="same")(x)
    return keras.Model(inputs, x)


def test_a_positions_receptive_field_is_where_its_gradient_reaches():
    model = _chain()
    field = receptive_field(model, model.get_layer("same"))
    assert (field.size, field.jump, field.start) == ((8, 8), (2, 2), (-2, -2))
    if BACKEND != "tensorflow":
        pytest.skip("the gradient oracle is written with TensorFlow's tape")
    import tensorflow as tf

    image = tf.ones((1, 16, 16, 1))
    for row, col in [(0, 0), (3, 4)]:
        with tf.GradientTape() as tape:
            tape.watch(image)
            value = model(image)[0, row, col, 0]
        support = np.argwhere(tape.gradient(value, image).numpy()[0, :, :, 0] != 0)
        top, left, bottom, right = field.box(row, col)
        assert (support.min(0).tolist(), (support.max(0) + 1).tolist()) == (
            [max(top, 0), max(left, 0)],
            [min(bottom, 16), min(right, 16)],
        )


def test_a_graph_that_is_not_a_chain_is_refused():
    inputs = keras.Input((8, 8, 1))
    a = keras.layers.Conv2D(1, 3, name="a")(inputs)
    b = keras.layers.Conv2D(1, 5, padding="same", name="b")(inputs)
    model = keras.Model(inputs, keras.layers.Add(name="add")([a, keras.layers.Cropping2D(1)(b)]))
    with pytest.raises(ExplainError, match="not a chain of layers"):
        receptive_field(model, model.get_layer("add"))


def test_each_parts_top_region_is_the_patch_it_explains_most():
    inputs = keras.Input((4, 8, 1))
    layer = CNMF2D(2, 2, strides=2, iterations=50, name="nmf")
    model = keras.Model(inputs, layer(inputs))
    kernel = np.zeros((2, 2, 1, 2), "float32")
    kernel[0, 0, 0, 0] = kernel[1, 1, 0, 0] = 1.0  # part 0: the main diagonal
    kernel[0, 1, 0, 1] = kernel[1, 0, 0, 1] = 1.0  # part 1: the anti-diagonal
    layer.kernel.assign(kernel)
    images = np.full((3, 4, 8, 1), 0.5, "float32")  # flat: both parts alike everywhere ...
    images[1, 2:4, 4:6, 0] = [[0, 1], [1, 0]]  # ... but for one anti-diagonal patch in image 1
    images[2, 0:2, 2:4, 0] = [[1, 0], [0, 1]]  # and one diagonal patch in image 2
    field = receptive_field(model, layer)
    regions, values = top_regions(field, images, keras.ops.convert_to_numpy(layer(images)), per_part=2)
    assert regions.shape == (2, 2, 2, 2, 1) and values.shape == (2, 2)
    np.testing.assert_allclose(regions[0, 0, :, :, 0], [[1, 0], [0, 1]])
    np.testing.assert_allclose(regions[1, 0, :, :, 0], [[0, 1], [1, 0]])
    np.testing.assert_allclose(values[:, 0], 1.0, atol=1e-4)
    assert np.all(values[:, 1] < 0.6)  # the next best: a flat patch, half of each part
