"""A grid's report and run records in a few files: what a machine that returns few files can send back.

The lent GPU host returns at most 8 files from its output folder
(scripts/gpu_figure5.sh). :func:`write_grid_records` puts there the grid's
report (summary.csv, summary.md, figure5.png, learning_curves.png, rebuilt from
every finished run) and one archive, ``runs.tar.gz``, of every run's small
records: config.json, results.json where it finished and epochs.csv as far as
it got, never models or TensorBoard logs. Called again while the grid trains, it
replaces them, each file atomically, so a cut-off leaves the last complete set.
"""

import argparse
import io
import json
import os
import pathlib
import shutil
import sys
import tarfile

from keras_nmf.experiments.summary import write_summary
from keras_nmf.training.settings import DataSettings
from keras_nmf.files import atomic_save, atomic_write_json

#: The report files of :func:`keras_nmf.experiments.summary.write_summary` that are copied (nmf_cost.* go in the archive).
REPORT_FILES = ("summary.csv", "summary.md", "figure5.png", "learning_curves.png")
#: Each run's files that go into the archive.
RUN_RECORDS = ("config.json", "results.json", "epochs.csv")
ARCHIVE = "runs.tar.gz"
#: Where :func:`export_finished_runs` puts each finished run's records.
RECORDS_FOLDER = "run_records"


def _archive_bytes(grid):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(grid.glob("*/*")):
            if path.name in RUN_RECORDS and path.is_file():
                archive.add(path, arcname=f"{path.parent.name}/{path.name}")
        for path in sorted(grid.glob("nmf_cost.*")):
            archive.add(path, arcname=path.name)
    return buffer.getvalue()


def _copy_report(grid, destination):
    """Rebuilds ``grid``'s report from its finished runs and copies :data:`REPORT_FILES` to ``destination``."""
    write_summary(grid)
    for name in REPORT_FILES:
        atomic_save(destination / name, lambda temporary, name=name: shutil.copyfile(grid / name, temporary))


def write_grid_records(grid, destination) -> dict:
    """Rebuilds ``grid``'s report and writes it with ``runs.tar.gz`` into ``destination``.

    Returns ``{"finished": runs with results.json, "runs": run folders with a config.json}``. With no finished
    run yet the report is left out and the archive still written (the epochs so far).
    """
    grid, destination = pathlib.Path(grid), pathlib.Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    finished = len(list(grid.glob("*/results.json")))
    if finished:
        _copy_report(grid, destination)
    data = _archive_bytes(grid)
    atomic_save(destination / ARCHIVE, lambda temporary: pathlib.Path(temporary).write_bytes(data))
    return {"finished": finished, "runs": len(list(grid.glob("*/config.json")))}


def export_finished_runs(grid, destination, presets=None, preset_seeds=(0,), preset_name="{run}") -> list:
    """Copies every finished run's records out of ``grid``, as plain files that a repository can hold.

    ``destination`` gets the grid's report (:data:`REPORT_FILES`) and ``run_records/<run>/`` (not ``runs/``, which
    .gitignore keeps out of the repository for run directories) with each finished run's
    :data:`RUN_RECORDS`. ``presets`` (if given) gets, for the runs of ``preset_seeds``, the trained preset
    ``preset_name`` (formatted with ``run`` and ``arch``;
    :func:`keras_nmf.experiments.presets.write_trained_preset`, measured on the run's own ``--data-dir``), unless
    that preset already holds the run; a run without its model.keras (restored from its records) keeps the preset
    written when it finished. Interrupted runs are left out: their folder in ``grid`` resumes them. Each file is
    written atomically, so a copy cut off leaves the last complete version of each.

    Returns the names of the finished runs.
    """
    grid, destination = pathlib.Path(grid), pathlib.Path(destination)
    finished = sorted(path.parent for path in grid.glob("*/results.json"))
    if not finished:
        return []
    destination.mkdir(parents=True, exist_ok=True)
    _copy_report(grid, destination)
    for run in finished:
        records = destination / RECORDS_FOLDER / run.name
        records.mkdir(parents=True, exist_ok=True)
        saved = json.loads((run / "config.json").read_text())
        config = without_machine_paths(saved, run.name)
        results = portable_results(json.loads((run / "results.json").read_text()), run.name)
        atomic_write_json(records / "config.json", config)
        atomic_write_json(records / "results.json", results)
        atomic_save(
            records / "epochs.csv", lambda temporary, source=run / "epochs.csv": shutil.copyfile(source, temporary)
        )
        # A run restored from its committed records has no model.keras: its preset was written when it finished.
        if presets is not None and config["seed"] in preset_seeds and (run / "model.keras").exists():
            preset = pathlib.Path(presets) / preset_name.format(run=run.name, arch=config["arch"])
            if not _preset_holds(preset, results):
                from keras_nmf.experiments.presets import write_trained_preset

                write_trained_preset(run, preset, saved["data_dir"])
    return [run.name for run in finished]


def _preset_holds(preset, results):
    """Whether the preset directory was written from the run whose results these are."""
    metadata = preset / "metadata.json"
    if not metadata.is_file():
        return False
    written = json.loads(metadata.read_text())
    return (written.get("run_test_accuracy"), written.get("epochs"), written.get("git_commit")) == (
        results["test_accuracy"],
        results["epochs_run"],
        results.get("git_commit"),
    )


def portable_results(results, run_name):
    """A run's results.json as a repository holds it: its configuration :func:`without_machine_paths`, and an image
    folder's source as the configuration's relative data path."""
    config = without_machine_paths(results["config"], run_name)
    results = {**results, "config": config}
    if not results["data"]["source"].startswith("tfds:"):
        results["data"] = {**results["data"], "source": config["data_dir"]}
    return results


def without_machine_paths(config, run_name):
    """A run's saved configuration as a repository holds it: data paths relative to the working folder (the
    repository, where the grid is resumed from: ``TrainConfig.load`` resolves them there) and the run directory by
    its name (a grid plans each run's directory itself), and a decay branch's trunk by its run name (beside it)."""
    paths = {name: os.path.relpath(config[name]) for name in DataSettings.PATH_FIELDS if config.get(name)}
    trunk = {"branch_from": pathlib.Path(config["branch_from"]).name} if config.get("branch_from") else {}
    return {**config, **paths, **trunk, "logdir": run_name}


def main(argv=None):
    """``python -m keras_nmf.experiments.records GRID DESTINATION`` (scripts/gpu_figure5.sh): the report and
    runs.tar.gz; with ``--plain``: :func:`export_finished_runs` (``--presets DIR`` for the seed-0 networks)."""
    parser = argparse.ArgumentParser(prog="python -m keras_nmf.experiments.records", description=main.__doc__)
    parser.add_argument("grid")
    parser.add_argument("destination")
    parser.add_argument("--plain", action="store_true", help="finished runs only, as plain files under run_records/")
    parser.add_argument("--presets", metavar="DIR", help="with --plain: the seed-0 networks' trained presets go here")
    parser.add_argument(
        "--preset-name",
        default="{run}",
        help="each preset's folder under DIR, from {run} and {arch} (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.presets and not args.plain:
        parser.error("--presets goes with --plain")
    if args.plain:
        names = export_finished_runs(args.grid, args.destination, args.presets, preset_name=args.preset_name)
        print(f"records: {len(names)} finished runs copied to {args.destination}: {', '.join(names) or 'none'}")
        return 0
    counts = write_grid_records(args.grid, args.destination)
    print(f"records: {counts['finished']} of {counts['runs']} runs finished, written to {args.destination}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
