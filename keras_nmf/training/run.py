"""``train(config)``: the paper's training recipe, end to end (PAPER.md section 6)."""

import csv
import datetime
import json
import pathlib
import platform
import subprocess
import time

import keras
import numpy as np
import tensorflow as tf

import keras_nmf
from keras_nmf.data import load_dataset
from keras_nmf.losses import CrossEntropyMSE
from keras_nmf.models import build_model, count_parameters
from keras_nmf.training import callbacks as run_callbacks
from keras_nmf.training.batchnorm import RecalibrateBatchNorm
from keras_nmf.training.config import TrainConfig
from keras_nmf.training.distribute import (
    is_chief, lost_worker_is_an_error, make_strategy, patch_multiworker_build, replicas, strategy_scope,
)
from keras_nmf.optimizers import MultiRateAdam
from keras_nmf.training.plateau import ResumableReduceLROnPlateau

#: Variables trained at ``kxk_lr``: every block's kxk NMF kernel or CNN conv.
KXK_VARIABLES = r"^block\d+_(cnmf|conv)/"

#: XLA by default where it is faster. Measured on the 2-CPU reference machine
#: (batch 50, float32, train_on_batch, 25 interleaved steps, medians):
#: cnmf_1x1 344 ms with XLA vs 411 ms without (patch extraction and its
#: gradient fuse); cnn 36 ms with XLA vs 31 ms without.
DEFAULT_JIT = {"cnn": False, "cnn_1x1": False, "cnmf": True, "cnmf_1x1": True}


def default_jit(arch, strategy=None):
    """XLA where it measured faster (``DEFAULT_JIT``), but off under a ``tf.distribute`` strategy.

    XLA-compiled steps under ``MirroredStrategy`` fail with "Trying to access
    resource ... located in device CPU:1 from device CPU:0" (XLA's known
    issue of variables on another device; keras-team/keras#19005, where Keras
    disabled XLA under tf.distribute). ``TrainConfig`` rejects ``--jit`` with
    ``--distribute``.
    """
    return DEFAULT_JIT[arch] and strategy is None


def resolve_precision(precision):
    """``auto``: mixed_bfloat16 (compute capability >= 8), mixed_float16 (>= 7) or float32."""
    if precision != "auto":
        return precision
    for gpu in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability", (0, 0))
        if capability >= (8, 0):
            return "mixed_bfloat16"
        if capability >= (7, 0):
            return "mixed_float16"
    return "float32"


def apply_precision(precision):
    """Sets Keras's dtype policy; ``float32`` also means true float32 matmuls on the GPU.

    On Ampere and newer GPUs TensorFlow runs float32 matmuls as TF32 (10-bit
    mantissa) by default. Emulated on a CPU (``scripts/bench_tf32.py``), TF32
    moves ~5e-4 of each h's mass after N = 20 iterations, 1000x float32's
    error, so ``float32`` turns TF32 off. Under the mixed policies TF32 stays
    on (TensorFlow's default): its error is below the bfloat16 rounding of the
    layer's input that ``mixed_bfloat16`` already accepts. The switch is
    process-wide (TensorFlow has no per-op setting).
    """
    keras.config.set_dtype_policy(precision)
    if precision == "float32":
        tf.config.experimental.enable_tensor_float_32_execution(False)


def software_versions():
    return {
        "keras_nmf": keras_nmf.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


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


def prepare_run(config):
    """Resolves the run directory; on resume the saved configuration wins.

    Nothing is written here: the directory and config.json are created by
    :func:`start_run` once the data has loaded. A new run may not reuse a run
    directory (checked by :func:`check_new_run`, on the chief only).
    """
    if config.distribute == "multiworker" and not config.logdir:
        raise FileNotFoundError(
            "--distribute multiworker needs --logdir DIR on a filesystem that every worker shares "
            "(the chief writes it, the others read its backups).")
    run_dir = find_run_dir(config)
    if config.resume:
        saved = run_dir / "config.json"
        if not saved.exists():
            raise FileNotFoundError(f"--resume: {run_dir} has no config.json; is it a keras_nmf run directory?")
        if (run_dir / "results.json").exists():
            raise FileExistsError(f"--resume: the run in {run_dir} already finished (results.json exists).")
        resumed = TrainConfig.load(saved)
        resumed.resume, resumed.logdir, resumed.verbose = True, str(run_dir), config.verbose
        resumed.distribute_timeout = config.distribute_timeout
        print(f"Resuming {run_dir} with its saved configuration.")
        return run_dir, resumed
    config.logdir = str(run_dir)
    return run_dir, config


def check_new_run(run_dir, config):
    if not config.resume and (run_dir / "config.json").exists():
        raise FileExistsError(f"{run_dir} already holds a run: pass --resume to continue it, or another --logdir.")


def start_run(run_dir, config):
    """Creates the run directory and saves config.json (a new run only)."""
    if not config.resume:
        run_dir.mkdir(parents=True, exist_ok=True)
        config.save(run_dir / "config.json")


def compile_model(model, config, jit):
    optimizer = MultiRateAdam(
        learning_rate=config.lr,
        rate_multipliers={KXK_VARIABLES: config.kxk_lr / config.lr},
        epsilon=1e-8,  # PyTorch's Adam default, as in the authors' code
    )
    model.compile(
        optimizer=optimizer,
        loss=CrossEntropyMSE(alpha=config.alpha),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=jit,
    )
    return model


def _epoch_history(csv_path):
    if not csv_path.exists():
        return []
    with open(csv_path, newline="") as handle:
        return list(csv.DictReader(handle))


def build_callbacks(config, run_dir, data, floor, chief=True):
    """The run's callbacks, in order: BatchNorm recalibration, then test logging, then the loggers.

    Non-chief workers of a multi-worker run train and evaluate the same steps
    (collectives need every worker) but write nothing into the run directory.
    """
    first_layer = "block1_cnmf" if config.arch.startswith("cnmf") else "block1_conv"
    callbacks = [
        RecalibrateBatchNorm(data.train, config.bn_recalibration_batches),
        run_callbacks.TestSetEvaluation(data.test, every=config.eval_every),
        run_callbacks.EpochSummary(config.epochs),
        ResumableReduceLROnPlateau(
            run_dir / "plateau.json", monitor=config.monitor, factor=config.plateau_factor,
            patience=config.plateau_patience, min_lr=0.0, verbose=int(chief), write_state=chief,
        ),
        floor,
        run_callbacks.StopOnNonFiniteLoss(run_dir),  # before the backup: never back up NaNs
        run_callbacks.ChiefBackupAndRestore(str(run_dir / "backup"), write=chief),
    ]
    if chief:
        callbacks += [
            keras.callbacks.CSVLogger(str(run_dir / "epochs.csv"), append=True),
            keras.callbacks.TensorBoard(str(run_dir), write_graph=False),
            run_callbacks.BasisImages(str(run_dir), first_layer),
        ]
    return callbacks


def summarize_run(test, config, data, run_dir, parameters, precision, jit, stopped_by_floor, session_seconds,
                  num_replicas=1):
    """Everything results.json records, from the final test evaluation ``test``."""
    history = _epoch_history(run_dir / "epochs.csv")
    return {
        "arch": config.arch,
        "test_accuracy": float(test["accuracy"]),
        "test_loss": float(test["loss"]),
        "final_train_loss": float(history[-1]["loss"]) if history else None,
        "parameters": parameters,
        "epochs_run": len(history),
        "stopped_by_lr_floor": stopped_by_floor,
        "train_seconds": sum(float(row["epoch_seconds"]) for row in history),
        "wall_seconds_this_session": session_seconds,
        "plateau_monitor": config.monitor,
        "test_set_use": "logged each epoch and evaluated at the end; never used for selection or scheduling",
        "precision": precision,
        "jit_compile": jit,
        "replicas": num_replicas,
        "data": {"source": config.data_dir or f"tfds:{config.dataset}", "train_size": data.train_size,
                 "validation_size": data.validation_size, "test_size": data.test_size,
                 "input_shape": list(data.input_shape), "classes": data.class_names},
        "config": config.to_dict(),
        "git_commit": git_commit(),
        "versions": software_versions(),
    }


def train(config: TrainConfig, extra_callbacks=()) -> dict:
    """Trains one network and writes config.json, model.keras and results.json.

    ``extra_callbacks`` run after the built-in ones (the epoch is backed up by
    then). Returns the results dict (also saved as ``<run dir>/results.json``).
    Under ``config.distribute`` the model is built in the strategy's scope and
    only the chief writes the run directory; a non-chief worker returns its
    test accuracy and loss only.

    Raises:
        NonFiniteLossError: the loss or the weights became NaN/Inf (resumable).
        DistributeError: the strategy cannot start (e.g. no TF_CONFIG), or a
            worker of a multi-worker run was lost (resumable).
    """
    run_dir, config = prepare_run(config)
    # First: a multi-worker strategy must precede any other TensorFlow work.
    strategy = make_strategy(config.distribute, config.distribute_timeout)
    chief = is_chief(strategy)
    if chief:
        check_new_run(run_dir, config)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(config.seed)
    precision = resolve_precision(config.precision)
    apply_precision(precision)
    jit = default_jit(config.arch, strategy) if config.jit is None else config.jit
    print(f"Configuration: {json.dumps(config.to_dict())}")
    print(f"Run directory: {run_dir} | precision {precision} | XLA {'on' if jit else 'off'} | "
          f"{replicas(strategy)} replica(s), global batch {config.batch_size}" + ("" if chief else " | non-chief worker"))

    data = load_dataset(
        name=config.dataset, data_dir=config.data_dir, tfds_dir=config.tfds_dir,
        batch_size=config.batch_size, crop_size=config.crop_size, val_split=config.val_split,
        limit_train=config.limit_train, limit_test=config.limit_test, seed=config.seed,
    )
    if chief:
        start_run(run_dir, config)
    with strategy_scope(strategy):
        model = build_model(
            config.arch, input_shape=data.input_shape, num_classes=data.num_classes, width=config.width,
            nmf_groups=config.nmf_groups, conv_groups=config.conv_groups, iterations=config.iterations,
            epsilon=config.epsilon, backward=config.backward, nmf_learning=config.nmf_learning,
            nmf_chunk_elements=config.nmf_chunk_elements or None, bn_synchronized=strategy is not None,
        )
        compile_model(model, config, jit)
    patch_multiworker_build(model, strategy)
    parameters = count_parameters(model)
    monitor_note = "training loss" if config.monitor == "loss" else "validation loss (held-out train split)"
    print(
        f"{config.arch}: {parameters['trainable']:,} trainable parameters (NMF {parameters['nmf']:,}, "
        f"CNN {parameters['cnn']:,}) | {data.train_size} train, {data.validation_size} validation, "
        f"{data.test_size} test images | learning-rate plateaus on the {monitor_note}; "
        f"the test set is evaluated for logging only"
    )

    train_data = data.train.repeat() if config.steps_per_epoch else data.train
    floor = run_callbacks.LearningRateFloor(config.min_lr)
    callbacks = build_callbacks(config, run_dir, data, floor, chief) + list(extra_callbacks)
    start = time.perf_counter()
    resume_command = f"python scripts/train.py --resume --logdir {run_dir}"
    try:
        with lost_worker_is_an_error(strategy, resume_command):
            model.fit(
                train_data, epochs=config.epochs, steps_per_epoch=config.steps_per_epoch,
                validation_data=data.validation, callbacks=callbacks, verbose=config.verbose,
            )
    except KeyboardInterrupt:
        print(
            f"\nInterrupted. The last completed epoch is saved; continue with:\n  {resume_command}"
        )
        raise
    except run_callbacks.NonFiniteLossError as error:
        print(f"\n{error}")
        raise
    session_seconds = time.perf_counter() - start

    test = model.evaluate(data.test, verbose=0, return_dict=True)  # every worker: a collective
    if not chief:
        print(f"Non-chief worker done: test accuracy {test['accuracy']:.4f}; the chief writes {run_dir}.")
        return {"test_accuracy": float(test["accuracy"]), "test_loss": float(test["loss"]), "chief": False}
    model.save(run_dir / "model.keras")
    results = summarize_run(test, config, data, run_dir, parameters, precision, jit,
                            stopped_by_floor=floor.stopped_epoch is not None, session_seconds=session_seconds,
                            num_replicas=replicas(strategy))
    (run_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"Test accuracy {results['test_accuracy']:.4f} | loss {results['test_loss']:.4f} | "
          f"{results['epochs_run']} epochs | results in {run_dir / 'results.json'}")
    return results
