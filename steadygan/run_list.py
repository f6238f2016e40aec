"""`steadygan runs`: the runs under a folder as one table, as TensorBoard lists its runs: recipe, data, step
of total, state (finished, stopped, running now, diverged), the best FID and KID with their steps, wall
time and the number of the doctor's findings. Read from each run folder's files; nothing is loaded but
checkpoint headers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Config, load_config
from .errors import CheckpointError, SteadyganError, first_line
from .run_folder import NUMBERED, holds_run, is_locked
from .storage.checkpoint import LAST, read_meta
from .train.doctor import diagnose
from .train.metrics_log import DIVERGED, SCORES, best_scores, read_records

SEARCH_DEPTH = 4  # folders below the given one searched for runs (runs/compare/<variant> is 2)


@dataclass
class RunSummary:
    path: Path
    recipe: str
    data: str
    step: int
    steps: int
    state: str  # finished, stopped, running, diverged; unreadable when its files are damaged
    best: dict[str, tuple[float, int]]  # score -> (lowest value, its step)
    seconds: float | None  # training wall time to the last checkpoint, over every resume
    findings: int
    problem: str = ""  # why a run is unreadable

    def to_json(self) -> dict[str, Any]:
        return {"run": str(self.path), "recipe": self.recipe, "data": self.data, "step": self.step,
                "steps": self.steps, "state": self.state, "seconds": self.seconds, "findings": self.findings,
                "best": {key: {"value": value, "step": step} for key, (value, step) in self.best.items()},
                **({"problem": self.problem} if self.problem else {})}


def find_runs(folder: str | Path) -> list[Path]:
    """The run folders at or below `folder` (a run's own sub-folders are not searched), sorted by path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"'{folder}' is not a folder; give a folder that holds run folders (default runs)")
    found = []
    for root, dirs, _ in os.walk(folder):
        path = Path(root)
        if holds_run(path):
            found.append(path)
            dirs.clear()
        elif len(path.relative_to(folder).parts) >= SEARCH_DEPTH:
            dirs.clear()
        else:
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
    return sorted(found)


def _recipe(meta: dict[str, Any], path: Path) -> str:
    """The recipe a checkpoint records; for older runs the name of a numbered folder (runs/00003-sngan)."""
    if isinstance(meta.get("recipe"), str):
        return meta["recipe"]
    return NUMBERED.sub("", path.name) if NUMBERED.match(path.name) else "-"


def summarize_run(path: Path) -> RunSummary:
    """One run's row; a run whose files cannot be read is `unreadable`, with the reason."""
    try:
        last = path / "checkpoints" / LAST
        meta = read_meta(last) if last.is_file() else {}
        config: Config = load_config(str(path / "config.yaml"))
        records = read_records(path / "metrics.jsonl")
    except SteadyganError as exc:
        return RunSummary(path, _recipe({}, path), "-", 0, 0, "unreadable", {}, None, 0, first_line(exc))
    running, diverged = is_locked(path), bool(records) and DIVERGED in records[-1]
    # The step a stopped run resumes from is its checkpoint's; a running or diverged one got further.
    logged = records[-1]["step"] if records else 0
    step = max(int(meta.get("step", 0)), logged) if running or diverged or not meta else int(meta["step"])
    state = ("running" if running else DIVERGED if diverged else
             "finished" if step >= config.train.steps else "stopped")
    data = f"{Path(config.data.source).name or config.data.source} {config.data.resolution}px"
    seconds = meta.get("train_seconds")
    return RunSummary(path, _recipe(meta, path), data, step, config.train.steps, state, best_scores(records),
                      float(seconds) if isinstance(seconds, (int, float)) else None, len(diagnose(records, config)))


def list_runs(folder: str | Path = "runs") -> list[RunSummary]:
    """A summary of every run folder at or below `folder`: what `steadygan runs` lists."""
    return [summarize_run(path) for path in find_runs(folder)]


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def table(runs: list[RunSummary], folder: str | Path) -> str:
    """The runs as an aligned text table, paths relative to `folder`."""
    header = ["run", "recipe", "data", "step", "state", *(f"best {k.upper()} (step)" for k in SCORES), "time",
              "doctor"]
    rows = []
    for run in runs:
        name = str(run.path.relative_to(folder)) if run.path != Path(folder) else str(run.path)
        scores = [f"{run.best[k][0]:.4g} ({run.best[k][1]:,})" if k in run.best else "-" for k in SCORES]
        rows.append([name, run.recipe, run.data, f"{run.step:,} of {run.steps:,}",
                     run.state + (f": {run.problem}" if run.problem else ""), *scores, _duration(run.seconds),
                     str(run.findings)])
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in [header, *rows])
