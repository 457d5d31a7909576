"""Sweep results (Nouri et al., section 3.1, Figure 6): trial rows from a KerasTuner directory and the Pareto front.

A search directory is the single source of truth, read through KerasTuner's
own records: each trial's ``trial.json`` is loaded with
``keras_tuner.engine.trial.Trial.load`` (status, hyperparameters, the metrics
that :meth:`tuning.hypermodel.NMFHyperModel.fit` returned: parameter counts,
validation and test accuracy, epochs, seconds; the reason of a failure), and
``record.json`` beside it adds the worker and the host. Finished, partial and
running searches can all be read at any time.
"""

import json
import pathlib

from keras_nmf.experiments.csv_rows import write_csv
from keras_nmf.errors import MissingFileError
from keras_nmf.files import read_json

#: Metric columns, as :meth:`tuning.hypermodel.NMFHyperModel.fit` names them.
METRIC_COLUMNS = (
    "parameters_total",
    "parameters_nmf",
    "parameters_cnn",
    "cnn_nmf_ratio",
    "val_accuracy",
    "test_accuracy",
    "epochs",
    "seconds",
)
INTEGER_METRICS = ("parameters_total", "parameters_nmf", "parameters_cnn", "epochs")
CSV_COLUMNS = (
    ("trial_id", "status", "width", "nmf_groups", "conv_groups") + METRIC_COLUMNS + ("worker", "host", "reason")
)


def check_trial_files(project):
    """Refuses a search directory whose KerasTuner records cannot be read, before KerasTuner reads them.

    KerasTuner reloads ``oracle.json`` and every ``trial_*/trial.json`` of a
    project and fails with a bare ``JSONDecodeError`` on a truncated one.

    Raises:
        RunFileError: naming the file and the fix.
    """
    project = pathlib.Path(project)
    if (project / "oracle.json").exists():
        read_json(
            project / "oracle.json",
            "the search's KerasTuner oracle state",
            f"Restore it, or delete {project} to start the search again (its finished trials are lost).",
        )
    for trial_path in sorted(project.glob("trial_*/trial.json")):
        read_json(
            trial_path,
            "a KerasTuner trial record",
            f"Delete {trial_path.parent} to run that trial again; the other trials are kept.",
        )


def find_project(directory):
    """The KerasTuner project folder (the one holding ``oracle.json``) in or under ``directory``.

    Raises:
        FileNotFoundError: no project, or several (name one of them).
    """
    directory = pathlib.Path(directory)
    if (directory / "oracle.json").exists():
        return directory
    projects = sorted(path.parent for path in directory.glob("*/oracle.json"))
    if len(projects) == 1:
        return projects[0]
    if not projects:
        raise MissingFileError(f"No KerasTuner search (oracle.json) in {directory} or its subfolders.")
    raise MissingFileError(f"{directory} holds several searches; name one: {', '.join(map(str, projects))}")


def _reason(trial):
    """The last line of a failed trial's message (KerasTuner stores the traceback), e.g. the NaN stop."""
    lines = [line for line in (trial.message or "").strip().splitlines() if line.strip()]
    return lines[-1].split(": ", 1)[-1] if lines else None


#: The status of a trial row whose trial.json cannot be read.
UNREADABLE = "UNREADABLE"


def collect_trials(directory, print_fn=print) -> list:
    """One row per trial, sorted by trial id; trials without metrics (running, failed) have empty results.

    A trial whose ``trial.json`` cannot be read (truncated, corrupt) is named through ``print_fn`` and kept as a
    row of status :data:`UNREADABLE` (never completed, never plotted), its reason naming the file and the fix.
    """
    from keras_tuner.engine.trial import Trial

    rows = []
    for trial_path in sorted(find_project(directory).glob("trial_*/trial.json")):
        try:
            trial = Trial.load(str(trial_path))
            record_path = trial_path.parent / "record.json"
            record = json.loads(record_path.read_text()) if record_path.exists() else {}
        except (OSError, ValueError, KeyError, TypeError) as error:  # json.JSONDecodeError is a ValueError
            reason = (
                f"{trial_path} is unreadable ({type(error).__name__}: {error}): restore it, or delete the "
                f"trial folder to run the trial again"
            )
            print_fn(f"trial {trial_path.parent.name}: {reason}")
            rows.append(
                {
                    "trial_id": trial_path.parent.name.removeprefix("trial_"),
                    "status": UNREADABLE,
                    "width": None,
                    "nmf_groups": None,
                    "conv_groups": None,
                    **{name: None for name in METRIC_COLUMNS},
                    "worker": None,
                    "host": None,
                    "reason": reason,
                }
            )
            continue
        values = trial.hyperparameters.values
        metrics = {}
        for name in METRIC_COLUMNS:
            value = trial.metrics.get_last_value(name) if trial.metrics.exists(name) else None
            metrics[name] = int(value) if value is not None and name in INTEGER_METRICS else value
        rows.append(
            {
                "trial_id": trial.trial_id,
                "status": trial.status,
                "width": values.get("width"),
                "nmf_groups": values.get("nmf_groups"),
                "conv_groups": values.get("conv_groups"),
                **metrics,
                "worker": record.get("worker"),
                "host": record.get("host"),
                "reason": _reason(trial) if trial.status in ("FAILED", "INVALID") else None,
            }
        )
    return rows


#: Trial statuses a restarted search never runs again (KerasTuner re-queues RUNNING and retries INVALID ones).
FINAL_STATUSES = ("COMPLETED", "FAILED")


def search_finished(directory, variants, max_trials=None) -> bool:
    """Whether a search restarted on ``directory`` would have nothing left to train, read from its records alone.

    The rule of the grid oracle (:class:`tuning.hypermodel.ResumableGridOracle`
    and KerasTuner's ``max_trials``): no trial is left to run or re-run, and
    either ``max_trials`` trials exist or every variant is held by a trial.

    Args:
        directory: the search's project folder (or the folder above it).
        variants: the hyperparameter values of every variant, as the trials record them.
        max_trials: the search's trial limit, or None for the whole grid.
    """
    try:
        rows = collect_trials(directory)
    except FileNotFoundError:
        return False
    if any(row["status"] not in FINAL_STATUSES for row in rows):
        return False
    if max_trials and len(rows) >= max_trials:
        return True
    return all(any(all(row[name] == value for name, value in values.items()) for row in rows) for values in variants)


def completed(rows):
    """Rows of finished trials with a test accuracy (the ones a figure can show)."""
    return [row for row in rows if row["status"] == "COMPLETED" and row.get("test_accuracy") is not None]


def pareto_front(rows, key="test_accuracy"):
    """The trials with the best ``key`` for at most their number of parameters, by parameters.

    A trial is on the front when no trial with as many or fewer parameters is
    at least as accurate (among equal sizes, only the most accurate counts).
    """
    ordered = sorted(completed(rows), key=lambda row: (row["parameters_total"], -row[key]))
    front, best = [], float("-inf")
    for row in ordered:
        if row[key] > best:
            front.append(row)
            best = row[key]
    return front


def write_trials_csv(rows, path):
    write_csv(rows, path, CSV_COLUMNS)


def format_front(front) -> str:
    """The Pareto front as a Markdown table."""
    lines = [
        "| parameters | CNN/NMF ratio | width | NMF groups | conv groups | test accuracy % | val accuracy % |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in front:
        ratio = f"{row['cnn_nmf_ratio']:.3f}" if row.get("cnn_nmf_ratio") is not None else "–"
        val = f"{100 * row['val_accuracy']:.1f}" if row.get("val_accuracy") is not None else "–"
        lines.append(
            f"| {row['parameters_total']:,} | {ratio} | {row['width']} | {row['nmf_groups'] if row['nmf_groups'] is not None else '–'} "
            f"| {row['conv_groups']} | {100 * row['test_accuracy']:.1f} | {val} |"
        )
    return "\n".join(lines)
