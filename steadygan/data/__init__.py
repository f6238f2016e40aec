"""Data: image folders, zips, MNIST IDX files, the built-in digits and the 2-D Gaussian mixtures."""

from .datasets import ImageDataset, PointDataset, build_dataset
from .stream import BatchStream
from .toy import MIXTURES, sample_mixture, toy_centres

__all__ = [
           "MIXTURES",
           "BatchStream",
           "ImageDataset",
           "PointDataset",
           "build_dataset",
           "sample_mixture",
           "toy_centres",
]
