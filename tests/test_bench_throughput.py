"""The throughput benchmark's quick form measures both models in both precisions and the loader; every
figure it prints is the exact value it measured, formatted (no assertion on timings)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import throughput


def test_quick_run_reports_every_model_precision_and_the_loader():
    args = throughput.parse_arguments(["--quick", "--no-compile", "--rounds", "1", "--steps", "1"])
    rows, loaders, text = throughput.benchmark(args)
    models = ["SNGAN CNN 32x32", "PGGAN 64x64", "StyleGAN2 64x64", "StyleGAN2 256x256"]
    assert [(r["model"], r["precision"], r["compiled"]) for r in rows] == [
        (model, precision, False) for model in models for precision in ("fp32", "bf16")]
    lines = text.splitlines()
    for r in rows:
        images = r["batch"] * r["n_dis"]
        assert r["ours_s"] > 0 and r["hand_s"] > 0
        assert (r["ours"], r["hand"], r["ratio"]) == (images / r["ours_s"], images / r["hand_s"],
                                                      r["hand_s"] / r["ours_s"])
        row = f"| {r['precision']} | eager | {r['ours']:,.1f} | {r['hand']:,.1f} | {r['ratio']:.3f} |"
        assert sum(line.startswith(f"| {r['model']} |") and line.endswith(row) for line in lines) == 1
    assert [(name, workers) for name, workers, _, _ in loaders] == [(m, w) for m in models for w in (0, 2)]
    for name, workers, rate, consumed in loaders:
        assert rate > 0 and f"| {name} | {workers} | {rate:,.0f} | {consumed:,.1f} | {rate / consumed:,.0f}x |" in lines
    assert "bf16 / fp32" in text
