"""The throughput benchmark's quick form measures both models in both precisions and the loader."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import throughput  # noqa: E402


def test_quick_run_reports_every_model_precision_and_the_loader(capsys):
    assert throughput.main(["--quick", "--no-compile", "--rounds", "1", "--steps", "1"]) == 0
    out = capsys.readouterr().out
    rows = [line.split("|")[1:-1] for line in out.splitlines() if line.startswith("| SNGAN") or
            line.startswith("| PGGAN")]
    steps = [r for r in rows if len(r) == 8]
    assert [(r[0].strip(), r[3].strip()) for r in steps] == [
        ("SNGAN CNN 32x32", "fp32"), ("SNGAN CNN 32x32", "bf16"), ("PGGAN 64x64", "fp32"), ("PGGAN 64x64", "bf16")]
    for r in steps:
        ours, hand, ratio = (float(c.replace(",", "")) for c in r[5:8])
        assert ours > 0 and hand > 0 and abs(ratio - ours / hand) < 0.01
    loaders = [r for r in rows if len(r) == 5]
    assert len(loaders) == 4 and all(float(r[2].replace(",", "")) > 0 for r in loaders)
    assert "bf16 / fp32" in out
