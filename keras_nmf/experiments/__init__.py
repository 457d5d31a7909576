"""The paper's experiments as library code: run grids over archs x seeds x
variants (Figure 5), their summaries and figures, and the noise-robustness
tests. ``scripts/compare.py`` and ``scripts/robustness.py`` are thin wrappers.
"""

from keras_nmf.experiments.grid import ConfigMismatchError, GridRun, plan_grid, run_grid
from keras_nmf.experiments.perturbations import PERTURBATIONS, perturb
from keras_nmf.experiments.robustness import evaluate_robustness
from keras_nmf.experiments.summary import collect_rows, summarize, write_summary
from keras_nmf.experiments.variants import BASE_VARIANT, Variant, parse_variant
