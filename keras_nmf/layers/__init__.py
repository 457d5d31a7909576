"""Keras layers: ``NMFDense``, ``CNMF2D``, ``ConvolutiveNMF2D``, ``L1Normalize``, ``PatchNormalizedConv2D``,
``ObservedFraction`` and the paper's input augmentation ``PaperAugmentation``; ``NMFOptions``, the NMF layers'
options as one value."""

from keras_nmf.layers.augmentation import PaperAugmentation
from keras_nmf.layers.cnmf2d import CNMF2D
from keras_nmf.layers.convolutive_nmf2d import ConvolutiveNMF2D
from keras_nmf.layers.l1_normalize import L1Normalize
from keras_nmf.layers.nmf_dense import NMFDense
from keras_nmf.layers.observed_fraction import ObservedFraction
from keras_nmf.layers.patch_normalized_conv2d import PatchNormalizedConv2D
from keras_nmf.nmf_arguments import NMFOptions
