"""KerasTuner sweeps over the paper's width and groups (Nouri et al., section 3.1): ``keras-nmf-search``."""

try:
    import keras_tuner  # noqa: F401
except ModuleNotFoundError:
    raise ModuleNotFoundError("The sweeps need KerasTuner, which is not installed: pip install 'keras_nmf[tuning]'.",
                              name="keras_tuner") from None
