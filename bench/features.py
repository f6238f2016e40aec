"""Feature extraction throughput and the memory of streaming statistics.

    python bench/features.py                 # CPU: Inception (random weights, same cost) and classifiers
    python bench/features.py --device cuda   # the same on a GPU

Prints images/s of the FID Inception network (32x32 inputs resized to 299x299, as CIFAR-10 is scored)
and of the classifier extractors (the shipped MNIST classifier on grey 32x32; the digit classifier
read channel by channel on stacked 16x16 digits), each measured in one run on the same random images;
and the peak memory of accumulating 50,000 images' 2048-d statistics (float64 sums) against keeping
the raw features, which KID and precision/recall need.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc

import numpy as np
import torch

from steadygan.metrics import FIDInceptionV3, GaussianStats, build_extractor
from steadygan.metrics.features import Extractor


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
    device = torch.device(args.device)
    threads = torch.get_num_threads()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {threads} threads"
    print(f"device: {name}; torch {torch.__version__}")

    generator = torch.Generator().manual_seed(0)
    rows = []
    inception = FIDInceptionV3().to(device)  # random weights: the cost is the architecture's
    extractor = Extractor("inception", inception, inception.feature_dim, device, batch_size=50)
    rgb = torch.rand(args.inception_images, 3, 32, 32, generator=generator) * 2 - 1
    rows.append(("Inception (32x32 -> 299x299 RGB)", images_per_second(extractor, rgb, 1)))
    grey = torch.rand(args.classifier_images, 1, 32, 32, generator=generator) * 2 - 1
    rows.append(("classifier:mnist (32x32 grey)", images_per_second(
        build_extractor("classifier:mnist", channels=1, device=device), grey, 2)))
    stacked = torch.rand(args.classifier_images, 3, 16, 16, generator=generator) * 2 - 1
    rows.append(("classifier:digits x3 channels (16x16 stacked)", images_per_second(
        build_extractor("classifier:digits", channels=3, device=device), stacked, 2)))

    print("\n| extractor | images/s | 50,000 images take | vs Inception |\n|---|---|---|---|")
    for label, rate in rows:
        print(f"| {label} | {rate:,.0f} | {50_000 / rate / 60:.1f} min | {rate / rows[0][1]:.0f}x |")

    streamed, kept = statistics_memory(args.count, 2048, 500)
    print(f"\nstatistics of {args.count:,} images x 2048 features: streamed float64 sums peak {streamed:.0f} MiB; "
          f"keeping the features too (KID, precision/recall) peaks at {kept:.0f} MiB ({kept / streamed:.0f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
