"""Runs of one grid in one process: the process-wide settings of one never reach the next."""

import json

import keras
import pytest
from tensorflow.python.framework import config as tf_config

from keras_nmf.experiments import BASE_VARIANT, Variant, plan_grid, run_grid
from keras_nmf.training import TrainConfig
from tests.image_folders import make_image_folder


class _SettingsAtStart(keras.callbacks.Callback):
    seen = []

    def on_train_begin(self, logs=None):
        self.seen.append((keras.config.dtype_policy().name, tf_config.is_op_determinism_enabled()))


@pytest.mark.slow
def test_a_mixed_precision_deterministic_run_leaves_the_next_run_untouched(tmp_path):
    images = make_image_folder(tmp_path / "images", per_class=(4, 2))
    base = TrainConfig.of(
        data_dir=str(images), epochs=1, steps_per_epoch=1, batch_size=4, bn_recalibration_batches=1, verbose=0
    )
    first = Variant("bf16det", (("precision", "mixed_bfloat16"), ("deterministic", True)))
    runs = plan_grid(base, ["cnn"], [0], [first, BASE_VARIANT], tmp_path / "grid")
    _SettingsAtStart.seen = []
    counts = run_grid(runs, extra_callbacks=[_SettingsAtStart()], print_fn=lambda *a, **k: None)
    assert counts["trained"] == 2
    assert _SettingsAtStart.seen == [("mixed_bfloat16", True), ("float32", False)]
    results = [json.loads((run.run_dir / "results.json").read_text()) for run in runs]
    assert [r["precision"] for r in results] == ["mixed_bfloat16", "float32"]
    assert keras.config.dtype_policy().name == "float32" and not tf_config.is_op_determinism_enabled()
