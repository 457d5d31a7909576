"""``evaluate_saved_model``: test accuracy of a saved ``.keras`` model."""

import keras

import keras_nmf  # noqa: F401  (registers the custom layers, loss and optimizer)
from keras_nmf.data import load_dataset


def evaluate_saved_model(model_path, data_dir=None, dataset="cifar10", tfds_dir=None, batch_size=50, limit_test=None):
    """Loads a model and evaluates it on the test split (centre crops of its input size).

    Returns ``{"test_accuracy", "test_loss", "test_size"}``.
    """
    model = keras.models.load_model(model_path)
    crop_size = model.input_shape[1]
    data = load_dataset(
        name=dataset, data_dir=data_dir, tfds_dir=tfds_dir, batch_size=batch_size,
        crop_size=crop_size, limit_test=limit_test,
    )
    results = model.evaluate(data.test, verbose=0, return_dict=True)
    return {"test_accuracy": float(results["accuracy"]), "test_loss": float(results["loss"]), "test_size": data.test_size}
