"""The report of a budget curve (:mod:`keras_nmf.experiments.budget`): summary.csv, summary.md and the figures.

Rebuilt from the run directories alone (each finished branch's results.json and epochs.csv, each trunk's
epochs.csv), so that any invocation, or a machine with only the committed records, writes the same report.
"""

import csv
import pathlib

from keras_nmf.experiments.csv_rows import write_csv
from keras_nmf.experiments.summary import published_accuracies
from keras_nmf.errors import RunFileError
from keras_nmf.files import atomic_write_text
from keras_nmf.training.run_files import read_run_results

CSV_COLUMNS = (
    "network",
    "seed",
    "budget_epochs",
    "branch_epoch",
    "test_accuracy",
    "minutes",
    "decay_minutes",
    "direct_accuracy",
    "branch_minus_direct",
    "run",
)


def read_history(run_dir):
    """A run's epochs.csv as rows of numbers (empty cells as ``None``); ``[]`` when it has none yet."""
    path = pathlib.Path(run_dir) / "epochs.csv"
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        return [
            {key: (float(value) if value not in ("", None) else None) for key, value in row.items()}
            for row in csv.DictReader(handle)
        ]


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
        rows.append(
            {
                "network": run.arch,
                "seed": run.seed,
                "budget_epochs": run.budget,
                "branch_epoch": run.branch_epoch,
                "test_accuracy": round(100 * results["test_accuracy"], 2),
                "minutes": round(sum(seconds) / 60, 1),
                "decay_minutes": round(sum(seconds[run.branch_epoch :]) / 60, 1),
                "run": run.name,
            }
        )
    return rows


def trunk_progress(runs):
    """Each trunk's epochs trained so far and its latest test accuracy (%)."""
    progress = []
    for run in runs:
        if not run.is_trunk:
            continue
        history = read_history(run.run_dir)
        tested = [row for row in history if row.get("test_accuracy") is not None]
        progress.append(
            {
                "network": run.arch,
                "seed": run.seed,
                "epochs": len(history),
                "of": run.config.budget.epochs,
                "test_accuracy": round(100 * tested[-1]["test_accuracy"], 2) if tested else None,
                "minutes": round(sum(row.get("seconds") or 0.0 for row in history) / 60, 1),
            }
        )
    return progress


def direct_rows(summary_csv):
    """The runs of a grid's summary.csv (:mod:`keras_nmf.experiments.summary`) as ``{"network", "seed",
    "budget_epochs", "test_accuracy" (%)}``: runs trained for their budget directly, to set beside the branches."""
    with open(summary_csv, newline="") as handle:
        return [
            {
                "network": row["arch"],
                "seed": int(row["seed"]),
                "budget_epochs": int(row["epochs"]),
                "test_accuracy": round(100 * float(row["test_accuracy"]), 2),
            }
            for row in csv.DictReader(handle)
            if row.get("variant", "base") == "base"
        ]


def with_direct(rows, direct):
    """``rows`` with ``direct_accuracy`` and ``branch_minus_direct`` (points) where a direct run of the same network,
    seed and budget exists."""
    found = {(row["network"], row["seed"], row["budget_epochs"]): row["test_accuracy"] for row in direct}
    joined = []
    for row in rows:
        accuracy = found.get((row["network"], row["seed"], row["budget_epochs"]))
        joined.append(
            {
                **row,
                "direct_accuracy": accuracy,
                "branch_minus_direct": None if accuracy is None else round(row["test_accuracy"] - accuracy, 2),
            }
        )
    return joined


def ordering_verdicts(rows):
    """At each budget that two or more networks reached: the networks from best to worst (seeds averaged) against
    the paper's ordering of the same networks, as Markdown lines."""
    paper = published_accuracies()
    paper_order = sorted(paper, key=paper.get, reverse=True)
    lines = []
    for budget in sorted({row["budget_epochs"] for row in rows}):
        accuracy = {}
        for row in rows:
            if row["budget_epochs"] == budget:
                accuracy.setdefault(row["network"], []).append(row["test_accuracy"])
        if len(accuracy) < 2:
            continue
        mean = {network: sum(values) / len(values) for network, values in accuracy.items()}
        ours = sorted(mean, key=mean.get, reverse=True)
        papers = [network for network in paper_order if network in mean]
        ranking = " > ".join(f"`{network}` {mean[network]:.2f}" for network in ours)
        verdict = (
            "the paper's ordering"
            if ours == papers
            else ("not the paper's ordering (" + " > ".join(f"`{network}`" for network in papers) + ")")
        )
        lines.append(f"- {budget} epochs: {ranking} %: {verdict}.")
    return lines


def summary_markdown(rows, progress):
    """summary.md: the branches' accuracy by budget beside the paper's number (and a direct run of the budget where
    one exists), the ordering at each budget, and the trunks' progress."""
    lines = [
        "| network | seed | budget (epochs) | branch epoch | test accuracy % | direct run % | paper % | minutes | "
        "decay minutes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    paper = published_accuracies()
    for row in sorted(rows, key=lambda r: (r["network"], r["seed"], r["budget_epochs"])):
        direct = (
            ""
            if row.get("direct_accuracy") is None
            else (f"{row['direct_accuracy']:.2f} ({row['branch_minus_direct']:+.2f})")
        )
        lines.append(
            f"| `{row['network']}` | {row['seed']} | {row['budget_epochs']} | {row['branch_epoch']} | "
            f"{row['test_accuracy']:.2f} | {direct} | {paper.get(row['network'], '')} | "
            f"{row['minutes']} | {row['decay_minutes']} |"
        )
    verdicts = ordering_verdicts(rows)
    if verdicts:
        lines += [
            "",
            "The ordering at each budget (the paper's: "
            + " > ".join(f"`{network}`" for network in sorted(paper, key=paper.get, reverse=True))
            + "):",
            "",
            *verdicts,
        ]
    lines += [
        "",
        "Trunks (stable phase, at the peak rate):",
        "",
        "| network | seed | epochs trained | of | latest test accuracy % | minutes |",
        "|---|---|---|---|---|---|",
    ]
    for item in progress:
        accuracy = "" if item["test_accuracy"] is None else f"{item['test_accuracy']:.2f}"
        lines.append(
            f"| `{item['network']}` | {item['seed']} | {item['epochs']} | {item['of']} | {accuracy} | "
            f"{item['minutes']} |"
        )
    return "\n".join(lines) + "\n"


def learning_curves(runs):
    """The test accuracy of every logged epoch: each trunk's, and each branch's from its branch point on (its
    earlier epochs are the trunk's), as :func:`keras_nmf.experiments.plots.draw_branch_curves` rows."""
    curves = []
    for run in runs:
        first = 0 if run.is_trunk else run.branch_epoch
        for row in read_history(run.run_dir):
            if row["epoch"] >= first and row.get("test_accuracy") is not None:
                curves.append(
                    {
                        "network": run.arch,
                        "run": run.name,
                        "kind": "trunk" if run.is_trunk else "branch",
                        "epoch": int(row["epoch"]),
                        "test_accuracy": row["test_accuracy"],
                    }
                )
    return curves


def write_budget_report(runs, out, direct_summary=None):
    """Writes summary.csv, summary.md, budget.png and learning_curves.png into ``out``; returns the Markdown.

    Args:
        direct_summary: a grid's summary.csv whose runs trained a budget directly (the same recipe), to set beside
            the branches of the same network, seed and budget.
    """
    from keras_nmf.experiments.plots import plot_branch_curves, plot_budget_curve

    out = pathlib.Path(out)
    try:
        direct = direct_rows(direct_summary) if direct_summary else []
        rows, progress = with_direct(branch_rows(runs), direct), trunk_progress(runs)
    except (RunFileError, OSError, KeyError, ValueError) as error:
        raise RunFileError(f"The budget report cannot be written: {error}") from None
    write_csv(rows, out / "summary.csv", CSV_COLUMNS)
    text = summary_markdown(rows, progress)
    atomic_write_text(out / "summary.md", text)
    networks = {run.arch for run in runs}
    if rows:
        plot_budget_curve(
            rows,
            {network: accuracy for network, accuracy in published_accuracies().items() if network in networks},
            out / "budget.png",
            [row for row in direct if row["network"] in networks],
        )
    curves = learning_curves(runs)
    if curves:
        plot_branch_curves(curves, out / "learning_curves.png")
    return text
