"""Overhead of ``tf.distribute.MirroredStrategy``: one training step with and without it, side by side.

On a CPU host the strategy runs over logical CPU devices (which share the
same cores), so this measures the strategy's overhead, not a speed-up; on a
host with several GPUs it measures the data-parallel step.
"""

import statistics
import time

import numpy as np


def split_cpu(devices=2):
    """Splits the first physical CPU into ``devices`` logical devices (before TensorFlow starts)."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * devices)


def compare_step_times(arch="cnmf_1x1", batch=50, iterations=20, repeats=10, jit=False):
    """Median ``train_on_batch`` time (ms) without a strategy and under ``MirroredStrategy``, interleaved.

    ``train_on_batch`` splits the global batch over the replicas as ``fit`` does.

    Both run without XLA (``jit=False``), as ``--distribute`` trains by default.

    Returns ``{"arch", "batch", "replicas", "none_ms", "mirrored_ms", "mirrored_vs_none"}``.
    """
    import keras
    import tensorflow as tf

    from keras_nmf.training.config import TrainConfig, for_arch
    from keras_nmf.training.distribute import make_strategy
    from keras_nmf.training.recipe import build_compiled_model

    images = tf.random.uniform((batch, 28, 28, 3))
    labels = tf.constant(np.arange(batch) % 10)
    strategy = make_strategy("mirrored")
    models = {}
    for name, scope in (("none", None), ("mirrored", strategy)):
        keras.utils.set_random_seed(0)
        with tf.name_scope(name):
            models[name] = build_compiled_model(
                for_arch(TrainConfig.of(iterations=iterations), arch), (28, 28, 3), 10, strategy=scope, jit=jit
            )
    for model in models.values():  # warm-up: tracing and XLA compilation
        for _ in range(2):
            model.train_on_batch(images, labels)
    times = {name: [] for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            start = time.perf_counter()
            model.train_on_batch(images, labels)
            times[name].append((time.perf_counter() - start) * 1e3)
    none_ms, mirrored_ms = statistics.median(times["none"]), statistics.median(times["mirrored"])
    return {
        "arch": arch,
        "batch": batch,
        "replicas": strategy.num_replicas_in_sync,
        "jit_compile": jit,
        "none_ms": none_ms,
        "mirrored_ms": mirrored_ms,
        "mirrored_vs_none": mirrored_ms / none_ms,
        "statistic": f"median of {repeats} interleaved train_on_batch calls after 2 warm-up steps each",
    }
