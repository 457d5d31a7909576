"""KerasTuner grid search over the paper's sweep space (section 3.1); runs unchanged on every host.

Examples:
    python tuning/search.py --data-dir ../shared/data/cifar10-jpeg --epochs 20        # all 100 variants
    python tuning/search.py --data-dir DIR --widths 1 2 --nmf-groups 1 4 16 --conv-groups 1 4 16 \\
        --limit-train 10000 --epochs 3 --directory sweeps                          # 18 variants
    python tuning/search.py --data-dir DIR --widths 1 2 --dry-run                 # sizes and cost, no training
    python tuning/report.py sweeps                                                # trials.csv, front, figure6.png

Distributed (KerasTuner's own mode): the same command on every host, one shared --directory:
    KERASTUNER_TUNER_ID=chief  KERASTUNER_ORACLE_IP=10.0.0.1 KERASTUNER_ORACLE_PORT=8000 python tuning/search.py ...
    KERASTUNER_TUNER_ID=tuner0 KERASTUNER_ORACLE_IP=10.0.0.1 KERASTUNER_ORACLE_PORT=8000 python tuning/search.py ...

Each trial trains with scripts/train.py's recipe (every train.py flag below sets it); the objective is the
accuracy on a held-out part of the training set (--val-split), never the test set, which is evaluated once at
each trial's end for the report. An interrupted search resumes from its directory (overwrite=False): a
restarted worker re-runs its unfinished trial, a restarted chief re-queues the trials that were running.
"""

import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import keras  # noqa: E402

from keras_nmf.data import DataError, load_dataset  # noqa: E402
from keras_nmf.training import TrainConfig  # noqa: E402
from keras_nmf.training.config import build_parser  # noqa: E402
from tuning.costs import estimate_costs  # noqa: E402
from tuning.hypermodel import GROUPS, WIDTHS, NMFHyperModel, RecordingGridSearch  # noqa: E402

#: TrainConfig fields that the sweep samples or that make no sense per trial.
NOT_RECIPE = ("width", "nmf_groups", "conv_groups", "logdir", "resume", "variant", "distribute",
              "distribute_timeout", "verbose", "eval_every")


def parse_args(argv=None):
    parser = build_parser(__doc__, exclude=NOT_RECIPE)
    parser.set_defaults(epochs=20, val_split=0.1)
    sweep = parser.add_argument_group("sweep")
    sweep.add_argument("--widths", type=int, nargs="+", default=list(WIDTHS))
    sweep.add_argument("--nmf-groups", type=int, nargs="+", default=list(GROUPS))
    sweep.add_argument("--conv-groups", type=int, nargs="+", default=list(GROUPS))
    sweep.add_argument("--directory", default="tuning_runs", help="shared by all hosts of a distributed search")
    sweep.add_argument("--project-name", help="default: the arch")
    sweep.add_argument("--max-trials", type=int, help="stop after this many trials (default: the whole grid)")
    sweep.add_argument("--dry-run", action="store_true", help="list the variants, their sizes and cost; no training")
    sweep.add_argument("--verbose", type=int, default=2, help="Keras progress per trial")
    args = parser.parse_args(argv)
    sweep_keys = {"widths", "nmf_groups", "conv_groups", "directory", "project_name", "max_trials", "dry_run",
                  "verbose"}
    try:
        recipe = TrainConfig(**{k: v for k, v in vars(args).items() if k not in sweep_keys})
    except ValueError as error:
        parser.error(str(error))
    if not recipe.val_split:
        parser.error("--val-split must be > 0: the objective is the accuracy on a held-out part of the training set.")
    return args, recipe


def main(argv=None):
    args, recipe = parse_args(argv)
    keras.utils.set_random_seed(recipe.seed)
    try:
        data = load_dataset(name=recipe.dataset, data_dir=recipe.data_dir, tfds_dir=recipe.tfds_dir,
                            batch_size=recipe.batch_size, crop_size=recipe.crop_size, val_split=recipe.val_split,
                            limit_train=recipe.limit_train, limit_test=recipe.limit_test, seed=recipe.seed)
        hypermodel = NMFHyperModel(recipe, data.input_shape, data.num_classes, args.widths, args.nmf_groups,
                                   args.conv_groups, test_data=data.test)
    except (DataError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.dry_run:
        estimate_costs(hypermodel, recipe.batch_size, data.train_size)
        return 0
    tuner = RecordingGridSearch(
        hypermodel, objective="val_accuracy", max_trials=args.max_trials, directory=args.directory,
        project_name=args.project_name or recipe.arch, overwrite=False, seed=recipe.seed,
    )
    train = data.train.repeat() if recipe.steps_per_epoch else data.train
    tuner.search(train, validation_data=data.validation, epochs=recipe.epochs, steps_per_epoch=recipe.steps_per_epoch,
                 recalibration_data=data.train, verbose=args.verbose)
    if "chief" in os.environ.get("KERASTUNER_TUNER_ID", "chief"):
        print(f"Search done; report: python tuning/report.py {args.directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
