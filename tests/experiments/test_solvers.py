"""The solver measurement: rows per layer, solver and tolerance, its table and its figure."""

import numpy as np

from keras_nmf.experiments.plots import draw_solvers
from keras_nmf.experiments.solvers import CSV_COLUMNS, markdown_table, measure_solvers
from keras_nmf.models import ImageClassifier, PaperNetwork


def test_every_solver_is_measured_on_the_layers_inputs():
    classifier = ImageClassifier(PaperNetwork("cnmf"))
    images = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    rows = measure_solvers(
        classifier,
        images,
        ["block2_cnmf"],
        tolerances=(1e-2, 1e-3),
        repeats=1,
        print_fn=lambda *_: None,
        reference_tolerance=1e-5,
    )
    assert [(row["solver"], row["tolerance"]) for row in rows] == [
        (solver, tolerance) for tolerance in (1e-2, 1e-3) for solver in ("mu", "squarem", "anderson")
    ]
    assert all(set(row) == set(CSV_COLUMNS) for row in rows) and rows[0]["patterns"] == 2 * 8 * 8
    plain, squarem, anderson = rows[3:]
    assert squarem["mean_updates"] < plain["mean_updates"] and squarem["max_updates"] % 3 == 0
    assert anderson["mean_updates"] < plain["mean_updates"]
    assert max(row["max_distance_to_fixed_point"] for row in rows[3:]) < 0.1
    assert "| block2_cnmf | 128 | 1e-03 | Anderson |" in markdown_table(rows)
    figure = draw_solvers(rows)
    assert [axis.get_yscale() for axis in figure.axes] == ["log", "log"]
