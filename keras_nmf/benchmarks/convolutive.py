"""Speed of ``ConvolutiveNMF2D`` against ``CNMF2D`` on the paper's block shapes, measured side by side.

For each block, the two layers (the same kernel; ``normalize="channels"``, as in the networks) each get a tiny
classifier head (Flatten, Dense, softmax) and are timed alternately, back to back
(:func:`keras_nmf.benchmarks.timing.paired_medians_ms`, so the drift of a shared machine hits both): a training
step (``train_on_batch``: forward, the one-step backward, Adam) and a forward pass (``predict_on_batch``). Any
backend; XLA where the backend compiles (the training's default for the NMF networks).
"""

import numpy as np

from keras_nmf.benchmarks.timing import paired_medians_ms

#: The paper's NMF blocks 1 and 2 at width 1 (after the first pool): (name, input shape, kernel, filters).
BLOCKS = (("block1", (28, 28, 3), 5, 32), ("block2", (12, 12, 32), 5, 64))


def _model(layer_class, input_shape, kernel, filters, iterations, weights=None, **arguments):
    import keras

    model = keras.Sequential(
        [
            keras.Input(input_shape),
            layer_class(filters, kernel, iterations=iterations, name="nmf", **arguments),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    if weights is not None:
        model.get_layer("nmf").kernel.assign(weights)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", jit_compile=True)
    return model


def run(blocks=BLOCKS, batch=50, iterations=20, repeats=10, seed=0):
    """``{block: {"cnmf2d"|"convolutive": {"train_step_ms", "forward_ms"}, "ratio_train", "ratio_forward"}}``: the
    medians, and the convolutive layer's time over CNMF2D's (above 1: slower)."""
    from keras_nmf.layers import CNMF2D, ConvolutiveNMF2D

    rng = np.random.default_rng(seed)
    figures = {}
    for name, input_shape, kernel, filters in blocks:
        images = rng.random((batch,) + tuple(input_shape)).astype("float32")
        labels = rng.integers(0, 10, batch)
        patches = _model(CNMF2D, input_shape, kernel, filters, iterations)
        convolutive = _model(
            ConvolutiveNMF2D,
            input_shape,
            kernel,
            filters,
            iterations,
            weights=np.array(patches.get_layer("nmf").kernel.numpy()),
            normalize="channels",
        )
        row = {}
        for label, model in (("cnmf2d", patches), ("convolutive", convolutive)):
            train_ms, forward_ms, _ = paired_medians_ms(
                lambda: model.train_on_batch(images, labels), lambda: model.predict_on_batch(images), repeats=repeats
            )
            row[label] = {"train_step_ms": train_ms, "forward_ms": forward_ms}
        row["ratio_train"] = row["convolutive"]["train_step_ms"] / row["cnmf2d"]["train_step_ms"]
        row["ratio_forward"] = row["convolutive"]["forward_ms"] / row["cnmf2d"]["forward_ms"]
        figures[name] = row
    return figures
