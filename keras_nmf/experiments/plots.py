"""The experiments' figures: Figure 5 (accuracy per arch over seeds), learning curves, Figure 6, the robustness
and gradient-fidelity curves.

matplotlib with the Agg backend; one function per figure, taking rows (dicts). ``draw_*`` return the figure (the
tests read its layout), ``plot_*`` write it as a PNG.
"""

from keras_nmf.errors import MissingExtraError

try:
    import matplotlib
except ModuleNotFoundError:
    raise MissingExtraError(
        "The experiment figures need matplotlib: pip install matplotlib (keras_nmf's plots extra)."
    ) from None

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter  # noqa: E402

from keras_nmf.experiments.solvers import SOLVER_NAMES  # noqa: E402
from keras_nmf.files import atomic_save  # noqa: E402

DPI = 120


def plot_figure5(summary, path):
    """Writes :func:`draw_figure5` as a PNG."""
    save_figure(draw_figure5(summary), path)


def draw_figure5(summary):
    """Test accuracy per arch: mean ± std over seeds (one marker per variant), each seed as a dot.

    The paper's number, where it has one, is a dashed line over its arch. The legend lies under the axes, where it
    covers no point and takes no width from them.

    Args:
        summary: groups from :func:`keras_nmf.experiments.summary.summarize`.
    """
    archs = list(dict.fromkeys(group["arch"] for group in summary))
    variants = list(dict.fromkeys(group["variant"] for group in summary))
    spread = 0.6 / max(len(variants), 1)
    figure, axes = plt.subplots(figsize=(3.2 + 1.2 * len(archs), 4.8), layout="constrained")
    for v_index, variant in enumerate(variants):
        offset = (v_index - (len(variants) - 1) / 2) * spread
        groups = [group for group in summary if group["variant"] == variant]
        xs = [archs.index(group["arch"]) + offset for group in groups]
        axes.errorbar(
            xs,
            [g["mean"] for g in groups],
            yerr=[g["std"] for g in groups],
            fmt="o",
            capsize=5,
            markersize=7,
            label=f"{variant} (mean ± std)" if len(variants) > 1 else "mean ± std",
        )
        for x, group in zip(xs, groups):
            axes.scatter([x] * len(group["accuracies"]), group["accuracies"], s=12, color="grey", zorder=3)
    paper_label = "paper (500 epochs)"
    for group in summary:
        if group["paper"] is not None:
            v_index = variants.index(group["variant"])
            x = archs.index(group["arch"]) + (v_index - (len(variants) - 1) / 2) * spread
            axes.hlines(
                group["paper"], x - spread / 2, x + spread / 2, colors="black", linestyles="dashed", label=paper_label
            )
            paper_label = None
    axes.set_xticks(range(len(archs)), archs)
    axes.set_xlim(-0.6, len(archs) - 0.4)
    axes.set_xlabel("architecture")
    axes.set_ylabel("CIFAR-10 test accuracy (%)")
    _percent_ticks(axes.yaxis)
    axes.set_title("Figure 5: accuracy over seeds")
    axes.grid(axis="y", alpha=0.3)
    legend_below(axes)
    return figure


def plot_learning_curves(curves, path):
    """Writes :func:`draw_learning_curves` as a PNG."""
    save_figure(draw_learning_curves(curves), path)


def draw_learning_curves(curves):
    """Test accuracy against epochs: one line per (arch, variant), the mean over seeds, the seeds' range shaded.

    Args:
        curves: rows ``{"arch", "variant", "seed", "epoch", "test_accuracy"}`` (accuracy 0-1).
    """
    figure, axes = plt.subplots(figsize=(6.4, 4.8), layout="constrained")
    for arch, variant in dict.fromkeys((row["arch"], row["variant"]) for row in curves):
        by_epoch = {}
        for row in curves:
            if (row["arch"], row["variant"]) == (arch, variant):
                by_epoch.setdefault(row["epoch"], []).append(100 * row["test_accuracy"])
        epochs = sorted(by_epoch)
        means = [sum(by_epoch[e]) / len(by_epoch[e]) for e in epochs]
        label = arch if variant == "base" else f"{arch} ({variant})"
        (line,) = axes.plot(epochs, means, marker="o", label=label)
        axes.fill_between(
            epochs,
            [min(by_epoch[e]) for e in epochs],
            [max(by_epoch[e]) for e in epochs],
            color=line.get_color(),
            alpha=0.15,
        )
    epochs = [row["epoch"] for row in curves]
    axes.set_xlim(min(epochs) - 0.5, max(epochs) + 0.5)  # whole epochs, also for a single one
    axes.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    _accuracy_by_epoch(axes, "Learning curves (mean over seeds, range shaded)")
    return figure


def _accuracy_by_epoch(axes, title):
    """Labels, ticks, grid and legend of a test-accuracy-against-epoch panel."""
    axes.set_xlabel("epoch")
    axes.set_ylabel("test accuracy (%)")
    _percent_ticks(axes.yaxis)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    legend_below(axes)


def plot_robustness(rows, path):
    """One panel per perturbation, one accuracy-vs-eta curve per model.

    Args:
        rows: dicts with ``model``, ``perturbation``, ``eta``, ``accuracy`` (0-1).
        path: the PNG to write.
    """
    perturbations = list(dict.fromkeys(row["perturbation"] for row in rows))
    models = list(dict.fromkeys(row["model"] for row in rows))
    figure, axes = plt.subplots(
        1, len(perturbations), figsize=(3.6 * len(perturbations), 3.6), sharey=True, squeeze=False
    )
    for axis, perturbation in zip(axes[0], perturbations):
        for model in models:
            curve = sorted(
                (row["eta"], 100 * row["accuracy"])
                for row in rows
                if row["model"] == model and row["perturbation"] == perturbation
            )
            axis.plot([eta for eta, _ in curve], [acc for _, acc in curve], marker=".", label=model)
        axis.set_title(perturbation)
        axis.set_xlabel("η")
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel("test accuracy (%)")
    axes[0][-1].legend(fontsize=7)
    figure.tight_layout()
    save_figure(figure, path)


def plot_figure6(rows, front, path):
    """Writes :func:`draw_figure6` as a PNG."""
    save_figure(draw_figure6(rows, front), path)


def draw_figure6(rows, front):
    """The paper's Figure 6: (a) accuracy vs total parameters coloured by the CNN/NMF ratio, front drawn;
    (b) accuracy vs the ratio coloured by total parameters, front members edged, the best trial marked.

    Sweeps without NMF parameters (the CNN archs) have no ratio: panel (a) alone.

    Args:
        rows: completed trials (``parameters_total``, ``cnn_nmf_ratio``, ``test_accuracy`` 0-1).
        front: the Pareto front (a subset of ``rows``).
    """
    from matplotlib.colors import LogNorm

    params = [row["parameters_total"] for row in rows]
    ratios = [row.get("cnn_nmf_ratio") for row in rows]
    accuracy = [100 * row["test_accuracy"] for row in rows]
    if any(ratio is None for ratio in ratios):
        figure, left = plt.subplots(figsize=(6, 4.8), layout="constrained")
        _accuracy_vs_size(left, rows, front, "accuracy vs size (no NMF layers: no CNN/NMF ratio)")
        return figure
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8), layout="constrained")
    points = _accuracy_vs_size(left, rows, front, "(a) accuracy vs size", c=ratios, cmap="viridis", norm=LogNorm())
    figure.colorbar(points, ax=left, label="CNN / NMF parameters", pad=0.02)
    on_front = {id(row) for row in front}
    edges = ["black" if id(row) in on_front else "none" for row in rows]
    points = right.scatter(
        ratios, accuracy, c=params, cmap="plasma", norm=LogNorm(), s=36, edgecolors=edges, linewidths=1.2, zorder=3
    )
    best = max(rows, key=lambda row: row["test_accuracy"])
    right.scatter(
        [best["cnn_nmf_ratio"]],
        [100 * best["test_accuracy"]],
        marker="*",
        s=260,
        facecolors="none",
        edgecolors="red",
        linewidths=1.5,
        label=f"best (ratio {best['cnn_nmf_ratio']:.2f})",
        zorder=4,
    )
    right.set_xscale("log")
    right.set_xlabel("CNN / NMF parameters")
    right.set_ylabel("test accuracy (%)")
    _percent_ticks(right.yaxis)
    right.set_title("(b) accuracy vs parameter ratio (front edged)")
    right.grid(alpha=0.3)
    right.xaxis.set_minor_formatter(NullFormatter())  # log axes: label the decades only
    legend_below(right)
    figure.colorbar(points, ax=right, label="total parameters", pad=0.02)
    return figure


def _accuracy_vs_size(axis, rows, front, title, **colours):
    """Figure 6 (a) on ``axis``: test accuracy against total parameters, the Pareto front as a step line."""
    points = axis.scatter(
        [row["parameters_total"] for row in rows],
        [100 * row["test_accuracy"] for row in rows],
        s=36,
        zorder=3,
        **colours,
    )
    axis.step(
        [row["parameters_total"] for row in front],
        [100 * row["test_accuracy"] for row in front],
        where="post",
        color="black",
        linewidth=1.2,
        label="Pareto front",
        zorder=2,
    )
    axis.set_xscale("log")
    axis.set_xlabel("total parameters")
    axis.set_ylabel("test accuracy (%)")
    _percent_ticks(axis.yaxis)
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.xaxis.set_minor_formatter(NullFormatter())
    legend_below(axis)
    return points


def _percent_ticks(axis, minimum_span=2.0):
    """An accuracy axis (percent) spanning at least ``minimum_span`` points, ticked at round values with at most one
    decimal: a single run or a flat curve would otherwise get ticks such as 71.955, 71.960, ..."""
    low, high = axis.get_view_interval()
    if high - low < minimum_span:
        middle = (low + high) / 2
        axis.axes.set_ylim(middle - minimum_span / 2, middle + minimum_span / 2)
    axis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:.1f}".removesuffix(".0")))


def legend_below(axis):
    """The legend under the axes' labels, in columns: it covers no point and takes no width from the axes."""
    handles, labels = axis.get_legend_handles_labels()
    axis.legend(
        handles,
        labels,
        fontsize=8,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.16),
        ncols=min(len(labels), 3),
        frameon=False,
    )


def save_figure(figure, path):
    """Writes ``figure`` as a PNG at ``path`` (atomically) and closes it."""
    atomic_save(path, lambda temporary: figure.savefig(temporary, dpi=DPI))
    plt.close(figure)


def _log_n_axis(axis, ylabel, title):
    axis.set_xscale("log")
    axis.set_xlabel("iterations N")
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7)


def plot_gradient_fidelity(rows, path):
    """Per model (rows of panels): kernel-gradient cosine to autodiff against N, one line per layer and mode,
    and the fixed-point residual against N (right panel).

    Args:
        rows: :func:`keras_nmf.experiments.gradient_fidelity.gradient_fidelity` rows.
        path: the PNG to write.
    """
    models = list(dict.fromkeys(row["model"] for row in rows))
    figure, axes = plt.subplots(len(models), 3, figsize=(15, 3.8 * len(models)), squeeze=False)
    for axes_row, model in zip(axes, models):
        mine = [row for row in rows if row["model"] == model]
        layers = list(dict.fromkeys(row["layer"] for row in mine))
        for axis, mode in zip(axes_row[:2], ("approx", "implicit")):
            for layer in layers:
                points = sorted(
                    (row["iterations"], row["kernel_cosine"])
                    for row in mine
                    if row["layer"] == layer and row["mode"] == mode
                )
                axis.plot(*zip(*points), marker="o", label=layer, linestyle="--" if layer == "network" else "-")
            title = "one-step (eqs. 18-19)" if mode == "approx" else "implicit (fixed point)"
            _log_n_axis(axis, "cosine to autodiff (kernel gradient)", f"{model}: {title}")
        axis = axes_row[2]
        for layer in layers:
            points = sorted(
                (row["iterations"], row["residual_median"])
                for row in mine
                if row["layer"] == layer and row["mode"] == "approx" and row.get("residual_median")
            )
            if points:
                axis.plot(*zip(*points), marker="o", label=layer)
        axis.set_yscale("log")
        _log_n_axis(axis, "median |h(N) - h(N-1)|_1", f"{model}: fixed-point residual")
    figure.tight_layout()
    save_figure(figure, path)


def plot_solvers(rows, path):
    """Writes :func:`draw_solvers` as a PNG."""
    save_figure(draw_solvers(rows), path)


def draw_solvers(rows):
    """Per NMF layer (a colour): the mean updates (left) and the time (right) to reach each tolerance, the plain
    updates solid, SQUAREM dashed, Anderson dotted.

    Args:
        rows: :func:`keras_nmf.experiments.solvers.measure_solvers` rows.
    """
    layers = list(dict.fromkeys(row["layer"] for row in rows))
    figure, axes = plt.subplots(1, 2, figsize=(10, 4.2), layout="constrained")
    for colour, layer in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"], layers):
        for solver, marker, style in (("mu", "o", "-"), ("squarem", "s", "--"), ("anderson", "^", ":")):
            mine = sorted(
                (row for row in rows if row["layer"] == layer and row["solver"] == solver),
                key=lambda row: -row["tolerance"],
            )
            if not mine:
                continue
            label = f"{layer}, {SOLVER_NAMES[solver]}"
            tolerances = [row["tolerance"] for row in mine]
            for axis, values in (
                (axes[0], [row["mean_updates"] for row in mine]),
                (axes[1], [row["seconds"] * 1000 for row in mine]),
            ):
                axis.plot(tolerances, values, marker=marker, linestyle=style, color=colour, label=label)
    for axis, ylabel in zip(axes, ("mean updates per pattern", "time of the factorisation (ms)")):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.invert_xaxis()
        axis.set_xlabel("tolerance (L1 change of h)")
        axis.set_ylabel(ylabel)
        axis.grid(alpha=0.3)
    legend_below(axes[0])
    return figure


def plot_budget_curve(rows, paper, path, direct=()):
    """Writes :func:`draw_budget_curve` as a PNG."""
    save_figure(draw_budget_curve(rows, paper, direct), path)


def draw_budget_curve(rows, paper, direct=()):
    """Test accuracy against the training budget, one line per network (its decay branches), the paper's numbers as
    dashed lines of the network's colour, and direct runs of a budget (``direct``) as open circles.

    Args:
        rows: ``{"network", "budget_epochs", "test_accuracy"}`` (accuracy in %), one per branch (seeds averaged).
        paper: ``{network: accuracy %}``.
        direct: ``{"network", "budget_epochs", "test_accuracy"}`` rows of runs trained for their budget directly.
    """
    figure, axes = plt.subplots(figsize=(6.4, 4.8), layout="constrained")
    budgets = sorted({row["budget_epochs"] for row in rows} | {row["budget_epochs"] for row in direct})
    for network in dict.fromkeys(row["network"] for row in rows):
        by_budget = {}
        for row in rows:
            if row["network"] == network:
                by_budget.setdefault(row["budget_epochs"], []).append(row["test_accuracy"])
        xs = sorted(by_budget)
        (line,) = axes.plot(xs, [sum(by_budget[x]) / len(by_budget[x]) for x in xs], marker="o", label=network)
        if network in paper:
            axes.axhline(paper[network], color=line.get_color(), linestyle="--", linewidth=1)
        points = [row for row in direct if row["network"] == network]
        if points:
            axes.scatter(
                [row["budget_epochs"] for row in points],
                [row["test_accuracy"] for row in points],
                facecolors="none",
                edgecolors=line.get_color(),
                s=60,
                zorder=3,
            )
    axes.set_xscale("log", base=2)
    axes.set_xticks(budgets, [str(budget) for budget in budgets])
    axes.xaxis.set_minor_formatter(NullFormatter())
    axes.set_xlabel("training budget (epochs, warm-stable-decay)")
    axes.set_ylabel("CIFAR-10 test accuracy (%)")
    _percent_ticks(axes.yaxis)
    axes.set_title("Accuracy against budget: one stable trunk per network, a decay branch per budget")
    axes.title.set_fontsize(9)
    axes.grid(alpha=0.3)
    # One entry per network (its colour), and one per mark whatever the network: a legend of a few short lines.
    axes.plot([], [], color="grey", linestyle="--", linewidth=1, label="the paper's number")
    if direct:
        axes.scatter([], [], facecolors="none", edgecolors="grey", s=60, label="trained for the budget directly")
    legend_below(axes)
    return figure


def plot_branch_curves(curves, path):
    """Writes :func:`draw_branch_curves` as a PNG."""
    save_figure(draw_branch_curves(curves), path)


def draw_branch_curves(curves):
    """Test accuracy against epochs: each network's trunk as a line, each decay branch as a line of the same colour
    from its branch point on.

    Args:
        curves: ``{"network", "run", "kind" ("trunk" or "branch"), "epoch", "test_accuracy"}`` rows (accuracy 0-1),
            a branch's rows from its branch epoch on.
    """
    figure, axes = plt.subplots(figsize=(7.2, 4.8), layout="constrained")
    colours, labelled = {}, set()
    # Trunks first: each network's colour is its trunk's.
    runs = sorted(
        dict.fromkeys((row["network"], row["run"], row["kind"]) for row in curves), key=lambda key: key[2] != "trunk"
    )
    for network, run, kind in runs:
        points = sorted((row["epoch"], 100 * row["test_accuracy"]) for row in curves if row["run"] == run)
        label = f"{network} {'trunk' if kind == 'trunk' else 'decay branches'}"
        (line,) = axes.plot(
            [x for x, _ in points],
            [y for _, y in points],
            color=colours.get(network),
            linewidth=1.0 if kind == "branch" else 1.8,
            marker="." if kind == "branch" else None,
            label=None if label in labelled else label,
        )
        labelled.add(label)
        colours.setdefault(network, line.get_color())
    _accuracy_by_epoch(axes, "Learning curves: the trunks at the peak rate, and each branch's decay")
    return figure
