"""A training step of one of the paper's networks under several variants (``--variant`` overrides), side by side.

What a comparison's variants cost per step, without training them: each variant's network is built with the run
recipe and compiled as a run would be (:func:`keras_nmf.training.recipe.build_compiled_model`, XLA where
:func:`~keras_nmf.training.recipe.resolve_jit` turns it on), takes one step to trace and compile, and then the
variants take their timed steps in turn, round after round, so that a shared machine's drift falls on all of them
alike. The ratios to the first variant are what to read; the times hold on this machine only.

A variant with a tolerance stops each batch at its slowest pattern, so its step depends on the weights: at
initialisation (here) the patterns' fixed points are not a trained network's.
"""

import statistics
import time

import numpy as np

from keras_nmf.benchmarks.timing import _block
from keras_nmf.experiments.variants import BASE_VARIANT
from keras_nmf.training.config import TrainConfig


def variant_step_times(arch, variants=(BASE_VARIANT,), batch_size=50, repeats=5, seed=0, crop=28, num_classes=10):
    """One row per variant: ``{"variant", "overrides", "compile_s", "step_ms", "ratio"}``.

    Raises:
        ConfigError: an unknown network, or a variant the run configuration refuses (before any model is built).

    Args:
        arch: one of the paper's networks (``keras_nmf.models.architectures``).
        variants: :class:`~keras_nmf.experiments.variants.Variant` s; the first is the reference of ``ratio``.
        batch_size, crop: the step's batch of random crops (the paper's 28x28x3 crops of CIFAR-10).
        repeats: timed steps per variant (medians), after the compiling one.
    """
    from keras_nmf.training.recipe import build_compiled_model, process_settings

    rng = np.random.default_rng(seed)
    images = rng.random((batch_size, crop, crop, 3)).astype("float32")
    labels = rng.integers(0, num_classes, batch_size)
    base = TrainConfig.of(arch=arch, seed=seed, batch_size=batch_size)
    configs = [variant.apply(base) for variant in variants]  # every variant checked before any model is built
    rows, models = [], []
    with process_settings(seed=seed):
        for variant, config in zip(variants, configs):
            model = build_compiled_model(config, (crop, crop, 3), num_classes)  # compiled as a run would be
            start = time.perf_counter()
            _block(model.train_on_batch(images, labels))
            rows.append(
                {"variant": variant.label, "overrides": variant.describe(), "compile_s": time.perf_counter() - start}
            )
            models.append(model)
        times = [[] for _ in models]
        for _ in range(repeats):
            for model, mine in zip(models, times):
                start = time.perf_counter()
                _block(model.train_on_batch(images, labels))
                mine.append((time.perf_counter() - start) * 1e3)
    for row, mine in zip(rows, times):
        row["step_ms"] = statistics.median(mine)
        row["ratio"] = row["step_ms"] / statistics.median(times[0])
    return rows


def markdown_table(rows):
    """The rows as a Markdown table, each step's time and its ratio to the first variant's."""
    lines = [
        "| variant | overrides | first step (trace + compile + step), s | step, ms | ratio |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {row['variant']} | {row['overrides']} | {row['compile_s']:.1f} | {row['step_ms']:.0f} | "
        f"{row['ratio']:.2f} |"
        for row in rows
    ]
    return "\n".join(lines) + "\n"
