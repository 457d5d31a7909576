"""SweepTuner in one process: a NaN trial ends FAILED, a restarted search retrains and rewrites nothing."""

import numpy as np
import pytest
import tensorflow as tf

from keras_nmf.experiments.sweeps import collect_trials, completed, search_finished
from keras_nmf.training import TrainConfig
from keras_nmf.cli import report
from keras_nmf.tuning.hypermodel import NMFHyperModel, SweepTuner

SHAPE = (24, 24, 3)


def _batches(poison=False, count=8):
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (count,) + SHAPE).astype("float32")
    if poison:
        images[:] = np.nan
    labels = np.arange(count) % 3
    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(4)


def _hypermodel(conv_groups=(1, 2)):
    recipe = TrainConfig.of(arch="cnn", epochs=1, bn_recalibration_batches=1, jit=False, val_split=0.1, verbose=0)
    return NMFHyperModel(recipe, SHAPE, 3, widths=[1], conv_groups=conv_groups, test_data=_batches())


def _search(directory, poison=False):
    hypermodel = _hypermodel()
    tuner = SweepTuner(hypermodel, seed=0, directory=str(directory), project_name="cnn", overwrite=False)
    tuner.search(_batches(poison), validation_data=_batches(), epochs=1, recalibration_data=_batches(), verbose=0)
    return tuner


@pytest.mark.slow
def test_a_restarted_finished_search_trains_nothing_and_leaves_records_identical(tmp_path):
    _search(tmp_path)
    files = sorted((tmp_path / "cnn").glob("trial_*/*.json"))
    before = {path: path.read_bytes() for path in files}
    rows = collect_trials(tmp_path)
    assert len(rows) == 2 and {row["status"] for row in rows} == {"COMPLETED"}
    assert all(0.0 <= row["test_accuracy"] <= 1.0 and row["parameters_total"] > 0 for row in rows)

    tuner = _search(tmp_path)  # restarted on the same directory
    assert len(tuner.oracle.trials) == 2
    assert sorted((tmp_path / "cnn").glob("trial_*/*.json")) == files
    assert {path: path.read_bytes() for path in files} == before

    # What search.py reads before contacting any chief: finished for this grid, not for a wider one.
    project = tmp_path / "cnn"
    assert search_finished(project, _hypermodel().variant_values())
    assert not search_finished(project, _hypermodel(conv_groups=(1, 2, 4)).variant_values())
    assert search_finished(project, _hypermodel(conv_groups=(1, 2, 4)).variant_values(), max_trials=2)
    assert not search_finished(tmp_path / "other", _hypermodel().variant_values())
    running = files[0].parent / "trial.json"
    running.write_text(running.read_text().replace('"COMPLETED"', '"RUNNING"'))
    assert not search_finished(project, _hypermodel().variant_values())  # a restarted chief re-queues it


@pytest.mark.slow
def test_a_nan_trial_ends_failed_with_its_reason_and_is_not_plotted(tmp_path, capsys):
    _search(tmp_path, poison=True)
    rows = collect_trials(tmp_path)
    assert {row["status"] for row in rows} == {"FAILED"}
    assert all("Non-finite training loss" in row["reason"] for row in rows)
    assert completed(rows) == []
    assert report.main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "failed" in out and "not plotted" in out and not (tmp_path / "figure6.png").exists()
