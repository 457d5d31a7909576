"""A budget curve per network: one stable warm-stable-decay trunk and a decay branch per budget (resumable).

For each (arch, seed) the plan holds a **trunk**, ``<out>/<arch>-seed<k>-trunk``: ``--schedule wsd`` at the peak rate
without decay (``--decay-fraction 0``), to the longest budget's branch epoch, keeping the state of every branch epoch
(``--keep-epochs``); and for each budget T a **branch**, ``<out>/<arch>-seed<k>-e<T>``: from the trunk's state at
E = (1 - decay) T, the decay to 0 over the last ``decay`` of T (:mod:`keras_nmf.training.branches`). Each is an
ordinary run directory of :func:`keras_nmf.training.train`; a branch's records name the trunk and the epoch.

:func:`run_budget` trains the plan in priority order: the first unfinished run that is ready (a branch once its
trunk kept its epoch; ready branches before trunks) and that no other process holds (its run lock), so several
processes running the same command share the plan, the trunk training in one while its branches and the next
networks' runs train in the others.
Finished runs are skipped, interrupted ones resumed.
"""

import dataclasses
import pathlib
import time

from keras_nmf import training
from keras_nmf.errors import ConfigError, NonFiniteLossError
from keras_nmf.experiments.grid import ALL_FIELDS, DAMAGED, FINISHED, INTERRUPTED, GridRun, check_saved_config
from keras_nmf.experiments.variants import BASE_VARIANT
from keras_nmf.training import TrainConfig
from keras_nmf.training.branches import KeptStates
from keras_nmf.training.config import for_arch
from keras_nmf.files import RunLock

#: What a waiting process sleeps between looks at the trunks it waits for.
POLL_SECONDS = 60.0


@dataclasses.dataclass
class BudgetRun(GridRun):
    """A trunk (``budget`` None) or a decay branch of budget ``budget`` epochs from the trunk's ``branch_epoch``."""

    budget: int = None
    branch_epoch: int = None

    @property
    def is_trunk(self):
        return self.budget is None

    @property
    def ready(self):
        """A trunk is always ready; a branch once its trunk has kept its branch epoch."""
        if self.is_trunk:
            return True
        return self.branch_epoch in KeptStates(self.config.optimisation.branch_from).epochs()


def branch_epoch(budget, decay_fraction):
    """The epoch a branch of ``budget`` epochs starts its decay: (1 - decay) x budget, which must be whole."""
    epoch = round((1.0 - decay_fraction) * budget, 9)
    if epoch != int(epoch) or epoch < 1:
        raise ConfigError(
            f"A budget of {budget} epochs with --decay-fraction {decay_fraction:g} decays from epoch "
            f"{epoch:g}: a branch starts from a whole epoch of the trunk. Choose budgets whose "
            f"{1.0 - decay_fraction:g} share is a whole number of epochs (e.g. 20, 40, 80 for 0.2)."
        )
    return int(epoch)


def plan_budget(base: TrainConfig, archs, seeds, budgets, out) -> list:
    """The trunks and branches, network by network in ``archs``' order (its trunk first, then its budgets).

    Args:
        base: every run's settings (recipe, data, runtime); its ``--decay-fraction`` is the branches' decay.
        budgets: the branches' total epochs.

    Raises:
        ConfigError: a budget whose stable phase is not a whole number of epochs, or a base that is not wsd.
        ConfigMismatchError: a run directory holds a run of another configuration.
    """
    if base.optimisation.schedule != "wsd":
        raise ConfigError(
            f"A budget curve branches a --schedule wsd trunk; the base is --schedule "
            f"{base.optimisation.schedule}. Drop --schedule (wsd is the default here)."
        )
    if base.optimisation.warmup_fraction:
        raise ConfigError(
            "--warmup-fraction is a share of each run's steps, so the budgets would not share their "
            "warm-up with the trunk: drop it."
        )
    decay = base.optimisation.decay_fraction
    if not decay:
        raise ConfigError(
            "--decay-fraction 0 leaves the branches without a decay: give the branches' decay (the "
            "recipe's 0.2 by default)."
        )
    budgets = sorted(set(budgets))
    epochs = {budget: branch_epoch(budget, decay) for budget in budgets}
    keep = ",".join(str(epoch) for epoch in epochs.values())
    out = pathlib.Path(out)
    runs = []
    for arch in archs:
        for seed in seeds:
            common = for_arch(base, arch).replace(seed=seed, resume=False)
            trunk_dir = out / f"{arch}-seed{seed}-trunk"
            trunk = common.replace(
                decay_fraction=0.0, epochs=max(epochs.values()), keep_epochs=keep, logdir=str(trunk_dir)
            )
            runs.append(BudgetRun(arch, BASE_VARIANT, seed, trunk))
            for budget in budgets:
                branch = common.replace(
                    epochs=budget,
                    branch_from=str(trunk_dir.resolve()),
                    branch_epoch=epochs[budget],
                    logdir=str(out / f"{arch}-seed{seed}-e{budget}"),
                )
                runs.append(BudgetRun(arch, BASE_VARIANT, seed, branch, budget, epochs[budget]))
    for run in runs:
        check_saved_config(run)
    return runs


def run_budget(runs, print_fn=print, train_fn=None, poll_seconds=POLL_SECONDS, sleep=time.sleep) -> dict:
    """Trains the plan: again and again the first unfinished, ready run that no other process holds.

    While every unfinished run is held by another process or waits for a trunk that another process trains, it
    waits (``poll_seconds``) for a branch point; it returns when nothing is left that it could train.

    Returns:
        ``{"trained", "resumed", "failed"}`` counts.
    """
    train_fn = train_fn or training.train
    counts = {"trained": 0, "resumed": 0, "failed": 0}
    failed = set()
    while True:
        for run in runs:
            if run.status == DAMAGED and run.name not in failed:
                print_fn(f"{run.name}: {run.damage}", flush=True)
                failed.add(run.name)
        pending = [run for run in runs if run.status not in (FINISHED, DAMAGED) and run.name not in failed]
        if not pending:
            return counts
        run = _take_next(pending)
        if run is None:
            waiting = [candidate for candidate in pending if not candidate.ready and _trunk_in_progress(candidate)]
            if not waiting:
                return counts
            print_fn(
                f"Waiting for a branch point: {', '.join(f'{r.name} needs epoch {r.branch_epoch}' for r in waiting)}"
                f" (looking again in {poll_seconds:g} s).",
                flush=True,
            )
            sleep(poll_seconds)
            continue
        try:
            status = run.status
            finished = sum(candidate.status == FINISHED for candidate in runs)
            what = "trunk" if run.is_trunk else f"branch at epoch {run.branch_epoch} to {run.budget} epochs"
            print_fn(
                f"[{finished}/{len(runs)} finished] {'resuming' if status == INTERRUPTED else 'training'} "
                f"{run.name} ({what})",
                flush=True,
            )
            try:
                train_fn(run.config.replace(resume=status == INTERRUPTED), given=ALL_FIELDS)
            except NonFiniteLossError:
                counts["failed"] += 1  # train() printed the epoch and the resume command
                failed.add(run.name)
                continue
            counts["resumed" if status == INTERRUPTED else "trained"] += 1
        finally:
            RunLock(run.run_dir).release()


def _take_next(pending):
    """The first ready run of ``pending`` that this process could lock (locked), or ``None``: a ready branch before
    any trunk (a branch is short and finishes a budget; a trunk goes on for days)."""
    for run in sorted(pending, key=lambda run: run.is_trunk):  # stable: the plan's order within each kind
        if not run.ready:
            continue
        lock = RunLock(run.run_dir)
        if not lock.acquire():
            continue
        if run.status == FINISHED:  # another process finished it meanwhile
            lock.release()
            continue
        return run
    return None


def _trunk_in_progress(branch):
    """Whether the branch's trunk is unfinished (another process may still keep the branch epoch)."""
    return not (pathlib.Path(branch.config.optimisation.branch_from) / "results.json").exists()
