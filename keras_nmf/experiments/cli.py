"""Command-line pieces shared by the experiment scripts (robustness, gradient fidelity, evaluation, sweeps)."""

import argparse

from keras_nmf.run_choices import TFDS_DATASETS


#: The iterations N at which the gradient-fidelity experiment compares the gradients by default.
FIDELITY_ITERATIONS = (5, 10, 20, 50, 100)


def positive_int(text):
    """An ``argparse`` type: an integer >= 1, refused at parse time otherwise."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1. Received: {value}")
    return value


def add_model_output_arguments(parser, models_help):
    """The positional models, ``--out`` and the data source flags of a script that evaluates saved models."""
    parser.add_argument("models", nargs="+", help=models_help)
    parser.add_argument("--out", required=True, help="output directory (created and checked first)")
    parser.add_argument("--data-dir", help="image folder DIR/train/<class>/*, DIR/test/<class>/* (default: tfds)")
    parser.add_argument("--dataset", default="cifar10", choices=TFDS_DATASETS)
    parser.add_argument("--tfds-dir", help="tensorflow_datasets data directory")
