"""A grid's report and run records in a few files: what a machine that returns few files can send back.

The lent GPU host returns at most 8 files from its output folder
(scripts/gpu_figure5.sh). :func:`write_grid_records` puts there the grid's
report (summary.csv, summary.md, figure5.png, learning_curves.png, rebuilt from
every finished run) and one archive, ``runs.tar.gz``, of every run's small
records: config.json, results.json where it finished and epochs.csv as far as
it got, never models or TensorBoard logs. Called again while the grid trains, it
replaces them, each file atomically, so a cut-off leaves the last complete set.
"""

import io
import pathlib
import shutil
import sys
import tarfile

from keras_nmf.experiments.summary import write_summary
from keras_nmf.training.run_files import atomic_save

#: The report files of :func:`keras_nmf.experiments.summary.write_summary` that are copied (nmf_cost.* go in the archive).
REPORT_FILES = ("summary.csv", "summary.md", "figure5.png", "learning_curves.png")
#: Each run's files that go into the archive.
RUN_RECORDS = ("config.json", "results.json", "epochs.csv")
ARCHIVE = "runs.tar.gz"


def _archive_bytes(grid):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(grid.glob("*/*")):
            if path.name in RUN_RECORDS and path.is_file():
                archive.add(path, arcname=f"{path.parent.name}/{path.name}")
        for path in sorted(grid.glob("nmf_cost.*")):
            archive.add(path, arcname=path.name)
    return buffer.getvalue()


def write_grid_records(grid, destination) -> dict:
    """Rebuilds ``grid``'s report and writes it with ``runs.tar.gz`` into ``destination``.

    Returns ``{"finished": runs with results.json, "runs": run folders with a config.json}``. With no finished
    run yet the report is left out and the archive still written (the epochs so far).
    """
    grid, destination = pathlib.Path(grid), pathlib.Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    finished = len(list(grid.glob("*/results.json")))
    if finished:
        write_summary(grid)
        for name in REPORT_FILES:
            atomic_save(destination / name, lambda temporary, name=name: shutil.copyfile(grid / name, temporary))
    data = _archive_bytes(grid)
    atomic_save(destination / ARCHIVE, lambda temporary: pathlib.Path(temporary).write_bytes(data))
    return {"finished": finished, "runs": len(list(grid.glob("*/config.json")))}


if __name__ == "__main__":  # python -m keras_nmf.experiments.records GRID DESTINATION (scripts/gpu_figure5.sh)
    counts = write_grid_records(sys.argv[1], sys.argv[2])
    print(f"records: {counts['finished']} of {counts['runs']} runs finished, written to {sys.argv[2]}", flush=True)
