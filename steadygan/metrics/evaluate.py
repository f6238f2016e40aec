"""Evaluation by metric name: generated images (from a generator or a folder) against a real data set.

Metrics are registered by name, as in stylegan2-ada-pytorch's `metric_main`: each says what it needs
of the two feature sets (Gaussian statistics always; raw features; logits) and computes its scores, or
reads the generated images themselves (stacked-digit modes). The real side is extracted once per
data set, resolution, extractor and sample count, and cached as an .npz (read without pickle).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch

from ..data.cache import cache_root
from ..data.sources import STACKED_PREFIX
from ..devices import resolve_device
from ..errors import ConfigError, DataError
from ..registry import Registry
from ..sampling import generate, latents_for
from ..storage.atomic import atomic_path
from .classifier import load_classifier
from .features import (
    ChannelwiseClassifier,
    Extractor,
    FeatureSet,
    build_extractor,
    check_extractor,
    default_extractor,
    extract,
    image_batches,
)
from .modes import stacked_modes, triple_histogram
from .scores import density_coverage, fid_from_stats, inception_score, kernel_inception_distance, precision_recall

if TYPE_CHECKING:
    from ..models.base import Generator

REAL_LIMIT = 50_000  # real images used by default: all of them, up to the customary 50k


class Observer(Protocol):
    """Sees every generated image batch and the extractor's outputs for it (None without an extractor);
    gives its scores at the end."""

    def __call__(self, images: torch.Tensor, outputs: dict[str, torch.Tensor] | None) -> None: ...
    def result(self) -> dict[str, float]: ...


@dataclass(frozen=True)
class Metric:
    name: str
    needs: frozenset[str] = frozenset()  # "features" (raw, both sets), "logits" (generated set)
    compute: Callable[[FeatureSet, FeatureSet], dict[str, float]] | None = None
    observer: Callable[[Evaluator], Observer] | None = None  # for metrics read from the images


METRICS: Registry[Metric] = Registry("metric")


def feature_metric(name: str, needs: tuple[str, ...] = ()):
    def add(compute: Callable[[FeatureSet, FeatureSet], dict[str, float]]):
        METRICS.register(name)(Metric(name, frozenset(needs), compute))
        return compute

    return add


@feature_metric("fid")
def _fid(real: FeatureSet, fake: FeatureSet) -> dict[str, float]:
    return {"fid": fid_from_stats(real.stats, fake.stats)}


@feature_metric("kid", needs=("features",))
def _kid(real: FeatureSet, fake: FeatureSet) -> dict[str, float]:
    mean, std = kernel_inception_distance(real.kept("features"), fake.kept("features"))
    return {"kid": mean, "kid_std": std}


@feature_metric("is", needs=("logits",))
def _inception_score(real: FeatureSet, fake: FeatureSet) -> dict[str, float]:
    mean, std = inception_score(fake.kept("logits"))
    return {"is": mean, "is_std": std}


@feature_metric("pr", needs=("features",))
def _precision_recall(real: FeatureSet, fake: FeatureSet) -> dict[str, float]:
    precision, recall = precision_recall(real.kept("features"), fake.kept("features"))
    return {"precision": precision, "recall": recall}


@feature_metric("dc", needs=("features",))
def _density_coverage(real: FeatureSet, fake: FeatureSet) -> dict[str, float]:
    density, coverage = density_coverage(real.kept("features"), fake.kept("features"))
    return {"density": density, "coverage": coverage}


class StackedModeCounter:
    """Histogram of the digit triples that a grey digit classifier reads from generated stacked digits.

    When the feature extractor is that same classifier read channel by channel, its digits are counted
    instead of running the classifier a second time."""

    def __init__(self, classifier: str, device: torch.device, extractor: Extractor | None = None,
                 extractor_spec: str = ""):
        self.reads_extractor = (extractor is not None and extractor_spec == f"classifier:{classifier}"
                                and isinstance(extractor.network, ChannelwiseClassifier))
        if not self.reads_extractor:
            network, _ = load_classifier(classifier)
            self.network = ChannelwiseClassifier(network).to(device)
        self.device = device
        self.histogram = np.zeros(1000, dtype=np.int64)

    @torch.no_grad()
    def __call__(self, images: torch.Tensor, outputs: dict[str, torch.Tensor] | None) -> None:
        read = outputs if self.reads_extractor and outputs is not None else self.network(images.to(self.device))
        digits = read["digits"]
        self.histogram += triple_histogram(digits)

    def result(self) -> dict[str, float]:
        counted = stacked_modes(self.histogram)
        return {"modes": counted.modes, "modes_kl": counted.kl}


def stacked_classifier(source: str) -> str:
    """The shipped classifier that reads the digits of a stacked source."""
    if not source.startswith(STACKED_PREFIX):
        raise ConfigError(f"metric 'modes' counts the 1,000 modes of stacked digits, but the data is '{source}'; "
                          "train on data.source=stacked:digits or stacked:<MNIST folder>")
    return default_extractor(source).partition(":")[2] or "mnist"


METRICS.register("modes")(Metric("modes", observer=lambda ev: StackedModeCounter(
    stacked_classifier(ev.source), ev.device, ev.extractor, ev.extractor_spec)))


def parse_metrics(spec: str | list[str] | tuple[str, ...]) -> list[Metric]:
    names = [n.strip() for n in (spec.split(",") if isinstance(spec, str) else spec) if n.strip()]
    if not names:
        raise ConfigError(f"no metric named; choose from: {', '.join(METRICS.names())}")
    return [METRICS.get(name) for name in dict.fromkeys(names)]


# ---------------------------------------------------------------------------------------------------
# the two sides


def real_batches(dataset, indices: np.ndarray, batch_size: int):
    for start in range(0, len(indices), batch_size):
        yield dataset.batch(indices[start:start + batch_size])[0]


def generator_batches(generator: Generator, num_classes: int, seed: int,
                      truncation: float | None = None) -> Callable[[int], torch.Tensor]:
    """A function of a batch size that returns the next batch of G's images (random classes when
    conditional), the same sequence for the same seed."""
    rng = torch.Generator().manual_seed(seed)

    def draw(size: int) -> torch.Tensor:
        z = latents_for(generator, size, rng, truncation)
        labels = torch.randint(num_classes, (size,), generator=rng) if num_classes else None
        return generate(generator, z, labels, truncation=truncation)

    return draw


@dataclass
class Evaluation:
    scores: dict[str, float]
    protocol: dict = field(default_factory=dict)  # extractor, sample counts, reference data

    def lines(self) -> list[str]:
        shown = [f"{name:10s} {value:.4f}" if isinstance(value, float) else f"{name:10s} {value}"
                 for name, value in self.scores.items()]
        return [*shown, "protocol   " + ", ".join(f"{k}={v}" for k, v in self.protocol.items())]


class Evaluator:
    """Scores generated images against one real image data set; the real side is computed once."""

    source: str
    device: torch.device
    extractor_spec: str
    extractor: Extractor | None

    def __init__(self, metrics: str | list[str], dataset, source: str, *, extractor: str = "auto", n: int = 10_000,
                 n_real: int | None = None, inception_weights: str | Path | None = None,
                 device: str | torch.device = "cpu", progress: bool = True):
        if getattr(dataset, "kind", "image") != "image":
            raise ConfigError("FID and the other image metrics need image data; the 2-D mixtures are scored by "
                              "mode coverage (bench/mixtures.py, steadygan.metrics.mode_coverage)")
        if n < 2:
            raise ConfigError(f"evaluation needs at least 2 generated images, got n={n}")
        self.metrics = parse_metrics(metrics)
        self.dataset, self.source, self.n = dataset, source, n
        self.n_real = min(n_real or REAL_LIMIT, len(dataset))
        self.device = device if isinstance(device, torch.device) else resolve_device(device, key="--device")
        self.progress = progress
        self.needs = frozenset().union(*(m.needs for m in self.metrics))
        self.extractor_spec = default_extractor(source) if extractor == "auto" else extractor
        self.extractor = None
        if any(m.compute for m in self.metrics):
            self.extractor = build_extractor(self.extractor_spec, channels=dataset.shape()[0],
                                             inception_weights=inception_weights, device=self.device,
                                             progress=progress)
        self._real: FeatureSet | None = None

    # the real side ---------------------------------------------------------------------------------

    def _features(self) -> Extractor:
        if self.extractor is None:
            raise ValueError("these metrics are read from the images; no features are extracted")
        return self.extractor

    def real_cache_path(self) -> Path:
        return cache_root() / "stats" / f"{self.dataset.identity}-{self._features().name}-{self.n_real}.npz"

    def real(self) -> FeatureSet:
        if self._real is None:
            self._real = self._load_real() or self._extract_real()
        return self._real

    def _load_real(self) -> FeatureSet | None:
        path = self.real_cache_path()
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as arrays:
                cached = FeatureSet.from_arrays(dict(arrays))
        except (OSError, ValueError, KeyError):
            return None  # a damaged cache file is computed again
        if "features" in self.needs and cached.features is None:
            return None
        return cached

    def _extract_real(self) -> FeatureSet:
        indices = np.sort(np.random.default_rng(0).permutation(len(self.dataset))[:self.n_real])
        extractor = self._features()
        real = extract(extractor, real_batches(self.dataset, indices, extractor.batch_size), self.n_real,
                       keep_features="features" in self.needs, progress=self.progress,
                       desc=f"real features ({self.dataset.name})")
        path = self.real_cache_path()
        arrays: dict[str, Any] = real.to_arrays()
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
        return real

    # the generated side ----------------------------------------------------------------------------

    def score(self, batches: Iterator[torch.Tensor] | Callable[[int], torch.Tensor], n: int | None = None,
              reference: str = "") -> Evaluation:
        """Metrics of n generated images given as batches (see `extract`) against the real set."""
        n = n or self.n
        start = time.perf_counter()
        observers = [m.observer(self) for m in self.metrics if m.observer]
        if self.extractor is not None:
            fake = extract(self.extractor, batches, n, keep_features="features" in self.needs,
                           keep_logits="logits" in self.needs, progress=self.progress, desc="generated features",
                           observers=tuple(observers))
            counted = fake.count
        else:  # image-only metrics: no extractor to run
            counted, fake = 0, None
            for images in image_batches(batches, n, 500):
                for observe in observers:
                    observe(images, None)
                counted += len(images)
        if counted < 2:
            raise DataError(f"only {counted} generated image(s) to evaluate; give at least 2")
        scores: dict[str, float] = {}
        for metric in self.metrics:
            if metric.compute is not None and fake is not None:  # feature metrics always have an extractor
                scores.update(metric.compute(self.real(), fake))
        for observer in observers:
            scores.update(observer.result())
        protocol = {"extractor": self.extractor_spec if self.extractor else "none", "generated": counted,
                    "real": self.n_real if self.extractor else 0,
                    "reference": reference or f"{self.dataset.name} ({self.dataset.shape()[-1]}px)",
                    "seconds": round(time.perf_counter() - start, 1)}
        return Evaluation(scores, protocol)

    def score_generator(self, generator: Generator, num_classes: int = 0, *, seed: int = 0,
                        truncation: float | None = None, n: int | None = None) -> Evaluation:
        return self.score(generator_batches(generator, num_classes, seed, truncation), n)


def best_score_key(metrics: list[Metric]) -> str | None:
    """The score that ranks checkpoints: FID when measured, else KID."""
    names = [m.name for m in metrics]
    return "fid" if "fid" in names else "kid" if "kid" in names else None


def is_better(value: float, best: float | None) -> bool:
    return math.isfinite(value) and (best is None or value < best)


# ---------------------------------------------------------------------------------------------------
# the commands


def image_data(source: str, resolution: int, channels: int, split: str = "", progress: bool = True):
    """An unlabelled image data set at `resolution` with `channels` (0: as stored), to compare with."""
    from ..config import DataConfig
    from ..data import build_dataset

    return build_dataset(DataConfig(source=source, resolution=resolution, channels=channels, labels="none",
                                    split=split), progress=progress)


def evaluate_checkpoint(checkpoint: str | Path, metrics: str | list[str] = "fid", *, n: int = 10_000,
                        n_real: int | None = None, real: str | None = None, real_split: str = "",
                        extractor: str = "auto", inception_weights: str | Path | None = None, seed: int = 0,
                        truncation: float | None = None, ema: bool = True, device: str = "cpu",
                        progress: bool = True) -> Evaluation:
    """A checkpoint's generator against its own training data (or the `real` source, e.g. a test split)."""
    from ..generate import load_generator

    loaded = load_generator(checkpoint, ema=ema, device=device)
    check_extractor(default_extractor(real or loaded.config.data.source) if extractor == "auto" else extractor,
                    inception_weights)
    if loaded.data["kind"] != "image":
        raise ConfigError(f"'{loaded.path}' generates 2-D points; score it by mode coverage (bench/mixtures.py)")
    data = loaded.config.data
    source = real or data.source
    dataset = image_data(source, data.resolution, loaded.data["shape"][0], real_split if real else data.split,
                         progress)
    evaluator = Evaluator(metrics, dataset, source, extractor=extractor, n=n, n_real=n_real,
                          inception_weights=inception_weights, device=device, progress=progress)
    result = evaluator.score_generator(loaded.generator, loaded.num_classes, seed=seed, truncation=truncation)
    result.protocol["step"] = loaded.step
    return result


def native_resolution(source: str, split: str = "") -> int:
    """The side of a source's first image (shorter side), the resolution folders are compared at."""
    from ..data.sources import list_source, open_image

    listing = list_source(source, "none", split)
    if listing.decoded is not None:
        return int(min(listing.decoded.shape[1:3]))
    first = listing.entries[0]
    return min(open_image(listing.payload(first), listing.location(first)).size)


def evaluate_folders(real: str, fake: str, metrics: str | list[str] = "fid", *, n: int | None = None,
                     n_real: int | None = None, real_split: str = "", fake_split: str = "",
                     resolution: int | None = None, extractor: str = "auto",
                     inception_weights: str | Path | None = None, device: str = "cpu",
                     progress: bool = True) -> Evaluation:
    """Two image folders or zips (or any data sources) compared, both at the real images' resolution and
    channel count."""
    check_extractor(default_extractor(real) if extractor == "auto" else extractor, inception_weights)
    resolution = resolution or native_resolution(real, real_split)
    real_set = image_data(real, resolution, 0, real_split, progress)
    fake_set = image_data(fake, resolution, real_set.shape()[0], fake_split, progress)
    count = min(n or len(fake_set), len(fake_set))
    evaluator = Evaluator(metrics, real_set, real, extractor=extractor, n=count, n_real=n_real,
                          inception_weights=inception_weights, device=device, progress=progress)
    batches = real_batches(fake_set, np.arange(count), evaluator.extractor.batch_size if evaluator.extractor else 500)
    return evaluator.score(batches, count, reference=f"{real_set.name} ({resolution}px)")
