"""Measurements of what a generator has learned: FID, KID, IS, precision/recall, density/coverage and
mode counts, over any feature extractor."""

from .classifier import ImageClassifier, load_classifier, save_classifier, train_classifier
from .evaluate import METRICS, Evaluation, Evaluator, Metric, evaluate_checkpoint, evaluate_folders, parse_metrics
from .features import Extractor, FeatureSet, build_extractor, default_extractor, extract
from .inception import FIDInceptionV3, WeightsError, load_fid_inception
from .modes import ModeCoverage, StackedModes, mode_coverage, stacked_modes
from .scores import (
    GaussianStats,
    density_coverage,
    fid_from_stats,
    frechet_distance,
    inception_score,
    kernel_inception_distance,
    precision_recall,
)

__all__ = ["METRICS", "Evaluation", "Evaluator", "Extractor", "FIDInceptionV3", "FeatureSet", "GaussianStats",
           "ImageClassifier", "Metric", "ModeCoverage", "StackedModes", "WeightsError", "build_extractor",
           "default_extractor", "density_coverage", "evaluate_checkpoint", "evaluate_folders", "extract",
           "fid_from_stats", "frechet_distance", "inception_score", "kernel_inception_distance",
           "load_classifier", "load_fid_inception", "mode_coverage", "parse_metrics", "precision_recall",
           "save_classifier", "stacked_modes", "train_classifier"]
