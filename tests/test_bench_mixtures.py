"""The 2-D benchmark's quick form runs end to end and writes its table and scatter plot."""

import sys
from pathlib import Path

import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import mixtures

import common
from helpers import numbers, reference_rows


def test_quick_benchmark_writes_the_table_and_the_scatter_plot(tmp_path):
    assert mixtures.main(["--quick", "--max-steps", "60", "--eval-every", "30", "--out", str(tmp_path / "mix")]) == 0
    table = (tmp_path / "mix.md").read_text()
    for key in mixtures.QUICK_ENTRIES:  # two scorings, fewer than the patience: every row trains the 60 steps
        assert f"| {mixtures.ENTRIES[key].label} | 60 / 60 |" in table
    printed = [row for row in (line.strip("|").split("|") for line in table.splitlines() if line.startswith("| "))
               if "Table" in row[-1]]  # the published rows beside ours, named by their source
    assert len(printed) == len(mixtures.PUBLISHED)
    reference = [numbers(row) for row in reference_rows()]
    for row in printed:  # every published figure printed is one the reference gives, in the same order
        assert numbers([cell.strip() for cell in row[1:-1]]) in reference, row
    rows = [line for line in table.splitlines() if line.startswith("| GAN (non-saturating) |")]
    assert len(rows[0].split("|")) == 12  # technique, steps, 6 metrics, verdict, seconds
    width, height = Image.open(tmp_path / "mix.png").size
    assert width > 6 * 150 and height > 150


def test_every_row_is_a_valid_config_and_every_recipe_row_keeps_its_own_schedule():
    from steadygan.config import load_config
    from steadygan.validation import validate

    for key, entry in mixtures.ENTRIES.items():
        config = validate(mixtures.config_for(key, "grid25", 0, mixtures.row_steps(key, 123, quick=False), "."))
        assert config.train.steps == (load_config(entry.recipe).train.steps if entry.own_schedule else 123)
        assert config.data.source == "grid25" and config.model.arch == "mlp"
        assert mixtures.row_steps(key, 123, quick=True) == 123


def test_rows_train_their_seeds_as_lanes_unless_a_technique_needs_the_whole_batch(tmp_path):
    from steadygan.train.lanes import SeedLanes

    separate = {key for key in mixtures.ENTRIES
                if not isinstance(mixtures.build_seeds(mixtures.config_for(key, "ring8", 0, 10, "."), [0, 1],
                                                       str(tmp_path / key))[0], SeedLanes)}
    assert separate == {"feature-matching", "orthogonal"}


def test_the_goal_column_needs_every_mode_the_quality_and_the_kl_on_every_seed():
    def row(mixture: str, *runs: tuple[int, float, float]) -> dict:
        total = 8 if mixture == "ring8" else 25
        return {"key": "stable", "mixture": mixture, "steps": 10, "seconds": 1.0,
                "runs": [{"modes": m, "total_modes": total, "high_quality": hq, "kl": kl} for m, hq, kl in runs]}

    def verdict(results: list[dict]) -> str:
        line = next(line for line in mixtures.table(results, ["stable"], 2).splitlines() if line.startswith("| st"))
        return line.split("|")[-3].strip()

    good = [row("ring8", (8, 0.96, 0.01), (8, 0.97, 0.02)), row("grid25", (25, 0.96, 0.01), (25, 0.97, 0.02))]
    assert verdict(good) == "yes"
    for field, value in (("modes", 24), ("high_quality", 0.949), ("kl", 0.021)):
        worse = [good[0], dict(good[1], runs=[good[1]["runs"][0], {**good[1]["runs"][1], field: value}])]
        assert verdict(worse) == "no", field  # one seed of one mixture misses
    assert ("- steadygan 2-D recipe (toy2d-stable), grid25: 25 / 96.0 / 0.010, 25 / 97.0 / 0.020"
            in mixtures.table(good, ["stable"], 2))


def test_jobs_longest_first_on_the_first_free_worker_finish_at_the_makespan():
    # 5 -> a, 4 -> b, 3 -> b (7), 3 -> a (8): the wall time is the busier worker's 8
    assert common.makespan([3, 5, 3, 4], 2) == 8
    assert common.makespan([3, 5, 3, 4], 1) == 15
    assert common.makespan([3, 5], 4) == 5


def test_a_timed_row_reports_its_step_time_its_matrix_products_within_it_and_its_budget():
    row = mixtures.time_row(("rpgan-r1-r2", "ring8", 2, 70, 10, 3), steps=2)
    assert row["vectorised"] and row["steps"] == 70
    # the products are part of the step: their kernels run inside the timed steps
    assert 0 < row["products_ms"] < row["ms"]
    stable = mixtures.time_row(("stable", "grid25", 1, None, 10, 3), steps=1)
    assert stable["steps"] == 20_000  # a recipe row's budget is its recipe's schedule


def test_the_estimate_writes_every_row_and_mixture_and_the_tables_wall_time_and_floor(tmp_path):
    out = tmp_path / "mix"
    assert mixtures.main(["--estimate", "1", "--techniques", "gan,ttur", "--seeds", "1", "--max-steps", "40",
                          "--workers", "2", "--out", str(out)]) == 0
    text = (tmp_path / "mix-estimate.md").read_text()
    rows = [line.split("|")[1:-1] for line in text.splitlines() if line.startswith("| ") and "G steps" not in line]
    assert sorted((cells[0].strip(), cells[1].strip()) for cells in rows) == sorted(
        (mixtures.ENTRIES[key].label, mixture) for key in ("gan", "ttur") for mixture in mixtures.MIXTURES)
    assert all(cells[5].strip() == "40" for cells in rows)
    assert "The table on 2 worker(s): at most" in text and "matrix products alone" in text
    assert not (tmp_path / "mix.md").exists()  # nothing trained to the end, no table


def test_an_estimate_of_no_steps_is_one_error_line(capsys):
    with pytest.raises(SystemExit):
        mixtures.main(["--estimate", "0"])
    assert "--estimate must be 1 or more G steps, got 0" in capsys.readouterr().err
