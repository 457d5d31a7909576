"""``train(config)``: one training run of the paper's recipe, end to end (Nouri et al., section 6).

Everything is checked before anything is written: the flags (``TrainConfig``),
``--resume``'s rules, the output location, and a build of the model on the
data set's input shape. Then the run directory is locked (one process per
run), the data loaded, the run directory created, and
:func:`keras_nmf.training.recipe.training_session` trains.

What survives a stop: every finished epoch is committed by
:class:`keras_nmf.training.backup.RunBackup` (weights, optimizer, schedule,
history) and ``epochs.csv`` is derived from that commit; when training ends,
``model.keras`` and ``results.json`` are written atomically and only then is
the backup removed. A kill, Ctrl-C or full disk at any moment therefore leaves
a directory that ``--resume`` completes without retraining a finished epoch
(after the last epoch it only evaluates and saves).
"""

import dataclasses
import datetime
import importlib.metadata
import os
import pathlib
import platform
import shlex
import subprocess
import sys
import time

import keras
import numpy as np

import keras_nmf
from keras_nmf.cli import command_line
from keras_nmf.data import input_shape_of, load_dataset
from keras_nmf.models import build_model, count_parameters
from keras_nmf.training import callbacks as run_callbacks
from keras_nmf.training.backup import RunBackup
from keras_nmf.training.config import ConfigError, TrainConfig, flag, resume_changes
from keras_nmf.training.diagnostics import NMFDiagnostics
from keras_nmf.training.tensorboard import EpochTensorBoard
from keras_nmf.training.distribute import is_chief, lost_worker_is_an_error, make_strategy, replicas
from keras_nmf.training.run_files import (
    RunFileError, RunLock, RunWriteError, atomic_save_model, atomic_write_json, remove_temporaries,
)
from keras_nmf.training.recipe import (
    model_arguments, model_augmentation, process_settings, recipe_callbacks, training_session,
)

#: Classes per data set, for the dry build before the data is loaded (an image folder: its class folders).
_DRY_BUILD_CLASSES = 10


def software_versions():
    return {
        "keras_nmf": keras_nmf.__version__,
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        keras.backend.backend(): _installed_version(keras.backend.backend()),
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _installed_version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def git_commit():
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
            cwd=pathlib.Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def find_run_dir(config):
    """The run directory: --logdir, the latest runs/<arch>-* to resume, or a new one."""
    if config.logdir:
        return pathlib.Path(config.logdir)
    if config.resume:
        candidates = sorted(pathlib.Path("runs").glob(f"{config.arch}-*"), key=lambda p: p.stat().st_mtime)
        if not candidates:
            raise FileNotFoundError(f"--resume: no earlier run under runs/{config.arch}-*; pass --logdir DIR.")
        return candidates[-1]
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return pathlib.Path("runs") / f"{config.arch}-{stamp}"


def resume_config(saved: TrainConfig, requested: TrainConfig, given) -> tuple:
    """The configuration of a resumed run: the saved one, with the given flags that may change.

    Learning rates, ``--epochs`` and runtime flags (XLA, chunking, output) may
    change; a recipe or data flag that differs from the saved value is an
    error, never silently ignored.

    Returns:
        ``(config, changes)``, ``changes`` as ``{field: (saved, new)}``.

    Raises:
        ConfigError: a flag that cannot change on --resume.
    """
    changes, refused = resume_changes(saved, requested, given)
    if refused:
        raise ConfigError(
            f"--resume continues a run with its saved configuration; these flags cannot change: {', '.join(refused)}. "
            f"Drop them, or start a new run with another --logdir.")
    config = dataclasses.replace(saved, resume=True, logdir=requested.logdir,
                                 **{name: new for name, (_, new) in changes.items()})
    return config, changes


def prepare_run(config, given=None):
    """Resolves the run directory and, on ``--resume``, the configuration; writes nothing.

    Args:
        given: names of the fields set explicitly (the command line's flags);
            ``None``: those that differ from ``TrainConfig``'s defaults.

    Returns:
        ``(run_dir, config, changes)``: ``changes`` are the fields a resume changed.
    """
    if config.distribute == "multiworker" and not config.logdir:
        raise FileNotFoundError(
            "--distribute multiworker needs --logdir DIR on a filesystem that every worker shares "
            "(the chief writes it, the others read its backups).")
    if given is None:
        defaults = TrainConfig()
        given = {f.name for f in dataclasses.fields(config) if getattr(config, f.name) != getattr(defaults, f.name)}
    run_dir = find_run_dir(config)
    if not config.resume:
        return run_dir, dataclasses.replace(config, logdir=str(run_dir)), {}
    saved_path = run_dir / "config.json"
    if not saved_path.exists():
        raise FileNotFoundError(f"--resume: {run_dir} has no config.json; is it a keras_nmf run directory?")
    if (run_dir / "results.json").exists():
        raise FileExistsError(f"--resume: the run in {run_dir} already finished (results.json exists).")
    requested = dataclasses.replace(config, logdir=str(run_dir))
    resumed, changes = resume_config(TrainConfig.load(saved_path), requested, given)
    changed = "; ".join(f"{flag(name)} {old} -> {new}" for name, (old, new) in changes.items())
    print(f"Resuming {run_dir} with its saved configuration" + (f"; changed: {changed}." if changed else "."))
    return run_dir, resumed, changes


def check_output_location(run_dir, config):
    """A new run needs an unused run directory in a writable place (checked before any work)."""
    if config.resume:
        return
    if (run_dir / "config.json").exists():
        raise FileExistsError(f"{run_dir} already holds a run: pass --resume to continue it, or another --logdir.")
    existing = run_dir
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(f"Cannot create the run directory {run_dir}: {existing} is not a writable folder. "
                              f"Pass --logdir DIR in a writable place.")


def check_model_builds(config):
    """Builds the model once on the data set's input shape, before any data is loaded or file written.

    Raises:
        ConfigError: the model cannot be built with these flags (the message says why).
        DataError: the data set's images cannot give that input (e.g. ``--crop-size``).
    """
    image_shape, input_shape = input_shape_of(config.dataset, config.data_dir, config.crop_size)
    try:
        model = build_model(config.arch, input_shape=input_shape, num_classes=_DRY_BUILD_CLASSES,
                            image_shape=image_shape, augmentation=model_augmentation(config, input_shape, image_shape),
                            **model_arguments(config))
    except ValueError as error:
        raise ConfigError(f"The model cannot be built with these flags: {error}") from None
    del model
    keras.backend.clear_session()


def start_run(run_dir, config, changes):
    """Creates the run directory and saves config.json (a new run, or a resume that changed flags)."""
    if not config.resume or changes:
        run_dir.mkdir(parents=True, exist_ok=True)
        config.save(run_dir / "config.json")


def _resume_command(run_dir, extra=""):
    return f"{command_line('train')} --resume --logdir {shlex.quote(str(run_dir))}{extra}"


def nan_advice(config, run_dir):
    """What to do after a non-finite loss: the flags that can help, and the command that applies them."""
    lowered = f" --lr {config.lr / 10:g} --kxk-lr {config.kxk_lr / 10:g}"
    advice = (f"Lower learning rates usually help; --resume applies them:\n  "
              f"{_resume_command(run_dir, lowered)}")
    if config.alpha > LARGE_ALPHA:
        advice += (f"\n--alpha {config.alpha:g} weights the squared error of the loss (eq. 21) heavily and is the "
                   f"likely cause; it cannot change on --resume: start a new run with a smaller --alpha (the "
                   f"paper's is 0.5).")
    return advice


#: Above this ``--alpha`` the NaN advice names it as the likely cause (the paper uses 0.5).
LARGE_ALPHA = 100.0


def stop_message(backup, run_dir):
    """What a stop (Ctrl-C, a failed write) leaves, true for the moment it happened, and how to go on."""
    try:
        state = backup.read_state()
    except RunFileError as error:
        return f"The backup cannot be read: {error}"
    if state is None:
        return f"No epoch had finished, so none was saved; --resume starts from epoch 1:\n  {_resume_command(run_dir)}"
    if backup.training_finished(state):
        return (f"Training had finished (epoch {state['epoch']} is saved in {backup.backup_dir}), but the results "
                f"were not all written; --resume evaluates and saves it without training:\n  "
                f"{_resume_command(run_dir)}")
    return f"Epoch {state['epoch']} is the last one saved; continue with:\n  {_resume_command(run_dir)}"


def build_callbacks(config, run_dir, data, chief=True, learning_rate=None):
    """The run's callbacks, in the order they must run at each epoch's end.

    The recipe's (BatchNorm recalibration, plateau, LR floor, non-finite
    stop), then the test evaluation and the NMF diagnostics (on the
    recalibrated statistics, as the final evaluation), the summary line, the
    backup (which commits the epoch's logs with the state and rewrites
    ``epochs.csv``), then TensorBoard. Non-chief workers of a multi-worker run
    train and evaluate the same steps (collectives need every worker) but
    write nothing into the run directory.

    Returns:
        ``(callbacks, floor, backup)``.
    """
    first_layer = "block1_cnmf" if config.arch.startswith("cnmf") else "block1_conv"
    backup_dir = run_dir / "backup"
    recipe, plateau, floor = recipe_callbacks(
        config, data.train,
        nan_advice=nan_advice(config, run_dir),
        last_good=lambda epoch: (f"The backup of epoch {epoch} in {backup_dir} is the last good state."
                                 if epoch else "No epoch had finished: --resume starts from epoch 1."),
        print_fn=print if chief else (lambda *args, **kwargs: None),
    )
    backup = RunBackup(backup_dir, config.epochs, stateful={"plateau": plateau, "floor": floor},
                       history_path=run_dir / "epochs.csv", write=chief, learning_rate=learning_rate)
    callbacks = recipe + [run_callbacks.TestSetEvaluation(data.test, every=config.eval_every)]
    if config.nmf_diagnostics:
        callbacks.append(NMFDiagnostics(data.test[0][0]))
    if config.verbose:
        callbacks.append(keras.callbacks.ProgbarLogger())  # finishes its line before the summary line
    callbacks += [run_callbacks.EpochSummary(config.epochs), backup]
    if chief:
        callbacks += [
            EpochTensorBoard(run_dir),
            run_callbacks.BasisImages(str(run_dir), first_layer),
        ]
    return callbacks, floor, backup


def summarize_run(test, config, data, history, parameters, precision, jit, stopped_by_floor, session_seconds,
                  num_replicas=1):
    """Everything results.json records, from the final test evaluation ``test`` and every epoch's logs."""
    return {
        "arch": config.arch,
        "test_accuracy": float(test["accuracy"]),
        "test_loss": float(test["loss"]),
        "final_train_loss": history[-1]["loss"] if history else None,
        "parameters": parameters,
        "epochs_run": len(history),
        "stopped_by_lr_floor": stopped_by_floor,
        "train_seconds": sum(row.get("seconds") or 0.0 for row in history),
        "wall_seconds_this_session": session_seconds,
        "plateau_monitor": config.monitor,
        "test_set_use": "logged each epoch and evaluated at the end; never used for selection or scheduling",
        "precision": precision,
        "jit_compile": jit,
        "replicas": num_replicas,
        "data": {"source": config.data_dir or f"tfds:{config.dataset}", "train_size": data.train_size,
                 "validation_size": data.validation_size, "test_size": data.test_size,
                 "image_shape": list(data.image_shape), "input_shape": list(data.input_shape),
                 "classes": data.class_names},
        "config": config.to_dict(),
        "git_commit": git_commit(),
        "versions": software_versions(),
    }


def train(config: TrainConfig, extra_callbacks=(), given=None) -> dict:
    """Trains one network and writes config.json, epochs.csv, model.keras and results.json.

    ``extra_callbacks`` run after the built-in ones (the epoch is backed up by
    then). ``given``: the fields set on the command line (see
    :func:`prepare_run`; decides what ``--resume`` changes). Returns the
    results dict (also saved as ``<run dir>/results.json``). Under
    ``config.distribute`` the model is built in the strategy's scope and only
    the chief writes (and locks) the run directory; a non-chief worker returns
    its test accuracy and loss only. Every process-wide setting (precision,
    TF32, determinism) is restored on return.

    Raises:
        ConfigError: flags that cannot run together, or cannot change on --resume.
        RunLockedError: another process trains this run directory.
        RunFileError: a run file (config.json, the backup) is corrupt; the message says what is intact.
        RunWriteError: a file could not be written (a full disk); every committed epoch is kept (resumable).
        NonFiniteLossError: the loss or the weights became NaN/Inf (resumable).
        DistributeError: the strategy cannot start (e.g. no TF_CONFIG), or a
            worker of a multi-worker run was lost (resumable).
    """
    run_dir, config, changes = prepare_run(config, given)
    # First: a multi-worker strategy must precede any other TensorFlow work.
    strategy = make_strategy(config.distribute, config.distribute_timeout)
    if config.batch_size % replicas(strategy):
        raise ConfigError(f"--batch-size {config.batch_size} does not split over {replicas(strategy)} devices: pass a "
                          f"multiple of {replicas(strategy)}.")
    chief = is_chief(strategy)
    lock = RunLock(run_dir)
    if chief:
        check_output_location(run_dir, config)
        lock.acquire_or_raise()  # at once: a second process on this run directory is refused before any work
    try:
        check_model_builds(config)
        if chief:
            for folder in (run_dir, run_dir / "backup"):
                remove_temporaries(folder)  # what a killed writer left
        # The data pipeline's random ops take the run's seed and determinism too: apply both before building it.
        with process_settings(config.precision, config.deterministic):
            keras.utils.set_random_seed(config.seed)
            data = load_dataset(
                name=config.dataset, data_dir=config.data_dir, tfds_dir=config.tfds_dir,
                batch_size=config.batch_size, crop_size=config.crop_size, val_split=config.val_split,
                limit_train=config.limit_train, limit_test=config.limit_test, seed=config.seed,
                steps_per_epoch=config.steps_per_epoch,
            )
            if chief:
                start_run(run_dir, config, changes)
            return _train_session(config, run_dir, data, strategy, chief, changes, extra_callbacks)
    finally:
        if chief:
            lock.release()


def _train_session(config, run_dir, data, strategy, chief, changes, extra_callbacks):
    """Builds, trains, evaluates and saves inside :func:`training_session`; returns the results."""
    with training_session(config, data.input_shape, data.num_classes, strategy, data.image_shape) as session:
        model = session.model
        print(f"Run directory: {run_dir} | precision {session.precision} | XLA {'on' if session.jit else 'off'} | "
              f"{replicas(strategy)} replica(s), global batch {config.batch_size}"
              + ("" if chief else " | non-chief worker"))
        parameters = count_parameters(model)
        monitor_note = "training loss" if config.monitor == "loss" else "validation loss (held-out train split)"
        print(
            f"{config.arch}: {parameters['trainable']:,} trainable parameters (NMF {parameters['nmf']:,}, "
            f"CNN {parameters['cnn']:,}) | {data.train_size} train, {data.validation_size} validation, "
            f"{data.test_size} test images | learning-rate plateaus on the {monitor_note}; "
            f"the test set is evaluated for logging only", flush=True,
        )
        callbacks, floor, backup = build_callbacks(
            config, run_dir, data, chief, learning_rate=config.lr if "lr" in changes else None)
        state = backup.read_state()  # checked before any training: a corrupt backup is an error now
        first_epoch = state["epoch"] if state else 0
        start = time.perf_counter()
        try:
            if backup.training_finished(state):
                backup.set_model(model)
                backup.restore()
            else:
                with lost_worker_is_an_error(strategy, _resume_command(run_dir)):
                    model.fit(
                        data.stream.from_epoch(first_epoch), epochs=config.epochs, steps_per_epoch=data.stream.steps,
                        validation_data=data.validation, callbacks=callbacks + list(extra_callbacks),
                        verbose=config.verbose, shuffle=False,  # the stream shuffles every epoch itself
                    )
            session_seconds = time.perf_counter() - start
            test = model.evaluate(data.test, verbose=0, return_dict=True)  # every worker: a collective
            if not chief:
                print(f"Non-chief worker done: test accuracy {test['accuracy']:.4f}; the chief writes {run_dir}.")
                return {"test_accuracy": float(test["accuracy"]), "test_loss": float(test["loss"]), "chief": False}
            atomic_save_model(model, run_dir / "model.keras")
            results = summarize_run(test, config, data, backup.history, parameters, session.precision, session.jit,
                                    stopped_by_floor=floor.stopped_epoch is not None,
                                    session_seconds=session_seconds, num_replicas=replicas(strategy))
            atomic_write_json(run_dir / "results.json", results)
        except KeyboardInterrupt:
            print(f"\nInterrupted. {stop_message(backup, run_dir)}")
            raise
        except RunWriteError as error:
            print(f"\n{error} {stop_message(backup, run_dir)}", file=sys.stderr)
            raise
        except run_callbacks.NonFiniteLossError as error:
            print(f"\n{error}")
            raise
        backup.remove()  # only now: the results are safely written
    print(f"Test accuracy {results['test_accuracy']:.4f} | loss {results['test_loss']:.4f} | "
          f"{results['epochs_run']} epochs | results in {run_dir / 'results.json'}")
    return results
