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
