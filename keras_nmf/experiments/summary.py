"""Summaries of a grid directory: summary.csv, summary.md, figure5.png and learning_curves.png.

Everything is rebuilt from the finished run directories (their results.json)
under the grid's directory, so several invocations (one per GPU or host,
sharing the directory) fill one report, and the report can be rebuilt at any
time; nothing here is a second ledger.
"""

import csv
import datetime
import pathlib
import statistics

from keras_nmf import schedules
from keras_nmf.experiments.csv_rows import write_csv
from keras_nmf.experiments.nmf_cost import cost_rows, write_cost_table
from keras_nmf.architectures import ARCHITECTURES, NETWORKS
from keras_nmf.nmf_arguments import NMFOptions, with_current_option_names
from keras_nmf.files import atomic_write_text
from keras_nmf.training.run_files import read_run_results
from keras_nmf.errors import MissingFileError


def published_accuracies():
    """``{network: the paper's CIFAR-10 test accuracy %}`` of the networks it has one for
    (:attr:`keras_nmf.architectures.NetworkSpec.published_accuracy`)."""
    return {name: spec.published_accuracy for name, spec in NETWORKS.items() if spec.published_accuracy is not None}


CSV_COLUMNS = (
    "run",
    "arch",
    "variant",
    "seed",
    "parameters_total",
    "parameters_nmf",
    "parameters_cnn",
    "test_accuracy",
    "epochs",
    "train_images",
    "test_images",
    "train_seconds",
    "precision",
    "backward",
    "learning",
    "schedule",
)
_CSV_NUMBERS = {
    "seed": int,
    "parameters_total": int,
    "parameters_nmf": int,
    "parameters_cnn": int,
    "test_accuracy": float,
    "epochs": int,
    "train_images": int,
    "test_images": int,
    "train_seconds": float,
}


def paper_accuracy(arch, config):
    """The paper's number for a run of this arch and configuration, or None.

    The base networks (one-step backward, backprop NMF weights) have the
    published numbers; CNMF with local NMF learning (any block) has section
    4.2's 32 %, shown beside every local-learning variant. The paper gives no
    number for the autodiff or implicit backward ("comparable accuracy", Figure 1), nor for any other NMF option
    away from the paper's (:class:`keras_nmf.NMFOptions`'s defaults: the package's own options).
    """
    config = with_current_option_names(config)
    paper = NMFOptions().to_config()
    if any(config.get(name, value) != value for name, value in paper.items() if name not in ("learning", "backward")):
        return None
    if "local" in str(config.get("learning", "backprop")).split(","):
        return getattr(NETWORKS.get(arch), "published_local_learning_accuracy", None)
    if config.get("backward", "approx") == "approx":
        return getattr(NETWORKS.get(arch), "published_accuracy", None)
    return None


def schedule_text(config):
    """A run's learning-rate schedule in a few words: the paper's plateau, or the fixed-budget one and its settings."""
    schedule = config.get("schedule", "plateau")
    if schedule == "plateau":
        return "plateau (the paper's)"
    return schedules.describe(schedule, config["peak_lr_factor"], config["warmup_fraction"], config["decay_fraction"])


def collect_rows(out) -> list:
    """One row per finished run directory under ``out`` (its results.json), sorted."""
    rows = []
    for results_path in sorted(pathlib.Path(out).glob("*/results.json")):
        results = read_run_results(results_path)
        config, parameters = results["config"], results["parameters"]
        rows.append(
            {
                "run": results_path.parent.name,
                "arch": results["arch"],
                "variant": config.get("variant", "base"),
                "seed": config["seed"],
                "parameters_total": parameters["trainable"],
                "parameters_nmf": parameters["nmf"],
                "parameters_cnn": parameters["cnn"],
                "test_accuracy": results["test_accuracy"],
                "epochs": results["epochs_run"],
                "train_images": results["data"]["train_size"],
                "train_seconds": round(results["train_seconds"], 1),
                "precision": results["precision"],
                "backward": config["backward"],
                "learning": config["learning"],
                "schedule": schedule_text(config),
                "test_images": results["data"]["test_size"],
                "paper_accuracy": paper_accuracy(results["arch"], config),
            }
        )
    arch_order = {arch: index for index, arch in enumerate(ARCHITECTURES)}
    rows.sort(
        key=lambda row: (
            row["variant"] != "base",
            row["variant"],
            arch_order.get(row["arch"], 99),
            row["arch"],
            row["seed"],
        )
    )
    return rows


def rows_from_csv(path, test_images=None) -> list:
    """The rows of a ``summary.csv`` written earlier (for a report whose run directories are gone).

    ``test_images`` fills that column for files written before it existed.
    The published numbers are looked up anew (:func:`paper_accuracy`).
    """
    with open(path, newline="") as handle:
        rows = [with_current_option_names(row) for row in csv.DictReader(handle)]
    for row in rows:
        if not row.get("test_images"):
            row["test_images"] = test_images
        for key, kind in _CSV_NUMBERS.items():
            row[key] = kind(row[key]) if row.get(key) not in (None, "") else None
        row["paper_accuracy"] = paper_accuracy(row["arch"], row)
    return rows


def collect_curves(out, rows) -> list:
    """Test accuracy per epoch of each finished run (its epochs.csv), where it was evaluated.

    Returns ``{"arch", "variant", "seed", "epoch", "test_accuracy"}`` rows (epochs from 1).
    """
    curves = []
    for row in rows:
        with open(pathlib.Path(out) / row["run"] / "epochs.csv", newline="") as handle:
            for epoch in csv.DictReader(handle):
                if epoch.get("test_accuracy"):
                    curves.append(
                        {
                            "arch": row["arch"],
                            "variant": row["variant"],
                            "seed": row["seed"],
                            "epoch": int(epoch["epoch"]),
                            "test_accuracy": float(epoch["test_accuracy"]),
                        }
                    )
    return curves


def summarize(rows) -> list:
    """Mean and standard deviation of the test accuracy per (arch, variant), in row order.

    The standard deviation is the sample one (n - 1), 0 for a single run.
    """
    groups = {}
    for row in rows:
        groups.setdefault((row["arch"], row["variant"]), []).append(row)
    summary = []
    for (arch, variant), members in groups.items():
        accuracies = [100 * row["test_accuracy"] for row in members]
        budgets = sorted({(row["epochs"], row["train_images"], row["test_images"]) for row in members})
        summary.append(
            {
                "arch": arch,
                "variant": variant,
                "runs": len(members),
                "seeds": [row["seed"] for row in members],
                "mean": statistics.mean(accuracies),
                "std": statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0,
                "accuracies": accuracies,
                "paper": members[0]["paper_accuracy"],
                "parameters": (
                    members[0]["parameters_total"],
                    members[0]["parameters_nmf"],
                    members[0]["parameters_cnn"],
                ),
                "budgets": budgets,
                "minutes": statistics.mean(row["train_seconds"] for row in members) / 60,
                "setting": f"backward {members[0]['backward']}, NMF learning {members[0]['learning']}, "
                f"{members[0]['schedule']}",
            }
        )
    return summary


def _budget_text(budgets):
    return "; ".join(f"{epochs} epochs x {train:,} train, {test:,} test images" for epochs, train, test in budgets)


def mean_and_spread(group):
    """``mean ± std`` over seeds; one seed has no spread to show."""
    return f"{group['mean']:.1f}" if group["runs"] == 1 else f"{group['mean']:.1f} ± {group['std']:.1f}"


def write_markdown(summary, path, out):
    runs = sum(group["runs"] for group in summary)
    lines = [
        "# Figure 5: test accuracy over seeds",
        "",
        f"Rebuilt from {runs} finished run director{'y' if runs == 1 else 'ies'} of the grid "
        f"`{pathlib.Path(out).name}` on {datetime.date.today().isoformat()} (`keras-nmf-compare`). "
        "Mean ± sample standard deviation over seeds (a single seed's number stands alone); the paper's numbers are "
        "CIFAR-10 test accuracy after up to 500 epochs on the full training set (5 seeds), so they are a reference, "
        "not the expectation at a short budget.",
        "",
        "| arch | variant | setting | runs (seeds) | test accuracy % | paper % | parameters (NMF / CNN) "
        "| budget | minutes per run |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for group in summary:
        total, nmf, cnn = group["parameters"]
        paper = f"{group['paper']:.1f}" if group["paper"] is not None else "–"
        seeds = ", ".join(map(str, group["seeds"]))
        lines.append(
            f"| {group['arch']} | {group['variant']} | {group['setting']} | {group['runs']} ({seeds}) "
            f"| {mean_and_spread(group)} | {paper} | {total:,} ({nmf:,} / {cnn:,}) "
            f"| {_budget_text(group['budgets'])} | {group['minutes']:.1f} |"
        )
    atomic_write_text(path, "\n".join(lines) + "\n")


def write_summary(out) -> list:
    """Writes ``summary.csv``, ``summary.md``, ``figure5.png`` and ``learning_curves.png`` in ``out``.

    Where NMF runs logged their diagnostics, also ``nmf_cost.csv`` and ``nmf_cost.md``
    (:mod:`keras_nmf.experiments.nmf_cost`: updates used and epoch time per variant).

    Returns the summary groups.

    Raises:
        FileNotFoundError: no finished run under ``out``.
    """
    from keras_nmf.experiments.plots import plot_figure5, plot_learning_curves  # matplotlib only when writing

    out = pathlib.Path(out)
    rows = collect_rows(out)
    if not rows:
        raise MissingFileError(f"No finished run (<run>/results.json) under {out}: nothing to summarise.")
    summary = summarize(rows)
    write_csv(rows, out / "summary.csv", CSV_COLUMNS)
    write_markdown(summary, out / "summary.md", out)
    plot_figure5(summary, out / "figure5.png")
    plot_learning_curves(collect_curves(out, rows), out / "learning_curves.png")
    costs = cost_rows(out)
    if costs:
        write_cost_table(out, costs)
    return summary
