"""The paper's experiments as library code: run grids over archs x seeds x
variants (Figure 5), their summaries and figures, and the noise-robustness
tests. ``scripts/compare.py`` and ``scripts/robustness.py`` are thin wrappers.

The names below are imported on first use, so that a submodule without
TensorFlow (``experiments.cli``) imports on a host without it.
"""

import importlib

_EXPORTS = {
    "ConfigMismatchError": "grid",
    "GridRun": "grid",
    "plan_grid": "grid",
    "run_grid": "grid",
    "PERTURBATIONS": "perturbations",
    "perturb": "perturbations",
    "evaluate_robustness": "robustness",
    "collect_rows": "summary",
    "summarize": "summary",
    "write_summary": "summary",
    "BASE_VARIANT": "variants",
    "Variant": "variants",
    "parse_variant": "variants",
}


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'keras_nmf.experiments' has no attribute {name!r}")
    return getattr(importlib.import_module(f"keras_nmf.experiments.{_EXPORTS[name]}"), name)
