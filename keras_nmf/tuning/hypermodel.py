"""The paper's sweep space (Nouri et al., section 3.1, Figure 6) for KerasTuner, on the training core.

Width x NMF groups x conv groups, sampled independently: 4 x 5 x 5 = 100
variants of ``cnmf_1x1``. Each trial is built, compiled and trained by the
same core as ``scripts/train.py`` (:mod:`keras_nmf.training.recipe`): the
recipe's precision and determinism applied for the trial and restored after
it, the eq. 21 loss, the two Adam rates, the plateau schedule on ``--monitor``,
the learning-rate floor, precise BatchNorm, and the stop on a non-finite loss
or weights, which ends the trial FAILED (KerasTuner's own status) with the
reason. ``HyperModel.fit`` returns the trial's metrics (validation and test
accuracy, parameter counts, epochs, seconds), so KerasTuner records them in
its ``trial.json``; ``record.json`` beside it adds the worker and the host.
"""

import itertools
import json
import math
import os
import pathlib
import socket
import time

import keras_tuner as kt

from keras_nmf.architectures import SWEEP_GROUPS, SWEEP_WIDTHS
from keras_nmf.errors import ConfigError, KerasNMFError
from keras_nmf.models import check_groups, count_parameters
from keras_nmf.training.callbacks import NonFiniteLossError
from keras_nmf.errors import RunLockedError
from keras_nmf.files import RunLock
from keras_nmf.training.config import TrainConfig
from keras_nmf.training.recipe import build_compiled_model, process_settings, recipe_callbacks, use_run_schedule

OBJECTIVE = "val_accuracy"
RECORD_FILE = "record.json"


class NMFHyperModel(kt.HyperModel):
    """Samples ``width``, ``nmf_groups`` and ``conv_groups``; everything else is the recipe's.

    For the CNN archs (no NMF layers) ``nmf_groups`` is not part of the space.

    Args:
        recipe: the ``TrainConfig`` every trial trains with (its sampled fields are ignored).
        input_shape, num_classes, image_shape: as ``build_compiled_model`` (``image_shape``: the model starts
            with the paper's augmentation and takes the raw images).
        widths, nmf_groups, conv_groups: the values to search.
        test_data: batches evaluated once at each trial's end (the report's test accuracy, never the objective).

    Raises:
        ValueError: a group value that does not divide the channels at some width.
    """

    def __init__(
        self,
        recipe: TrainConfig,
        input_shape=(28, 28, 3),
        num_classes=10,
        widths=SWEEP_WIDTHS,
        nmf_groups=SWEEP_GROUPS,
        conv_groups=SWEEP_GROUPS,
        test_data=None,
        image_shape=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.recipe, self.input_shape, self.num_classes = recipe, tuple(input_shape), num_classes
        self.image_shape = tuple(image_shape) if image_shape else None
        self.nmf = recipe.model.family == "nmf"
        self.widths, self.conv_groups = list(widths), list(conv_groups)
        self.nmf_groups = list(nmf_groups) if self.nmf else [1]
        self.test_data = test_data
        for width, nmf_group, conv_group in self.variants():
            try:
                check_groups(width, nmf_group, conv_group, self.nmf)
            except ValueError as error:
                raise ConfigError(f"{error} (flags: --widths, --nmf-groups, --conv-groups)") from None

    def variants(self):
        """Every (width, nmf_groups, conv_groups) of the space, in grid order."""
        return list(itertools.product(self.widths, self.nmf_groups, self.conv_groups))

    def variant_values(self):
        """Every variant as the hyperparameter values a trial records (no ``nmf_groups`` for the CNN archs)."""
        names = ("width", "nmf_groups", "conv_groups")
        return [
            {name: value for name, value in zip(names, variant) if self.nmf or name != "nmf_groups"}
            for variant in self.variants()
        ]

    def build_variant(self, width, nmf_groups, conv_groups, jit=None):
        """The recipe's compiled model at one point of the space (call it inside ``process_settings``)."""
        return build_compiled_model(
            self.recipe,
            self.input_shape,
            self.num_classes,
            jit=jit,
            image_shape=self.image_shape,
            width=width,
            nmf_groups=nmf_groups,
            conv_groups=conv_groups,
        )

    def build(self, hp):
        width = hp.Choice("width", self.widths)
        nmf_groups = hp.Choice("nmf_groups", self.nmf_groups) if self.nmf else 1
        conv_groups = hp.Choice("conv_groups", self.conv_groups)
        return self.build_variant(width, nmf_groups, conv_groups)

    def fit(self, hp, model, *args, recalibration_data=None, **kwargs):
        """``model.fit`` with the recipe's callbacks (and the tuner's); returns the trial's metrics.

        Raises:
            keras_tuner.errors.FailedTrialError: the loss, the weights or the
                final metrics are not finite (the trial ends FAILED with this reason).
        """
        use_run_schedule(model, self.recipe, kwargs.get("steps_per_epoch"))
        callbacks, _ = recipe_callbacks(self.recipe.optimisation, recalibration_data)
        kwargs["callbacks"] = callbacks + list(kwargs.get("callbacks") or [])
        kwargs.setdefault("shuffle", False)  # the pipeline shuffles every epoch itself
        start = time.perf_counter()
        try:
            history = model.fit(*args, **kwargs)
        except NonFiniteLossError as error:
            raise kt.errors.FailedTrialError(str(error)) from None
        metrics = self._metrics(model, history, time.perf_counter() - start)
        bad = sorted(name for name, value in metrics.items() if not math.isfinite(value))
        if bad:
            raise kt.errors.FailedTrialError(f"Non-finite final metrics: {', '.join(bad)}.")
        return metrics

    def _metrics(self, model, history, seconds):
        parameters = count_parameters(model)
        metrics = {
            "parameters_total": parameters["trainable"],
            "parameters_nmf": parameters["nmf"],
            "parameters_cnn": parameters["cnn"],
            "epochs": len(history.epoch),
            "seconds": round(seconds, 2),
        }
        if parameters["cnn_nmf_ratio"] is not None:
            metrics["cnn_nmf_ratio"] = parameters["cnn_nmf_ratio"]
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            if history.history.get(key):
                metrics[key] = float(history.history[key][-1])
        if self.test_data is not None:
            test = model.evaluate(self.test_data, verbose=0, return_dict=True)
            metrics["test_accuracy"], metrics["test_loss"] = float(test["accuracy"]), float(test["loss"])
        return {name: float(value) for name, value in metrics.items()}


class ResumableGridOracle(kt.oracles.GridSearchOracle):
    """``GridSearchOracle`` that never hands out a combination some trial already holds.

    KerasTuner's grid oracle keeps its place in the grid in memory only
    (keras-team/keras-tuner#1055): a restarted search lost it and retrained a
    finished trial. This oracle derives the next combination from the trials
    themselves, which KerasTuner reloads from the directory: the first one in
    grid order that no trial (completed, failed, running) holds. A restarted
    worker still gets its own unfinished trial back (KerasTuner's
    ``ongoing_trials``), and a restarted chief re-queues the trials that were
    running (KerasTuner's retry queue).
    """

    def populate_space(self, trial_id):
        space = self.get_space().space
        names = [hp.name for hp in space]
        taken = {
            tuple(sorted(trial.hyperparameters.values.items()))
            for other_id, trial in self.trials.items()
            if other_id != trial_id
        }
        for combination in itertools.product(*(hp.values for hp in space)):
            values = dict(zip(names, combination))
            if tuple(sorted(values.items())) not in taken:
                return {"status": kt.engine.trial.TrialStatus.RUNNING, "values": values}
        if self.ongoing_trials:
            return {"status": kt.engine.trial.TrialStatus.IDLE, "values": None}
        return {"status": kt.engine.trial.TrialStatus.STOPPED, "values": None}


def finished_metrics(trial_dir, values):
    """The metrics of a COMPLETED trial with these values already in ``trial_dir`` (KerasTuner's record), else None."""
    path = pathlib.Path(trial_dir) / "trial.json"
    if not path.exists():
        return None
    trial = kt.engine.trial.Trial.load(str(path))
    if trial.status != kt.engine.trial.TrialStatus.COMPLETED or trial.hyperparameters.values != values:
        return None
    return {name: trial.metrics.get_last_value(name) for name in trial.metrics.metrics}


class SweepTuner(kt.Tuner):
    """Grid search over :class:`NMFHyperModel` that never retrains or rewrites a finished trial.

    Each trial runs under the recipe's process settings (precision, TF32,
    determinism), restored afterwards, with every generator seeded from the
    recipe's seed. A trial whose folder already holds a COMPLETED record with
    the same values returns that record instead of training again, and
    ``record.json`` (worker, host) is written once, never overwritten.
    """

    def __init__(self, hypermodel: NMFHyperModel, max_trials=None, seed=None, **kwargs):
        oracle = ResumableGridOracle(objective=kt.Objective(OBJECTIVE, "max"), max_trials=max_trials, seed=seed)
        super().__init__(oracle, hypermodel, **kwargs)

    def run_trial(self, trial, *args, **kwargs):
        trial_dir = pathlib.Path(self.get_trial_dir(trial.trial_id))
        lock = RunLock(trial_dir)
        try:
            lock.acquire_or_raise()
        except RunLockedError as error:
            # Fatal for this process (KerasTuner would otherwise record the trial as FAILED and go on).
            raise TrialLockedError(f"{error} Two searches run on one --directory: stop this one.") from None
        try:
            earlier = finished_metrics(trial_dir, trial.hyperparameters.values)
            if earlier is not None:
                print(f"Trial {trial.trial_id} already finished with these values: keeping its record.")
                return earlier
            recipe = self.hypermodel.recipe
            optimisation = recipe.optimisation
            with process_settings(optimisation.precision, optimisation.deterministic, seed=optimisation.seed):
                results = super().run_trial(trial, *args, **kwargs)
            _write_record_once(
                trial_dir,
                {
                    "worker": os.environ.get("KERASTUNER_TUNER_ID", "local"),
                    "host": socket.gethostname(),
                    "recipe": recipe.to_dict(),
                },
            )
            return results
        finally:
            lock.release()


class TrialLockedError(KerasNMFError, kt.errors.FatalError):
    """Another process trains this trial's folder (one process per trial directory, as per run directory)."""


def _write_record_once(folder, record):
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with open(folder / RECORD_FILE, "x") as handle:
            handle.write(json.dumps(record, indent=2) + "\n")
    except FileExistsError:
        pass
