"""``NMFHyperModel``: the paper's sweep space (section 3.1) for KerasTuner.

Width x NMF groups x conv groups, sampled independently: 4 x 5 x 5 = 100
variants of ``cnmf_1x1``. Each trial trains with the paper's recipe, as
``scripts/train.py`` does: eq. 21 loss, Adam at ``lr`` with ``kxk_lr`` for the
kxk weights, ReduceLROnPlateau on the training loss, the learning-rate floor,
precise BatchNorm before each evaluation. At the trial's end the test set is
evaluated once for the report (never the objective) and the trial's record
(parameter counts, accuracies, epochs, seconds, worker) is written beside
KerasTuner's ``trial.json``.
"""

import itertools
import json
import os
import pathlib
import socket
import time

import keras
import keras_tuner as kt

from keras_nmf.models import build_model, check_groups, count_parameters
from keras_nmf.training.batchnorm import RecalibrateBatchNorm
from keras_nmf.training.callbacks import LearningRateFloor
from keras_nmf.training.config import TrainConfig
from keras_nmf.training.run import compile_model, default_jit

WIDTHS = (1, 2, 4, 8)
GROUPS = (1, 2, 4, 8, 16)


class NMFHyperModel(kt.HyperModel):
    """Samples ``width``, ``nmf_groups`` and ``conv_groups``, then calls the factory.

    For the CNN archs (no NMF layers) ``nmf_groups`` is not part of the space.

    Args:
        recipe: a ``TrainConfig`` with the arch and the training recipe
            (``arch``, ``iterations``, ``lr``, ``kxk_lr``, ``alpha``, plateau
            settings, ``min_lr``, ``bn_recalibration_batches``, ``jit``).
        input_shape, num_classes: as ``build_model``.
        widths, nmf_groups, conv_groups: the values to search.
        test_data: batches evaluated once at each trial's end (the report's test accuracy).

    Raises:
        ValueError: a group value that does not divide the channels at some width.
    """

    def __init__(self, recipe: TrainConfig, input_shape=(28, 28, 3), num_classes=10, widths=WIDTHS,
                 nmf_groups=GROUPS, conv_groups=GROUPS, test_data=None, **kwargs):
        super().__init__(**kwargs)
        self.recipe, self.input_shape, self.num_classes = recipe, tuple(input_shape), num_classes
        self.nmf = recipe.arch.startswith("cnmf")
        self.widths, self.conv_groups = list(widths), list(conv_groups)
        self.nmf_groups = list(nmf_groups) if self.nmf else [1]
        self.test_data = test_data
        for width, nmf_group, conv_group in self.variants():
            check_groups(width, nmf_group, conv_group, self.nmf)

    def variants(self):
        """Every (width, nmf_groups, conv_groups) of the space, in grid order."""
        return list(itertools.product(self.widths, self.nmf_groups, self.conv_groups))

    def build_variant(self, width, nmf_groups, conv_groups, jit=None):
        model = build_model(
            self.recipe.arch, input_shape=self.input_shape, num_classes=self.num_classes, width=width,
            nmf_groups=nmf_groups, conv_groups=conv_groups, iterations=self.recipe.iterations,
            epsilon=self.recipe.epsilon, nmf_chunk_elements=self.recipe.nmf_chunk_elements or None,
        )
        if jit is None:
            jit = default_jit(self.recipe.arch) if self.recipe.jit is None else self.recipe.jit
        return compile_model(model, self.recipe, jit)

    def build(self, hp):
        width = hp.Choice("width", self.widths)
        nmf_groups = hp.Choice("nmf_groups", self.nmf_groups) if self.nmf else 1
        conv_groups = hp.Choice("conv_groups", self.conv_groups)
        return self.build_variant(width, nmf_groups, conv_groups)

    def fit(self, hp, model, *args, recalibration_data=None, record_dir=None, **kwargs):
        """``model.fit`` with the recipe's callbacks, forwarding the tuner's; then the trial's record.

        ``record_dir`` (set by ``RecordingGridSearch``) receives ``record.json``.
        """
        recipe = self.recipe
        callbacks = [
            keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=recipe.plateau_factor,
                                              patience=recipe.plateau_patience, min_lr=0.0),
            LearningRateFloor(recipe.min_lr),
        ]
        if recalibration_data is not None:
            callbacks.insert(0, RecalibrateBatchNorm(recalibration_data, recipe.bn_recalibration_batches))
        kwargs["callbacks"] = callbacks + list(kwargs.get("callbacks") or [])
        start = time.perf_counter()
        history = model.fit(*args, **kwargs)
        seconds = time.perf_counter() - start
        if record_dir is not None:
            self._write_record(pathlib.Path(record_dir), model, history, seconds)
        return history

    def _write_record(self, folder, model, history, seconds):
        parameters = count_parameters(model)
        val = history.history.get("val_accuracy") or [None]
        test = model.evaluate(self.test_data, verbose=0, return_dict=True) if self.test_data is not None else {}
        record = {
            "parameters_total": parameters["trainable"], "parameters_nmf": parameters["nmf"],
            "parameters_cnn": parameters["cnn"], "cnn_nmf_ratio": parameters["cnn_nmf_ratio"],
            "val_accuracy": val[-1], "best_val_accuracy": max((v for v in val if v is not None), default=None),
            "test_accuracy": test.get("accuracy"), "test_loss": test.get("loss"),
            "epochs": len(history.epoch), "seconds": round(seconds, 2),
            "worker": os.environ.get("KERASTUNER_TUNER_ID", "local"), "host": socket.gethostname(),
            "recipe": self.recipe.to_dict(),
        }
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "record.json").write_text(json.dumps(record, indent=2) + "\n")


class RecordingGridSearch(kt.GridSearch):
    """``GridSearch`` that hands each trial's directory to the hypermodel for its ``record.json``."""

    def run_trial(self, trial, *args, **kwargs):
        kwargs["record_dir"] = self.get_trial_dir(trial.trial_id)
        return super().run_trial(trial, *args, **kwargs)
