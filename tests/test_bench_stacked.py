"""The stacked-digits benchmark's quick form runs end to end and writes its table."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import stacked_digits  # noqa: E402


def test_quick_run_writes_modes_and_kl_beside_the_published_rows(tmp_path):
    out = tmp_path / "stacked.md"
    assert stacked_digits.main(["--quick", "--workers", "1", "--out", str(out)]) == 0
    text = out.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| DCGAN (the default recipe)"))
    modes = float(row.split("|")[2].split("±")[0])
    assert 1 <= modes <= 1000
    assert "| VEEGAN | 150 | 2.95 |" in text and "2000 samples counted" in text
