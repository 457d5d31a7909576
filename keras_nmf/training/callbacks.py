"""Callbacks of the training run: test logging, summary line, LR floor, basis images."""

import math
import time

import keras
import numpy as np

from keras_nmf.errors import NonFiniteLossError
from keras_nmf.layers import CNMF2D, ConvolutiveNMF2D
from keras_nmf.ops import nmf_weights
from keras_nmf.training.progress import show_status
from keras_nmf.training.tensorboard import EventWriter


def current_learning_rate(model):
    return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))


class TestSetEvaluation(keras.callbacks.Callback):
    """Adds ``test_loss`` and ``test_accuracy`` to the epoch logs (logging only).

    Place it after the BatchNorm recalibration (so the logged numbers use the
    statistics that the final evaluation and the saved model use) and before
    the callbacks that record logs. The test set never steers
    training: the plateau schedule monitors the training loss (or a held-out
    validation split), and no model is selected by it.
    """

    def __init__(self, dataset, every=1):
        super().__init__()
        self.dataset = dataset
        self.every = max(1, int(every))

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or (epoch + 1) % self.every:
            return
        show_status(self, "evaluating the test set")
        results = self.model.evaluate(self.dataset, verbose=0, return_dict=True)
        logs["test_loss"] = results["loss"]
        logs["test_accuracy"] = results["accuracy"]


class EpochSummary(keras.callbacks.Callback):
    """One fixed-format line per epoch, and ``seconds``/``learning_rate`` in the logs.

    TensorBoard prefixes epoch logs with ``epoch_``: the tags are
    ``epoch_seconds`` and ``epoch_learning_rate``.
    """

    COLUMNS = ("loss", "accuracy", "val_loss", "val_accuracy", "test_loss", "test_accuracy")

    def __init__(self, total_epochs, print_fn=print):
        super().__init__()
        self.total_epochs = total_epochs
        self.print_fn = print_fn
        self._start = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["seconds"] = time.perf_counter() - self._start
        logs["learning_rate"] = current_learning_rate(self.model)
        fields = [f"epoch {epoch + 1:4d}/{self.total_epochs}"]
        for key in self.COLUMNS:
            if key in logs:
                fields.append(f"{key} {logs[key]:.4f}")
        fields.append(f"lr {logs['learning_rate']:.1e}")
        fields.append(f"{logs['seconds']:.1f}s")
        self.print_fn(" | ".join(fields), flush=True)


class LearningRateFloor(keras.callbacks.Callback):
    """Stops training when every learning rate is below ``floor`` (Nouri et al., section 6)."""

    def __init__(self, floor=1e-9, print_fn=print):
        super().__init__()
        self.floor = floor
        self.print_fn = print_fn
        self.stopped_epoch = None

    def on_epoch_end(self, epoch, logs=None):
        multiplier = getattr(self.model.optimizer, "max_multiplier", 1.0)
        if current_learning_rate(self.model) * multiplier < self.floor:
            self.model.stop_training = True
            self.stopped_epoch = epoch + 1
            self.print_fn(f"Every learning rate is below {self.floor:g}: stopping after epoch {epoch + 1}.")

    def get_state(self):
        return {"stopped_epoch": self.stopped_epoch}

    def set_state(self, state):
        self.stopped_epoch = state.get("stopped_epoch")


def basis_grid(kernel, nmf=True, columns=8, scale=4):
    """The first layer's kxk filters as one image (1, H, W, C) in [0, 1].

    NMF: the columns of W = |U| / sum|U| (eq. 20), each scaled to its maximum.
    Conv: each filter min-max scaled.
    """
    kernel = np.asarray(kernel, np.float32)
    filters = keras.ops.convert_to_numpy(nmf_weights(kernel)) if nmf else kernel
    kh, kw, channels, count = filters.shape
    rows = math.ceil(count / columns)
    grid = np.zeros((rows * (kh + 1) + 1, columns * (kw + 1) + 1, channels), np.float32)
    for index in range(count):
        patch = filters[..., index]
        low = 0.0 if nmf else patch.min()
        patch = (patch - low) / max(patch.max() - low, 1e-12)
        r, c = divmod(index, columns)
        grid[1 + r * (kh + 1) : 1 + r * (kh + 1) + kh, 1 + c * (kw + 1) : 1 + c * (kw + 1) + kw] = patch
    grid = np.kron(grid, np.ones((scale, scale, 1), np.float32))
    return grid[np.newaxis]


class BasisImages(keras.callbacks.Callback):
    """Writes the first kxk layer's filters to TensorBoard (``images/``) each epoch."""

    def __init__(self, log_dir, layer_name):
        super().__init__()
        self.log_dir = str(log_dir)
        self.layer_name = layer_name
        self.writer = None

    def on_epoch_end(self, epoch, logs=None):
        self.writer = self.writer or EventWriter(f"{self.log_dir}/images")
        layer = self.model.get_layer(self.layer_name)
        nmf = isinstance(layer, (CNMF2D, ConvolutiveNMF2D))
        image = basis_grid(keras.ops.convert_to_numpy(layer.kernel), nmf=nmf)
        self.writer.image(f"{self.layer_name}/basis", image[0], step=epoch + 1)
        self.writer.flush()

    def on_train_end(self, logs=None):
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class StopOnNonFinite(keras.callbacks.TerminateOnNaN):
    """Keras's ``TerminateOnNaN(raise_error=True)``, raising :class:`NonFiniteLossError` with the epoch and batch.

    ``TerminateOnNaN`` detects a NaN/Inf loss after each batch and raises at
    once, so that no later callback runs (no backup of a NaN state, no model
    saved). This names the epoch and batch, adds ``advice`` (a run's resume
    command), and also checks the weights at each epoch's end. Place it
    before the backup callback: the last backup is then the last good epoch.

    Args:
        advice: text appended to the error (what the user can do next).
        last_good: ``f(epoch)``, a sentence saying what state survives a stop in ``epoch`` (0-based).
    """

    def __init__(self, advice="", last_good=None):
        super().__init__(raise_error=True)
        self.advice = advice
        self.last_good = last_good
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def _fail(self, what, cause=None):
        survived = f" {self.last_good(self._epoch)}" if self.last_good else ""
        message = f"{what} in epoch {self._epoch + 1}. Training stopped and no model was saved.{survived}"
        raise NonFiniteLossError(message + (f" {self.advice}" if self.advice else "")) from cause

    def on_batch_end(self, batch, logs=None):
        try:
            super().on_batch_end(batch, logs)
        except RuntimeError as error:
            loss = (logs or {}).get("loss")
            self._fail(f"Non-finite training loss ({float(loss)}) at batch {batch + 1}", error)

    def on_epoch_end(self, epoch, logs=None):
        for variable in self.model.weights:
            if not np.all(np.isfinite(keras.ops.convert_to_numpy(variable))):
                self._fail(f"Non-finite values in {variable.path} at the end")
