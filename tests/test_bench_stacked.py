"""The stacked-MNIST benchmark: its protocols' networks and settings, and its quick form end to end."""

import importlib
import math
import re
import sys
from pathlib import Path

import pytest
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import stacked_mnist

from helpers import numbers, reference_text
from steadygan.config import load_config
from steadygan.models import build_models
from steadygan.validation import validate

MNIST = stacked_mnist.SHARED_DATA / "mnist"


def job(protocol, row, seed=0):
    return (protocol, row, seed, 100, 2000, "digits", stacked_mnist.WIDTH)


def conv_channels(network, kind):
    return [m.out_channels for m in network.modules() if isinstance(m, kind)]


def test_the_hard_protocol_has_the_papers_networks_with_d_a_quarter_of_g():
    config = validate(stacked_mnist.config_for(job("hard", "dcgan"), "."))
    G, D = build_models(config.model, resolution=32, channels=3)
    assert conv_channels(D, nn.Conv2d) == [2, 4, 8]  # PacGAN's code for D = 1/4 G: 2, 4, 8 filters
    assert conv_channels(G, nn.ConvTranspose2d)[:3] == [64, 32, 16]
    assert (config.model.z_dim, config.optim.batch_size, config.optim.g_lr, config.optim.d_lr) == (256, 128, 1e-4, 2e-4)
    assert tuple(config.optim.g_betas) == (0.5, 0.99) and config.train.ema_decay == 0
    assert config.train.ema_standing_stats == 0  # G itself is scored, with its own running statistics


def test_packed_rows_keep_the_papers_number_of_packs_and_the_recipe_keeps_its_own_optimizer():
    packed = stacked_mnist.config_for(job("veegan", "pacdcgan4"), ".")
    assert (packed.model.packing, packed.optim.batch_size) == (4, 4 * 64)
    remedied = stacked_mnist.config_for(job("veegan", "pacdcgan4-d-lr"), ".")  # the row's own D rate wins
    assert (remedied.optim.d_lr, remedied.optim.g_lr, remedied.model.packing) == (5e-5, 2e-4, 4)
    recipe = load_config("stacked")
    ours = stacked_mnist.config_for(job("veegan", "stacked"), ".")
    assert (ours.model.g_width, ours.model.z_dim) == (stacked_mnist.WIDTH, 100)  # the protocol's networks
    assert (ours.optim.g_lr, ours.optim.batch_size, ours.loss.name) == (recipe.optim.g_lr, recipe.optim.batch_size,
                                                                        recipe.loss.name)
    for key in stacked_mnist.ROWS:
        for protocol in ("veegan", "hard"):
            validate(stacked_mnist.config_for(job(protocol, key), "."))


def test_the_papers_rows_train_the_protocols_steps_and_the_recipe_its_own():
    assert stacked_mnist.run_steps("veegan", "dcgan", 32) == 3000
    assert stacked_mnist.run_steps("hard", "pacdcgan4", 32) == 4000
    assert stacked_mnist.run_steps("hard", "stacked", 32) == load_config("stacked").train.steps
    assert stacked_mnist.run_steps("veegan", "stacked", 32, steps=30) == 30


def test_a_plan_from_a_first_seed_trains_those_seeds_slowest_first():
    jobs = stacked_mnist.plan(["veegan", "hard"], ["dcgan", "unrolled10"], range(2, 4), None, 26_000, "digits", 32)
    assert sorted((j[0], j[1], j[2]) for j in jobs) == [(p, r, s) for p in ("hard", "veegan")
                                                        for r in ("dcgan", "unrolled10") for s in (2, 3)]
    assert [j[1] for j in jobs[:2]] == ["unrolled10", "unrolled10"]  # 9 times DCGAN's step: started first
    assert {stacked_mnist.config_for(j, ".").train.seed for j in jobs} == {2, 3}


def test_a_negative_first_seed_is_one_error_line(capsys):
    with pytest.raises(SystemExit):
        stacked_mnist.main(["--first-seed", "-1"])
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith("--first-seed must be 0 or more, got -1")


@pytest.mark.slow
def test_quick_run_writes_modes_and_kl_beside_the_published_rows(tmp_path):
    if not MNIST.is_dir():
        pytest.skip(f"{MNIST} is not beside the project")
    out = tmp_path / "stacked.md"
    assert stacked_mnist.main(["--quick", "--workers", "1", "--out", str(out)]) == 0
    text = out.read_text()
    assert "2000 samples counted" in text
    ours = [line for line in text.splitlines() if line.startswith("| steadygan recipe (stacked)")]
    assert len(ours) == 2  # one per protocol
    measured = [line for line in text.splitlines() if line.count("|") == 8]  # our tables have 7 columns
    for row in [*ours, *(line for line in measured if line.startswith("| DCGAN |"))]:
        modes, kl = (float(cell.split("±")[0]) for cell in row.split("|")[3:5])
        # A histogram over `modes` of the 1,000 triples is at least log(1000 / modes) from uniform (KL = log 1000 -
        # entropy, and the entropy is at most log modes), and at most log(1000) when one triple takes all.
        assert modes == int(modes) and math.log(1000 / modes) - 0.01 <= kl <= math.log(1000) + 0.01
    rows = [line.strip().strip("|").split("|") for line in text.splitlines() if line.startswith("| ")]
    published = [cells for cells in rows if ("protocol" in cells[-1] or "Table" in cells[-1]) and numbers(cells[1:2])]
    assert len(published) == len(stacked_mnist.PUBLISHED)
    reference = reference_text()
    for cells in published:  # every published figure printed is the one the reference gives
        figure, kl_figure = (cell.strip() for cell in cells[1:3])
        assert re.search(rf"{re.escape(figure)}(?: modes)? / (?:KL )?{re.escape(kl_figure)}", reference), cells


@pytest.mark.slow
def test_the_ema_statistics_benchmark_counts_g_and_both_readings_of_its_ema(tmp_path):
    if not MNIST.is_dir():
        pytest.skip(f"{MNIST} is not beside the project")
    import ema_statistics

    out = tmp_path / "ema.md"
    assert ema_statistics.main(["--quick", "--steps", "20", "--every", "10", "--out", str(out)]) == 0
    rows = [line.strip("|").split("|") for line in out.read_text().splitlines() if line.startswith(("| 1", "| 2"))]
    assert [int(cells[0]) for cells in rows] == [10, 20]
    for cells in rows:
        for cell in cells[1:4]:
            modes, kl = (float(x) for x in cell.split("/"))
            assert 1 <= modes <= 1000 and math.log(1000 / modes) - 0.01 <= kl <= math.log(1000) + 0.01


@pytest.mark.parametrize("module", ["stacked_mnist", "ema_statistics"])
def test_a_data_path_that_holds_no_mnist_is_one_error_line(tmp_path, capsys, module):
    text_file = tmp_path / "digits.txt"
    text_file.write_text("not digits")
    with pytest.raises(SystemExit):
        importlib.import_module(module).main(["--quick", "--data", str(text_file), "--out", str(tmp_path / "out.md")])
    assert "error: --data: data source" in capsys.readouterr().err and not (tmp_path / "out.md").exists()


def test_a_timed_run_reports_its_step_time_the_kernels_within_it_and_its_count():
    run = stacked_mnist.time_run(job("hard", "dcgan"), steps=1)
    assert (run["protocol"], run["key"], run["steps"]) == ("hard", "dcgan", 100)
    # matrix products and convolutions are part of the step: their kernels run inside the timed steps
    assert 0 < run["kernels_ms"] < run["ms"] and run["count"] > 0


@pytest.mark.slow
def test_the_estimate_times_one_run_of_each_row_and_writes_the_tables_time_and_floor(tmp_path):
    if not MNIST.is_dir():
        pytest.skip(f"{MNIST} is not beside the project")
    out = tmp_path / "stacked.md"
    assert stacked_mnist.main(["--quick", "--estimate", "1", "--seeds", "2", "--protocols", "hard", "--workers", "2",
                               "--out", str(out)]) == 0
    text = (tmp_path / "stacked-estimate.md").read_text()
    rows = [line.split("|")[1:-1] for line in text.splitlines() if line.startswith("| hard |")]
    assert sorted(cells[1].strip() for cells in rows) == sorted(stacked_mnist.ROWS[k].label
                                                                for k in stacked_mnist.QUICK_ROWS)
    assert all(cells[4].strip() == "30" and cells[7].strip() == "2" for cells in rows)  # quick steps, both seeds
    assert "The table (4 runs) on 2 worker(s):" in text and "convolutions alone" in text
    assert not out.exists()  # nothing trained to the end, no table


def test_an_estimate_of_no_steps_is_one_error_line(capsys):
    with pytest.raises(SystemExit):
        stacked_mnist.main(["--estimate", "0"])
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith("--estimate must be 1 or more G steps, got 0")
