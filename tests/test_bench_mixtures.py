"""The 2-D benchmark's quick form runs end to end and writes its table and scatter plot."""

import sys
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import mixtures  # noqa: E402


def test_quick_benchmark_writes_the_table_and_the_scatter_plot(tmp_path, capsys):
    assert mixtures.main(["--quick", "--steps", "60", "--out", str(tmp_path / "mix")]) == 0
    table = (tmp_path / "mix.md").read_text()
    for key in mixtures.QUICK_TECHNIQUES:
        assert f"| {mixtures.TECHNIQUES[key][0]} |" in table
    assert "| PacGAN4 | 7.8 | 95.9 | 24.8 | 93.6 |" in table  # the published rows beside ours
    rows = [line for line in table.splitlines() if line.startswith("| GAN (non-saturating) |")]
    assert len(rows[0].split("|")) == 11  # technique, 6 metrics, verdict, seconds
    width, height = Image.open(tmp_path / "mix.png").size
    assert width > 200 and height > 3 * 150


def test_every_technique_is_a_valid_config():
    from steadygan.config import load_config, validate

    for label, overrides in mixtures.TECHNIQUES.values():
        validate(load_config("toy2d", overrides))
