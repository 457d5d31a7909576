"""KerasTuner sweeps over the paper's width and groups (Nouri et al., section 3.1): ``keras-nmf-search``."""

import importlib.util

from keras_nmf.errors import MissingExtraError

if importlib.util.find_spec("keras_tuner") is None:  # found, not imported: KerasTuner imports Keras
    raise MissingExtraError(
        "The sweeps need KerasTuner, which is not installed: pip install keras-tuner (keras_nmf's tuning extra).",
        name="keras_tuner",
    )
