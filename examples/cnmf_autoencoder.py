"""A CNMF auto-encoder: one CNMF2D layer trained to reconstruct its input (``return_reconstruction=True``).

    python examples/cnmf_autoencoder.py --data-dir ../shared/data/cifar10-jpeg --images 2000 --epochs 3
    python examples/cnmf_autoencoder.py            # random blocky images, a smoke run

The layer returns (h, reconstruction): each 5x5 patch is explained as W h
(eq. 6, N updates), scaled back by the patch's sum, and the overlapping
patches are averaged into an image. The loss is the squared error of that
image against the input, so W learns by back-propagation through both the
reconstruction and the one-step backward of h (eqs. 18-19). Runs on
TensorFlow, JAX and PyTorch.
"""

import argparse

import keras
import numpy as np

from keras_nmf.layers import CNMF2D


def autoencoder(image_shape=(32, 32, 3), filters=16, kernel_size=5, iterations=10):
    """images -> the CNMF2D layer's reconstruction of them."""
    images = keras.Input(image_shape, name="images")
    _, reconstruction = CNMF2D(
        filters, kernel_size, padding="same", iterations=iterations, return_reconstruction=True, name="cnmf"
    )(images)
    return keras.Model(images, reconstruction, name="cnmf_autoencoder")


def load_images(data_dir, count, seed=0):
    """``count`` training images in [0, 1] from an image folder, or random smooth ones without it."""
    if data_dir is None:  # 4x4 random colours, each spread over an 8x8 block: patches with structure to learn
        coarse = np.random.default_rng(seed).random((count, 4, 4, 3)).astype("float32")
        return np.repeat(np.repeat(coarse, 8, axis=1), 8, axis=2)
    from keras_nmf.data import load_arrays

    (images, _), _, _ = load_arrays("cifar10", data_dir, None, limit_train=count, seed=seed)
    return images.astype("float32") / 255.0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="image folder DIR/train/<class>/* (default: random blocky images)")
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--filters", type=int, default=16)
    parser.add_argument("--iterations", type=int, default=10)
    args = parser.parse_args(argv)
    images = load_images(args.data_dir, args.images)
    model = autoencoder(images.shape[1:], args.filters, iterations=args.iterations)
    model.compile(keras.optimizers.Adam(1e-2), loss="mse")
    before = model.evaluate(images, images, batch_size=50, verbose=0)
    model.fit(images, images, batch_size=50, epochs=args.epochs, verbose=2)
    after = model.evaluate(images, images, batch_size=50, verbose=0)
    print(f"reconstruction MSE: {before:.5f} before training, {after:.5f} after {args.epochs} epochs")
    return before, after


if __name__ == "__main__":
    main()
