"""Feature extraction throughput and the memory of streaming statistics.

    python bench/features.py                 # CPU: Inception (random weights, same cost) and classifiers
    python bench/features.py --device cuda   # the same on a GPU

Prints images/s of the FID Inception network (32x32 inputs resized to 299x299, as CIFAR-10 is scored)
and of the classifier extractors (the shipped MNIST classifier on grey 32x32 and, channel by channel, on
stacked 32x32 digits as the stacked MNIST mode count reads them; the digit classifier on stacked 16x16
digits), each measured in one run on the same random images. Beside each, in alternating rounds, the same
weights as their file holds them: batch norm apart, Inception's weights contiguous, the classifiers reading
the whole batch at once. And the peak memory of accumulating 50,000 images' 2048-d statistics (float64
sums) against keeping the raw features, which KID and precision/recall need.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
import tracemalloc

import numpy as np
import torch

from steadygan.devices import resolve_device
from steadygan.errors import ConfigError
from steadygan.metrics import FIDInceptionV3, GaussianStats, build_extractor
from steadygan.metrics.classifier import ImageClassifier, classifier_file
from steadygan.metrics.features import ChannelwiseClassifier, Extractor
from steadygan.storage.checkpoint import load_checkpoint

ROUNDS = 3


class WholeBatchClassifier(ImageClassifier):
    """A classifier as its file holds it, batch norm apart, reading the whole batch at once (the reference)."""

    @property
    def chunk_size(self) -> int:
        return 2**62


def as_in_file(name: str, channels: int, device: torch.device) -> Extractor:
    """The shipped classifier `name` without the extractor's inference changes, read as build_extractor reads it."""
    tensors, meta, _ = load_checkpoint(classifier_file(name))
    network = WholeBatchClassifier(**meta["spec"])
    network.load_state_dict(tensors)
    network.eval().requires_grad_(False).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    reader = ChannelwiseClassifier(network, channels) if channels > 1 else network
    return Extractor(name, reader.to(device), reader.feature_dim, device, batch_size=500)


def images_per_second(extractor: Extractor, images: torch.Tensor, repeats: int) -> float:
    extractor(images[: min(4, len(images))])  # warm-up: allocations, kernel selection
    if extractor.device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        for batch in images.split(extractor.batch_size):
            extractor(batch)
    if extractor.device.type == "cuda":
        torch.cuda.synchronize()
    return repeats * len(images) / (time.perf_counter() - start)


def statistics_memory(count: int, dim: int, batch: int) -> tuple[float, float]:
    """Peak MiB traced while streaming `count` random features into GaussianStats, and while keeping them."""
    rng = np.random.default_rng(0)
    peaks = []
    for keep in (False, True):
        tracemalloc.start()
        stats, kept = GaussianStats.empty(dim), []
        for _ in range(count // batch):
            features = rng.standard_normal((batch, dim), dtype=np.float32)
            stats.add(features)
            if keep:
                kept.append(features)
        if keep:
            np.concatenate(kept)
        peaks.append(tracemalloc.get_traced_memory()[1] / 2**20)
        tracemalloc.stop()
    return peaks[0], peaks[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--inception-images", type=int, default=100)
    parser.add_argument("--classifier-images", type=int, default=4000)
    parser.add_argument("--count", type=int, default=50_000, help="images whose statistics are accumulated")
    args = parser.parse_args(argv)
    for option, value, least in (("--inception-images", args.inception_images, 1),
                                 ("--classifier-images", args.classifier_images, 1), ("--count", args.count, 500)):
        if value < least:
            parser.error(f"{option} must be {least} or more, got {value}")
    try:
        device = resolve_device(args.device, key="--device")
    except ConfigError as error:
        parser.error(str(error))
    threads = torch.get_num_threads()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {threads} threads"
    print(f"device: {name}; torch {torch.__version__}")

    generator = torch.Generator().manual_seed(0)
    inception = FIDInceptionV3()  # random weights: the cost is the architecture's
    as_loaded = copy.deepcopy(inception).for_inference()  # what load_fid_inception returns
    cases = [("Inception (32x32 -> 299x299 RGB)",
              Extractor("inception", as_loaded.to(device), inception.feature_dim, device, batch_size=50),
              Extractor("inception", inception.to(device), inception.feature_dim, device, batch_size=50),
              torch.rand(args.inception_images, 3, 32, 32, generator=generator) * 2 - 1)]
    for label, name, channels, size in [
            ("classifier:mnist (32x32 grey)", "mnist", 1, 32),
            ("classifier:mnist x3 channels (32x32 stacked, the stacked MNIST count)", "mnist", 3, 32),
            ("classifier:digits x3 channels (16x16 stacked)", "digits", 3, 16)]:
        cases.append((label, build_extractor(f"classifier:{name}", channels=channels, device=device),
                      as_in_file(name, channels, device),
                      torch.rand(args.classifier_images, channels, size, size, generator=generator) * 2 - 1))

    rows = []
    for label, ours, reference, images in cases:
        rates: dict[str, list[float]] = {"ours": [], "reference": []}
        for _ in range(ROUNDS):  # alternating rounds, so that both see the same machine load
            rates["ours"].append(images_per_second(ours, images, 1))
            rates["reference"].append(images_per_second(reference, images, 1))
        rows.append((label, float(np.median(rates["ours"])), float(np.median(rates["reference"]))))

    print("\n| extractor | images/s | 50,000 images take | vs Inception | as the file holds it, images/s | speed-up |")
    print("|---|---|---|---|---|---|")
    for label, rate, reference_rate in rows:
        print(f"| {label} | {rate:,.0f} | {50_000 / rate / 60:.1f} min | {rate / rows[0][1]:.0f}x | "
              f"{reference_rate:,.0f} | {rate / reference_rate:.2f}x |")
    print(f"\nmedian of {ROUNDS} alternating rounds; as the file holds it: batch norm apart, Inception's weights "
          "contiguous, the classifiers reading 500 images at once")

    streamed, kept = statistics_memory(args.count, 2048, 500)
    print(f"\nstatistics of {args.count:,} images x 2048 features: streamed float64 sums peak {streamed:.0f} MiB; "
          f"keeping the features too (KID, precision/recall) peaks at {kept:.0f} MiB ({kept / streamed:.0f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
