"""KerasTuner grid search over the paper's sweep space (section 3.1); runs unchanged on every host.

Examples:
    keras-nmf-search --data-dir ../shared/data/cifar10-jpeg --epochs 20        # all 100 variants
    keras-nmf-search --data-dir DIR --widths 1 2 --nmf-groups 1 4 16 --conv-groups 1 4 16 \\
        --limit-train 10000 --epochs 3 --directory sweeps                          # 18 variants
    keras-nmf-search --data-dir DIR --widths 1 2 --dry-run                 # sizes and cost, no training
    keras-nmf-report sweeps                                                # trials.csv, front, figure6.png

Distributed (KerasTuner's own mode): the same command on every host, one shared --directory:
    KERASTUNER_TUNER_ID=chief  KERASTUNER_ORACLE_IP=10.0.0.1 KERASTUNER_ORACLE_PORT=8000 keras-nmf-search ...
    KERASTUNER_TUNER_ID=tuner0 KERASTUNER_ORACLE_IP=10.0.0.1 KERASTUNER_ORACLE_PORT=8000 keras-nmf-search ...

Each trial trains with scripts/train.py's training core: every train.py flag below takes effect in every
trial, and the flags a trial cannot honour (--logdir, --resume, --distribute, ...) are refused with the reason.
The objective is the accuracy on a held-out part of the training set (--val-split), never the test set, which
is evaluated once at each trial's end for the report. A trial whose loss or weights go NaN/Inf ends FAILED with
the reason. An interrupted or finished search resumes from its directory: finished trials are never retrained
or rewritten, a restarted worker re-runs its unfinished trial, a restarted chief re-queues the running ones.
"""

import math
import os
import pathlib
import sys

from keras_nmf.architectures import SWEEP_GROUPS, SWEEP_WIDTHS
from keras_nmf.commands import command_line, load_for_command, report_error
from keras_nmf.errors import KerasNMFError
from keras_nmf.experiments.cli import positive_int
from keras_nmf.experiments.outputs import prepare_output_dir
from keras_nmf.experiments.sweeps import check_trial_files, search_finished
from keras_nmf.training.flags import build_parser, config_from_args

#: How long a worker waits for the chief oracle before it gives up (--chief-timeout).
DEFAULT_CHIEF_TIMEOUT_S = 600.0

#: Defaults of the sweep that differ from train.py's.
SWEEP_DEFAULTS = {"epochs": 20, "val_split": 0.1, "verbose": 2}

#: The fields the sweep samples: their train.py flags give way to the sweep's list flags of the same names.
SAMPLED = ("width", "nmf_groups", "conv_groups")

_ONE_TRIAL_PER_WORKER = (
    "KerasTuner distributes trials over workers itself (KERASTUNER_TUNER_ID, one worker per "
    "device); a trial runs on one device"
)

#: The train.py flags a trial cannot honour, and why (each is refused with its reason).
TRIAL_REFUSES = {
    "eval_every": "a trial evaluates the test set once, at its end",
    "nmf_diagnostics": "a trial has no epochs.csv or TensorBoard",
    "distribute": _ONE_TRIAL_PER_WORKER,
    "distribute_timeout": _ONE_TRIAL_PER_WORKER,
    "variant": "a sweep has no variants",
    "logdir": "KerasTuner gives each trial its folder under --directory",
    "resume": "rerun the same command: the search resumes from --directory",
    "branch_from": "a trial trains from the start; branch a wsd trunk with keras-nmf-train --branch-from",
    "branch_epoch": "a trial trains from the start; branch a wsd trunk with keras-nmf-train --branch-from",
    "keep_epochs": "a trial keeps no state for branches; train a trunk with keras-nmf-train --keep-epochs",
}


def parse_args(argv=None):
    parser = build_parser(__doc__, exclude=SAMPLED, refuse=TRIAL_REFUSES)
    sweep = parser.add_argument_group("sweep")
    sweep.add_argument("--widths", type=positive_int, nargs="+", default=list(SWEEP_WIDTHS))
    sweep.add_argument("--nmf-groups", type=positive_int, nargs="+", default=list(SWEEP_GROUPS))
    sweep.add_argument("--conv-groups", type=positive_int, nargs="+", default=list(SWEEP_GROUPS))
    sweep.add_argument("--directory", default="tuning_runs", help="shared by all hosts of a distributed search")
    sweep.add_argument("--project-name", help="default: the arch")
    sweep.add_argument(
        "--max-trials",
        type=positive_int,
        help="stop after this many trials, finished ones included (default: the whole grid)",
    )
    sweep.add_argument("--dry-run", action="store_true", help="list the variants, their sizes and cost; no training")
    sweep.add_argument(
        "--chief-timeout",
        type=float,
        default=DEFAULT_CHIEF_TIMEOUT_S,
        help="a worker waits this many seconds for the chief oracle to answer (at start and on every "
        "request of the sweep), then exits 1 with the way to resume",
    )
    args = parser.parse_args(argv)
    recipe, _ = config_from_args(parser, args, defaults=SWEEP_DEFAULTS, exclude=SAMPLED)
    if not recipe.data.val_split:
        parser.error("--val-split must be > 0: the objective is the accuracy on a held-out part of the training set.")
    if not math.isfinite(args.chief_timeout) or args.chief_timeout <= 0:
        parser.error(f"--chief-timeout must be a finite number of seconds > 0. Received: {args.chief_timeout}")
    if not args.dry_run:  # a dry run writes nothing, so it leaves no folder behind either
        try:
            prepare_output_dir(args.directory, flag="--directory")
        except KerasNMFError as error:
            parser.error(str(error))
    return args, recipe


def _worker_and_chief():
    """``(tuner id, chief address)`` on a worker of a distributed search, else ``None``."""
    tuner_id = os.environ.get("KERASTUNER_TUNER_ID", "chief")
    if "chief" in tuner_id:
        return None
    return tuner_id, f"{os.environ.get('KERASTUNER_ORACLE_IP')}:{os.environ.get('KERASTUNER_ORACLE_PORT')}"


def limit_chief_wait(timeout_s):
    """A worker gives up on a chief that stopped answering mid-sweep after ``timeout_s``, not after an hour.

    KerasTuner's client waits for the chief on every request up to its module constant ``TIMEOUT`` (60 min;
    keras-team/keras-tuner#990, #957), silently; it has no option for it. After this, a lost chief ends the
    worker's request with DEADLINE_EXCEEDED, which :func:`run_search` reports with the way to resume.
    """
    from keras_tuner.src.distribute import oracle_client

    oracle_client.TIMEOUT = timeout_s


def wait_for_chief(timeout_s):
    """On a worker of a distributed search: waits for the chief oracle; returns an exit code or None to go on.

    KerasTuner's own client would wait up to an hour, silently, for a chief
    that was never started; the worker says at start whom it will wait for and
    for how long (``main``), and gives up after ``timeout_s``.
    """
    if _worker_and_chief() is None:
        return None
    import grpc  # KerasTuner's distributed mode talks to the chief over gRPC (a KerasTuner dependency)

    _, chief = _worker_and_chief()
    channel = grpc.insecure_channel(chief)
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout_s)
    except grpc.FutureTimeoutError:
        print(
            f"error: the chief oracle at {chief} did not answer within {timeout_s:g} s. Start the chief "
            f"(KERASTUNER_TUNER_ID=chief, same command) first, check KERASTUNER_ORACLE_IP and "
            f"KERASTUNER_ORACLE_PORT, or raise --chief-timeout.",
            file=sys.stderr,
        )
        return 1
    finally:
        channel.close()
    return None


def main(argv=None):
    args, recipe = parse_args(argv)  # no Keras yet: --help and usage errors return at once
    load_for_command("tuning")
    from keras_nmf.training.recipe import check_backend_support, load_run_data, process_settings
    from keras_nmf.tuning.costs import estimate_costs
    from keras_nmf.tuning.hypermodel import NMFHyperModel, SweepTuner

    project = pathlib.Path(args.directory) / (args.project_name or recipe.model.arch)
    try:
        check_backend_support(recipe)
        check_trial_files(project)  # before the data loads: KerasTuner would fail on a bad record after it
    except KerasNMFError as error:
        return report_error(error)
    if _worker_and_chief() and not args.dry_run:
        tuner_id, chief = _worker_and_chief()
        print(
            f"Worker {tuner_id}: the chief oracle is {chief}; once the data is loaded this worker waits up to "
            f"{args.chief_timeout:g} s for it (--chief-timeout).",
            flush=True,
        )
    try:
        data = load_run_data(recipe.data, recipe.optimisation)
        hypermodel = NMFHyperModel(
            recipe,
            data.input_shape,
            data.num_classes,
            args.widths,
            args.nmf_groups,
            args.conv_groups,
            test_data=data.test,
            image_shape=data.image_shape,
        )
    except KerasNMFError as error:
        return report_error(error)
    if args.dry_run:
        with process_settings(recipe.optimisation.precision, recipe.optimisation.deterministic):
            estimate_costs(hypermodel, recipe.optimisation.batch_size, data.train_size)
        return 0
    variants = hypermodel.variant_values()
    if search_finished(project, variants, args.max_trials):
        # Every host stops here on its own: a worker whose chief had already closed the finished search would
        # otherwise wait up to an hour for it (KerasTuner's client timeout).
        print(
            f"The search in {project} is finished: nothing to train. Report: {command_line('report')} {args.directory}"
        )
        return 0
    waited = wait_for_chief(args.chief_timeout)
    if waited is not None:
        return waited
    limit_chief_wait(args.chief_timeout)
    tuner = SweepTuner(
        hypermodel,
        max_trials=args.max_trials,
        seed=recipe.optimisation.seed,
        directory=args.directory,
        project_name=project.name,
        overwrite=False,
    )
    # Every trial sees the same epochs: epoch e's order and augmentation are drawn from (seed, e).
    status = run_search(
        tuner,
        project,
        variants,
        args.max_trials,
        data.stream.from_epoch(0),
        validation_data=data.validation,
        epochs=recipe.budget.epochs,
        steps_per_epoch=data.stream.steps,
        recalibration_data=data.train,
        verbose=recipe.session.verbose,
    )
    if status == 0 and "chief" in os.environ.get("KERASTUNER_TUNER_ID", "chief"):
        print(f"Search done; report: {command_line('report')} {args.directory}")
    return status


def run_search(tuner, project, variants, max_trials, *args, **kwargs):
    """``tuner.search``; a worker that loses the chief oracle ends cleanly, or with the way to resume.

    KerasTuner's chief closes its server once the grid is handed out and the
    workers it knows of are told to stop; a worker still starting up, or
    between two requests, then sees its request fail (keras-team/keras-tuner#915).
    If the records say the search is finished, that worker has nothing left to
    do (exit 0); otherwise the error says how to resume (exit 1).
    """
    import grpc

    try:
        tuner.search(*args, **kwargs)
    except KerasNMFError as error:
        return report_error(error)
    except grpc.RpcError as error:
        chief = f"{os.environ.get('KERASTUNER_ORACLE_IP')}:{os.environ.get('KERASTUNER_ORACLE_PORT')}"
        if search_finished(project, variants, max_trials):
            print(f"The chief oracle at {chief} closed the finished search in {project}: nothing left to train.")
            return 0
        reason = error.code().name if callable(getattr(error, "code", None)) else type(error).__name__
        print(
            f"error: lost the chief oracle at {chief} ({reason}) before the search in {project} "
            "finished. Restart the chief, then this worker, with the same command: finished trials are kept, "
            "unfinished ones run again.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
