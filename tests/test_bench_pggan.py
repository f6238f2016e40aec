"""The PGGAN benchmark's quick form grows a model end to end and reports every phase."""

import sys
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import pggan


def test_quick_run_reports_speed_memory_and_fid_for_every_phase(tmp_path):
    out, run = tmp_path / "pggan.md", tmp_path / "run"
    assert pggan.main(["--quick", "--data", "digits", "--resolution", "16", "--extractor", "classifier:digits",
                       "--run", str(run), "--out", str(out)]) == 0
    rows = [line.split("|") for line in out.read_text().splitlines() if line.startswith("| ") and "px" in line]
    assert [r[1].strip() for r in rows] == ["4px stabilize", "8px fade-in", "8px stabilize", "16px fade-in",
                                            "16px stabilize"]
    for row in rows:
        seconds, memory, fid = float(row[4]), float(row[5]), float(row[6])
        assert seconds > 0 and memory > 0 and fid > 0
    assert Image.open(run / "final-grid.png").size == (8 * 18 + 2, 8 * 18 + 2)
    with Image.open(run / "training.gif") as gif:
        assert gif.n_frames >= 6  # step 0, every phase's end, the last step
