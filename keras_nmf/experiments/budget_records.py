"""A budget campaign's records in the repository, and the campaign back from them on a new machine.

A campaign takes days of CPU over many sittings, and a sitting's machine may be replaced. :func:`export_budget`
copies out of the campaign folder what a repository can hold (small files and a few MB of states):

* the report (:mod:`keras_nmf.experiments.budget_report`);
* ``run_records/<run>/``: every run's ``config.json`` and ``epochs.csv``; a finished run's ``results.json``;
* an unfinished run's **resume point**: its backup's committed state and that state's weights
  (``backup/state.json``, ``backup/epoch-NNNNN.weights.h5``): the run goes on from that epoch;
* a trunk's **branch points**: its kept states (``kept/``), from which its branches, a longer budget later or a GPU
  run continue the trunk instead of training it again.

:func:`restore_budget` puts the records back into an empty campaign folder, where the same campaign command then
resumes every unfinished run from its resume point and starts the branches from the branch points.
Paths are stored relative to the campaign folder (run names) and the repository (data), never a machine's own.
"""

import argparse
import json
import pathlib
import shutil
import sys

from keras_nmf.experiments.records import RECORDS_FOLDER, portable_results, without_machine_paths
from keras_nmf.training.backup import PREVIOUS_STATE_FILE, STATE_FILE
from keras_nmf.training.branches import KEPT
from keras_nmf.files import atomic_save, atomic_write_json, read_json

#: The report files copied beside the records.
REPORT_FILES = ("summary.csv", "summary.md", "budget.png", "learning_curves.png")


def _copy(source, target):
    atomic_save(target, lambda temporary: shutil.copyfile(source, temporary))


def _portable_state(state, run_name):
    """A backup or kept state as a repository holds it: the recipe it records (``config``) without machine paths,
    as the run's config.json (:func:`keras_nmf.experiments.records.without_machine_paths`)."""
    if "config" not in state:
        return state
    return {**state, "config": without_machine_paths(state["config"], run_name)}


def export_budget(out, destination) -> dict:
    """Copies the campaign in ``out`` as records into ``destination`` (each file atomically); returns what it
    copied: ``{"finished": [...], "resume_points": {run: epoch}, "branch_points": {run: [epochs]}}``."""
    out, destination = pathlib.Path(out), pathlib.Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    for name in REPORT_FILES:
        if (out / name).exists():
            _copy(out / name, destination / name)
    copied = {"finished": [], "resume_points": {}, "branch_points": {}}
    for run in sorted(path.parent for path in out.glob("*/config.json")):
        records = destination / RECORDS_FOLDER / run.name
        records.mkdir(parents=True, exist_ok=True)
        saved = json.loads((run / "config.json").read_text())
        atomic_write_json(records / "config.json", without_machine_paths(saved, run.name))
        if (run / "epochs.csv").exists():
            _copy(run / "epochs.csv", records / "epochs.csv")
        finished = (run / "results.json").exists()
        state = (
            None
            if finished or not (run / "backup" / STATE_FILE).exists()
            else read_json(run / "backup" / STATE_FILE, "the run's backup state", "")
        )
        if state is None or state["epoch"] == saved.get("branch_epoch"):
            # Finished, or a branch still at its seed (its trunk's kept state, which a restored branch seeds from
            # again): no resume point of its own, and one exported earlier is stale.
            shutil.rmtree(records / "backup", ignore_errors=True)
            state = None
        if finished:
            results = portable_results(json.loads((run / "results.json").read_text()), run.name)
            atomic_write_json(records / "results.json", results)
            copied["finished"].append(run.name)
        elif state is not None:
            (records / "backup").mkdir(exist_ok=True)
            _copy(run / "backup" / state["weights"], records / "backup" / state["weights"])
            atomic_write_json(records / "backup" / STATE_FILE, _portable_state(state, run.name))  # the commit
            for old in (records / "backup").glob("epoch-*.weights.h5"):
                if old.name != state["weights"]:
                    old.unlink()
            copied["resume_points"][run.name] = state["epoch"]
        kept = sorted((run / KEPT).glob("epoch-*.json")) if (run / KEPT).is_dir() else []
        for state_path in kept:
            weights = state_path.with_name(state_path.name.replace(".json", ".weights.h5"))
            (records / KEPT).mkdir(exist_ok=True)
            if not (records / KEPT / weights.name).exists():  # a kept state never changes
                _copy(weights, records / KEPT / weights.name)
            atomic_write_json(
                records / KEPT / state_path.name, _portable_state(read_json(state_path, "a kept state", ""), run.name)
            )
        if kept:
            copied["branch_points"][run.name] = [int(path.stem.split("-")[1]) for path in kept]
    return copied


def restore_budget(destination, out) -> list:
    """Puts the records in ``destination`` back into the campaign folder ``out``, for each run that ``out`` does not
    hold yet (a run there is never overwritten: it may be ahead); returns the names of the runs restored."""
    destination, out = pathlib.Path(destination), pathlib.Path(out).resolve()
    restored = []
    for records in sorted(path.parent for path in (destination / RECORDS_FOLDER).glob("*/config.json")):
        run = out / records.name
        if (run / "config.json").exists():
            continue
        run.mkdir(parents=True, exist_ok=True)
        for source in sorted(records.rglob("*")):
            target = run / source.relative_to(records)
            if source.is_dir():
                target.mkdir(exist_ok=True)
            elif source.name != "config.json":
                _copy(source, target)
        config = json.loads((records / "config.json").read_text())
        config["logdir"] = str(run)
        if config.get("branch_from"):
            config["branch_from"] = str(out / config["branch_from"])
        (run / "backup" / PREVIOUS_STATE_FILE).unlink(missing_ok=True)
        atomic_write_json(run / "config.json", config)  # last: a cut-off restore is restored again
        restored.append(run.name)
    return restored


def main(argv=None):
    """``python -m keras_nmf.experiments.budget_records export OUT DESTINATION`` or ``restore DESTINATION OUT``."""
    parser = argparse.ArgumentParser(prog="python -m keras_nmf.experiments.budget_records", description=main.__doc__)
    parser.add_argument("action", choices=("export", "restore"))
    parser.add_argument("source")
    parser.add_argument("target")
    args = parser.parse_args(argv)
    if args.action == "export":
        copied = export_budget(args.source, args.target)
        print(
            f"records: {len(copied['finished'])} finished runs ({', '.join(copied['finished']) or 'none'}); "
            f"resume points {copied['resume_points']}; branch points {copied['branch_points']}; in {args.target}"
        )
    else:
        restored = restore_budget(args.source, args.target)
        print(f"restored into {args.target}: {', '.join(restored) or 'nothing (every run is there already)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
