"""The fuzz harness's quick form: configs drawn from the schema and damaged data sources, recipes and
checkpoints each end in success or in one `steadygan: error:` line (bench/fuzz.py runs the full form)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import fuzz


@pytest.mark.slow
def test_every_fuzzed_input_ends_in_success_or_one_line():
    failures = []
    outcomes = fuzz.fuzz(configs=60, files=40, seed=1, log=failures.append)
    assert failures == []
    assert len(outcomes) == 100 and {o.kind for o in outcomes} == {"config", "file"}
    results = {o.result for o in outcomes}
    assert results <= {"ok", "error"} and results == {"ok", "error"}  # both outcomes are exercised
    assert fuzz.peak_memory_mb() < fuzz.MEMORY_BOUND_MB


def test_the_harness_catches_a_traceback_a_hang_and_extra_output(monkeypatch):
    from steadygan import cli

    monkeypatch.setattr(cli, "_info", lambda args: 1 / 0)
    assert fuzz.run_command(["info", "x"])[0] == "failure"
    monkeypatch.setattr(cli, "_info", lambda args: __import__("time").sleep(5))
    assert fuzz.run_command(["info", "x"], time_limit=1) == ("failure", "no answer within 1 s")
    monkeypatch.setattr(cli, "_info", lambda args: print("a\nb", file=sys.stderr) or 2)
    assert fuzz.run_command(["info", "x"])[0] == "failure"
    assert fuzz.run_command(["sample", "/no/such/run"]) == (
        "error", "steadygan: error: checkpoint '/no/such/run' does not exist; give a .safetensors file or a run folder")
