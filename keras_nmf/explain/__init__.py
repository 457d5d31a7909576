"""What a trained NMF network sees: its NMF layers' reconstructions, error maps and dominant parts, and novelty
scores from their reconstruction error (docs/explain.md)."""

from keras_nmf.explain.maps import LayerMaps, layer_maps, reconstruction_errors
from keras_nmf.explain.novelty import BASELINE, COMBINED, NoveltyScores, auroc, combined_scores, novelty_scores
from keras_nmf.explain.probe import NMFProbe, ProbedBatch, nmf_layers
