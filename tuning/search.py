"""Grid search over the paper's widths and groups with KerasTuner; runs unchanged on every host.

Examples:
    python tuning/search.py --arch cnmf_1x1 --data-dir ../shared/data/cifar10-jpeg --epochs 20
    # distributed: the same command on every host, one shared --directory
    KERASTUNER_TUNER_ID=chief  KERASTUNER_ORACLE_IP=10.0.0.1 KERASTUNER_ORACLE_PORT=8000 python tuning/search.py ...
    KERASTUNER_TUNER_ID=tuner0 KERASTUNER_ORACLE_IP=10.0.0.1 KERASTUNER_ORACLE_PORT=8000 python tuning/search.py ...

The objective is the accuracy on a held-out part of the training set
(--val-split), never the test set. An interrupted search resumes from its
directory (overwrite=False).
"""

import argparse
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import keras_tuner as kt  # noqa: E402

from keras_nmf.data import DataError, load_dataset  # noqa: E402
from keras_nmf.models import ARCHITECTURES  # noqa: E402
from tuning.hypermodel import GROUPS, WIDTHS, NMFHyperModel  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="cnmf_1x1", choices=ARCHITECTURES)
    parser.add_argument("--data-dir", help="image folder DIR/train/<class>/*, DIR/test/<class>/* (default: tfds)")
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--directory", default="tuning_runs", help="shared by all hosts of a distributed search")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--steps-per-epoch", type=int)
    parser.add_argument("--limit-train", type=int)
    parser.add_argument("--val-split", type=float, default=0.1)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--widths", type=int, nargs="+", default=list(WIDTHS))
    parser.add_argument("--groups", type=int, nargs="+", default=list(GROUPS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        data = load_dataset(name=args.dataset, data_dir=args.data_dir, val_split=args.val_split,
                            limit_train=args.limit_train, seed=args.seed)
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    hypermodel = NMFHyperModel(args.arch, data.input_shape, data.num_classes, args.widths, args.groups,
                               args.iterations)
    tuner = kt.GridSearch(hypermodel, objective="val_accuracy", directory=args.directory,
                          project_name=args.arch, overwrite=False, seed=args.seed)
    train = data.train.repeat() if args.steps_per_epoch else data.train
    tuner.search(train, validation_data=data.validation, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
                 recalibration_data=data.train)
    tuner.results_summary(num_trials=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
