"""The paper's Figure 5 experiment: every arch over seeds, with ablation variants, one report.

Examples:
    keras-nmf-compare --archs cnn cnmf cnn_1x1 cnmf_1x1 --seeds 0 1 2 --out runs/fig5 \\
        --data-dir ../shared/data/cifar10-jpeg --limit-train 10000 --epochs 4
    keras-nmf-compare --archs cnmf --seeds 0 --variant local:learning=local --out runs/fig5 ...
    keras-nmf-compare --archs cnmf_1x1 --seeds 0 --variant autodiff:backward=autodiff \\
        --variant approx:backward=approx --out runs/fig5 ... --epochs 2
    keras-nmf-compare --out runs/fig5 --summary-only       # rebuild the report
    keras-nmf-compare --seeds 0 1 --out runs/fig5 --processes 4 ...  # 4 runs at once (fills a GPU)

Every flag that compare.py does not know goes to each run unchanged (see
scripts/train.py --help): the same budget for every arch. Each run is an
ordinary train.py run directory in OUT/<arch>[-<variant>]-seed<k>/. Rerunning
the same command skips finished runs and resumes an interrupted one; a changed
configuration for an existing run directory is an error. OUT/summary.csv,
OUT/summary.md and OUT/figure5.png are rebuilt from every finished run in OUT,
so invocations on several GPUs or hosts (different --seeds or --archs, one
shared OUT) fill one report. --processes K trains K runs at once, each in its
own process, in the plan's order (keras_nmf/experiments/processes.py).
"""

import argparse
import importlib
import sys

from keras_nmf.commands import load_for_command, report_error
from keras_nmf.errors import KerasNMFError

from keras_nmf.architectures import ARCHITECTURES, NETWORKS
from keras_nmf.experiments.variants import BASE_VARIANT, PER_RUN, parse_variant
from keras_nmf.training.config import with_absolute_data_paths
from keras_nmf.training.flags import build_parser, config_from_args


#: The tf.distribute strategies whose collectives serve one network per process (tensorflow/tensorflow#62790;
#: measured: a cnn run, then a cnmf_1x1 run, under MirroredStrategy in one process fails in synchronized BatchNorm).
ONE_NETWORK_PER_PROCESS = ("mirrored", "multiworker")


def _variant(text):
    try:
        return parse_variant(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    grid = parser.add_argument_group("grid")
    grid.add_argument("--archs", nargs="+", choices=NETWORKS, default=list(ARCHITECTURES))
    grid.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    grid.add_argument("--out", required=True, help="the grid's directory (shared by every invocation)")
    grid.add_argument(
        "--variant",
        dest="variants",
        action="append",
        type=_variant,
        metavar="LABEL:FIELD=VALUE,...",
        help="run this variant instead of the base configuration (repeatable), "
        "e.g. local:learning=local or autodiff:backward=autodiff",
    )
    grid.add_argument("--summary-only", action="store_true", help="rebuild the report without training")
    grid.add_argument(
        "--processes",
        type=int,
        default=1,
        metavar="K",
        help="train K runs at once, each in its own process (several small networks fill one GPU); "
        "output lines are prefixed [p1]..[pK] (default: 1)",
    )
    refused = {name: f"compare.py sets it per run; use {instead}" for name, instead in PER_RUN.items()}
    refused.update(
        dict.fromkeys(
            ("branch_from", "branch_epoch"),
            "compare.py trains each run from the start; decay "
            "branches of wsd trunks: keras-nmf-train --branch-from, or keras_nmf.experiments."
            "budget",
        )
    )
    build_parser(parser=parser.add_argument_group("every run (train.py's flags)"), exclude=("variant",), refuse=refused)
    args = parser.parse_args(argv)
    base, _ = config_from_args(parser, args, defaults={"verbose": 2})  # one line per epoch: readable in a log
    distribute = base.execution.distribute
    if distribute in ONE_NETWORK_PER_PROCESS:
        parser.error(
            f"--distribute {distribute} is not accepted here: compare.py trains its runs one after "
            "another in one process, and TensorFlow's collectives fail on the second network of another "
            'shape ("Shape mismatch in the collective instance", tensorflow/tensorflow#62790). Train each '
            "run with its own train.py --distribute, or the grid on one device per process (e.g. one "
            "compare.py per GPU with CUDA_VISIBLE_DEVICES, sharing --out)."
        )
    if args.processes < 1:
        parser.error(f"--processes must be at least 1. Received: {args.processes}")
    if args.processes > 1 and args.summary_only:
        parser.error("--processes trains runs side by side; --summary-only trains nothing. Drop one of them.")
    if args.processes > 1 and distribute != "none":
        parser.error(
            f"--processes with --distribute {distribute}: every process would take every device. "
            "Use one of them (or one compare.py per device, e.g. with CUDA_VISIBLE_DEVICES)."
        )
    return args, with_absolute_data_paths(base)


def _train_in_processes(argv, runs, processes):
    """The grid's unfinished runs, ``processes`` (at most one per run) at a time; returns the exit code."""
    from keras_nmf import backend
    from keras_nmf.experiments.grid import DAMAGED, FINISHED
    from keras_nmf.experiments.processes import grid_command, run_in_processes

    unfinished = sum(run.status not in (FINISHED, DAMAGED) for run in runs)
    processes = min(processes, unfinished)
    if processes <= 1:
        return None
    print(f"{len(runs)} runs planned, {unfinished} to train, {processes} at a time in their own processes.", flush=True)
    codes = run_in_processes(grid_command(argv), processes, backend.SHARED_DEVICE_ENVIRONMENT)
    print(f"Grid done: the {processes} processes exited with {', '.join(map(str, codes))}", flush=True)
    return next((code for code in codes if code), 0)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args, base = parse_args(argv)  # no Keras yet: --help and usage errors return at once
    load_for_command()
    from keras_nmf.experiments import plan_grid, run_grid, write_summary
    from keras_nmf.experiments.outputs import prepare_output_dir
    from keras_nmf.experiments.summary import mean_and_spread
    from keras_nmf.training.recipe import check_backend_support

    try:  # the report's figures need the plots extra: refused now, not after the training
        importlib.import_module("keras_nmf.experiments.plots")
        check_backend_support(base)
    except KerasNMFError as error:
        return report_error(error)
    code = 0
    try:
        out = prepare_output_dir(args.out)
        if not args.summary_only:
            runs = plan_grid(base, args.archs, args.seeds, args.variants or [BASE_VARIANT], out)
            code = _train_in_processes(argv, runs, args.processes)
            if code is None:
                counts = run_grid(runs)
                print(f"Grid done: {counts}")
                code = 3 if counts["failed"] or counts["damaged"] else 0
        summary = write_summary(out)
    except KerasNMFError as error:  # e.g. ConfigError: a variant that cannot run with an arch of the grid
        return report_error(error)
    except KeyboardInterrupt:
        print(f"\nInterrupted: rerun the same command to resume (finished runs in {out} are kept).")
        return 130
    for group in summary:
        runs = f"{group['runs']} run{'' if group['runs'] == 1 else 's'}"
        print(f"{group['arch']:>9} {group['variant']:<10} {mean_and_spread(group)} % ({runs})")
    cost = f", {out / 'nmf_cost.md'}" if (out / "nmf_cost.md").exists() else ""
    print(f"Report: {out / 'summary.md'}, {out / 'summary.csv'}, {out / 'figure5.png'}{cost}")
    return code


if __name__ == "__main__":
    sys.exit(main())
