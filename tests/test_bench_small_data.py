"""The small-data benchmark's quick form: three variants compared, scored against the whole set and the subset."""

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import small_data


@pytest.mark.slow
def test_quick_run_scores_every_variant_and_reports_p_and_the_doctor(tmp_path):
    faces = tmp_path / "faces"
    faces.mkdir()
    rng = np.random.default_rng(0)
    for i in range(120):  # smooth random colour fields, 20x20: a subset of 50 and 50 others
        field = rng.uniform(0, 255, (3, 3, 3)).astype(np.uint8)
        Image.fromarray(field).resize((20, 20), Image.Resampling.BILINEAR).save(faces / f"{i:03d}.png")
    results = tmp_path / "small.md"
    assert small_data.main(["--quick", "--data", str(faces), "--resolution", "16", "--extractor",
                            "classifier:digits", "--out", str(tmp_path / "runs"), "--results", str(results)]) == 0
    text = results.read_text()
    scores = [line.split("|")[1:-1] for line in text.splitlines() if line.startswith("| ") and "." in line
              and line.split("|")[1].strip() in small_data.VARIANTS and len(line.split("|")) == 8]
    assert [row[0].strip() for row in scores] == list(small_data.VARIANTS)
    for row in scores:
        fid_all, fid_others, fid_subset, gap = float(row[1]), float(row[3]), float(row[4]), float(row[5])
        assert fid_all > 0 and fid_subset > 0 and abs(gap - (fid_others - fid_subset)) < 0.011
    p_rows = [line.split("|")[2:4] for line in text.splitlines() if line.startswith("| ADA | ")
              and len(line.split("|")) == 5]
    assert len(p_rows) == 10 and all(0 <= float(p) <= 1 for _, p in p_rows)  # p at ten marks of the budget
    grids = [tmp_path / "small" / small_data.grid_name(label) for label in small_data.VARIANTS]
    assert [grid.name for grid in grids] == ["no-augmentation.png", "diffaugment.png", "ada.png"]
    assert all(Image.open(grid).size == (8 * 18 + 2, 8 * 18 + 2) for grid in grids)  # the 64 fixed latents
