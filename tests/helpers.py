"""Shared test helpers."""

import os
import shutil
from pathlib import Path

import pytest

from steadygan.config import load_config
from steadygan.train import Trainer


def tiny_config(out_dir, recipe="sngan-projection", **overrides):
    """A recipe shrunk to run a step in a fraction of a second on a CPU."""
    values = {
        "data.resolution": 16, "model.g_width": 8, "model.d_width": 8, "model.z_dim": 16,
        "optim.batch_size": 8, "optim.n_dis": 2, "train.steps": 6, "train.log_every": 2,
        "train.sample_every": 3, "train.checkpoint_every": 4, "train.num_samples": 8,
        "train.ema_decay": 0.9, "train.out_dir": str(out_dir),
    }
    values.update(overrides)
    return load_config(recipe, [f"{k}={v}" for k, v in values.items()])


def tiny_trainer(out_dir, recipe="sngan-projection", **overrides):
    """A quiet Trainer (no progress bar, no TensorBoard) of `tiny_config`."""
    return Trainer(tiny_config(out_dir, recipe, **overrides), progress=False, tensorboard=False)


# What training prints, and nothing else on stderr, where the tensorboard package is not installed.
NO_TENSORBOARD = ("steadygan: warning: TensorBoard logging is off: the tensorboard package is not installed "
                  "(pip install 'steadygan[tensorboard]', or --no-tensorboard to silence this)")


REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "published-results.md"


def _reference() -> str:
    if not REFERENCE.is_file():
        pytest.skip(f"{REFERENCE} is not beside the project")
    return REFERENCE.read_text()


def reference_text() -> str:
    """../shared/reference/published-results.md, the source of the published figures the benchmarks print,
    with its whitespace collapsed (for figures given in prose)."""
    return " ".join(_reference().split())


def reference_rows() -> list[list[str]]:
    """The table rows of the same file, as lists of cells."""
    return [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in _reference().splitlines() if line.startswith("| ") and "---" not in line]


def numbers(cells: list[str]) -> list[float]:
    """The numbers among table cells ('95.9%' is 95.9; '-' and words are left out)."""
    found = []
    for cell in cells:
        try:
            found.append(float(cell.rstrip("%")))
        except ValueError:
            continue
    return found


def chromium() -> str:
    """The path of Debian's chromium; the test skips without it, and fails where CI requires a browser."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("STEADYGAN_REQUIRE_BROWSER"):
            pytest.fail("chromium is not installed; scripts/test.sh installs Debian's chromium package")
        pytest.skip("chromium is not installed (scripts/test.sh installs it on Debian)")
    return found
