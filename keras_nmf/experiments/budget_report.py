"""The report of a budget curve (:mod:`keras_nmf.experiments.budget`): summary.csv, summary.md and the figures.

Rebuilt from the run directories alone (each finished branch's results.json and epochs.csv, each trunk's
epochs.csv), so that any invocation, or a machine with only the committed records, writes the same report.
"""

import csv
import pathlib

from keras_nmf.experiments.csv_rows import write_csv
from keras_nmf.experiments.summary import PAPER_ACCURACY
from keras_nmf.training.run_files import RunFileError, atomic_write_text, read_run_results

CSV_COLUMNS = ("network", "seed", "budget_epochs", "branch_epoch", "test_accuracy", "minutes", "decay_minutes",
               "run")


def read_history(run_dir):
    """A run's epochs.csv as rows of numbers (empty cells as ``None``); ``[]`` when it has none yet."""
    path = pathlib.Path(run_dir) / "epochs.csv"
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        return [{key: (float(value) if value not in ("", None) else None) for key, value in row.items()}
                for row in csv.DictReader(handle)]


def branch_rows(runs):
    """One row per finished branch: its budget, its branch epoch, its test accuracy (%) and its minutes.

    ``minutes`` is the training time of every epoch of the budget (the trunk's epochs up to the branch point and
    the branch's own); ``decay_minutes`` the branch's own epochs alone (what one more budget costs).
    """
    rows = []
    for run in runs:
        if run.is_trunk or not (run.run_dir / "results.json").exists():
            continue
        results = read_run_results(run.run_dir / "results.json")
        history = read_history(run.run_dir)
        seconds = [row.get("seconds") or 0.0 for row in history]
        rows.append({"network": run.arch, "seed": run.seed, "budget_epochs": run.budget,
                     "branch_epoch": run.branch_epoch, "test_accuracy": round(100 * results["test_accuracy"], 2),
                     "minutes": round(sum(seconds) / 60, 1),
                     "decay_minutes": round(sum(seconds[run.branch_epoch:]) / 60, 1), "run": run.name})
    return rows


def trunk_progress(runs):
    """Each trunk's epochs trained so far and its latest test accuracy (%)."""
    progress = []
    for run in runs:
        if not run.is_trunk:
            continue
        history = read_history(run.run_dir)
        tested = [row for row in history if row.get("test_accuracy") is not None]
        progress.append({"network": run.arch, "seed": run.seed, "epochs": len(history),
                         "of": run.config.budget.epochs,
                         "test_accuracy": round(100 * tested[-1]["test_accuracy"], 2) if tested else None,
                         "minutes": round(sum(row.get("seconds") or 0.0 for row in history) / 60, 1)})
    return progress


def summary_markdown(rows, progress):
    """summary.md: the branches' accuracy by budget beside the paper's number, and the trunks' progress."""
    lines = ["| network | seed | budget (epochs) | branch epoch | test accuracy % | paper % | minutes | decay minutes |",
             "|---|---|---|---|---|---|---|---|"]
    for row in sorted(rows, key=lambda r: (r["network"], r["seed"], r["budget_epochs"])):
        lines.append(f"| `{row['network']}` | {row['seed']} | {row['budget_epochs']} | {row['branch_epoch']} | "
                     f"{row['test_accuracy']:.2f} | {PAPER_ACCURACY.get(row['network'], '')} | {row['minutes']} | "
                     f"{row['decay_minutes']} |")
    lines += ["", "Trunks (stable phase, at the peak rate):", "",
              "| network | seed | epochs trained | of | latest test accuracy % | minutes |", "|---|---|---|---|---|---|"]
    for item in progress:
        accuracy = "" if item["test_accuracy"] is None else f"{item['test_accuracy']:.2f}"
        lines.append(f"| `{item['network']}` | {item['seed']} | {item['epochs']} | {item['of']} | {accuracy} | "
                     f"{item['minutes']} |")
    return "\n".join(lines) + "\n"


def write_budget_report(runs, out):
    """Writes summary.csv and summary.md (and the figures, where matplotlib is installed) into ``out``; returns the
    Markdown."""
    out = pathlib.Path(out)
    try:
        rows, progress = branch_rows(runs), trunk_progress(runs)
    except RunFileError as error:
        raise RunFileError(f"The budget report cannot be written: {error}") from None
    write_csv(rows, out / "summary.csv", CSV_COLUMNS)
    text = summary_markdown(rows, progress)
    atomic_write_text(out / "summary.md", text)
    return text
