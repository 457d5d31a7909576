"""Sweep reports: trial rows from a hand-made KerasTuner directory, and its Pareto front computed by hand."""

import json

import pytest

from keras_nmf.experiments.sweeps import collect_trials, completed, find_project, format_front, pareto_front

#: (trial id, status, width, nmf groups, conv groups, parameters, test accuracy)
TRIALS = [
    ("00", "COMPLETED", 1, 1, 1, 1000, 0.50),
    ("01", "COMPLETED", 1, 4, 1, 600, 0.40),
    ("02", "COMPLETED", 2, 1, 1, 4000, 0.55),
    ("03", "COMPLETED", 2, 4, 4, 2500, 0.45),  # larger than 00, less accurate: dominated
    ("04", "COMPLETED", 1, 16, 16, 600, 0.42),  # same size as 01, more accurate: replaces it
    ("05", "RUNNING", 4, 1, 1, None, None),
    ("06", "COMPLETED", 4, 1, 1, 9000, 0.55),  # no better than 02, which is smaller: dominated
]


def _write_search(root):
    """A search directory as KerasTuner writes it (its own Trial records), without training anything."""
    import keras_tuner as kt

    project = root / "cnmf_1x1"
    project.mkdir(parents=True)
    (project / "oracle.json").write_text("{}")
    for trial_id, status, width, nmf_groups, conv_groups, parameters, accuracy in TRIALS:
        folder = project / f"trial_{trial_id}"
        folder.mkdir()
        hp = kt.HyperParameters()
        hp.Choice("width", [1, 2, 4]), hp.Choice("nmf_groups", [1, 4, 16]), hp.Choice("conv_groups", [1, 4, 16])
        hp.values.update({"width": width, "nmf_groups": nmf_groups, "conv_groups": conv_groups})
        trial = kt.engine.trial.Trial(hp, trial_id=trial_id, status=status)
        if parameters:
            metrics = {
                "parameters_total": parameters,
                "parameters_nmf": parameters // 2,
                "parameters_cnn": parameters - parameters // 2,
                "cnn_nmf_ratio": 1.0,
                "test_accuracy": accuracy,
                "val_accuracy": accuracy - 0.01,
                "epochs": 1,
                "seconds": 2.0,
            }
            for name, value in metrics.items():
                trial.metrics.register(name, "max")
                trial.metrics.update(name, value)
            (folder / "record.json").write_text(json.dumps({"worker": "tuner0", "host": "h"}))
        trial.save(str(folder / "trial.json"))
    return project


def test_rows_and_the_hand_computed_front(tmp_path):
    project = _write_search(tmp_path)
    assert find_project(tmp_path) == project == find_project(project)
    rows = collect_trials(tmp_path)
    assert [row["trial_id"] for row in rows] == [t[0] for t in TRIALS]
    assert rows[5]["status"] == "RUNNING" and rows[5]["test_accuracy"] is None
    assert len(completed(rows)) == 6
    front = pareto_front(rows)
    assert [row["trial_id"] for row in front] == ["04", "00", "02"]
    table = format_front(front)
    assert table.splitlines()[2].startswith("| 600 | 1.000 | 1 | 16 | 16 | 42.0 | 41.0 |")


def test_missing_or_ambiguous_search_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="No KerasTuner search"):
        find_project(tmp_path)
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "oracle.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="several searches"):
        find_project(tmp_path)


def test_a_cnn_sweep_without_ratios_gets_its_figure(tmp_path):
    from keras_nmf.experiments.plots import plot_figure6

    rows = [
        {"parameters_total": 1000, "test_accuracy": 0.5, "cnn_nmf_ratio": None},
        {"parameters_total": 3000, "test_accuracy": 0.6, "cnn_nmf_ratio": None},
    ]
    plot_figure6(rows, pareto_front([{**row, "status": "COMPLETED"} for row in rows]), tmp_path / "figure6.png")
    assert (tmp_path / "figure6.png").stat().st_size > 0


def test_an_unreadable_trial_is_named_and_kept_as_unreadable(tmp_path, capsys):
    from keras_nmf.cli import report

    project = _write_search(tmp_path)
    truncated = project / "trial_02" / "trial.json"
    truncated.write_text(truncated.read_text()[:40])
    said = []
    rows = collect_trials(tmp_path, print_fn=said.append)
    assert [row["trial_id"] for row in rows] == ["00", "01", "02", "03", "04", "05", "06"]
    assert rows[2]["status"] == "UNREADABLE" and str(truncated) in rows[2]["reason"]
    assert rows[2] not in completed(rows)
    assert len(said) == 1 and str(truncated) in said[0] and "unreadable" in said[0]
    assert report.main([str(tmp_path)]) == 3  # named, and not a clean exit
    captured = capsys.readouterr()
    assert str(truncated) in captured.err and "1 unreadable" in captured.out
