"""A budget curve per network from one warm-stable-decay trunk and its decay branches (resumable, shareable).

Examples:
    keras-nmf-budget --archs cnmf_1x1 cnn_1x1 --budgets 20 40 80 --out ~/grids/cpu_budget \\
        --data-dir ../shared/data/cifar10-jpeg --eval-every 2 --processes 2
    keras-nmf-budget --archs cnmf_1x1 cnn_1x1 --budgets 20 40 80 --out ~/grids/cpu_budget --report-only

For each network and seed: a stable trunk (OUT/<arch>-seed<k>-trunk: --schedule wsd at the peak rate, no decay, to
the longest budget's branch epoch, keeping each branch epoch's state) and one decay branch per budget T
(OUT/<arch>-seed<k>-e<T>: from the trunk's epoch 0.8 T, the rate decays to 0 over the last 20 % of T). Every other
flag goes to each run unchanged (keras-nmf-train --help). Rerunning the same command skips finished runs and
resumes interrupted ones; --processes K trains K runs at once (the trunk in one, its branches and the next networks
in the others), and several commands on one OUT share the plan. The report (OUT/summary.csv, summary.md,
budget.png, learning_curves.png) is rebuilt from the finished branches.
"""

import argparse
import importlib
import pathlib
import sys

from keras_nmf.commands import load_for_command, report_error
from keras_nmf.errors import KerasNMFError

from keras_nmf.architectures import NETWORKS
from keras_nmf.training.config import with_absolute_data_paths
from keras_nmf.training.flags import build_parser, config_from_args

#: The flags that the plan sets per run, and why they are not the user's here.
_PER_RUN = {
    "arch": "the plan sets it per run; use --archs",
    "seed": "the plan sets it per run; use --seeds",
    "epochs": "each branch's epochs are its budget; use --budgets",
    "logdir": "each run's folder lies in --out",
    "resume": "rerun the same command: finished runs are skipped, interrupted ones resumed",
    "variant": "a budget curve has no variants",
    "branch_from": "the plan branches its own trunks",
    "branch_epoch": "each branch starts at (1 - --decay-fraction) x its budget",
    "keep_epochs": "the trunk keeps every branch epoch",
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    plan = parser.add_argument_group("budget curve")
    plan.add_argument("--archs", nargs="+", choices=NETWORKS, default=["cnmf_1x1", "cnn_1x1"])
    plan.add_argument("--seeds", nargs="+", type=int, default=[0])
    plan.add_argument("--budgets", nargs="+", type=int, default=[20, 40, 80], help="the branches' total epochs")
    plan.add_argument("--out", required=True, help="the campaign's directory (shared by every invocation)")
    plan.add_argument("--processes", type=int, default=1, metavar="K", help="train K runs at once (default: 1)")
    plan.add_argument("--report-only", action="store_true", help="rebuild the report without training")
    plan.add_argument(
        "--direct-runs",
        metavar="SUMMARY_CSV",
        help="a grid's summary.csv (keras-nmf-compare) of runs trained for a budget directly with the "
        "same recipe: the report sets each branch beside the direct run of its budget",
    )
    build_parser(parser=parser.add_argument_group("every run (train.py's flags)"), refuse=_PER_RUN)
    args = parser.parse_args(argv)
    base, _ = config_from_args(parser, args, defaults={"schedule": "wsd", "verbose": 2})
    if args.processes < 1:
        parser.error(f"--processes must be at least 1. Received: {args.processes}")
    if args.direct_runs and not pathlib.Path(args.direct_runs).is_file():
        parser.error(f"--direct-runs {args.direct_runs}: no such file; give a grid's summary.csv.")
    if any(budget < 2 for budget in args.budgets):
        parser.error(f"--budgets are total epochs of at least 2. Received: {args.budgets}")
    return args, with_absolute_data_paths(base)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args, base = parse_args(argv)  # no Keras yet: --help and usage errors return at once
    load_for_command()
    from keras_nmf.experiments.budget import plan_budget, run_budget
    from keras_nmf.experiments.budget_report import write_budget_report
    from keras_nmf.experiments.outputs import prepare_output_dir
    from keras_nmf.training.recipe import check_backend_support

    try:
        importlib.import_module("keras_nmf.experiments.plots")  # the report's figures: refused now, not after days
        check_backend_support(base)
        out = prepare_output_dir(args.out)
        runs = plan_budget(base, args.archs, args.seeds, args.budgets, out)
        code = 0
        if not args.report_only:
            if args.processes > 1:
                from keras_nmf import backend
                from keras_nmf.experiments.processes import run_in_processes

                command = [sys.executable, "-m", "keras_nmf.cli.budget", *argv, "--processes", "1"]
                codes = run_in_processes(command, args.processes, backend.SHARED_DEVICE_ENVIRONMENT)
                code = next((code for code in codes if code), 0)
            else:
                counts = run_budget(runs)
                print(f"Budget runs done here: {counts}")
                code = 3 if counts["failed"] else 0
        report = write_budget_report(runs, out, args.direct_runs)
    except KerasNMFError as error:
        return report_error(error)
    except KeyboardInterrupt:
        print(f"\nInterrupted: rerun the same command to resume (finished runs in {args.out} are kept).")
        return 130
    print(report)
    return code


if __name__ == "__main__":
    sys.exit(main())
