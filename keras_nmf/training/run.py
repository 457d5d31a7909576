"""``train(config)``: one training run of the paper's recipe, end to end (Nouri et al., section 6).

:func:`train` reads top to bottom: the run directory (:class:`RunDir`: found,
resume rules applied, nothing written), the strategy, then inside the
directory's lock and the process-wide settings (precision, TF32, determinism,
seed; restored on return): the model, built once before any data is loaded
or file written; the data; the callbacks, in one visible list; ``fit``; the
final evaluation; the results.

What survives a stop: every finished epoch is committed by
:class:`keras_nmf.training.backup.RunBackup` (weights, optimizer, schedule,
history; ``epochs.csv`` is derived from that commit); when training ends,
``model.keras`` and ``results.json`` are written atomically and only then is
the backup removed. A kill, Ctrl-C or full disk at any moment therefore leaves
a directory that ``--resume`` completes without retraining a finished epoch
(after the last epoch it only evaluates and saves).
"""

import sys
import time


from keras_nmf import backend, schedules
from keras_nmf.commands import command_line
from keras_nmf.data import dataset_shape
from keras_nmf.models import ImageClassifier, count_parameters
from keras_nmf.ops import InvalidInputError, invalid_input_message
from keras_nmf.training import branches, callbacks as run_callbacks
from keras_nmf.training.backup import RunBackup
from keras_nmf.errors import ConfigError
from keras_nmf.training.config import TrainConfig
from keras_nmf.training.diagnostics import NMFDiagnostics
from keras_nmf.training.distribute import (
    is_chief,
    lost_worker_is_an_error,
    make_strategy,
    replicas,
    session_scope,
)
from keras_nmf.training.progress import ProgressBar
from keras_nmf.training.recipe import (
    build_compiled_model,
    check_backend_support,
    load_run_data,
    process_settings,
    recipe_callbacks,
    run_schedule,
    use_run_schedule,
)
from keras_nmf.training.run_dir import RunDir, git_commit
from keras_nmf.errors import RunFileError, RunWriteError
from keras_nmf.training.tensorboard import EpochTensorBoard

#: Above this ``--alpha`` the NaN advice names it as the likely cause (the paper uses 0.5).
LARGE_ALPHA = 100.0


def train(config: TrainConfig, extra_callbacks=(), given=None) -> dict:
    """Trains one network and writes config.json, epochs.csv, TensorBoard logs, model.keras and results.json.

    ``extra_callbacks`` run after the built-in ones (the epoch is backed up by
    then). ``given``: the fields set on the command line (decides what
    ``--resume`` changes, :meth:`RunDir.prepare`). Returns the results (also
    ``<run dir>/results.json``). Under ``--distribute`` only the chief
    locks and writes the run directory; a non-chief worker returns its test
    accuracy and loss only.

    Raises:
        ConfigError: flags that cannot run together, or cannot change on --resume.
        DataError: missing or unreadable data (with the fix).
        RunLockedError: another process trains this run directory.
        RunFileError: a run file (config.json, the backup) is corrupt; the message says what is intact.
        RunWriteError: a file could not be written (a full disk); every committed epoch is kept (resumable).
        NonFiniteLossError: the loss or the weights became NaN/Inf (resumable).
        DistributeError: the strategy cannot start (e.g. no TF_CONFIG), or a
            worker of a multi-worker run was lost (resumable).
    """
    started = time.perf_counter()
    check_backend_support(config)
    run = RunDir.prepare(config, given)
    config = run.config
    optimisation, budget, execution = config.optimisation, config.budget, config.execution
    # The strategy first: before other TensorFlow work.
    strategy = make_strategy(execution.distribute, config.session.distribute_timeout)
    if optimisation.batch_size % replicas(strategy):
        raise ConfigError(
            f"--batch-size {optimisation.batch_size} does not split over {replicas(strategy)} devices: "
            f"pass a multiple of {replicas(strategy)}."
        )
    chief = is_chief(strategy)
    with (
        run.held(writer=chief),
        process_settings(optimisation.precision, optimisation.deterministic, seed=optimisation.seed) as precision,
        session_scope(strategy),
    ):
        # The model, once, before any data is loaded or file written: a flag it cannot take fails now.
        shape = dataset_shape(config.data.dataset, config.data.data_dir, config.data.crop_size)
        try:
            model = build_compiled_model(
                config, shape.input_shape, shape.num_classes, strategy, image_shape=shape.image_shape
            )
        except ValueError as error:
            raise ConfigError(f"The model cannot be built with these flags: {error}") from None
        data = load_run_data(config.data, optimisation)
        if isinstance(model, ImageClassifier):
            model.class_names = data.class_names  # saved with the model: its predictions decode to these names
        use_run_schedule(model, config, data.stream.steps)
        if run.trunk is not None:  # a new decay branch: its rates up to the branch point must be the trunk's
            _check_branch_rates(run.trunk, config, data.stream.steps)
        if chief:
            run.start()
        parameters = count_parameters(model)
        _describe(run, config, data, model, parameters, precision, strategy, chief)

        # The callbacks, in the order they run at each epoch's end: the recipe's (BatchNorm recalibration first,
        # so that every later number uses the statistics the final evaluation uses; plateau; LR floor; the stop on
        # NaN before any backup), the test logging, the NMF diagnostics, the summary line, the backup (commits the
        # epoch and rewrites epochs.csv), TensorBoard; then the caller's.
        say = print if chief else (lambda *args, **kwargs: None)
        recipe, stateful = recipe_callbacks(
            optimisation,
            data.train,
            nan_advice=nan_advice(config, run),
            last_good=lambda epoch: _last_good(run, epoch),
            print_fn=say,
        )
        backup = RunBackup(
            run.backup_dir,
            budget.epochs,
            stateful=stateful,
            history_path=run.path / "epochs.csv",
            write=chief,
            learning_rate=budget.lr if "lr" in run.changes else None,
            kept=branches.KeptStates(run.path),
            keep_epochs=branches.kept_epochs(config),
            code_version=git_commit(),
            recipe=config.to_dict(),
        )
        callbacks = [
            *recipe,
            run_callbacks.TestSetEvaluation(data.test, every=execution.eval_every),
            *([NMFDiagnostics(data.test[0][0])] if execution.nmf_diagnostics else []),
            *([ProgressBar()] if config.session.verbose else []),  # ends its line before the summary
            run_callbacks.EpochSummary(budget.epochs, print_fn=say),
            backup,
            *(
                [EpochTensorBoard(run.path), run_callbacks.BasisImages(run.path, _first_kxk_layer(config.model))]
                if chief
                else []
            ),
            *extra_callbacks,
        ]

        if chief and optimisation.branch_from is not None and backup.read_state() is None:
            _seed_branch(config, backup, say)
        state = backup.read_state()  # checked before any training: a corrupt backup is an error now
        undo_patch = backend.patch_multiworker_build(model, strategy)
        start = time.perf_counter()
        try:
            if backup.training_finished(state):  # a stop after the last epoch: evaluate and save only
                backup.set_model(model)
                backup.restore()
            else:
                with lost_worker_is_an_error(strategy, run.resume_command()):
                    model.fit(
                        data.stream.from_epoch(state["epoch"] if state else 0),
                        epochs=budget.epochs,
                        steps_per_epoch=data.stream.steps,
                        validation_data=data.validation,
                        callbacks=callbacks,
                        verbose=config.session.verbose,
                        shuffle=False,
                    )  # the stream draws every epoch's order itself
            session_seconds = time.perf_counter() - start
            test = model.evaluate(data.test, verbose=0, return_dict=True)  # every worker: a collective
            if not chief:
                print(f"Non-chief worker done: test accuracy {test['accuracy']:.4f}; the chief writes {run.path}.")
                return {"test_accuracy": float(test["accuracy"]), "test_loss": float(test["loss"]), "chief": False}
            results = summarize_run(
                test,
                config,
                data,
                backup.history,
                parameters,
                precision,
                bool(model.jit_compile),
                stopped_by_floor=_stopped_by_floor(stateful),
                session_seconds=session_seconds,
                startup_seconds=start - started,
                num_replicas=replicas(strategy),
            )
            results["code_segments"] = backup.segments  # which commit trained which epochs
            run.finish(model, results)
        except KeyboardInterrupt:
            print(f"\nInterrupted. {stop_message(backup, run)}")
            raise
        except RunWriteError as error:
            print(f"\n{error} {stop_message(backup, run)}", file=sys.stderr)
            error.reported = True
            raise
        except run_callbacks.NonFiniteLossError as error:
            print(f"\n{error}")
            error.reported = True
            raise
        except Exception as error:  # a compiled step wraps the NMF layers' input check in the backend's error
            message = invalid_input_message(error)
            if message is None:
                raise
            print(f"\n{message}\n{stop_message(backup, run)}", file=sys.stderr)
            invalid = InvalidInputError(message)
            invalid.reported = True
            raise invalid from None
        finally:
            undo_patch()
        backup.remove()  # only now: the results are safely written
    print(
        f"Test accuracy {results['test_accuracy']:.4f} | loss {results['test_loss']:.4f} | "
        f"{results['epochs_run']} epochs | results in {run.path / 'results.json'}"
    )
    print(branches.next_steps(config, run.path, command_line("train")))
    return results


def _check_branch_rates(trunk, config, steps_per_epoch):
    """Refuses a branch whose learning rates before its branch point are not its trunk's (step by step)."""
    branch_steps = config.optimisation.branch_epoch * steps_per_epoch
    reason = branches.rates_differ(
        run_schedule(trunk, steps_per_epoch), run_schedule(config, steps_per_epoch), branch_steps
    )
    if reason is not None:
        raise ConfigError(
            f"This branch is not its budget's run from the trunk's state: up to epoch "
            f"{config.optimisation.branch_epoch} ({branch_steps} steps) {reason}."
        )


def _seed_branch(config, backup, say):
    """Starts a branch's backup from its trunk's kept state (first start, or a stop before the copy committed)."""
    shape = config.optimisation
    branches.check_branch(config)
    branches.seed_backup(branches.KeptStates(shape.branch_from), shape.branch_epoch, backup.backup_dir)
    say(
        f"Branch of {shape.branch_from} at its epoch {shape.branch_epoch}: its state (weights, optimizer, "
        f"history) is this run's epoch {shape.branch_epoch}; "
        + (
            f"the rate decays over the last {shape.decay_fraction:.0%} of {config.budget.epochs} epochs."
            if shape.decay_fraction
            else f"the rate stays at the peak to epoch {config.budget.epochs} (a trunk)."
        )
    )


def _stopped_by_floor(stateful):
    floor = stateful.get("floor")  # the plateau schedule's learning-rate floor
    return floor is not None and floor.stopped_epoch is not None


def _first_kxk_layer(model_settings):
    return "block1_cnmf" if model_settings.family == "nmf" else "block1_conv"


def _describe(run, config, data, model, parameters, precision, strategy, chief):
    """The run's two header lines: where it writes and how it runs; the network and the data."""
    print(
        f"Run directory: {run.path} | precision {precision} | XLA {'on' if model.jit_compile else 'off'} | "
        f"{replicas(strategy)} replica(s), global batch {config.optimisation.batch_size}"
        + ("" if chief else " | non-chief worker")
    )
    print(
        f"{config.model.arch}: {parameters['trainable']:,} trainable parameters (NMF {parameters['nmf']:,}, "
        f"CNN {parameters['cnn']:,}) | {data.train_size} train, {data.validation_size} validation, "
        f"{data.test_size} test images | {describe_schedule(config.optimisation, config.budget)}; the test set is "
        f"evaluated for logging only",
        flush=True,
    )


def describe_schedule(optimisation, budget):
    """The learning-rate schedule in words (the header line; the paper's unless ``--schedule`` says otherwise)."""
    if optimisation.schedule == "plateau":
        monitor = "training loss" if optimisation.monitor == "loss" else "validation loss (held-out train split)"
        return f"learning-rate plateaus on the {monitor}"
    described = schedules.describe(
        optimisation.schedule, optimisation.peak_lr_factor, optimisation.warmup_fraction, optimisation.decay_fraction
    )
    return f"--schedule {described} (shares of the steps), over {budget.epochs} epochs"


def _last_good(run, epoch):
    """What survives a non-finite stop in ``epoch`` (0-based)."""
    if not epoch:
        return "No epoch had finished: --resume starts from epoch 1."
    return f"The backup of epoch {epoch} in {run.backup_dir} is the last good state."


def nan_advice(config, run):
    """What to do after a non-finite loss: the flags that can help, and the command that applies them."""
    optimisation = config.optimisation
    lowered = f" --lr {config.budget.lr / 10:g} --kxk-lr {config.budget.kxk_lr / 10:g}"
    if optimisation.schedule != "plateau":
        peak = optimisation.peak_lr_factor
        return (
            f"Lower learning rates usually help. --schedule {optimisation.schedule} lays the rates over the whole "
            f"run, so they cannot change on --resume: start a new run (another --logdir) with{lowered}"
            + (f" or a --peak-lr-factor below {peak:g}" if peak > 1 else "")
            + "."
        )
    advice = f"Lower learning rates usually help; --resume applies them:\n  {run.resume_command(lowered)}"
    if optimisation.alpha > LARGE_ALPHA:
        advice += (
            f"\n--alpha {optimisation.alpha:g} weights the squared error of the loss (eq. 21) heavily and is "
            f"the likely cause; it cannot change on --resume: start a new run with a smaller --alpha (the "
            f"paper's is 0.5)."
        )
    return advice


def stop_message(backup, run):
    """What a stop (Ctrl-C, a failed write) leaves, true for the moment it happened, and how to go on."""
    try:
        state = backup.read_state()
    except RunFileError as error:
        return f"The backup cannot be read: {error}"
    if state is None:
        return f"No epoch had finished, so none was saved; --resume starts from epoch 1:\n  {run.resume_command()}"
    if backup.training_finished(state):
        return (
            f"Training had finished (epoch {state['epoch']} is saved in {backup.backup_dir}), but the results "
            f"were not all written; --resume evaluates and saves it without training:\n  {run.resume_command()}"
        )
    return f"Epoch {state['epoch']} is the last one saved; continue with:\n  {run.resume_command()}"


def summarize_run(
    test,
    config,
    data,
    history,
    parameters,
    precision,
    jit,
    stopped_by_floor,
    session_seconds,
    startup_seconds=0.0,
    num_replicas=1,
):
    """What results.json records (beside the provenance), from the final evaluation ``test`` and every epoch's logs."""
    return {
        "arch": config.model.arch,
        "test_accuracy": float(test["accuracy"]),
        "test_loss": float(test["loss"]),
        "final_train_loss": history[-1]["loss"] if history else None,
        "parameters": parameters,
        "epochs_run": len(history),
        "stopped_by_lr_floor": stopped_by_floor,
        "train_seconds": sum(row.get("seconds") or 0.0 for row in history),
        "wall_seconds_this_session": session_seconds,
        "startup_seconds_this_session": startup_seconds,  # the model built and the data loaded, before fit
        "plateau_monitor": config.optimisation.monitor,
        "test_set_use": "logged each epoch and evaluated at the end; never used for selection or scheduling",
        "precision": precision,
        "jit_compile": jit,
        "replicas": num_replicas,
        "data": {
            "source": config.data.data_dir or f"tfds:{config.data.dataset}",
            "train_size": data.train_size,
            "validation_size": data.validation_size,
            "test_size": data.test_size,
            "image_shape": list(data.image_shape),
            "input_shape": list(data.input_shape),
            "classes": data.class_names,
        },
        "config": config.to_dict(),
    }
