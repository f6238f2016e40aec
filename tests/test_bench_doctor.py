"""The doctor benchmark: labels from measured outcomes, the per-rule counts, and one short case end to end."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import doctor as bench

from steadygan.config import load_config

GRID = bench.Case("grid", "2-D", "toy2d", (), 100, "mixture")
HEALTHY = bench.Case("stable", "2-D healthy", "toy2d-stable", (), 100, "mixture")


def count(step, modes, hq=0.5, total=25):
    return {"step": step, "modes": modes, "total": total, "hq": hq, "kl": 0.1}


def test_a_run_is_collapsed_by_its_last_count_and_measurably_so_from_the_first_count_of_the_lasting_streak():
    history = [count(100, 12), count(200, 22), count(300, 19), count(400, 15)]  # 20 of 25 is the line
    labels, measurable = bench.labels_of(GRID, {"diverged": False, "history": history}, [{"step": 400, "d_loss": 1.0}])
    assert labels["mode_collapse"] and measurable["mode_collapse"] == 300
    assert labels["not_fitting"] is False and labels["divergence"] is False
    assert labels["d_overpowering"] is None  # no measure of it outside the induced cases and the healthy recipes

    recovered = [count(100, 3), count(200, 24, hq=0.05)]
    labels, measurable = bench.labels_of(HEALTHY, {"diverged": False, "history": recovered}, [])
    assert labels["mode_collapse"] is False and labels["not_fitting"] and measurable["not_fitting"] == 200
    assert labels["d_overpowering"] is False  # a healthy recipe is a negative for the rules it did not provoke


@pytest.mark.parametrize("records", [[{"step": 10, "d_loss": float("nan")}], [{"step": 10, "rollback": 1}],
                                     [{"step": 10, "d_loss": 3.0}, {"step": 20, "d_loss": -2e4}]])
def test_a_nan_a_rollback_or_a_runaway_loss_labels_the_run_diverged_and_no_count_is_judged(records):
    labels, _ = bench.labels_of(GRID, {"diverged": False, "history": [count(100, 2)]}, records)
    assert labels["divergence"] and labels["mode_collapse"] is None


def test_a_stacked_count_is_judged_against_the_modes_a_uniform_generator_shows_with_as_many_samples():
    rng = np.random.default_rng(0)
    hits = [len(np.unique(rng.integers(0, 1000, 5000))) for _ in range(200)]
    assert abs(np.mean(hits) - bench.uniform_modes(5000)) < 0.5  # about 993: 5,000 draws miss some 7 modes
    assert bench.uniform_modes(26_000) > 999.99


def labelled(name, labels, findings, measurable=None):
    return bench.Labelled(bench.Case(name, "2-D", "toy2d", (), 100, "mixture"), {}, findings, labels, measurable or {},
                          [], load_config("toy2d"), [])


def test_the_rule_table_counts_found_missed_and_false_alarms():
    runs = [labelled("a", {"mode_collapse": True}, {"mode_collapse": 300}, {"mode_collapse": 500}),
            labelled("b", {"mode_collapse": True}, {}),
            labelled("c", {"mode_collapse": False}, {"mode_collapse": 100}),
            labelled("d", {"mode_collapse": False}, {}),
            labelled("e", {"mode_collapse": None}, {"mode_collapse": 100})]  # unlabelled: neither
    row = next(line for line in bench.rule_table(runs) if line.startswith("| `mode_collapse`"))
    assert row == "| `mode_collapse` | 2 | 1 (50%) | 1 | 2 | 1 (50%) | 300 / 500 |"


def test_a_short_grid_case_trains_counts_and_is_reported(tmp_path):
    case = bench.Case("grid25-GAN-200", "2-D", "toy2d", ("data.source=grid25", "train.steps=200",
                                                          "train.log_every=20"), 100, "mixture")
    outcome = bench.run_case((case, str(tmp_path / case.name)))
    assert [h["step"] for h in outcome["history"]] == [100, 200] and outcome["steps"] == 200
    assert json.loads((tmp_path / case.name / "outcome.json").read_text()) == outcome
    assert all(0 <= h["modes"] <= h["total"] == 25 for h in outcome["history"])
    text = bench.report(tmp_path, [case], "--quick", None)
    assert "| grid25-GAN-200 | 2-D | 200 |" in text and "### `mode_collapse` over its thresholds" in text


def test_a_runs_folder_it_did_not_make_is_refused(tmp_path, capsys):
    (tmp_path / "grid25-GAN-300-s0").mkdir()
    (tmp_path / "grid25-GAN-300-s0" / "notes.txt").write_text("someone's")
    with pytest.raises(SystemExit):
        bench.main(["--quick", "--groups", "2-D", "--runs", str(tmp_path), "--out", str(tmp_path / "r.md")])
    assert "was not made by this benchmark" in capsys.readouterr().err


def test_a_report_over_a_folder_without_runs_is_one_line_and_writes_nothing(tmp_path, capsys):
    with pytest.raises(SystemExit):
        bench.main(["--report-only", "--runs", str(tmp_path / "none"), "--out", str(tmp_path / "r.md")])
    assert "no labelled runs under" in capsys.readouterr().err and not (tmp_path / "r.md").exists()


def test_a_kept_run_trained_with_other_settings_is_named_in_the_report_and_trained_again(tmp_path):
    case = bench.Case("grid25-GAN-100", "2-D", "toy2d", ("data.source=grid25", "train.steps=100",
                                                          "train.log_every=20"), 100, "mixture")
    bench.run_case((case, str(tmp_path / case.name)))
    assert bench.changed_settings(case, tmp_path / case.name) == [] and bench.to_train(tmp_path, [case]) == []
    assert "no longer have" not in bench.report(tmp_path, [case], "", None)

    redefined = bench.Case(case.name, "2-D", "toy2d", (*case.overrides, "optim.d_lr=1e-3"), 100, "mixture")
    assert bench.changed_settings(redefined, tmp_path / case.name) == ["optim.d_lr"]
    assert bench.to_train(tmp_path, [redefined]) == [redefined]
    assert ("**1 of 1 runs were trained with settings their cases no longer have** (`optim.d_lr`)"
            in bench.report(tmp_path, [redefined], "", None))

    config = tmp_path / case.name / "config.yaml"  # a run from before a setting existed: trained without it
    config.write_text(config.read_text().replace("  ema_standing_stats: 8\n", ""))
    assert bench.changed_settings(case, tmp_path / case.name) == ["train.ema_standing_stats"]
