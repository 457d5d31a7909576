"""How close are the one-step (eqs. 18-19) and the implicit gradients to autodiff through the N iterations?

For a model of this package (a chain of layers, as ``build_model`` makes) and
one batch of real images, per NMF layer and per N:

* the gradient of the loss (eq. 21) with respect to the layer's input and to
  its kernel U, with the layer's backward set to ``approx`` (the paper's
  one-step backward), ``implicit`` (the exact fixed-point gradient) and
  ``autodiff`` (back-propagation through the N iterations, the reference);
  everything before the layer is held fixed, everything after it is the
  model's own, so the upstream gradient is the real one;
* the cosine similarity, the relative error |g - g_autodiff| / |g_autodiff|
  and the norm ratio |g| / |g_autodiff| of the first two against the third
  (a cosine near 1 with a small norm ratio is the right direction at a
  smaller scale, which Adam's per-parameter normalisation largely absorbs);
* the fixed-point residual |h(N) - h(N-1)|_1 per pattern (median, 90th
  percentile), and how many patterns the implicit solve left to the one-step
  gradient;

and for the whole network (every NMF layer switched at once), the cosine and
relative error of the gradient of all trainable weights.
"""

import time

import keras
import numpy as np

from keras_nmf import backend
from keras_nmf.experiments.cli import FIDELITY_ITERATIONS
from keras_nmf.losses import CrossEntropyMSE
from keras_nmf.training.diagnostics import nmf_layers

MODES = ("approx", "implicit")
CSV_COLUMNS = (
    "model",
    "layer",
    "iterations",
    "mode",
    "input_cosine",
    "input_relative_error",
    "input_norm_ratio",
    "kernel_cosine",
    "kernel_relative_error",
    "kernel_norm_ratio",
    "residual_median",
    "residual_p90",
    "fallbacks",
    "patterns",
)


def cosine(a, b):
    """Cosine similarity of two arrays, flattened (1.0 for two zero arrays, 0.0 when only one is zero)."""
    a, b = np.ravel(np.asarray(a, np.float64)), np.ravel(np.asarray(b, np.float64))
    norms = np.linalg.norm(a) * np.linalg.norm(b)
    if norms == 0:
        return 1.0 if not a.any() and not b.any() else 0.0
    return float(a @ b / norms)


def relative_error(a, b):
    """|a - b| / |b| (Euclidean norms, flattened); 0 when both are zero."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    denominator = np.linalg.norm(b)
    if denominator == 0:
        return 0.0 if not a.any() else float("inf")
    return float(np.linalg.norm(a - b) / denominator)


def norm_ratio(a, b):
    """|a| / |b| (flattened): the scale of a gradient relative to the reference; inf when only |b| is 0."""
    denominator = np.linalg.norm(np.asarray(b, np.float64))
    numerator = np.linalg.norm(np.asarray(a, np.float64))
    return float(numerator / denominator) if denominator else (0.0 if not numerator else float("inf"))


def _switched(layer, iterations, backward, implicit_dtype="float32"):
    """A new, unbuilt NMF layer like ``layer`` but with another N and backward (task gradient, no input check).

    Exactly N updates (no ``tolerance``: autodiff, the reference, differentiates a fixed number of them).
    """
    return layer.__class__.from_config({**layer.get_config(), **_switches(iterations, backward, implicit_dtype)})


def _switches(iterations, backward, implicit_dtype):
    return {
        "iterations": iterations,
        "backward": backward,
        "check_inputs": False,
        "implicit_dtype": implicit_dtype,
        "learning": "backprop",
        "tolerance": None,
    }


def _variant(layer, iterations, backward, implicit_dtype="float32"):
    """A copy of an NMF layer with another N and backward, sharing the kernel's values."""
    return layer.variant(layer.input.shape, **_switches(iterations, backward, implicit_dtype))


def _clone(model, iterations, backward, implicit_dtype="float32"):
    """The whole model with every NMF layer switched to (iterations, backward), same weights."""
    nmf = set(id(layer) for layer in nmf_layers(model))

    def clone_layer(layer):
        if id(layer) in nmf:
            return _switched(layer, iterations, backward, implicit_dtype)
        return layer.__class__.from_config(layer.get_config())

    clone = keras.models.clone_model(model, clone_function=clone_layer)
    for source, target in zip(model.layers, clone.layers):
        for from_variable, to_variable in zip(source.weights, target.weights):  # the implicit counter comes last
            to_variable.assign(from_variable)
    return clone


def _following_layers(model, layer):
    """The layers after ``layer`` in the model's chain (the model must be a chain, as ``build_model``'s are)."""
    layers = [item for item in model.layers if not isinstance(item, keras.layers.InputLayer)]
    return layers[layers.index(layer) + 1 :]


def _gradients(layer_copy, tail, layer_inputs, labels, loss_fn, training):
    """The loss's gradients with respect to the layer's input and its kernel U, on any backend."""

    def loss(x):
        x = layer_copy(x)
        for item in tail:
            x = item(x, training=training)  # Keras passes `training` on only to layers whose call takes it
        return loss_fn(labels, x)

    return tuple(backend.gradients(loss, [layer_inputs], [layer_copy.kernel]))


def layer_fidelity(model, layer, images, labels, iterations, loss_fn=None, training=False, implicit_dtype="float32"):
    """The rows of one NMF layer at one N (one per mode), against autodiff through the N iterations."""
    loss_fn = loss_fn or CrossEntropyMSE()
    head = keras.Model(model.inputs, layer.input)
    layer_inputs = keras.ops.convert_to_tensor(head([images], training=training))
    tail = _following_layers(model, layer)
    reference = _gradients(_variant(layer, iterations, "autodiff"), tail, layer_inputs, labels, loss_fn, training)
    factorization = _variant(layer, iterations, "approx").factorize(layer_inputs)
    residual = keras.ops.convert_to_numpy(factorization.residual()).ravel()
    rows = []
    for mode in MODES:
        copy = _variant(layer, iterations, mode, implicit_dtype)
        grad_input, grad_kernel = _gradients(copy, tail, layer_inputs, labels, loss_fn, training)
        fallbacks = (
            int(keras.ops.convert_to_numpy(copy.implicit_fallbacks)) if copy.implicit_fallbacks is not None else 0
        )
        rows.append(
            {
                "model": model.name,
                "layer": layer.name,
                "iterations": iterations,
                "mode": mode,
                "input_cosine": cosine(grad_input, reference[0]),
                "input_relative_error": relative_error(grad_input, reference[0]),
                "input_norm_ratio": norm_ratio(grad_input, reference[0]),
                "kernel_cosine": cosine(grad_kernel, reference[1]),
                "kernel_relative_error": relative_error(grad_kernel, reference[1]),
                "kernel_norm_ratio": norm_ratio(grad_kernel, reference[1]),
                "residual_median": float(np.median(residual)),
                "residual_p90": float(np.percentile(residual, 90)),
                "fallbacks": fallbacks,
                "patterns": int(residual.size),
            }
        )
    return rows


def network_fidelity(model, images, labels, iterations, loss_fn=None, implicit_dtype="float32"):
    """The whole network's weight gradient with every NMF layer on each mode, against all-autodiff."""
    loss_fn = loss_fn or CrossEntropyMSE()

    def weight_gradient(backward):
        clone = _clone(model, iterations, backward, implicit_dtype)
        gradients = backend.gradients(
            lambda: loss_fn(labels, clone(images, training=True)), [], clone.trainable_variables
        )
        return np.concatenate([g.ravel() for g in gradients])

    reference = weight_gradient("autodiff")
    rows = []
    for mode in MODES:
        gradient = weight_gradient(mode)
        rows.append(
            {
                "model": model.name,
                "layer": "network",
                "iterations": iterations,
                "mode": mode,
                "kernel_cosine": cosine(gradient, reference),
                "kernel_relative_error": relative_error(gradient, reference),
                "kernel_norm_ratio": norm_ratio(gradient, reference),
            }
        )
    return rows


def gradient_fidelity(
    model,
    images,
    labels,
    iterations=FIDELITY_ITERATIONS,
    label=None,
    print_fn=print,
    implicit_dtype="float32",
    on_row=None,
):
    """Every row of the report for one model: per NMF layer and N, then the whole network per N.

    Args:
        model: a chain model of this package (``build_model``, or a saved one).
        images, labels: one batch (the model's inputs, integer labels).
        iterations: the N to compare at.
        label: the ``model`` column (default: the model's name).
        on_row: called with each row as soon as it is measured (a CSV writer's ``write``).
    """
    rows = []
    start = time.perf_counter()

    def record(new_rows):
        for row in new_rows:
            row["model"] = label or row["model"]
            if on_row:
                on_row(row)
        rows.extend(new_rows)
        return new_rows

    for n in iterations:
        for layer in nmf_layers(model):
            approx, implicit = record(layer_fidelity(model, layer, images, labels, n, implicit_dtype=implicit_dtype))
            print_fn(
                f"N={n:3d} {layer.name}: one-step cosine input {approx['input_cosine']:.4f} kernel "
                f"{approx['kernel_cosine']:.4f} | implicit kernel {implicit['kernel_cosine']:.4f} | residual "
                f"median {approx['residual_median']:.1e} | {time.perf_counter() - start:.0f}s",
                flush=True,
            )
        approx, implicit = record(network_fidelity(model, images, labels, n, implicit_dtype=implicit_dtype))
        print_fn(
            f"N={n:3d} network: weight-gradient cosine one-step {approx['kernel_cosine']:.4f}, "
            f"implicit {implicit['kernel_cosine']:.4f}",
            flush=True,
        )
    return rows


def fidelity_table(rows, iterations=20):
    """Markdown: per layer at one N, cosine and relative error of the one-step and implicit gradients."""
    lines = [
        "| model | layer | residual median | one-step: input cos | kernel cos | kernel norm ratio "
        "| implicit: input cos | kernel cos | kernel rel. error | implicit fallbacks |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    chosen = [row for row in rows if row["iterations"] == iterations]
    keys = list(dict.fromkeys((row["model"], row["layer"]) for row in chosen))

    def value(row, key, form):
        return form.format(row[key]) if row.get(key) is not None else "–"

    for model, layer in keys:
        approx, implicit = (
            next(r for r in chosen if (r["model"], r["layer"], r["mode"]) == (model, layer, mode)) for mode in MODES
        )
        lines.append(
            f"| {model} | {layer} | {value(approx, 'residual_median', '{:.1e}')} "
            f"| {value(approx, 'input_cosine', '{:.4f}')} | {value(approx, 'kernel_cosine', '{:.4f}')} "
            f"| {value(approx, 'kernel_norm_ratio', '{:.3f}')} | {value(implicit, 'input_cosine', '{:.4f}')} "
            f"| {value(implicit, 'kernel_cosine', '{:.4f}')} | {value(implicit, 'kernel_relative_error', '{:.3g}')} "
            f"| {value(implicit, 'fallbacks', '{}')} / {value(implicit, 'patterns', '{}')} |"
        )
    return "\n".join(lines)
