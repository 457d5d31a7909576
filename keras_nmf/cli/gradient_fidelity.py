"""How good is the one-step gradient? One-step and implicit gradients against autodiff through N iterations.

Examples:
    keras-nmf-gradient-fidelity untrained:cnmf_1x1 runs/fig5/cnmf_1x1-seed0/model.keras \\
        --data-dir ../shared/data/cifar10-jpeg --out docs/gradients
    keras-nmf-gradient-fidelity untrained:cnmf --iterations 5 20 --batch-size 8 --out R --data-dir DIR

Models: .keras files of this package, or untrained:<arch> (build_model with --seed). On one batch of
real test images (--batch-size, seeded), per NMF layer and N: cosine and relative error of the one-step
(eqs. 18-19) and implicit gradients, w.r.t. the layer's input and its kernel, against autodiff through
the N iterations; the fixed-point residual |h(N) - h(N-1)|_1; and for the whole network the weight
gradient's cosine. Writes OUT/gradient_fidelity.csv row by row, then OUT/gradient_fidelity.png and
OUT/gradient_fidelity.md (the table at N = 20).
"""

import argparse
import sys

from keras_nmf.commands import load_for_command, report_error
from keras_nmf.errors import KerasNMFError

from keras_nmf.experiments.cli import FIDELITY_ITERATIONS, add_model_output_arguments, positive_int
from keras_nmf.files import atomic_write_text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_output_arguments(parser, ".keras files, or untrained:<arch>")
    parser.add_argument("--batch-size", type=positive_int, default=16, help="test images in the batch (default 16)")
    parser.add_argument("--iterations", type=positive_int, nargs="+", default=list(FIDELITY_ITERATIONS))
    parser.add_argument("--seed", type=int, default=0, help="seed of the batch and of untrained models")
    parser.add_argument("--implicit-dtype", choices=("float32", "float64"), default="float32")
    args = parser.parse_args(argv)  # no Keras yet: --help and usage errors return at once
    load_for_command()
    from keras_nmf.experiments.csv_rows import CsvRowWriter
    from keras_nmf.experiments.fidelity_inputs import fidelity_batch, load_fidelity_model
    from keras_nmf.experiments.gradient_fidelity import CSV_COLUMNS, fidelity_table, gradient_fidelity
    from keras_nmf.experiments.outputs import prepare_output_dir
    from keras_nmf.experiments.plots import plot_gradient_fidelity

    try:
        out = prepare_output_dir(args.out)
        models = [load_fidelity_model(spec, args.seed) for spec in args.models]
        images, labels = fidelity_batch(
            models[0][1], args.dataset, args.data_dir, args.tfds_dir, args.batch_size, args.seed
        )
    except KerasNMFError as error:
        return report_error(error)
    rows = []
    with CsvRowWriter(out / "gradient_fidelity.csv", CSV_COLUMNS) as csv_file:
        for label, model in models:
            print(f"{label}: {len(labels)} test images, N in {args.iterations}", flush=True)
            rows += gradient_fidelity(
                model,
                images,
                labels,
                args.iterations,
                label=label,
                implicit_dtype=args.implicit_dtype,
                on_row=csv_file.write,
            )
    plot_gradient_fidelity(rows, out / "gradient_fidelity.png")
    n = 20 if 20 in args.iterations else args.iterations[0]
    atomic_write_text(out / "gradient_fidelity.md", f"# Gradient fidelity at N = {n}\n\n{fidelity_table(rows, n)}\n")
    print(fidelity_table(rows, n))
    print(f"Wrote {out / 'gradient_fidelity.csv'}, {out / 'gradient_fidelity.png'}, {out / 'gradient_fidelity.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
