"""The explanations' figures: the parts, one image explained, and the novelty scores' histograms and ROC curves.

matplotlib with the Agg backend, as :mod:`keras_nmf.experiments.plots`: ``draw_*`` return the figure (the tests
read its layout), ``plot_*`` write it as a PNG, atomically.
"""

# matplotlib (Agg) as the experiments' figures set it up, with their PNG writer and legend layout: importing them
# refuses a missing matplotlib with the extra to install.
from keras_nmf.experiments.plots import legend_below, save_figure

import matplotlib.pyplot as plt  # after the Agg backend is chosen
import numpy as np


def _shown(patch):
    """A non-negative patch scaled to [0, 1] by its own largest value (a part's colours, whatever its mass)."""
    patch = np.asarray(patch, "float64")
    top = patch.max()
    patch = patch / top if top > 0 else patch
    return patch[..., 0] if patch.shape[-1] == 1 else patch


def _image_axis(axis, image, title, **kwargs):
    shown = axis.imshow(image, interpolation="nearest", **kwargs)
    axis.set_title(title, fontsize=8)
    axis.set_xticks([])
    axis.set_yticks([])
    return shown


def draw_parts(parts, title):
    """A grid of parts, (I, kh, kw, C) non-negative patches, each scaled to its own largest value."""
    count = len(parts)
    columns = min(count, 16)
    rows = -(-count // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(0.7 * columns, 0.8 * rows + 0.6), squeeze=False)
    for index, axis in enumerate(axes.ravel()):
        if index < count:
            _image_axis(axis, _shown(parts[index]), f"{index}", cmap="gray" if parts.shape[-1] == 1 else None)
        else:
            axis.axis("off")
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


def plot_parts(parts, title, path):
    save_figure(draw_parts(parts, title), path)


def draw_regions(regions, values, parts, title):
    """Per part (a row), the image regions where it is most active, with its activation."""
    count, per_part = regions.shape[:2]
    figure, axes = plt.subplots(count, per_part, figsize=(0.9 * per_part + 0.6, 0.95 * count + 0.6), squeeze=False)
    for k in range(count):
        for rank in range(per_part):
            _image_axis(axes[k, rank], np.clip(regions[k, rank], 0.0, 1.0), f"h={values[k, rank]:.2f}")
        axes[k, 0].set_ylabel(f"part {parts[k]}", fontsize=8)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


def plot_regions(regions, values, parts, title, path):
    save_figure(draw_regions(regions, values, parts, title), path)


def draw_explained_image(image, maps, probabilities, class_names, title):
    """One image: the network's input, block 1's reconstruction, its error map and dominant parts, every NMF layer's
    error map after it, and the class probabilities.

    Args:
        image: (H, W, C) the network's input, in [0, 1].
        maps: ``{layer name: LayerMaps}`` of this image (batch of one), block 1 first.
        probabilities: (K,) the class probabilities; ``class_names``: K names or None.
    """
    names = list(maps)
    first = maps[names[0]]
    panels = 4 + len(names) - 1 + 1
    figure, axes = plt.subplots(1, panels, figsize=(2.0 * panels, 2.6))
    _image_axis(axes[0], np.clip(image, 0.0, 1.0), "input")
    _image_axis(axes[1], np.clip(first.reconstruction[0], 0.0, 1.0), f"{names[0]}: W h folded back")
    error = _image_axis(axes[2], first.error[0], f"{names[0]}: |x̂ − W h|₁", cmap="magma", vmin=0.0)
    figure.colorbar(error, ax=axes[2], fraction=0.046).set_label("error", fontsize=7)
    dominant = np.ma.masked_less(first.dominant[0], 0)
    _image_axis(
        axes[3], dominant, f"{names[0]}: dominant part", cmap="tab20", vmin=0, vmax=max(19, int(dominant.max()))
    )
    for axis, name in zip(axes[4:], names[1:]):
        shown = _image_axis(
            axis, maps[name].error[0], f"{name}: error, mean {maps[name].error[0].mean():.3f}", cmap="magma", vmin=0.0
        )
        figure.colorbar(shown, ax=axis, fraction=0.046).set_label("error", fontsize=7)
    bars = axes[-1]
    order = np.argsort(-probabilities)[:5]
    labels = [class_names[k] if class_names else f"class {k}" for k in order]
    bars.barh(range(len(order))[::-1], probabilities[order], color="tab:blue")
    bars.set_yticks(range(len(order))[::-1], labels, fontsize=7)
    bars.set_xlim(0, 1)
    bars.set_xlabel("probability", fontsize=8)
    bars.set_title("top classes", fontsize=8)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


def plot_explained_image(image, maps, probabilities, class_names, title, path):
    save_figure(draw_explained_image(image, maps, probabilities, class_names, title), path)


def draw_novelty(in_distribution, out_of_distribution, score_name):
    """Histograms of one score on in- and out-of-distribution images, and the ROC curve of each set.

    Args:
        in_distribution: (N,) scores; ``out_of_distribution``: ``{set name: scores}``.
    """
    from sklearn.metrics import roc_curve  # the explain extra

    figure, (histogram, roc) = plt.subplots(1, 2, figsize=(9.5, 4.2))
    everything = np.concatenate([in_distribution, *out_of_distribution.values()])
    bins = np.linspace(everything.min(), everything.max(), 40)
    histogram.hist(
        in_distribution, bins=bins, density=True, histtype="step", lw=2, color="black", label="in-distribution"
    )
    for name, scores in out_of_distribution.items():
        histogram.hist(scores, bins=bins, density=True, histtype="step", label=name)
        labels = np.concatenate([np.zeros(len(in_distribution)), np.ones(len(scores))])
        false_positive, true_positive, _ = roc_curve(labels, np.concatenate([in_distribution, scores]))
        roc.plot(false_positive, true_positive, label=name)
    roc.plot([0, 1], [0, 1], ls=":", color="gray")
    histogram.set_xlabel(score_name)
    histogram.set_ylabel("density")
    histogram.set_title("scores")
    roc.set_xlabel("false positive rate")
    roc.set_ylabel("true positive rate")
    roc.set_title("ROC (out-of-distribution positive)")
    for axis in (histogram, roc):
        legend_below(axis)
    figure.tight_layout()
    return figure


def plot_novelty(in_distribution, out_of_distribution, score_name, path):
    save_figure(draw_novelty(in_distribution, out_of_distribution, score_name), path)
