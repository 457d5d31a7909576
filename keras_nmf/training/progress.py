"""What the end of an epoch is doing, said where Keras's progress bar would otherwise stand still."""

import sys

import keras


def show_status(callback, text):
    """Writes ``text…`` over the progress bar's line of a ``verbose=1`` fit, after the epoch's last batch.

    The work at an epoch's end (BatchNorm recalibration, the test set, the NMF diagnostics) can take a minute with
    the bar showing the last batch. Keras's final update of the bar, which comes after every other callback's
    ``on_epoch_end``, writes the bar over the status again. ``verbose=2`` prints one line per epoch and ``0`` none:
    nothing is added there.
    """
    if (callback.params or {}).get("verbose") != 1:
        return
    sys.stdout.write(f"\r\x1b[K{text}…")  # the bar's own line, cleared: "\r" alone would leave its tail
    sys.stdout.flush()


class ProgressBar(keras.callbacks.ProgbarLogger):
    """Keras's progress bar, saying "compiling the training step…" while a session's first step compiles.

    Keras's bar leaves the first step out of its ETA from the second step on; until then the compile has no name.
    """

    def set_params(self, params):
        super().set_params(params)
        self.params = params  # Keras's ProgbarLogger reads them without keeping them

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._compiling = True

    def on_train_batch_begin(self, batch, logs=None):
        super().on_train_batch_begin(batch, logs)
        if self._compiling:
            self._compiling = False
            show_status(self, "compiling the training step")
