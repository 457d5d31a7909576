"""ImageClassifier's input contract: the answer the equivalent uint8 image gives, or a refusal that names the fix.

`make test` runs this file on TensorFlow, on JAX and on PyTorch.
"""

import numpy as np
import pytest

from keras_nmf.models import ImageClassifier, PaperNetwork, decode_predictions
from keras_nmf.errors import ImageInputError
from keras_nmf.models.image_inputs import prepare_images, prepare_labels
from keras_nmf.models.presets import CIFAR10_CLASSES


@pytest.fixture(scope="module")
def classifier():
    return ImageClassifier(PaperNetwork("cnn"), class_names=CIFAR10_CLASSES)


@pytest.fixture(scope="module")
def trained():
    return ImageClassifier.from_preset("cnn_cifar10")


def _images(count=4, seed=0, shape=(32, 32, 3)):
    return np.random.default_rng(seed).integers(0, 256, (count,) + shape).astype("uint8")


def test_float_pixel_values_in_0_255_give_the_uint8_answer(trained):
    images = _images()
    np.testing.assert_allclose(
        trained.predict(images.astype("float32"), verbose=0), trained.predict(images, verbose=0), atol=1e-6
    )
    np.testing.assert_allclose(
        trained.predict(images.astype("int64"), verbose=0), trained.predict(images, verbose=0), atol=1e-6
    )


def test_a_float_batch_in_0_1_is_refused_with_the_fix(trained):
    images = _images().astype("float32") / 255.0
    for call in (
        lambda: trained.predict(images, verbose=0),
        lambda: trained.evaluate(images, np.zeros(4), verbose=0),
        lambda: trained.predict_on_batch(images),
        lambda: trained(images),
    ):
        with pytest.raises(ImageInputError, match=r"lie in \[0, 1\].*multiply them by 255"):
            call()


@pytest.mark.parametrize(
    "value, dtype, problem",
    [
        (np.nan, "float32", "NaN"),
        (np.inf, "float32", "infinite"),
        (-5.0, "float32", "below 0"),
        (1000.0, "float32", "above 255"),
        (300, "int64", "above 255"),
        (-1, "int16", "below 0"),
    ],
)
def test_values_outside_the_pixel_range_are_refused_before_the_step(classifier, value, dtype, problem):
    images = _images().astype(dtype)
    images[1, 3, 4, 0] = value
    with pytest.raises(ImageInputError, match=f"{problem}.*image 1"):
        classifier.predict(images, verbose=0)


@pytest.mark.parametrize(
    "images, problem",
    [
        (np.zeros((2, 32, 32, 1), "uint8"), "3 channels"),
        (np.zeros((32, 32, 3), "uint8"), r"a batch \(images, height, width, channels\).*images\[None\]"),
        (np.zeros((2, 32, 32, 3), bool), "bool"),
        (None, "None"),
        ("picture.png", "str"),
    ],
)
def test_what_is_not_a_batch_of_images_is_named(classifier, images, problem):
    with pytest.raises(ImageInputError, match=problem):
        prepare_images(images, classifier.image_shape)


def test_another_size_is_resized_as_the_training_images_were_made(trained):
    """A photo of any size becomes a 32x32 image (its centred square, resized with antialiasing), then the centre
    crop: a 224x224 photo made by enlarging a smooth 32x32 image 7 times comes back close to that image."""
    rows, columns = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
    smooth = np.stack([128 + 100 * np.sin(rows / 5 + c) * np.cos(columns / 7) for c in range(3)], axis=-1)
    small = np.round(smooth)[None].astype("uint8")
    large = np.repeat(np.repeat(small, 7, axis=1), 7, axis=2)  # 224x224, each pixel a 7x7 block
    resized = prepare_images(large, trained.image_shape)
    assert resized.shape == (1, 32, 32, 3) and resized.dtype == np.uint8
    assert np.abs(resized.astype(int) - small.astype(int)).mean() < 4
    photo = _images(3, shape=(224, 160, 3))  # not square: its centred 160x160 square
    assert prepare_images(photo, trained.image_shape).shape == (3, 32, 32, 3)
    np.testing.assert_allclose(
        trained.predict(photo, verbose=0),
        trained.predict(prepare_images(photo, trained.image_shape), verbose=0),
        atol=1e-6,
    )
    assert trained.predict(_images(2, shape=(28, 28, 3)), verbose=0).shape == (2, 10)


@pytest.mark.parametrize(
    "labels, problem",
    [
        (np.array([0, 1, 10, 2]), r"label 10 .*0 to 9"),
        (np.array([0, -1, 2, 3]), r"label -1 "),
        (np.array([0, 1000, 2, 3]), "label 1000"),
        (np.array([0.0, 2.7, 1.0, 3.0]), "not whole numbers"),
        (np.eye(10)[[0, 1, 2, 3]], "one-hot"),
        (np.array([0, 1, 2]), "3 labels for 4 images"),
    ],
)
def test_labels_outside_the_classes_are_refused_before_training(labels, problem):
    classifier = ImageClassifier(PaperNetwork("cnn"))
    classifier.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    before = [w.copy() for w in classifier.get_weights()]
    with pytest.raises(ImageInputError, match=problem):
        classifier.fit(_images(), labels, epochs=1, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, classifier.get_weights()))  # nothing trained
    with pytest.raises(ImageInputError, match=problem):
        classifier.evaluate(_images(), labels, verbose=0)


def test_whole_float_labels_and_integer_labels_train():
    classifier = ImageClassifier(PaperNetwork("cnn"))
    classifier.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = classifier.fit(_images(), np.array([0.0, 1.0, 9.0, 2.0]), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert prepare_labels(np.array([[3], [4]]), 10, 2).tolist() == [3, 4]


def test_a_classifier_carries_its_class_names_and_decodes_the_top_k(trained):
    assert trained.class_names == list(CIFAR10_CLASSES)
    probabilities = trained.predict(_images(), verbose=0)
    top = trained.decode_predictions(probabilities, top_k=3)
    assert len(top) == 4 and all(len(row) == 3 for row in top)
    for row, p in zip(top, probabilities):
        assert row[0] == (CIFAR10_CLASSES[int(np.argmax(p))], pytest.approx(float(np.max(p))))
        assert row[0][1] >= row[1][1] >= row[2][1]
    assert decode_predictions(np.array([[0.1, 0.9]]), ["no", "yes"], top_k=1) == [[("yes", pytest.approx(0.9))]]
    with pytest.raises(ValueError, match="1 to 10.*top_k=11"):
        trained.decode_predictions(probabilities, top_k=11)


def test_class_names_must_match_the_classes():
    with pytest.raises(ValueError, match="2 class names for 10 classes"):
        ImageClassifier(PaperNetwork("cnn"), class_names=["cat", "dog"])
    with pytest.raises(ValueError, match="repeat"):
        ImageClassifier(PaperNetwork("cnn"), class_names=["cat"] * 10)
    unnamed = ImageClassifier(PaperNetwork("cnn"))
    assert unnamed.class_names is None
    assert unnamed.decode_predictions(np.eye(10)[:1], top_k=1) == [[("class 0", 1.0)]]


def test_a_temperature_scales_the_log_probabilities(tmp_path):
    network = PaperNetwork("cnn")
    plain, warm = ImageClassifier(network), ImageClassifier(network, temperature=2.0)
    images = _images()
    p = plain.predict(images, verbose=0)
    expected = np.sqrt(p) / np.sqrt(p).sum(axis=1, keepdims=True)  # softmax(log p / 2)
    np.testing.assert_allclose(warm.predict(images, verbose=0), expected, rtol=1e-4, atol=1e-6)
    warm.save_to_preset(tmp_path / "warm")
    loaded = ImageClassifier.from_preset(tmp_path / "warm")
    assert loaded.temperature == 2.0
    np.testing.assert_allclose(loaded.predict(images, verbose=0), expected, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="temperature"):
        ImageClassifier(network, temperature=0.0)
