"""Novelty from the NMF layers' own reconstruction error, beside the standard baseline.

An NMF layer explains each pattern as a non-negative mixture of the parts it learned; a pattern unlike those parts
is explained worse. Each image's score per NMF layer is its mean reconstruction error ``|xhat - W h|_1``
(:func:`keras_nmf.explain.maps.reconstruction_errors`); the layers' scores combine as the mean of their z-scores
against in-distribution images (:func:`combined_scores`). The baseline is the maximum softmax probability
(Hendrycks and Gimpel 2017): 1 - max_k p_k, from the same forward pass. Both are measured as AUROC, in-distribution
images against out-of-distribution ones (:func:`auroc`, scikit-learn's).
"""

import dataclasses

import numpy as np

from keras_nmf.errors import ExplainError, MissingExtraError
from keras_nmf.explain.maps import reconstruction_errors
from keras_nmf.explain.probe import NMFProbe

#: The name of the baseline's score among the scores.
BASELINE = "max_softmax"
#: The name of the layers' combined score.
COMBINED = "nmf_combined"


@dataclasses.dataclass(frozen=True)
class NoveltyScores:
    """Per-image novelty scores, each higher for a more novel image.

    Attributes:
        layers: ``{NMF layer name: (N,) mean reconstruction error}``.
        max_softmax: (N,) 1 - the largest class probability (the baseline).
        probabilities: (N, K) the class probabilities.
    """

    layers: dict
    max_softmax: np.ndarray
    probabilities: np.ndarray


def novelty_scores(probe, images, batch_size=128, progress=None):
    """The :class:`NoveltyScores` of ``images`` under a :class:`~keras_nmf.explain.probe.NMFProbe`'s model.

    ``progress``: None, or a callable taking (images done, images in all), called after each batch.
    """
    layers = {layer.name: [] for layer in probe.layers}
    probabilities = []
    for start, batch in probe.batches(images, batch_size):
        for layer in probe.layers:
            layers[layer.name].append(reconstruction_errors(layer, batch.layer_inputs[layer.name]))
        probabilities.append(batch.probabilities)
        if progress is not None:
            progress(min(start + batch_size, len(images)), len(images))
    probabilities = np.concatenate(probabilities)
    return NoveltyScores(
        {name: np.concatenate(parts) for name, parts in layers.items()}, 1.0 - probabilities.max(-1), probabilities
    )


def combined_scores(scores, reference):
    """The mean over the layers of each layer's score standardised by ``reference`` (the in-distribution images'
    :class:`NoveltyScores`): (score - mean) / std per layer, so that every layer counts alike."""
    standardised = []
    for name, in_distribution in reference.layers.items():
        in_distribution = np.asarray(in_distribution, "float64")
        spread = max(in_distribution.std(), 1e-12)
        standardised.append((np.asarray(scores.layers[name], "float64") - in_distribution.mean()) / spread)
    return np.mean(standardised, axis=0)


def auroc(in_distribution, out_of_distribution):
    """The area under the ROC curve of telling ``out_of_distribution`` scores (positives) from
    ``in_distribution`` ones by thresholding them: 1 perfect, 0.5 chance, below 0.5 the score points the wrong
    way. scikit-learn's ``roc_auc_score`` (ties count one half).

    Raises:
        ExplainError: an empty or non-finite set of scores.
        MissingExtraError: scikit-learn is not installed.
    """
    in_distribution, out_of_distribution = (
        np.asarray(s, "float64").ravel() for s in (in_distribution, out_of_distribution)
    )
    for name, scores in (("in-distribution", in_distribution), ("out-of-distribution", out_of_distribution)):
        if scores.size == 0 or not np.all(np.isfinite(scores)):
            raise ExplainError(f"The {name} scores are empty or not finite: AUROC needs a finite score per image.")
    try:
        from sklearn.metrics import roc_auc_score  # the explain extra
    except ModuleNotFoundError as error:
        raise MissingExtraError(
            "AUROC is scikit-learn's roc_auc_score: install the explain extra (pip install 'keras_nmf[explain]')."
        ) from error
    labels = np.concatenate([np.zeros(in_distribution.size), np.ones(out_of_distribution.size)])
    return float(roc_auc_score(labels, np.concatenate([in_distribution, out_of_distribution])))


def score_sets(model, in_distribution, out_of_distribution, batch_size=128, progress=None):
    """``(reference, {set name: scores})``: the :class:`NoveltyScores` of the in-distribution images and of each
    out-of-distribution set; for a model without NMF layers, the baseline alone (no layer scores).

    Args:
        model: a classifier (an ``ImageClassifier``, or a model of one image input); ``in_distribution`` and the
            sets are images as it takes them.
        out_of_distribution: ``{set name: images}`` (:func:`keras_nmf.explain.ood.out_of_distribution_sets`).
        progress: None, or a callable taking (set name, images done, images in the set).
    """
    try:
        probe = NMFProbe(model)
    except ExplainError:
        probe = None  # no NMF layers: the baseline alone

    def scored(name, images):
        report = None if progress is None else (lambda done, total: progress(name, done, total))
        if probe is not None:
            return novelty_scores(probe, images, batch_size, report)
        probabilities = np.asarray(model.predict(images, batch_size=batch_size, verbose=0))
        if report is not None:
            report(len(images), len(images))
        return NoveltyScores({}, 1.0 - probabilities.max(-1), probabilities)

    reference = scored("in-distribution", in_distribution)
    return reference, {name: scored(name, images) for name, images in out_of_distribution.items()}


def auroc_rows(reference, scored):
    """One row per out-of-distribution set of :func:`score_sets`: ``set``, ``images``, then ``auroc_<layer>`` per
    NMF layer, ``auroc_nmf_combined`` (with NMF layers) and ``auroc_max_softmax``."""
    rows = []
    for name, scores in scored.items():
        row = {"set": name, "images": len(scores.max_softmax)}
        for layer in reference.layers:
            row[f"auroc_{layer}"] = auroc(reference.layers[layer], scores.layers[layer])
        if reference.layers:
            row[f"auroc_{COMBINED}"] = auroc(combined_scores(reference, reference), combined_scores(scores, reference))
        row[f"auroc_{BASELINE}"] = auroc(reference.max_softmax, scores.max_softmax)
        rows.append(row)
    return rows


def novelty_table(model, in_distribution, out_of_distribution, batch_size=128, progress=None):
    """:func:`auroc_rows` of :func:`score_sets`."""
    return auroc_rows(*score_sets(model, in_distribution, out_of_distribution, batch_size, progress))
