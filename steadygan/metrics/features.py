"""Feature extractors, by name, and streaming extraction of the features the metrics need.

An extractor maps images in [-1, 1] to {"pool": (N, D) features, "logits": (N, K)}:

- `inception`: the FID Inception network with pytorch-fid's published weights;
- `classifier:NAME_OR_FILE`: a classifier trained on a data set's labels, a shipped one (`digits`,
  `mnist`) or a file from `steadygan train-classifier`; it works with no download at all.
- `auto`: the shipped digit classifier for digit data (plain or stacked), Inception otherwise.

A grey-digit classifier reads RGB stacked digits channel by channel: its features are the three
channels' features side by side, its logits those of the 1,000 digit triples.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from tqdm.auto import tqdm

from ..errors import ConfigError
from .classifier import BUILTIN, ImageClassifier, load_classifier
from .inception import fid_weights_file, load_fid_inception
from .scores import GaussianStats


@dataclass
class Extractor:
    name: str  # identity for caches: the network and its weights
    network: torch.nn.Module
    feature_dim: int
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    batch_size: int = 64

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        out = self.network(images.to(self.device))
        return {key: value.float().cpu() for key, value in out.items()}


class ChannelwiseClassifier(torch.nn.Module):
    """A grey classifier applied to each channel of RGB stacked digits (Metz et al. 2017)."""

    def __init__(self, classifier: ImageClassifier, channels: int = 3):
        super().__init__()
        self.classifier, self.channels = classifier, channels
        self.feature_dim = channels * classifier.feature_dim

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        n, c = images.shape[:2]
        out = self.classifier(images.reshape(n * c, 1, *images.shape[2:]))
        log_probs = torch.log_softmax(out["logits"], dim=1).reshape(n, c, -1)
        joint = log_probs[:, 0]
        for channel in range(1, c):  # log p(a, b, c) = log p(a) + log p(b) + log p(c), a-major order
            joint = (joint[:, :, None] + log_probs[:, channel][:, None, :]).flatten(1)
        return {"pool": out["pool"].reshape(n, -1), "logits": joint, "digits": log_probs.argmax(dim=2)}


def default_extractor(source: str) -> str:
    """The extractor `auto` stands for, given the data source the real images come from."""
    from ..data.sources import STACKED_PREFIX, is_idx_source

    base = source[len(STACKED_PREFIX):] if source.startswith(STACKED_PREFIX) else source
    if base == "digits":
        return "classifier:digits"
    if base and Path(base).exists() and is_idx_source(Path(base)):
        return "classifier:mnist"
    return "inception"


def check_extractor(spec: str, inception_weights: str | Path | None = None) -> None:
    """Fails at once, before any data is read, when the extractor's weights are missing."""
    if spec == "inception" and inception_weights:
        fid_weights_file(inception_weights, allow_download=False)
    elif spec.startswith("classifier:"):
        load_classifier(spec.partition(":")[2])


def build_extractor(spec: str = "inception", *, channels: int = 3, inception_weights: str | Path | None = None,
                    device: str | torch.device = "cpu", progress: bool = True) -> Extractor:
    """The extractor `spec` names, for images of `channels` channels."""
    device = torch.device(device)
    if spec == "inception":
        network = load_fid_inception(inception_weights, progress=progress).to(device)
        return Extractor("inception-2015-12-05", network, network.feature_dim, device, batch_size=50)
    kind, _, target = spec.partition(":")
    if kind == "classifier" and target:
        classifier, _ = load_classifier(target)
        identity = target if target in BUILTIN else hashlib.sha1(Path(target).read_bytes()).hexdigest()[:12]
        reader: ImageClassifier | ChannelwiseClassifier = classifier
        if classifier.channels == 1 and channels > 1:
            reader, identity = ChannelwiseClassifier(classifier, channels), f"{identity}-x{channels}"
        return Extractor(f"classifier-{identity}", reader.to(device), reader.feature_dim, device, batch_size=500)
    raise ConfigError(f"unknown feature extractor '{spec}'; use auto, inception or classifier:NAME_OR_FILE "
                      f"(built-in classifiers: {', '.join(BUILTIN)}; train one with 'steadygan train-classifier')")


@dataclass
class FeatureSet:
    """What metrics need of one image set: Gaussian statistics always; raw features and logits on request."""

    stats: GaussianStats
    features: np.ndarray | None = None  # (N, D) float32
    logits: np.ndarray | None = None  # (N, K) float32

    @property
    def count(self) -> int:
        return self.stats.count

    def kept(self, kind: Literal["features", "logits"]) -> np.ndarray:
        """The raw `features` or `logits`, which a metric that needs them has had kept."""
        value = getattr(self, kind)
        if value is None:
            raise ValueError(f"the {kind} of this image set were not kept")
        return value

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {f"stats_{k}": v for k, v in self.stats.to_arrays().items()}
        for key in ("features", "logits"):
            if getattr(self, key) is not None:
                arrays[key] = getattr(self, key)
        return arrays

    @classmethod
    def from_arrays(cls, arrays) -> FeatureSet:
        stats = GaussianStats.from_arrays({k[6:]: arrays[k] for k in arrays if k.startswith("stats_")})
        return cls(stats, arrays.get("features", None),
                   arrays.get("logits", None))


def image_batches(batches: Iterator[torch.Tensor] | Callable[[int], torch.Tensor], n: int,
                  size: int) -> Iterator[torch.Tensor]:
    """Up to n images in pieces of at most `size`: `batches` yields image batches, or is a function of
    a batch size that returns the next batch."""
    done = 0
    while done < n:
        images = batches(min(size, n - done)) if callable(batches) else next(batches, None)
        if images is None:
            return
        images = images[:n - done]
        done += len(images)
        yield images


def extract(extractor: Extractor, batches: Iterator[torch.Tensor] | Callable[[int], torch.Tensor], n: int, *,
            keep_features: bool = False, keep_logits: bool = False, progress: bool = True,
            desc: str = "features",
            observers: tuple[Callable[[torch.Tensor, dict[str, torch.Tensor]], None], ...] = ()) -> FeatureSet:
    """Features of n images streamed from `batches` (see `image_batches`); each observer also sees every
    image batch with the extractor's outputs for it."""
    stats = GaussianStats.empty(extractor.feature_dim)
    features, logits = [], []
    with tqdm(total=n, disable=not progress, unit="img", desc=desc, dynamic_ncols=True) as bar:
        for images in image_batches(batches, n, extractor.batch_size):
            out = extractor(images)
            for observe in observers:
                observe(images, out)
            stats.add(out["pool"])
            if keep_features:
                features.append(out["pool"].numpy())
            if keep_logits:
                logits.append(out["logits"].numpy())
            bar.update(len(images))
    return FeatureSet(stats, np.concatenate(features) if features else None,
                      np.concatenate(logits) if logits else None)
