"""One backend's half of tests/test_cross_backend.py: ``python -m tests.cross_backend_worker STAGE DIR``.

The backend is whatever ``KERAS_BACKEND`` says. Stages:

* ``reference``: builds each network (seeded) and saves its weights;
* ``compare``: builds each network and loads the reference weights;

then each saves the training-mode outputs and weight gradients on a fixed batch, the inference-mode
predictions and a ``.keras`` file, and ``compare`` also predicts with the ``.keras`` files that the
stages before it saved;
* ``reload``: the predictions of the other backends' ``.keras`` files (the reference side's turn).

Everything goes to DIR as ``.npz`` files; the test compares them.
"""

import pathlib
import sys

import keras
import numpy as np

import keras_nmf  # noqa: F401  (registers the layers for loading)
from keras_nmf.losses import CrossEntropyMSE
from keras_nmf.models import ARCHITECTURES, build_model
from tests.backend import outputs_and_weight_gradients

#: Small enough to run four networks on three backends in under two minutes; N as the paper's default. (At N = 5
#: BatchNorm's gamma gradient in cnmf_1x1 once differed by 1.05e-5, over the tolerance: a sum with cancellation.)
BATCH, INPUT_SHAPE, ITERATIONS = 4, (28, 28, 3), 20


def batch():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (BATCH,) + INPUT_SHAPE).astype("float32")
    images[0, :6, :6] = 0.0  # all-zero patches: the divide-no-NaN paths
    return images, np.arange(BATCH) % 10


#: The paper's four networks, and cnmf_1x1 with the Itakura-Saito divergence (the largest powers of R:
#: keras_nmf.ops.divergences), each under its name.
NETWORKS = {**{arch: {"arch": arch} for arch in ARCHITECTURES},
            "cnmf_1x1_is": {"arch": "cnmf_1x1", "nmf_divergence": "itakura_saito"}}


def network(name):
    return build_model(input_shape=INPUT_SHAPE, num_classes=10, iterations=ITERATIONS, **NETWORKS[name])


def cancelled_biases(model):
    """Paths of the biases that a BatchNorm follows: their gradient is zero, up to rounding on either backend."""
    layers = model.layers
    return [layer.bias.path for layer, following in zip(layers, layers[1:])
            if getattr(layer, "bias", None) is not None and isinstance(following, keras.layers.BatchNormalization)]


def outputs_and_gradients(model, images, labels):
    """Training-mode outputs and the gradient of the recipe's loss (eq. 21) for every trainable weight."""
    loss_fn = CrossEntropyMSE()
    outputs, gradients = outputs_and_weight_gradients(
        model, images, lambda out: loss_fn(labels, out), model.trainable_variables)
    arrays = {"outputs": outputs, "cancelled": np.array(cancelled_biases(model))}
    for variable, gradient in zip(model.trainable_variables, gradients):
        arrays[f"grad:{variable.path}"] = gradient
    return arrays


def main(stage, directory):
    directory = pathlib.Path(directory)
    backend = keras.backend.backend()
    images, labels = batch()
    for arch in NETWORKS:
        if stage == "reload":
            for path in directory.glob(f"{arch}-*.keras"):
                if path.stem != f"{arch}-{backend}":
                    np.save(directory / f"{path.stem}-loaded-by-{backend}.npy",
                            keras.models.load_model(path).predict(images, verbose=0))
            continue
        keras.utils.set_random_seed(0)
        model = network(arch)
        if stage == "reference":
            model.save_weights(directory / f"{arch}.weights.h5")
        else:
            model.load_weights(directory / f"{arch}.weights.h5")
        np.savez(directory / f"{arch}-{backend}.npz", **outputs_and_gradients(model, images, labels))
        np.save(directory / f"{arch}-{backend}-inference.npy", model.predict(images, verbose=0))
        model.save(directory / f"{arch}-{backend}.keras")
    if stage == "compare":
        main("reload", directory)


if __name__ == "__main__":
    main(*sys.argv[1:])
