"""What the benchmarks share: independent runs spread over worker processes, and mean ± std cells."""

from __future__ import annotations

import math
import multiprocessing
import os
import statistics
import time
from typing import Callable, Iterable


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
