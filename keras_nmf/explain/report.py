"""What ``keras-nmf-explain`` writes: the parts of every NMF layer, images explained, their scores, and the novelty
table (AUROC against the baseline), as PNG figures and JSON in one folder.
"""

import pathlib

import numpy as np
from PIL import Image

from keras_nmf.errors import ExplainError
from keras_nmf.explain import ood
from keras_nmf.explain.figures import plot_explained_image, plot_novelty, plot_parts, plot_regions
from keras_nmf.explain.maps import layer_maps
from keras_nmf.explain.novelty import BASELINE, COMBINED, auroc_rows, combined_scores, score_sets
from keras_nmf.explain.parts import first_layer_parts, receptive_field, top_regions
from keras_nmf.explain.probe import NMFProbe
from keras_nmf.files import atomic_write_json
from keras_nmf.layers import CNMF2D


def _say(progress, text):
    if progress is not None:
        progress(text)


def explain_images(model, images, out, names=None, explained=4, parts=16, per_part=6, progress=print):
    """Writes to ``out``: ``parts_<layer>.png`` for every CNMF2D layer (block 1's W as patches; a deeper layer's
    regions of ``images`` that each of its first ``parts`` parts explains most), ``explained_<k>.png`` for
    ``explained`` images spread evenly over ``images``, and ``scores.json`` (per image: its top classes and every
    NMF layer's mean reconstruction error).

    Args:
        model: an ``ImageClassifier`` or a model of one image input with NMF layers (:class:`NMFProbe`).
        images: the images, as the model takes them; ``names``: one name per image (its file), or None.

    Returns:
        the ``scores.json`` content.
    """
    out = pathlib.Path(out)
    probe = NMFProbe(model)
    batch = probe.probe(images)
    class_names = getattr(model, "class_names", None)
    layers = [layer for layer in probe.layers if isinstance(layer, CNMF2D)]
    if not layers:
        raise ExplainError(
            f"The model {model.name!r} has no CNMF2D layer: the parts, maps and explained images are per patch "
            "position. Its NMF layers' novelty scores (keras_nmf.explain.novelty_scores) work for any NMF layer."
        )
    maps = {layer.name: layer_maps(layer, batch.layer_inputs[layer.name]) for layer in layers}
    for index, layer in enumerate(layers):
        if index == 0 and layer.kernel.shape[2] in (1, 3):
            plot_parts(
                first_layer_parts(layer),
                f"{layer.name}: its parts, the columns of W (eq. 20)",
                out / f"parts_{layer.name}.png",
            )
        else:
            shown = list(range(min(parts, layer.filters)))
            field = receptive_field(probe.network, layer)
            regions, values = top_regions(field, batch.inputs, maps[layer.name].h, per_part=per_part, parts=shown)
            plot_regions(
                regions, values, shown, f"{layer.name}: where each part is most active", out / f"parts_{layer.name}.png"
            )
        _say(progress, f"parts of {layer.name}: {out / f'parts_{layer.name}.png'}")
    names = names or [f"image {k}" for k in range(len(images))]
    chosen = np.linspace(0, len(images) - 1, min(explained, len(images))).round().astype(int)  # spread over them
    for index, k in enumerate(chosen):
        single = {name: _one(layer_map, k) for name, layer_map in maps.items()}
        path = out / f"explained_{index}.png"
        plot_explained_image(batch.inputs[k], single, batch.probabilities[k], class_names, names[k], path)
        _say(progress, f"{names[k]} explained: {path}")
    scores = {
        "images": [
            {
                "image": names[k],
                "top_classes": [
                    {
                        "class": class_names[c] if class_names else int(c),
                        "probability": float(batch.probabilities[k, c]),
                    }
                    for c in np.argsort(-batch.probabilities[k])[:3]
                ],
                "reconstruction_error": {name: float(layer_map.error[k].mean()) for name, layer_map in maps.items()},
            }
            for k in range(len(images))
        ]
    }
    atomic_write_json(out / "scores.json", scores)
    _say(progress, f"scores: {out / 'scores.json'}")
    return scores


def _one(layer_map, k):
    """The ``LayerMaps`` of image ``k`` alone (a batch of one)."""
    return type(layer_map)(**{field: value[k : k + 1] for field, value in vars(layer_map).items()})


def novelty_report(model, in_distribution, out, count=1000, seed=0, batch_size=128, progress=print):
    """Writes ``novelty.json`` (one row per out-of-distribution set: the AUROC of each NMF layer's score, their
    combination and the baseline) and ``novelty.png`` (the combined score's histograms and ROC curves), and returns
    the rows. The sets are :func:`keras_nmf.explain.ood.out_of_distribution_sets` of ``count`` images each."""
    out = pathlib.Path(out)
    sets = ood.out_of_distribution_sets(
        count, size=in_distribution.shape[1], seed=seed, in_distribution=in_distribution[::-1]
    )
    last = {}

    def report(name, done, total):
        if progress is not None and (done == total or name != last.get("set")):
            progress(f"novelty: {name} {done}/{total} images")
        last["set"] = name

    reference, scored = score_sets(model, in_distribution, sets, batch_size, report)
    rows = auroc_rows(reference, scored)
    atomic_write_json(out / "novelty.json", {"in_distribution_images": len(in_distribution), "sets": rows})
    if reference.layers:
        combined = {name: combined_scores(scores, reference) for name, scores in scored.items()}
        plot_novelty(combined_scores(reference, reference), combined, f"{COMBINED} (z-score)", out / "novelty.png")
    else:
        plot_novelty(
            reference.max_softmax, {n: s.max_softmax for n, s in scored.items()}, BASELINE, out / "novelty.png"
        )
    _say(progress, f"novelty: {out / 'novelty.json'}, {out / 'novelty.png'} (AUROC vs {BASELINE})")
    return rows


def figures_to_tensorboard(out, log_dir, step=0):
    """Every PNG figure in ``out`` as a TensorBoard image under ``log_dir`` (tag ``explain/<figure>``): a run's
    explanations beside its scalars (``tensorboard --logdir <run>``). Returns the tags written."""
    from keras_nmf.training.tensorboard import EventWriter  # the tensorboard package's writer, on every backend

    writer = EventWriter(log_dir)
    tags = []
    try:
        for figure in sorted(pathlib.Path(out).glob("*.png")):
            with Image.open(figure) as image:
                pixels = np.asarray(image.convert("RGB"), np.float32) / 255.0
            tags.append(f"explain/{figure.stem}")
            writer.image(tags[-1], pixels, step)
        writer.flush()
    finally:
        writer.close()
    return tags
