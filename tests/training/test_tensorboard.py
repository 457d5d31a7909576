"""TensorBoard event files written without TensorFlow, read back with TensorBoard's own reader."""

import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from keras_nmf.training.tensorboard import EpochTensorBoard, EventWriter


def _read(folder):
    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0})
    accumulator.Reload()
    return accumulator


def test_epoch_logs_land_in_kerass_layout_counted_from_one(tmp_path):
    board = EpochTensorBoard(tmp_path)
    for epoch in range(3):
        board.on_epoch_end(epoch, {"loss": 1.0 / (epoch + 1), "val_loss": 2.0, "test_accuracy": 0.1 * epoch})
    board.on_train_end()
    train = _read(tmp_path / "train")
    assert sorted(train.Tags()["scalars"]) == ["epoch_loss", "epoch_test_accuracy"]
    assert [(e.step, round(e.value, 6)) for e in train.Scalars("epoch_loss")] == [(1, 1.0), (2, 0.5), (3, 0.333333)]
    assert [e.step for e in _read(tmp_path / "validation").Scalars("epoch_loss")] == [1, 2, 3]


def test_images_are_readable_pngs(tmp_path):
    writer = EventWriter(tmp_path)
    writer.image("basis", np.linspace(0, 1, 4 * 6 * 3).reshape(4, 6, 3), step=2)
    writer.close()
    (image,) = _read(tmp_path).Images("basis")
    assert (image.step, image.width, image.height) == (2, 6, 4) and image.encoded_image_string[:4] == b"\x89PNG"
