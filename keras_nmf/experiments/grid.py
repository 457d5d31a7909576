"""Run grids: one ordinary training run per (seed, variant, arch), resumable.

A grid is planned from a base ``TrainConfig`` (every train.py flag, the same
budget for every arch), the archs, the seeds and the variants. Each run lives
in ``<out>/<arch>[-<variant>]-seed<k>/`` and is an ordinary run directory of
:func:`keras_nmf.training.train` (config.json, epochs.csv, TensorBoard logs,
model.keras, results.json). Finished runs (results.json) are skipped,
interrupted ones resumed from their last epoch, and a run directory whose
saved configuration differs from the planned one is an error, never a mix.
"""

import dataclasses
import pathlib
import statistics

from keras_nmf.errors import ConfigError, ConfigMismatchError, NonFiniteLossError, RunFileError
from keras_nmf.experiments.variants import BASE_VARIANT, Variant
from keras_nmf import training
from keras_nmf.training import TrainConfig
from keras_nmf.training.config import for_arch, resume_changes
from keras_nmf.training.settings import FIELD_NAMES
from keras_nmf.files import RunLock
from keras_nmf.training.run_files import read_run_results

#: Every field of a planned run: what a grid passes to ``train`` as set explicitly.
ALL_FIELDS = frozenset(FIELD_NAMES)

FINISHED, INTERRUPTED, NEW = "finished", "interrupted", "new"
#: A run directory with a results.json whose run files are missing or unreadable: neither finished nor trainable.
DAMAGED = "damaged"


def run_name(arch, variant, seed):
    """``cnmf_1x1-seed0``, or ``cnmf-local-seed0`` for a variant other than the base."""
    middle = "" if variant.label == BASE_VARIANT.label else f"-{variant.label}"
    return f"{arch}{middle}-seed{seed}"


@dataclasses.dataclass
class GridRun:
    """One planned run: its place in the grid and its full configuration."""

    arch: str
    variant: Variant
    seed: int
    config: TrainConfig

    @property
    def run_dir(self) -> pathlib.Path:
        return pathlib.Path(self.config.execution.logdir)

    @property
    def name(self) -> str:
        return self.run_dir.name

    @property
    def status(self) -> str:
        if (self.run_dir / "results.json").exists():
            return FINISHED if self.damage is None else DAMAGED
        if (self.run_dir / "config.json").exists():
            return INTERRUPTED
        return NEW

    @property
    def damage(self):
        """What is wrong with a finished run's files (a deleted model.keras, a truncated results.json), or None."""
        try:
            read_run_results(self.run_dir / "results.json")
        except RunFileError as error:
            return str(error)
        if not (self.run_dir / "model.keras").is_file():
            return (
                f"{self.run_dir} has results.json but no model.keras (deleted, or the copy stopped): it is "
                f"not counted as finished. Restore model.keras, or delete {self.run_dir} to train the run again."
            )
        return None


def check_saved_config(run):
    """Raises ConfigMismatchError if the run directory holds a run that the planned one cannot continue.

    The rule is ``--resume``'s (:func:`keras_nmf.training.config.resume_changes`): the runtime flags may differ,
    and for an unfinished run the learning rates and ``--epochs`` (the resumed run takes the planned values); any
    other field may not, nor may a finished run's rates or epochs (its results were produced with them).
    """
    saved_path = run.run_dir / "config.json"
    if not saved_path.exists():
        return
    _, refused = resume_changes(TrainConfig.load(saved_path), run.config, finished=run.status == FINISHED)
    if refused:
        raise ConfigMismatchError(
            f"{run.run_dir} already holds a run with another configuration: {'; '.join(refused)}. "
            f"Rerun with the flags it was started with, give this configuration its own --variant label, "
            f"or use another --out directory."
        )


def plan_grid(base_config: TrainConfig, archs, seeds, variants, out) -> list:
    """The runs of a grid, seed by seed (every arch of seed 0 first), checked against the disk.

    Args:
        base_config: the configuration shared by all runs (budget, data, recipe).
        archs, seeds: the archs and seeds to run.
        variants: :class:`Variant` objects (``[BASE_VARIANT]`` for the plain comparison).
        out: the grid's directory.

    A base flag that applies to one family of archs only (``--iterations`` to
    the NMF archs, ``--cnn-kxk-bias`` to the CNNs) takes effect in that family's
    runs and is left at its default in the others; a variant that sets such a
    field for an arch it does not apply to is refused.

    Raises:
        ConfigMismatchError: an existing run directory holds another configuration.
        ConfigError: duplicate variant labels, or a variant that cannot run with one of the archs.
    """
    labels = [variant.label for variant in variants]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"Variant labels must be unique. Received: {', '.join(labels)}")
    runs = []
    for seed in seeds:
        for variant in variants:
            for arch in archs:
                config = for_arch(base_config, arch).replace(
                    seed=seed,
                    variant=variant.label,
                    resume=False,
                    logdir=str(pathlib.Path(out) / run_name(arch, variant, seed)),
                )
                run = GridRun(arch, variant, seed, variant.apply(config))
                check_saved_config(run)
                runs.append(run)
    return runs


def run_seconds(run):
    """A finished run's time: its epochs (over every session) and the last session's start-up (data, model)."""
    results = read_run_results(run.run_dir / "results.json")
    return results["train_seconds"] + float(results.get("startup_seconds_this_session") or 0.0)


def _known_seconds(runs):
    """Seconds per finished run (:func:`run_seconds`), by (arch, variant label)."""
    seconds = {}
    for run in runs:
        if run.status == FINISHED:
            seconds.setdefault((run.arch, run.variant.label), []).append(run_seconds(run))
    return seconds


def estimate_seconds_left(remaining, seconds_by_kind):
    """Sum over the remaining runs of the mean time of runs of the same kind (arch, variant).

    Kinds not seen yet count as the mean over all kinds; None while nothing has finished.
    """
    if not seconds_by_kind:
        return None
    overall = statistics.mean(s for values in seconds_by_kind.values() for s in values)
    return sum(statistics.mean(seconds_by_kind.get((run.arch, run.variant.label), [overall])) for run in remaining)


def _format_duration(seconds):
    if seconds is None:
        return "unknown until a run finishes"
    if seconds < 90:
        return f"~{seconds:.0f} s"
    minutes = seconds / 60
    return f"~{minutes:.0f} min" if minutes < 90 else f"~{minutes / 60:.1f} h"


def run_grid(runs, extra_callbacks=(), print_fn=print, train_fn=None) -> dict:
    """Trains every unfinished run of ``runs`` in order; returns counts by outcome.

    Finished runs are skipped, interrupted ones resumed (``--resume``), and a
    run locked by another process (a second invocation on the same directory)
    is left to it. Before each run a progress line says which run of how many
    is training and the estimated time left.

    A run whose loss turns non-finite is reported and left resumable; the
    grid goes on with the next run.

    A run whose files are damaged (:attr:`GridRun.damage`) is named and left as it is.

    Returns:
        ``{"trained", "resumed", "skipped_finished", "skipped_locked", "failed", "damaged"}``.
    """
    train_fn = train_fn or training.train  # imported on first use: TensorFlow's tf.data
    counts = {"trained": 0, "resumed": 0, "skipped_finished": 0, "skipped_locked": 0, "failed": 0, "damaged": 0}
    seconds = _known_seconds(runs)
    finished = sum(run.status == FINISHED for run in runs)
    print_fn(f"{len(runs)} runs planned: {finished} finished, {len(runs) - finished} to train.", flush=True)
    for index, run in enumerate(runs, start=1):
        status = run.status
        if status == FINISHED:
            counts["skipped_finished"] += 1
            continue
        if status == DAMAGED:
            counts["damaged"] += 1
            print_fn(f"[run {index}/{len(runs)}] {run.name}: {run.damage}", flush=True)
            continue
        lock = RunLock(run.run_dir)
        if not lock.acquire():
            counts["skipped_locked"] += 1
            print_fn(f"[run {index}/{len(runs)}] {run.name}: being trained by another process, skipped.", flush=True)
            continue
        try:
            status = run.status  # the other process may have finished it meanwhile
            if status == FINISHED:
                counts["skipped_finished"] += 1
                continue
            remaining = [r for r in runs[index - 1 :] if r.status not in (FINISHED, DAMAGED)]
            action = "resuming" if status == INTERRUPTED else "training"
            print_fn(
                f"[run {index}/{len(runs)}] {action} {run.name} ({run.arch}, variant {run.variant.label}: "
                f"{run.variant.describe()}, seed {run.seed}) | {len(remaining)} runs left, "
                f"estimated {_format_duration(estimate_seconds_left(remaining, seconds))}",
                flush=True,
            )
            config = run.config.replace(resume=status == INTERRUPTED)
            try:
                # Every planned field is "given": a resume takes the planned learning rates, epochs, runtime flags.
                train_fn(config, extra_callbacks=extra_callbacks, given=ALL_FIELDS)
            except NonFiniteLossError:
                counts["failed"] += 1  # train() printed the epoch, batch and resume command
                continue
            seconds.setdefault((run.arch, run.variant.label), []).append(run_seconds(run))
            counts["resumed" if status == INTERRUPTED else "trained"] += 1
        finally:
            lock.release()
    return counts
