"""What the benchmarks share: independent runs spread over worker processes, mean ± std cells, the shared
data folder and the CIFAR-10 feature extractor."""

from __future__ import annotations

import math
import multiprocessing
import os
import statistics
import time
from collections.abc import Callable, Iterable
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def run_pool(function: Callable, jobs: Iterable, workers: int, describe: Callable[[dict], str]) -> tuple[list, float]:
    """Runs function(job) for every job on `workers` single-threaded processes (one per core), printing
    describe(result) as each finishes; returns the results and the wall time."""
    jobs = list(jobs)
    os.environ["OMP_NUM_THREADS"] = "1"  # spawned workers start with one thread each
    start = time.perf_counter()
    results = []
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for i, result in enumerate(pool.imap_unordered(function, jobs), 1):
            results.append(result)
            print(f"[{i}/{len(jobs)} {time.perf_counter() - start:5.0f} s] {describe(result)}", flush=True)
    return results, time.perf_counter() - start


def mean_std(values: list[float], digits: int = 1) -> str:
    if any(math.isinf(v) for v in values):
        return "inf"
    spread = statistics.pstdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.{digits}f} ± {spread:.{digits}f}"


def cifar_classifier(cache: Path) -> str:
    """The CIFAR-10 classifier file, trained (a few minutes on a CPU) when not cached."""
    from steadygan.metrics.classifier import train_classifier_file

    path = cache / "weights" / "cifar10-classifier.safetensors"
    if not path.is_file():
        print(f"training the CIFAR-10 feature extractor once: {path}", flush=True)
        _, report = train_classifier_file(str(SHARED_DATA / "cifar10-jpg.zip"), path, resolution=32,
                                          labels="folders", epochs=4)
        print(f"held-out accuracy {report['held_out_accuracy']:.3f}", flush=True)
    return f"classifier:{path}"
