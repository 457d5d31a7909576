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
from keras_nmf.nmf_arguments import NMFOptions
from tests.backend import outputs_and_weight_gradients

#: Small enough to run six networks on three backends in about a minute; N as the paper's default. (At N = 5
#: BatchNorm's gamma gradient in cnmf_1x1 once differed by 1.05e-5, over the tolerance: a sum with cancellation.)
BATCH, INPUT_SHAPE, ITERATIONS = 4, (28, 28, 3), 20


def batch():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (BATCH,) + INPUT_SHAPE).astype("float32")
    images[0, :6, :6] = 0.0  # all-zero patches: the divide-no-NaN paths
    return images, np.arange(BATCH) % 10


def observed_mask():
    """A mask of the images' shape (1 observed, 0 missing): a hole in each image, and a few scattered entries."""
    mask = (np.random.default_rng(1).random((BATCH,) + INPUT_SHAPE) > 0.1).astype("float32")
    mask[:, 10:16, 12:20] = 0.0
    return mask


#: The paper's four networks, and cnmf_1x1 with the options beyond the paper: the Itakura-Saito divergence (the
#: largest powers of R: keras_nmf.ops.divergences), a mask input, and a tolerance (the while loop) small enough
#: that the patterns run (nearly) all N updates: a count that rounding could change would move h by a whole update;
#: and the convolutive NMF layer. (SQUAREM and Anderson are not here: their extrapolated steps amplify float32
#: rounding, so their h differs between backends by ~5e-4 to 3e-2 relative where the plain updates' differs by
#: ~1e-6: docs/nmf_options.md. tests/ops/test_accelerated_solvers.py runs on every backend instead.)
NETWORKS = {
    **{arch: {"arch": arch} for arch in ARCHITECTURES},
    "cnmf_1x1_options": {
        "arch": "cnmf_1x1",
        "observed_input": True,
        "nmf_options": NMFOptions(ITERATIONS, divergence="itakura_saito", tolerance=1e-12),
    },
    "cnmf_1x1_convolutive": {"arch": "cnmf_1x1", "nmf_layer": "convolutive"},
}


def network(name):
    return build_model(
        input_shape=INPUT_SHAPE, num_classes=10, **{"nmf_options": NMFOptions(ITERATIONS), **NETWORKS[name]}
    )


def network_inputs(name, images):
    return [images, observed_mask()] if NETWORKS[name].get("observed_input") else images


def inference(model, inputs):
    """Inference-mode outputs, op by op: on JAX one compile per network and mode would cost more than the
    networks' arithmetic (tens of seconds each); the numbers are the compiled ones' to rounding."""
    return keras.ops.convert_to_numpy(model(inputs, training=False))


def cancelled_biases(model):
    """Paths of the biases that a BatchNorm follows: their gradient is zero, up to rounding on either backend."""
    layers = model.layers
    return [
        layer.bias.path
        for layer, following in zip(layers, layers[1:])
        if getattr(layer, "bias", None) is not None and isinstance(following, keras.layers.BatchNormalization)
    ]


def outputs_and_gradients(model, inputs, labels):
    """Training-mode outputs and the gradient of the recipe's loss (eq. 21) for every trainable weight.

    Compiled on JAX: at the tests' LLVM -O0 (tests/conftest.py) one compile per network costs less than the
    primitives' compiles op by op (the whole JAX stage: 67 s against 74 s, one after the other)."""
    loss_fn = CrossEntropyMSE()
    outputs, gradients = outputs_and_weight_gradients(
        model, inputs, lambda out: loss_fn(labels, out), model.trainable_variables
    )
    arrays = {"outputs": outputs, "cancelled": np.array(cancelled_biases(model))}
    for variable, gradient in zip(model.trainable_variables, gradients):
        arrays[f"grad:{variable.path}"] = gradient
    return arrays


def main(stage, directory):
    directory = pathlib.Path(directory)
    backend = keras.backend.backend()
    images, labels = batch()
    for arch in NETWORKS:
        inputs = network_inputs(arch, images)
        if stage == "reload":
            for path in directory.glob(f"{arch}-*.keras"):
                if path.stem != f"{arch}-{backend}":
                    np.save(
                        directory / f"{path.stem}-loaded-by-{backend}.npy",
                        inference(keras.models.load_model(path), inputs),
                    )
            continue
        keras.utils.set_random_seed(0)
        model = network(arch)
        if stage == "reference":
            model.save_weights(directory / f"{arch}.weights.h5")
        else:
            model.load_weights(directory / f"{arch}.weights.h5")
        np.savez(directory / f"{arch}-{backend}.npz", **outputs_and_gradients(model, inputs, labels))
        np.save(directory / f"{arch}-{backend}-inference.npy", inference(model, inputs))
        model.save(directory / f"{arch}-{backend}.keras")
    if stage == "compare":
        main("reload", directory)


if __name__ == "__main__":
    main(*sys.argv[1:])
