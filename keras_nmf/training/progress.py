"""What the end of an epoch is doing, said where Keras's progress bar would otherwise stand still."""

import sys


def show_status(callback, text):
    """Writes ``text…`` over the progress bar's line of a ``verbose=1`` fit, after the epoch's last batch.

    The work at an epoch's end (BatchNorm recalibration, the test set, the NMF diagnostics) can take a minute with
    the bar showing the last batch. Keras's final update of the bar, which comes after every other callback's
    ``on_epoch_end``, writes the bar over the status again. ``verbose=2`` prints one line per epoch and ``0`` none:
    nothing is added there.
    """
    if callback.params.get("verbose") != 1:
        return
    sys.stdout.write(f"\r\x1b[K{text}…")  # the bar's own line, cleared: "\r" alone would leave its tail
    sys.stdout.flush()
