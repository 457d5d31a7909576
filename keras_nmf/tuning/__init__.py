"""KerasTuner sweeps over the paper's width and groups (Nouri et al., section 3.1)."""

import keras_nmf  # noqa: F401  (first: TensorFlow's start-up noise filtered, custom objects registered)
