"""The paper's Figure 5 experiment: every arch over seeds, with ablation variants, one report.

Examples:
    python scripts/compare.py --archs cnn cnmf cnn_1x1 cnmf_1x1 --seeds 0 1 2 --out runs/fig5 \\
        --data-dir ../shared/data/cifar10-jpeg --limit-train 10000 --epochs 4
    python scripts/compare.py --archs cnmf --seeds 0 --variant local:nmf_learning=local --out runs/fig5 ...
    python scripts/compare.py --archs cnmf_1x1 --seeds 0 --variant autodiff:backward=autodiff \\
        --variant approx:backward=approx --out runs/fig5 ... --epochs 2
    python scripts/compare.py --out runs/fig5 --summary-only       # rebuild the report

Every flag that compare.py does not know goes to each run unchanged (see
scripts/train.py --help): the same budget for every arch. Each run is an
ordinary train.py run directory in OUT/<arch>[-<variant>]-seed<k>/. Rerunning
the same command skips finished runs and resumes an interrupted one; a changed
configuration for an existing run directory is an error. OUT/summary.csv,
OUT/summary.md and OUT/figure5.png are rebuilt from every finished run in OUT,
so invocations on several GPUs or hosts (different --seeds or --archs, one
shared OUT) fill one report.
"""

import argparse
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_nmf.data import DataError  # noqa: E402
from keras_nmf.experiments import (  # noqa: E402
    BASE_VARIANT, ConfigMismatchError, parse_variant, plan_grid, run_grid, write_summary,
)
from keras_nmf.models import ARCHITECTURES  # noqa: E402
from keras_nmf.training import build_parser as build_train_parser  # noqa: E402
from keras_nmf.training import TrainConfig  # noqa: E402

#: train.py flags that compare.py sets per run.
RESERVED_FLAGS = {"--arch": "--archs", "--seed": "--seeds", "--logdir": "--out", "--resume": "rerunning",
                  "--variant": "--variant LABEL:FIELD=VALUE"}


def _variant(text):
    try:
        return parse_variant(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    parser.add_argument("--archs", nargs="+", choices=ARCHITECTURES, default=list(ARCHITECTURES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--out", required=True, help="the grid's directory (shared by every invocation)")
    parser.add_argument("--variant", dest="variants", action="append", type=_variant, metavar="LABEL:FIELD=VALUE,...",
                        help="run this variant instead of the base configuration (repeatable), "
                             "e.g. local:nmf_learning=local or autodiff:backward=autodiff")
    parser.add_argument("--summary-only", action="store_true", help="rebuild the report without training")
    args, train_argv = parser.parse_known_args(argv)
    for flag in train_argv:
        name = flag.split("=", 1)[0]
        if name in RESERVED_FLAGS or name == "--no-resume":
            parser.error(f"{name} is set per run by compare.py; use {RESERVED_FLAGS.get(name, 'rerunning')} instead.")
    train_args = build_train_parser("flags passed to every run").parse_args(train_argv)
    if "--verbose" not in train_argv:
        train_args.verbose = 2  # one line per epoch: readable in a log file
    if train_args.data_dir:
        train_args.data_dir = str(pathlib.Path(train_args.data_dir).resolve())
    try:
        base = TrainConfig(**vars(train_args))
    except ValueError as error:
        parser.error(str(error))
    return args, base


def main(argv=None):
    args, base = parse_args(argv)
    out = pathlib.Path(args.out)
    try:
        if not args.summary_only:
            runs = plan_grid(base, args.archs, args.seeds, args.variants or [BASE_VARIANT], out)
            counts = run_grid(runs)
            print(f"Grid done: {counts}")
        summary = write_summary(out)
    except (ConfigMismatchError, DataError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nInterrupted: rerun the same command to resume (finished runs in {out} are kept).")
        return 130
    for group in summary:
        print(f"{group['arch']:>9} {group['variant']:<10} {group['mean']:5.1f} ± {group['std']:4.1f} % "
              f"({group['runs']} runs)")
    print(f"Report: {out / 'summary.md'}, {out / 'summary.csv'}, {out / 'figure5.png'}")
    return 3 if not args.summary_only and counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
