"""The few files a size-limited machine sends back (keras_nmf/experiments/records.py)."""

import tarfile

from keras_nmf.experiments.records import ARCHIVE, write_grid_records


def test_before_any_run_finished_only_the_archive_of_the_epochs_so_far_is_written(tmp_path):
    grid, out = tmp_path / "grid", tmp_path / "out"
    run = grid / "cnmf_1x1-seed0"
    (run / "train").mkdir(parents=True)
    (run / "config.json").write_text("{}")
    (run / "epochs.csv").write_text("epoch,test_accuracy\n1,0.3\n")
    (run / "model.keras").write_bytes(b"a model is not a record")
    (run / "train" / "events.out.tfevents.1").write_bytes(b"")
    assert write_grid_records(grid, out) == {"finished": 0, "runs": 1}
    assert sorted(path.name for path in out.iterdir()) == [ARCHIVE]
    with tarfile.open(out / ARCHIVE) as archive:
        assert sorted(archive.getnames()) == ["cnmf_1x1-seed0/config.json", "cnmf_1x1-seed0/epochs.csv"]
        assert archive.extractfile("cnmf_1x1-seed0/epochs.csv").read() == b"epoch,test_accuracy\n1,0.3\n"


def test_finished_runs_are_exported_as_plain_files_and_seed_0_presets(tmp_path):
    """What the repository keeps of a CPU grid: each finished run's records, the report, and the seed-0 networks as
    trained presets, which predict as the run's model does; an interrupted run stays out."""
    import json

    import keras
    import numpy as np

    from keras_nmf.experiments.records import export_finished_runs
    from keras_nmf.models import ImageClassifier
    from keras_nmf.models.calibration import with_temperature
    from keras_nmf.training import TrainConfig, train
    from tests.image_folders import make_image_folder

    images = make_image_folder(tmp_path / "images", per_class=(2, 1))
    grid = tmp_path / "grid"
    for seed in (0, 1):
        train(
            TrainConfig.of(
                arch="cnn",
                seed=seed,
                data_dir=str(images),
                epochs=1,
                steps_per_epoch=1,
                batch_size=2,
                bn_recalibration_batches=1,
                verbose=0,
                logdir=str(grid / f"cnn-seed{seed}"),
            )
        )
    interrupted = grid / "cnmf-seed0"
    interrupted.mkdir()
    (interrupted / "config.json").write_text(json.dumps(TrainConfig.of(arch="cnmf").to_dict()))
    out, presets = tmp_path / "docs", tmp_path / "presets"
    assert export_finished_runs(grid, out, presets, preset_name="{arch}_cifar10") == ["cnn-seed0", "cnn-seed1"]
    assert sorted(path.name for path in (out / "run_records").iterdir()) == ["cnn-seed0", "cnn-seed1"]
    assert sorted(path.name for path in (out / "run_records" / "cnn-seed0").iterdir()) == [
        "config.json",
        "epochs.csv",
        "results.json",
    ]
    assert (out / "summary.csv").exists() and (out / "figure5.png").exists()
    # No machine path in what a repository keeps: the data relative to the working folder, the run by its name;
    # loading the record resolves the data where the grid is resumed from.
    for name in ("config.json", "results.json"):
        assert f'"{tmp_path}' not in (out / "run_records" / "cnn-seed0" / name).read_text(), name  # no value of it
    record = TrainConfig.load(out / "run_records" / "cnn-seed0" / "config.json")
    assert (record.data.data_dir, record.execution.logdir) == (str(images), "cnn-seed0")
    assert [path.name for path in presets.iterdir()] == ["cnn_cifar10"]
    trained = keras.models.load_model(grid / "cnn-seed0" / "model.keras", compile=False)
    raw = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3)).astype("uint8")
    preset = ImageClassifier.from_preset(presets / "cnn_cifar10")  # the run's network, with its fitted temperature
    expected = trained.predict(raw, verbose=0)
    if preset.temperature is not None:
        expected = with_temperature(expected, preset.temperature)
    np.testing.assert_allclose(preset.predict(raw, verbose=0), expected, atol=1e-6)
    # The preset already holds the run: not written again; a run restored from its records (no model.keras) keeps
    # the preset written when it finished.
    written = (presets / "cnn_cifar10" / "model.weights.h5").stat().st_mtime_ns
    export_finished_runs(grid, out, presets, preset_name="{arch}_cifar10")
    assert (presets / "cnn_cifar10" / "model.weights.h5").stat().st_mtime_ns == written
    (grid / "cnn-seed0" / "model.keras").unlink()
    assert export_finished_runs(grid, out, tmp_path / "again", preset_name="{arch}_cifar10") == [
        "cnn-seed0",
        "cnn-seed1",
    ]
    assert not (tmp_path / "again").exists()
