"""The seed-lanes benchmark end to end on a few steps: its table, and lanes that start as their own runs."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import seed_lanes


def test_a_short_run_prints_each_lane_beside_its_own_run_and_the_rounding_control(tmp_path):
    out = tmp_path / "lanes.md"
    assert seed_lanes.main(["--seeds", "2", "--steps", "3", "--rounds", "1", "--recipes", "toy2d",
                            "--out", str(out)]) == 0
    rows = [line.split("|")[1:-1] for line in out.read_text().splitlines() if line.startswith("| ")]
    ours = next(cells for cells in rows if cells[0].strip() == "toy2d")
    control = next(cells for cells in rows if cells[0].strip().startswith("control: toy2d,"))
    for cells in (ours, control):
        first, _ = (float(x) for x in cells[4].split("/"))
        # after one G step the runs differ by rounding (which Adam's epsilon magnifies on a few weights), far
        # below the difference of two seeds' networks (order 1)
        assert first < 1e-3, cells
    assert len(ours[6].split(",")) == len(ours[7].split(",")) == 2  # modes and quality of every seed
    assert float(ours[1]) > 0 and float(ours[2]) > 0 and ours[3].strip().endswith("x")
