"""What the benchmarks share: independent runs spread over worker processes, mean ± std cells, the shared
data folder and the CIFAR-10 feature extractor."""

from __future__ import annotations

import argparse
import hashlib
import itertools
import math
import multiprocessing
import os
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results"
RESULT_MARK = re.compile(r"<!-- written by steadygan's bench/(\w+\.py) -->")  # last line of every results file


class ResultsFile:
    """The results files of one benchmark script. Each file carries a mark naming the script that wrote it, so a
    benchmark replaces only its own files: never a file of someone's, nor another benchmark's results."""

    def __init__(self, script: str) -> None:
        self.script = Path(script).name
        self.mark = f"<!-- written by steadygan's bench/{self.script} -->"
        self.seen: dict[Path, str | None] = {}  # each file's contents when last checked or written, by digest

    def refusal(self, path: Path) -> str | None:
        """Why this benchmark may not replace `path`, or None when it may."""
        if path.is_dir():
            return f"'{path}' is a folder; give the path of a results file"
        if not path.exists():
            return None
        found = RESULT_MARK.search(path.read_text(errors="replace"))
        if found is None:
            return f"'{path}' exists and was not written by a benchmark; give another path"
        if found[1] != self.script:
            return f"'{path}' holds the results of bench/{found[1]}; give another path"
        return None

    def check(self, value: str) -> Path:
        """An argparse type for a results file: refused before any training when it exists and this benchmark did
        not write it, so that no run is wasted on a file it may not replace."""
        path = Path(value)
        reason = self.refusal(path)
        if reason is not None:
            raise argparse.ArgumentTypeError(reason)
        self.seen[path.resolve()] = digest(path)
        return path

    def destination(self, path: Path | str) -> Path:
        """Where results meant for `path` are written: `path` itself while it is as this benchmark last saw it,
        else (the file changed during a long run) a free path beside it, so that neither the file nor the run's
        results are lost."""
        path = Path(path)
        now = digest(path)
        unchanged = self.seen.get(path.resolve(), now) == now
        if unchanged and self.refusal(path) is None:
            return path
        free = next(candidate for n in itertools.count(1)
                    if not (candidate := path.with_name(f"{path.stem}-{n}{path.suffix}")).exists())
        print(f"'{path}' changed while this benchmark ran; its results go to '{free}' instead", file=sys.stderr)
        return free

    def written(self, path: Path) -> None:
        """Records that this benchmark wrote `path`, which it may then write again."""
        self.seen[path.resolve()] = digest(path)

    def publish(self, path: Path | str, text: str, *, append: bool = False) -> Path:
        """Writes a results file with this benchmark's mark (where `destination` says) and prints it with where
        it went. With `append`, the text is added after a rule below the parts already in the file: a long table
        measured in parts, one command at a time."""
        from steadygan.storage.atomic import write_atomic

        path = self.destination(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        whole = text
        if append and path.exists():
            earlier = path.read_text().replace(self.mark, "").rstrip("\n")
            whole = f"{earlier}\n\n---\n\n{text}"
        write_atomic(path, (whole.rstrip("\n") + f"\n\n{self.mark}\n").encode())
        self.written(path)
        print(text)
        print(f"wrote {path}")
        return path


def digest(path: Path) -> str | None:
    """The SHA-256 of a file's bytes, None when there is no file."""
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


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


MATRIX_PRODUCTS = frozenset({"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm"})
# aten::_convolution computes transposed convolutions itself on the CPU: its own time is theirs
CONVOLUTIONS = frozenset({"aten::_convolution", "aten::mkldnn_convolution", "aten::convolution_backward",
                          "aten::slow_conv_transpose2d", "aten::slow_conv_transpose2d_backward",
                          "aten::_slow_conv2d_forward", "aten::_slow_conv2d_backward"})


def time_steps(train_step: Callable[[], object], steps: int, kernels: frozenset[str]) -> tuple[float, float]:
    """Milliseconds per call of `train_step` over `steps` calls after 3 calls of warm-up, and the part of them spent
    in the named kernels: their share of as many profiled calls' wall time (on one thread they run inside it; the
    profiler's own overhead lengthens those calls, so the share errs low), applied to the unprofiled calls."""
    from torch.profiler import ProfilerActivity, profile

    for _ in range(3):  # allocations, kernel selection
        train_step()
    start = time.perf_counter()
    for _ in range(steps):
        train_step()
    milliseconds = 1000 * (time.perf_counter() - start) / steps
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        start = time.perf_counter()
        for _ in range(steps):
            train_step()
        profiled = time.perf_counter() - start
    in_kernels = sum(event.self_cpu_time_total for event in profiler.key_averages() if event.key in kernels) / 1e6
    return milliseconds, milliseconds * in_kernels / profiled  # the profiler's times are in microseconds


def makespan(durations: Iterable[float], workers: int) -> float:
    """The wall time of jobs of these durations on `workers` workers, each free worker taking the longest job
    left (the order run_pool is given them)."""
    loads = [0.0] * workers
    for duration in sorted(durations, reverse=True):
        loads[loads.index(min(loads))] += duration
    return max(loads)


class SeparateSeeds:
    """The runs of one config with several seeds, each a `Trainer` of its own, stepped together (the interface
    of `SeedLanes`). Each keeps the state of torch's global generator it would have alone, so that every
    seed's random draws are those of its own run."""

    def __init__(self, config, seeds: list[int], out: str):
        import torch

        from steadygan.train import Trainer
        from steadygan.train.lanes import seed_config

        self.trainers, self.rng_states = [], []
        for seed in seeds:
            self.trainers.append(Trainer(seed_config(config, seed, out), progress=False, tensorboard=False))
            self.rng_states.append(torch.get_rng_state())

    def train_step(self) -> None:
        import torch

        for k, trainer in enumerate(self.trainers):
            torch.set_rng_state(self.rng_states[k])
            trainer.train_step()
            self.rng_states[k] = torch.get_rng_state()

    def generator(self, k: int):
        return self.trainers[k].ema.model


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


def describe_machine(cuda: bool, device: torch.device | None = None) -> str:
    """The name of the GPU (`device`, or the current one) when `cuda`, else the CPU and its threads: the
    machine a figure was measured on."""
    import platform

    import torch

    if cuda:
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def existing_data(text: str) -> str:
    """--data, refused in one line before any work when nothing is there."""
    if not Path(text).exists():
        raise argparse.ArgumentTypeError(f"{text} is missing; give a folder or zip of images")
    return text


def compare_parser(description: str, *, name: str, data: Path, budget: str,
                   results_file: ResultsFile) -> argparse.ArgumentParser:
    """The options of every comparison benchmark: --data, --budget, --eval-n, --extractor, --out (runs/NAME),
    --results (bench/results/NAME.md, checked by `results_file`) and --device."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(data), type=existing_data)
    parser.add_argument("--budget", default=budget)
    parser.add_argument("--eval-n", type=int, default=2000)
    parser.add_argument("--extractor", help="default: the CIFAR-10 classifier, trained once if not cached")
    parser.add_argument("--out", default=f"runs/{name}")
    parser.add_argument("--results", type=results_file.check, default=str(RESULTS / f"{name}.md"))
    parser.add_argument("--device", default="auto")
    return parser


def compare_and_report(data: str, recipes: str, *, budget: str, out: str, resolution: int, overrides: list[str],
                       eval_n: int, extractor: str, device: str, results: str | Path, results_file: ResultsFile,
                       command: str, reference: str = "", extra: str = "") -> int:
    """Runs `steadygan compare` and writes its table, `extra`, the wall time and `reference` to `results`; 0
    when every variant finished."""
    import torch

    from steadygan.compare import compare

    start = time.perf_counter()
    result = compare(data, recipes, budget=budget, out=out, resolution=resolution, overrides=overrides,
                     eval_n=eval_n, extractor=extractor, device=device)
    minutes = (time.perf_counter() - start) / 60
    trained = sum(float(line.split("|")[4]) for line in result.markdown.read_text().splitlines()
                  if line.startswith("| ") and not line.startswith("| variant"))
    machine = describe_machine(torch.cuda.is_available() and device != "cpu")
    footer = (f"\nCommand: `{command}` on {machine}; this invocation {minutes:.1f} min, the variants' training "
              f"(evaluations included) {trained:.1f} min in all. Report: {result.html}.\n{reference}")
    results_file.publish(results, result.markdown.read_text() + extra + footer)
    return 0 if result.completed else 1
