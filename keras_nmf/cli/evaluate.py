"""Test accuracy of a saved model.

Examples:
    keras-nmf-evaluate runs/cnmf_1x1-20261127-120000                  # the run's model, its own data settings
    keras-nmf-evaluate model.keras --data-dir ../shared/data/cifar10-jpeg
    keras-nmf-evaluate model.keras --dataset mnist
    keras-nmf-evaluate cnmf_1x1_cifar10 --data-dir ../shared/data/cifar10-jpeg   # a preset (built-in or a folder)

For <run dir>/model.keras the data set, --limit-test and --seed default to those
in <run dir>/config.json, so the accuracy is that of results.json; flags given
here win. --limit-test N with --seed S selects the same N test images as
train.py's --limit-test N --seed S.
"""

import argparse
import json
import sys

from keras_nmf.commands import load_for_command, report_error
from keras_nmf.errors import KerasNMFError

from keras_nmf.experiments.cli import positive_int
from keras_nmf.training.flags import add_setting_flags
from keras_nmf.training.settings import RUN_DATA_FIELDS


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "model",
        help="a run directory of scripts/train.py, a .keras file, or a preset (a built-in "
        "name such as cnmf_1x1_cifar10, or a folder written by save_to_preset)",
    )
    # Unset, these are the run's (its config.json), else the defaults.
    add_setting_flags(
        parser,
        RUN_DATA_FIELDS,
        help={"seed": "seed of the --limit-test subset (default: the run's, else 0)"},
    )
    parser.add_argument("--batch-size", type=positive_int, default=50)
    parser.add_argument(
        "--flip-tta",
        action="store_true",
        help="also report the accuracy with test-time augmentation: the class probabilities averaged "
        "over each image and its horizontal mirror (not the paper's evaluation)",
    )
    args = parser.parse_args(argv)  # no Keras yet: --help and usage errors return at once
    load_for_command()
    from keras_nmf.training.evaluate import (
        data_settings,
        evaluate_preset,
        evaluate_saved_model,
        is_preset,
        model_file,
    )

    given = {name: getattr(args, name) for name in RUN_DATA_FIELDS}
    try:
        if is_preset(args.model):
            settings, _ = data_settings(None, given)  # a preset has no run: the defaults, then the flags
            results = evaluate_preset(args.model, batch_size=args.batch_size, flip_tta=args.flip_tta, **settings)
        else:
            args.model = model_file(args.model)
            settings, taken = data_settings(args.model, given)
            if taken:
                print(f"From the run's config.json: {', '.join(f'{key}={value}' for key, value in taken.items())}")
            results = evaluate_saved_model(args.model, batch_size=args.batch_size, flip_tta=args.flip_tta, **settings)
    except KerasNMFError as error:
        return report_error(error)
    print(
        f"test accuracy {results['test_accuracy']:.4f} | test loss {results['test_loss']:.4f} | "
        + (f"calibration error {results['test_ece']:.4f} | " if "test_ece" in results else "")
        + f"{results['test_size']} images"
        + (f" | with flip TTA {results['test_accuracy_flip_tta']:.4f}" if args.flip_tta else "")
    )
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
