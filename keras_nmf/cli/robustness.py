"""Noise robustness of saved models: the authors' four perturbations at eta = 0 ... 1.

Examples:
    keras-nmf-robustness runs/fig5/cnn-seed0/model.keras runs/fig5/cnmf_1x1-seed0/model.keras \\
        --out runs/robustness --data-dir ../shared/data/cifar10-jpeg --limit-test 1000
    keras-nmf-robustness model.keras --out R --perturbations holes uniform --steps 11

Perturbations (the authors' four by default): uniform (mixed with L1-normalised
uniform noise, (1-eta) x^ + eta n^), picture (mixed the same way with a training
image), holes (each pixel entry set to 0 with probability eta), holes_noise
(those entries replaced by uniform noise L1-normalised over the image, as the
authors draw it); holes_noise_unit (the holes get Uniform(0, 1) noise) on
request. --holes-observed also evaluates every NMF model under holes with the
holes given as its observed input (the same weights; rows "<model> +observed").
Every model sees the same random draws, from --seed; --limit-test N
with the same --seed selects the same N test images as train.py. OUT is created
and checked first; OUT/robustness.csv (model, perturbation, eta, accuracy) is
written row by row as the evaluation goes, then OUT/robustness.png.
"""

import argparse
import sys

from keras_nmf.commands import load_for_command, report_error
from keras_nmf.errors import KerasNMFError

from keras_nmf.experiments.cli import add_model_output_arguments
from keras_nmf.training.flags import add_setting_flags
from keras_nmf.experiments.perturbations import AUTHORS_PERTURBATIONS, PERTURBATIONS


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_output_arguments(parser, ".keras files saved by this package")
    add_setting_flags(parser, ("limit_test",))
    parser.add_argument("--steps", type=int, default=21, help="eta steps from 0 to 1 (default 21: 0, 0.05, ...)")
    parser.add_argument("--perturbations", nargs="+", choices=PERTURBATIONS, default=list(AUTHORS_PERTURBATIONS))
    parser.add_argument("--seed", type=int, default=0, help="seed of the noise draws and the test subset")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument(
        "--holes-observed",
        action="store_true",
        help="under holes, also give each NMF model the holes as its observed input",
    )
    args = parser.parse_args(argv)
    if args.holes_observed and "holes" not in args.perturbations:
        parser.error("--holes-observed needs the holes perturbation: add holes to --perturbations.")
    for name, value, least in (
        ("--steps", args.steps, 2),
        ("--limit-test", args.limit_test, 1),
        ("--batch-size", args.batch_size, 1),
    ):
        if value is not None and value < least:
            parser.error(f"{name} must be >= {least}. Received: {value}")
    load_for_command()  # only now: --help and usage errors return before Keras loads
    from keras_nmf.experiments import evaluate_robustness
    from keras_nmf.experiments.observed_holes import observed_twins
    from keras_nmf.experiments.outputs import prepare_output_dir
    from keras_nmf.experiments.plots import plot_robustness
    from keras_nmf.experiments.robustness import load_models, model_labels, prepare_images, robustness_csv

    try:
        out = prepare_output_dir(args.out)
        models = load_models(args.models)
        images, labels, train_images = prepare_images(
            args.dataset, args.data_dir, args.tfds_dir, models[0].input_shape[1:], args.limit_test, args.seed
        )
    except KerasNMFError as error:
        return report_error(error)
    labels_of_models = model_labels(args.models)
    twins = observed_twins(models, labels_of_models) if args.holes_observed else None
    print(
        f"{len(models)} models, {len(labels)} test images, perturbations {', '.join(args.perturbations)}, "
        f"{args.steps} steps of eta"
    )
    paths = dict(zip(labels_of_models, args.models))
    paths.update({f"{label} +observed": paths[label] for label in twins or ()})
    try:
        with robustness_csv(out / "robustness.csv") as csv_file:
            rows = evaluate_robustness(
                models,
                labels_of_models,
                images,
                labels,
                train_images,
                args.perturbations,
                args.steps,
                args.seed,
                args.batch_size,
                on_row=lambda row: csv_file.write({**row, "path": paths[row["model"]]}),
                observed_twins=twins,
            )
    except FloatingPointError as error:  # a model output NaN/Inf: say which, no traceback
        print(f"error: {error} The rows measured before it are in {out / 'robustness.csv'}.", file=sys.stderr)
        return 2
    plot_robustness(rows, out / "robustness.png")
    print(f"Wrote {out / 'robustness.csv'} and {out / 'robustness.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
