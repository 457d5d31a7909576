"""What the NMF inference cost in a grid's runs: the updates the patterns used and the time per epoch.

With a ``tolerance`` each pattern stops early (``CNMF2D(tolerance=...)``); the
NMF diagnostics log the mean updates per layer each epoch
(``<layer>_iterations`` in epochs.csv, on one fixed test batch). This reads
them, with each epoch's wall time, from every finished run directory, so a
grid over ``--tolerance`` (or ``--iterations``, or divergences) answers:
what accuracy at what cost?
"""

import csv
import pathlib
import statistics

from keras_nmf.experiments.csv_rows import write_csv
from keras_nmf.files import atomic_write_text
from keras_nmf.training.run_files import read_run_results
from keras_nmf.errors import MissingFileError

CSV_COLUMNS = (
    "run",
    "variant",
    "seed",
    "iterations",
    "tolerance",
    "divergence",
    "mean_updates",
    "epoch_seconds",
    "test_accuracy",
)


def cost_rows(out) -> list:
    """One row per finished NMF run under ``out``: mean updates over its NMF layers and epoch time (last epoch)."""
    rows = []
    for results_path in sorted(pathlib.Path(out).glob("*/results.json")):
        results = read_run_results(results_path)
        config = results["config"]
        with open(results_path.parent / "epochs.csv", newline="") as handle:
            last = list(csv.DictReader(handle))[-1]
        updates = [float(value) for key, value in last.items() if key.endswith("_iterations") and value]
        if not updates:
            continue  # a CNN, or a run without NMF diagnostics
        rows.append(
            {
                "run": results_path.parent.name,
                "variant": config.get("variant", "base"),
                "seed": config["seed"],
                "iterations": config["iterations"],
                "tolerance": config.get("tolerance"),
                "divergence": config.get("divergence", "kl"),
                "mean_updates": round(statistics.mean(updates), 2),
                "epoch_seconds": round(float(last["seconds"]), 1),
                "test_accuracy": results["test_accuracy"],
            }
        )
    return rows


def write_cost_table(out, rows=None) -> list:
    """Writes ``nmf_cost.csv`` (one row per run) and ``nmf_cost.md`` (means per variant) in ``out``; returns the rows.

    ``rows``: :func:`cost_rows` of ``out`` when the caller has read them already.

    Raises:
        FileNotFoundError: no finished NMF run with diagnostics under ``out``.
    """
    out = pathlib.Path(out)
    rows = cost_rows(out) if rows is None else rows
    if not rows:
        raise MissingFileError(f"No finished NMF run with NMF diagnostics under {out}.")
    write_csv(rows, out / "nmf_cost.csv", CSV_COLUMNS)
    groups = {}
    for row in rows:
        groups.setdefault(row["variant"], []).append(row)
    lines = [
        "| variant | divergence | iterations (max) | tolerance | mean updates per pattern | epoch s | "
        "test accuracy % | runs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for variant, members in groups.items():
        first = members[0]
        accuracies = [100 * row["test_accuracy"] for row in members]
        spread = f" ± {statistics.stdev(accuracies):.1f}" if len(accuracies) > 1 else ""
        lines.append(
            f"| {variant} | {first['divergence']} | {first['iterations']} | {first['tolerance'] or '-'} | "
            f"{statistics.mean(row['mean_updates'] for row in members):.1f} | "
            f"{statistics.mean(row['epoch_seconds'] for row in members):.0f} | "
            f"{statistics.mean(accuracies):.1f}{spread} | {len(members)} |"
        )
    note = (
        "Mean updates: the last epoch's NMF diagnostics (one fixed test batch), averaged over the NMF layers. "
        "Epoch s: the last epoch's wall time (training, BatchNorm recalibration, test evaluation and "
        "diagnostics)."
    )
    atomic_write_text(out / "nmf_cost.md", "\n".join(["# NMF inference cost", "", *lines, "", note, ""]))
    return rows
