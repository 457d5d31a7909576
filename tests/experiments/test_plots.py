"""The figures stay readable from one run of one epoch to many: labelled axes, round ticks, no point under a legend."""

import re

import numpy as np
import pytest

from keras_nmf.experiments.sweeps import pareto_front
from keras_nmf.experiments.plots import draw_figure5, draw_figure6, draw_learning_curves

ARCHS = ("cnn", "cnmf", "cnn_1x1", "cnmf_1x1")


def _summary(archs, seeds, variants=("base",)):
    rng = np.random.default_rng(0)
    groups = []
    for variant in variants:
        for arch in archs:
            accuracies = list(70 + rng.normal(size=seeds))
            groups.append(
                {
                    "arch": arch,
                    "variant": variant,
                    "mean": float(np.mean(accuracies)),
                    "std": float(np.std(accuracies)),
                    "accuracies": accuracies,
                    "paper": 81.0,
                }
            )
    return groups


def _curves(archs, seeds, epochs):
    return [
        {"arch": arch, "variant": "base", "seed": seed, "epoch": epoch, "test_accuracy": 0.5 + 0.01 * epoch}
        for arch in archs
        for seed in range(seeds)
        for epoch in range(1, epochs + 1)
    ]


def _trials(count, ratios=True):
    rng = np.random.default_rng(1)
    return [
        {
            "parameters_total": int(rng.integers(10_000, 1_000_000)),
            "test_accuracy": float(rng.uniform(0.5, 0.8)),
            "cnn_nmf_ratio": float(rng.uniform(0.01, 10)) if ratios else None,
            "status": "COMPLETED",
        }
        for _ in range(count)
    ]


def _points(axis):
    """Every plotted point of ``axis`` in display coordinates."""
    points = [collection.get_offsets() for collection in axis.collections if len(collection.get_offsets())]
    points += [line.get_xydata() for line in axis.lines if len(line.get_xydata())]
    return axis.transData.transform(np.concatenate(points)) if points else np.empty((0, 2))


def _check_readable(figure):
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    page = figure.bbox
    for axis in figure.axes:
        if hasattr(axis, "_colorbar"):
            assert axis.get_ylabel(), "a colour bar without its label"
            continue
        assert axis.get_xlabel() and axis.get_ylabel(), f"{axis.get_title()}: an axis without its label"
        for label in axis.get_yticklabels():
            assert re.fullmatch(r"−?\d+(\.\d)?", label.get_text()), f"y tick {label.get_text()!r}"
        legend = axis.get_legend()
        if legend is not None:
            box = legend.get_window_extent(renderer)
            assert page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0, "the legend leaves the canvas"
            assert not any(box.contains(x, y) for x, y in _points(axis)), "a point lies under the legend"


@pytest.mark.parametrize(
    "archs, seeds, variants",
    [(ARCHS[:1], 1, ("base",)), (ARCHS, 2, ("base",)), (ARCHS, 5, ("base", "width2", "groups4"))],
)
def test_figure5_is_readable_at_any_number_of_runs(archs, seeds, variants):
    figure = draw_figure5(_summary(archs, seeds, variants))
    _check_readable(figure)
    axis = figure.axes[0]
    assert axis.get_legend().get_window_extent().y1 < axis.get_window_extent().y0  # under the axes, not beside
    assert axis.get_window_extent().width > 0.6 * figure.bbox.width


@pytest.mark.parametrize("archs, seeds, epochs", [(ARCHS[:1], 1, 1), (ARCHS, 2, 20), (ARCHS, 2, 500)])
def test_learning_curves_are_readable_at_any_number_of_epochs(archs, seeds, epochs):
    figure = draw_learning_curves(_curves(archs, seeds, epochs))
    _check_readable(figure)
    ticks = [label.get_text() for label in figure.axes[0].get_xticklabels() if label.get_text()]
    assert ticks and all(re.fullmatch(r"\d+", tick) for tick in ticks), ticks  # whole epochs only


@pytest.mark.parametrize("count", [1, 3, 60])
@pytest.mark.parametrize("ratios", [True, False])
def test_figure6_is_readable_at_any_number_of_trials(count, ratios):
    rows = _trials(count, ratios)
    figure = draw_figure6(rows, pareto_front(rows))
    _check_readable(figure)
    assert len([axis for axis in figure.axes if not hasattr(axis, "_colorbar")]) == (2 if ratios else 1)


def test_the_budget_curve_has_a_line_per_network_the_papers_numbers_and_the_direct_runs():
    from keras_nmf.experiments.plots import draw_budget_curve

    networks = {"cnmf_1x1": 83.7, "cnn_1x1": 82.8, "cnmf": 81.5, "cnn": 81.0}
    rows = [
        {"network": network, "budget_epochs": budget, "test_accuracy": 70.0 + budget / 10}
        for network in networks
        for budget in (20, 40, 80)
    ]
    direct = [
        {"network": network, "budget_epochs": 20, "test_accuracy": 79.2 - seed}
        for network in networks
        for seed in (0, 1)
    ]
    figure = draw_budget_curve(rows, networks, direct)
    _check_readable(figure)  # four networks' legend stays on the canvas
    axes = figure.axes[0]
    labels = [text.get_text() for text in axes.get_legend().get_texts()]
    assert labels == [*networks, "the paper's number", "trained for the budget directly"]
    assert len([line for line in axes.get_lines() if line.get_linestyle() == "--"]) == 4 + 1  # + its legend entry
    assert [tick.get_text() for tick in axes.get_xticklabels()] == ["20", "40", "80"]
    assert axes.get_ylim()[1] >= 83.7  # the paper's lines are in view
    without_direct = draw_budget_curve(rows[:3], {"cnmf_1x1": 83.7})
    assert [text.get_text() for text in without_direct.axes[0].get_legend().get_texts()] == [
        "cnmf_1x1",
        "the paper's number",
    ]


def test_branch_curves_share_their_trunks_colour_and_one_legend_entry():
    from keras_nmf.experiments.plots import draw_branch_curves

    curves = [
        {"network": "cnn", "run": run, "kind": kind, "epoch": epoch, "test_accuracy": 0.5}
        for run, kind, epochs in (
            ("e20", "branch", (16, 18, 20)),
            ("trunk", "trunk", range(1, 30)),
            ("e40", "branch", (32, 36, 40)),
        )
        for epoch in epochs
    ]
    axes = draw_branch_curves(curves).axes[0]
    assert [text.get_text() for text in axes.get_legend().get_texts()] == ["cnn trunk", "cnn decay branches"]
    assert len({line.get_color() for line in axes.get_lines()}) == 1
