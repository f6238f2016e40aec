"""Training metrics: running means written to a JSONL file and TensorBoard (an optional extra), and a loss plot."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..errors import first_line, warn
from ..images import SOFTWARE
from ..storage.atomic import atomic_path, write_atomic

if TYPE_CHECKING:
    from torch.utils.tensorboard import SummaryWriter


class MetricsLog:
    """Accumulates scalars between flushes; each flush writes one JSONL line of their means."""

    def __init__(self, out_dir: Path, tensorboard: bool = True, write: bool = True):
        self.path = out_dir / "metrics.jsonl"
        self.writes = write  # False on all training processes but the first
        self._sums: dict[str, float | torch.Tensor] = defaultdict(float)
        self._counts: dict[str, int] = defaultdict(int)
        self._writer = tensorboard_writer(out_dir / "tensorboard") if tensorboard and write else None

    def add(self, values: dict[str, float | torch.Tensor]) -> None:
        """Values may be tensors: they are summed on their device and read once per flush."""
        for name, value in values.items():
            self._sums[name] += value
            self._counts[name] += 1

    def flush(self, step: int, extra: dict[str, float] | None = None) -> dict[str, float]:
        record = {name: float(self._sums[name]) / self._counts[name] for name in self._sums}
        record.update(extra or {})
        self.discard()
        return self.write(step, record)

    def discard(self) -> None:
        """Forget the values added since the last flush (those of steps a rollback undoes)."""
        self._sums.clear()
        self._counts.clear()

    def write(self, step: int, record: dict[str, float]) -> dict[str, float]:
        """One line of values measured at `step` (e.g. evaluation scores), beside the running means."""
        if self.writes:
            with open(self.path, "a") as handle:
                handle.write(json.dumps({"step": step, **record}) + "\n")
        if self._writer is not None:
            for name, value in record.items():
                self._writer.add_scalar(name, value, step)
        return {"step": step, **record}

    def add_image(self, tag: str, image: np.ndarray, step: int) -> None:
        if self._writer is not None:
            self._writer.add_image(tag, image, step, dataformats="HWC")

    def truncate_after(self, step: int) -> None:
        """Drop lines logged after `step`, written by a run that stopped before its next checkpoint."""
        if self.writes and self.path.is_file():
            kept = [r for r in read_records(self.path) if r["step"] <= step]
            write_atomic(self.path, "".join(json.dumps(r) + "\n" for r in kept).encode())

    def records(self) -> list[dict]:
        return read_records(self.path)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


TENSORBOARD_EXTRA = "pip install 'steadygan[tensorboard]'"


def tensorboard_writer(folder: Path) -> SummaryWriter | None:
    """A TensorBoard writer into `folder`, or None, with one warning, where the optional tensorboard package
    is missing: training goes on with metrics.jsonl and the loss plot."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        if isinstance(exc, ModuleNotFoundError) and exc.name == "tensorboard":
            warn(f"TensorBoard logging is off: the tensorboard package is not installed ({TENSORBOARD_EXTRA}, "
                 "or --no-tensorboard to silence this)")
        else:  # installed, but it or a dependency of it (protobuf, say) fails to import
            warn(f"TensorBoard logging is off: torch.utils.tensorboard cannot be imported ({first_line(exc)}); "
                 f"reinstall it with {TENSORBOARD_EXTRA}")
        return None
    return SummaryWriter(str(folder))


def read_records(path: Path) -> list[dict]:
    """The records of a metrics.jsonl file, in order. A line that is not a record (torn by a crash in the
    middle of a write, say) is dropped with a warning."""
    if not path.is_file():
        return []
    records, dropped = [], []
    for number, line in enumerate(path.read_bytes().decode("utf-8", "replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if (isinstance(record, dict) and isinstance(record.get("step"), int)
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in record.values())):
            records.append(record)
        else:
            dropped.append(number)
    if dropped:
        warn(f"{path}: dropped {len(dropped)} unreadable line(s) (line {', '.join(map(str, dropped[:5]))}"
             f"{', ...' if len(dropped) > 5 else ''}), e.g. one torn by a crash while it was written")
    return records


SCORES = ("fid", "kid")  # the scores runs are ranked by, lower is better
DIVERGED = "diverged"  # the last record of a run that stopped on NaN/inf weights, out of rollbacks


def best_scores(records: list[dict]) -> dict[str, tuple[float, int]]:
    """The lowest finite value of each score a run logged, with the step it was first reached at."""
    best: dict[str, tuple[float, int]] = {}
    for record in records:
        for key in SCORES:
            value = record.get(key)
            if value is not None and math.isfinite(value) and (key not in best or value < best[key][0]):
                best[key] = (value, record["step"])
    return best


def plot_losses(metrics_path: Path, out_path: Path) -> Path | None:
    """D and G losses against the G step, from metrics.jsonl, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_records(metrics_path)
    if not records:
        return None
    steps = [r["step"] for r in records]
    figure, axis = plt.subplots(figsize=(7, 4), dpi=100)
    for name in ("d_loss", "g_loss"):
        axis.plot(steps, [r.get(name, np.nan) for r in records], label=name)
    axis.set_xlabel("G step")
    axis.set_ylabel("loss")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    with atomic_path(out_path) as tmp:
        figure.savefig(tmp, format="png", metadata={"Software": SOFTWARE})
    plt.close(figure)
    return out_path
