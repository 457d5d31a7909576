"""TensorBoard logs on every backend: event files written by the ``tensorboard`` package, without TensorFlow.

Keras's ``TensorBoard`` callback writes through ``tf.summary`` and needs
TensorFlow installed; this writes the same layout (``train/`` and
``validation/`` folders, tags ``epoch_<key>``, images under ``images/``) with
the ``tensorboard`` package's own event-file writer, as
``torch.utils.tensorboard`` does. Event files are append-only logs (a kill
loses at most the record being written, which TensorBoard skips); the run's
own files (``epochs.csv``, the backup) are what a resume relies on.
"""

import io
import time

import keras
import numpy as np
import PIL.Image
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter


class EventWriter:
    """Scalars and images into one TensorBoard event file under ``log_dir``."""

    def __init__(self, log_dir):
        self._writer = EventFileWriter(str(log_dir))

    def _write(self, values, step):
        summary = summary_pb2.Summary(value=values)
        self._writer.add_event(event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary))

    def scalars(self, values, step):
        """``{tag: number}`` at ``step``."""
        self._write(
            [summary_pb2.Summary.Value(tag=tag, simple_value=float(value)) for tag, value in values.items()], step
        )

    def image(self, tag, image, step):
        """One image (H, W, C) with values in [0, 1] (C = 1 or 3), as PNG."""
        pixels = np.round(np.clip(np.asarray(image, np.float32), 0.0, 1.0) * 255).astype(np.uint8)
        height, width, channels = pixels.shape
        png = io.BytesIO()
        PIL.Image.fromarray(pixels[..., 0] if channels == 1 else pixels).save(png, format="PNG")
        encoded = summary_pb2.Summary.Image(
            height=height, width=width, colorspace=channels, encoded_image_string=png.getvalue()
        )
        self._write([summary_pb2.Summary.Value(tag=tag, image=encoded)], step)

    def flush(self):
        self._writer.flush()

    def close(self):
        self._writer.close()


class EpochTensorBoard(keras.callbacks.Callback):
    """Each epoch's logs as TensorBoard scalars, epochs counted from 1 (as the console and ``epochs.csv``).

    ``val_<key>`` goes to ``<log_dir>/validation`` as ``epoch_<key>``, every
    other key to ``<log_dir>/train`` as ``epoch_<key>`` (Keras's layout).
    """

    def __init__(self, log_dir):
        super().__init__()
        self.log_dir = str(log_dir)
        self._writers = {}

    def _writer(self, split):
        if split not in self._writers:
            self._writers[split] = EventWriter(f"{self.log_dir}/{split}")
        return self._writers[split]

    def on_epoch_end(self, epoch, logs=None):
        numbers = {key: value for key, value in (logs or {}).items() if np.ndim(value) == 0}
        validation = {f"epoch_{key[4:]}": value for key, value in numbers.items() if key.startswith("val_")}
        train = {f"epoch_{key}": value for key, value in numbers.items() if not key.startswith("val_")}
        for split, values in (("train", train), ("validation", validation)):
            if values:
                self._writer(split).scalars(values, epoch + 1)
                self._writer(split).flush()

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
