"""Command-line pieces shared by the experiment scripts (robustness, gradient fidelity, evaluation, sweeps)."""

import argparse

from keras_nmf.nmf_arguments import positive_int as checked_positive_int
from keras_nmf.training.flags import add_setting_flags


#: The iterations N at which the gradient-fidelity experiment compares the gradients by default.
FIDELITY_ITERATIONS = (5, 10, 20, 50, 100)


def positive_int(text):
    """An ``argparse`` type: an integer >= 1 (:func:`keras_nmf.nmf_arguments.positive_int`), refused at parse time
    otherwise."""
    try:
        return checked_positive_int(int(text), "value")
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1. Received: {text}") from None


def add_model_output_arguments(parser, models_help):
    """The positional models, ``--out`` and the data source flags of a script that evaluates saved models."""
    parser.add_argument("models", nargs="+", help=models_help)
    parser.add_argument("--out", required=True, help="output directory (created and checked first)")
    add_setting_flags(parser, ("data_dir", "dataset", "tfds_dir"), with_defaults=True)
