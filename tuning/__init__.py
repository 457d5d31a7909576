"""KerasTuner sweeps over the paper's width and groups (paper section 3.1)."""
