"""Layers and normalizations that the models are built from."""

from .attention import SelfAttention
from .conditional_bn import BatchNorm2d, ConditionalBatchNorm2d, make_norm
from .equalized import EqualizedConv2d, EqualizedLinear, PixelNorm
from .minibatch import MinibatchDiscrimination, MinibatchStdDev
from .packing import pack
from .projection import ProjectionHead
from .spectral_norm import WEIGHTED_LAYERS, SpectralNorm, apply_spectral_norm, spectral_norm, spectral_norm_of

__all__ = [
           "WEIGHTED_LAYERS",
           "BatchNorm2d",
           "ConditionalBatchNorm2d",
           "EqualizedConv2d",
           "EqualizedLinear",
           "MinibatchDiscrimination",
           "MinibatchStdDev",
           "PixelNorm",
           "ProjectionHead",
           "SelfAttention",
           "SpectralNorm",
           "apply_spectral_norm",
           "make_norm",
           "pack",
           "spectral_norm",
           "spectral_norm_of",
]
