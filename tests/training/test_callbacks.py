"""Callbacks: the basis image grid, the status shown at an epoch's end."""

import keras
import numpy as np

from keras_nmf.training.batchnorm import RecalibrateBatchNorm
from keras_nmf.training import callbacks as run_callbacks
from keras_nmf.training.callbacks import basis_grid
from keras_nmf.training.progress import ProgressBar


def test_basis_grid_tiles_every_filter_in_unit_range():
    kernel = np.random.default_rng(0).normal(size=(5, 5, 3, 10))
    grid = basis_grid(kernel, nmf=True, columns=4, scale=2)
    assert grid.shape == (1, 2 * (3 * 6 + 1), 2 * (4 * 6 + 1), 3)
    assert grid.min() >= 0.0 and grid.max() == 1.0


def test_the_end_of_an_epoch_says_what_it_does_over_the_progress_bar(capsys):
    """The first step says it compiles; after the last batch, the bar's line says what runs, then Keras's final bar."""
    model = keras.Sequential([keras.Input((4,)), keras.layers.BatchNormalization(), keras.layers.Dense(2)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    data = _batches()
    callbacks = [RecalibrateBatchNorm(data, batches=1), run_callbacks.TestSetEvaluation(data)]
    model.fit(data, epochs=1, verbose=1, callbacks=[*callbacks, ProgressBar()])
    out = capsys.readouterr().out
    assert out.index("\r\x1b[Kcompiling the training step…") < out.index("1/2")
    recalibrating = out.index("\r\x1b[Krecalibrating BatchNorm on 1 training batches…")
    testing = out.index("\r\x1b[Kevaluating the test set…")
    assert recalibrating < testing < out.index("test_accuracy")
    model.fit(data, epochs=1, verbose=2, callbacks=callbacks)
    assert "…" not in capsys.readouterr().out  # one line per epoch: nothing in between


def _batches():
    """Two batches of 4 samples as a Keras PyDataset, which every backend's fit takes."""

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 2

        def __getitem__(self, index):
            rng = np.random.default_rng(index)
            return rng.normal(size=(4, 4)).astype("float32"), rng.integers(0, 2, size=(4,))

    return Batches()
