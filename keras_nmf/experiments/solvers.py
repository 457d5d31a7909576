"""How many updates each solver needs to reach a tolerance, on the patches a trained network's NMF layers see.

For every chosen NMF layer of a trained network (a preset, e.g. ``cnmf_cifar10``), the layer's input on a batch of
test images is factorised with ``tolerance`` 1e-3 ... 1e-6 by the plain multiplicative updates (``solver="mu"``),
by SQUAREM (:mod:`keras_nmf.ops.squarem`) and by Anderson acceleration (:mod:`keras_nmf.ops.anderson`), each
pattern stopping at its tolerance. Recorded per run: the
updates the patterns used (mean, median, max), the compiled factorisation's time (median of repeats, after a
warm-up call), and the largest distance of h to the fixed point (a SQUAREM solve at a tolerance of 1e-8).

    python -m keras_nmf.experiments.solvers --data-dir ../shared/data/cifar10-jpeg --out docs/experiments/solvers
"""

import argparse
import pathlib
import statistics
import time

import numpy as np

from keras_nmf.nmf_arguments import SOLVERS

TOLERANCES = (1e-3, 1e-4, 1e-5, 1e-6)
#: How the table and the figure name each solver.
SOLVER_NAMES = {"mu": "plain updates", "squarem": "SQUAREM", "anderson": "Anderson"}
#: The fixed point's tolerance, and the most updates a pattern may use.
REFERENCE_TOLERANCE, MAX_UPDATES = 1e-8, 10_000
CSV_COLUMNS = (
    "layer",
    "patterns",
    "solver",
    "tolerance",
    "mean_updates",
    "median_updates",
    "max_updates",
    "seconds",
    "max_distance_to_fixed_point",
)


def measure_solvers(
    classifier,
    images,
    layer_names,
    tolerances=TOLERANCES,
    repeats=3,
    print_fn=print,
    reference_tolerance=REFERENCE_TOLERANCE,
    solvers=SOLVERS,
):
    """Rows of :data:`CSV_COLUMNS` for every layer, solver and tolerance (see the module docstring).

    Args:
        classifier: an :class:`~keras_nmf.models.ImageClassifier`; ``images``: raw uint8 images it takes.
        layer_names: its NMF layers to measure, e.g. ``("block1_cnmf", "block2_cnmf")``.
        reference_tolerance: the tolerance of the SQUAREM solve that stands for the fixed point.
    """
    import keras

    from keras_nmf import backend

    network = classifier.network
    crops = classifier.crops(images)
    rows = []
    for name in layer_names:
        layer = network.get_layer(name)
        layer_input = keras.Model(network.inputs, layer.input)(crops)

        def factorize(options):
            twin = layer.variant(layer_input.shape, **options, iterations=MAX_UPDATES, check_inputs=False)
            run = backend.compile_function(lambda x: _solved(twin.factorize(x)))
            run(layer_input)  # compile
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                result = run(layer_input)
                backend.block_until_ready(result)
                times.append(time.perf_counter() - start)
            h, used = (keras.ops.convert_to_numpy(value) for value in result)
            return h, used, statistics.median(times)

        fixed_point, _, _ = factorize({"tolerance": reference_tolerance, "solver": "squarem"})
        for tolerance in tolerances:
            for solver in solvers:
                h, used, seconds = factorize({"tolerance": tolerance, "solver": solver})
                rows.append(
                    {
                        "layer": name,
                        "patterns": int(used.size),
                        "solver": solver,
                        "tolerance": tolerance,
                        "mean_updates": float(np.mean(used)),
                        "median_updates": float(np.median(used)),
                        "max_updates": int(np.max(used)),
                        "seconds": seconds,
                        "max_distance_to_fixed_point": float(np.abs(h - fixed_point).max()),
                    }
                )
                print_fn(
                    f"{name} {solver:>8} tol {tolerance:.0e}: {rows[-1]['mean_updates']:8.1f} updates (mean), "
                    f"{seconds * 1000:8.1f} ms, |h - h*| <= {rows[-1]['max_distance_to_fixed_point']:.1e}"
                )
    return rows


def _solved(factorization):
    return factorization.h, factorization.iterations_used


def markdown_table(rows):
    """The rows as a Markdown table, each accelerated solver beside the plain updates (``mu``) with the ratios."""
    lines = [
        "| layer | patterns | tolerance | solver | updates (mean / max) | fewer updates | time | speed-up | "
        "max \\|h − h*\\| |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    plain = {(row["layer"], row["tolerance"]): row for row in rows if row["solver"] == "mu"}
    for row in rows:
        mu = plain[(row["layer"], row["tolerance"])]
        lines.append(
            f"| {row['layer']} | {row['patterns']:,} | {row['tolerance']:.0e} | {SOLVER_NAMES[row['solver']]} | "
            f"{row['mean_updates']:.1f} / {row['max_updates']} | {mu['mean_updates'] / row['mean_updates']:.1f}× | "
            f"{row['seconds'] * 1000:.0f} ms | {mu['seconds'] / row['seconds']:.1f}× | "
            f"{row['max_distance_to_fixed_point']:.1e} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cnmf_cifar10", help="a trained preset (or preset directory)")
    parser.add_argument("--layers", nargs="+", default=["block1_cnmf", "block2_cnmf"])
    parser.add_argument("--data-dir", required=True, help="image folder with test/<class>/ (CIFAR-10)")
    parser.add_argument("--images", type=int, default=8, help="test images (seeded subset)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", required=True, help="folder for solvers.csv, solvers.md and solvers.png")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    if out.exists() and not out.is_dir():
        parser.error(f"--out {out} is a file: give a folder.")

    import keras_nmf

    keras_nmf.load()
    from keras_nmf.data import load_arrays
    from keras_nmf.experiments.csv_rows import write_csv
    from keras_nmf.experiments.plots import plot_solvers
    from keras_nmf.models import ImageClassifier
    from keras_nmf.files import atomic_write_text

    classifier = ImageClassifier.from_preset(args.preset)
    _, (images, _), _ = load_arrays(
        data_dir=args.data_dir, verbose=False, limit_train=1, limit_test=args.images, seed=0
    )
    rows = measure_solvers(classifier, images, args.layers, repeats=args.repeats)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(rows, out / "solvers.csv", CSV_COLUMNS)
    atomic_write_text(out / "solvers.md", markdown_table(rows))
    plot_solvers(rows, out / "solvers.png")
    print(f"wrote {out / 'solvers.csv'}, solvers.md and solvers.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
