"""``--dry-run``: each variant's parameter counts and a per-epoch cost estimate from one timed step."""

import math
import time

import keras
import numpy as np

from keras_nmf.models import count_parameters


def estimate_costs(hypermodel, batch_size, train_size, print_fn=print):
    """Builds every variant, times one training step after one warm-up step (no XLA), and prints a row each.

    Returns rows ``{"width", "nmf_groups", "conv_groups", "parameters_total", "parameters_nmf",
    "parameters_cnn", "cnn_nmf_ratio", "step_seconds", "seconds_per_epoch"}``.
    """
    rng = np.random.default_rng(0)
    if hypermodel.image_shape:  # the model starts with its augmentation: raw uint8 images
        images = rng.integers(0, 256, (batch_size,) + hypermodel.image_shape, dtype=np.uint8)
    else:
        images = rng.random((batch_size,) + hypermodel.input_shape, dtype=np.float32)
    labels = np.arange(batch_size) % hypermodel.num_classes
    steps = math.ceil(train_size / batch_size)
    print_fn(
        f"{'width':>5} {'nmf_g':>5} {'conv_g':>6} {'params':>10} {'NMF':>10} {'CNN':>9} {'CNN/NMF':>8} "
        f"{'s/step':>7} {'s/epoch':>8}"
    )
    rows = []
    for width, nmf_groups, conv_groups in hypermodel.variants():
        model = hypermodel.build_variant(width, nmf_groups, conv_groups, jit=False)
        model.train_on_batch(images, labels)  # warm-up: tracing
        start = time.perf_counter()
        model.train_on_batch(images, labels)
        step = time.perf_counter() - start
        counts = count_parameters(model)
        row = {
            "width": width,
            "nmf_groups": nmf_groups,
            "conv_groups": conv_groups,
            "parameters_total": counts["trainable"],
            "parameters_nmf": counts["nmf"],
            "parameters_cnn": counts["cnn"],
            "cnn_nmf_ratio": counts["cnn_nmf_ratio"],
            "step_seconds": step,
            "seconds_per_epoch": step * steps,
        }
        rows.append(row)
        ratio = f"{row['cnn_nmf_ratio']:.3f}" if row["cnn_nmf_ratio"] is not None else "–"
        print_fn(
            f"{width:5d} {nmf_groups:5d} {conv_groups:6d} {row['parameters_total']:10,d} "
            f"{row['parameters_nmf']:10,d} {row['parameters_cnn']:9,d} {ratio:>8} {step:7.2f} "
            f"{row['seconds_per_epoch']:8.0f}",
            flush=True,
        )
        keras.backend.clear_session()
    total = sum(row["seconds_per_epoch"] for row in rows)
    print_fn(
        f"{len(rows)} variants: ~{total / 60:.0f} min per epoch of all of them on this machine "
        f"({steps} steps of {batch_size}; timed without XLA, which training uses for the NMF networks)"
    )
    return rows
