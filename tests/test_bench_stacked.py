"""The stacked-digits benchmark's quick form runs end to end and writes its table."""

import math
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import stacked_digits

from helpers import numbers, reference_text


@pytest.mark.slow
def test_quick_run_writes_modes_and_kl_beside_the_published_rows(tmp_path):
    out = tmp_path / "stacked.md"
    assert stacked_digits.main(["--quick", "--workers", "1", "--out", str(out)]) == 0
    text = out.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| DCGAN (the default recipe)"))
    modes, kl = (float(cell.split("±")[0]) for cell in row.split("|")[2:4])
    # A histogram over `modes` of the 1,000 triples is at least log(1000 / modes) from uniform (KL = log 1000 -
    # entropy, and the entropy is at most log modes), and at most log(1000) when one triple takes all.
    assert modes == int(modes) and math.log(1000 / modes) - 0.01 <= kl <= math.log(1000) + 0.01
    assert "2000 samples counted" in text
    rows = [line.strip().strip("|").split("|") for line in text.splitlines() if line.startswith("| ")]
    published = [cells for cells in rows if "protocol" in cells[-1] and numbers(cells[1:2])]
    assert len(published) == len(stacked_digits.PUBLISHED)
    reference = reference_text()
    for cells in published:  # every published figure printed is the one the reference gives
        figure, kl_figure = (cell.strip() for cell in cells[1:3])
        assert re.search(rf"{re.escape(figure)}(?: modes)? / (?:KL )?{re.escape(kl_figure)}", reference), cells
