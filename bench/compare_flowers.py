"""`steadygan compare` on Oxford 102 Flowers at 32x32: four recipes, one image budget, one protocol.

    python bench/compare_flowers.py                # DCGAN, LSGAN, SNGAN, WGAN-GP; about 50 minutes on 2 CPU cores
    python bench/compare_flowers.py --budget 20k   # a quick look

Every variant trains at the same widths (model.g_width = model.d_width = 32, so that four recipes fit in
an hour of CPU) on the same data, seed and budget of real images shown to D, and is scored by FID/KID
on 2,000 samples of its EMA generator against all 8,189 flower images, in the feature space of a
CIFAR-10 classifier (the Inception weights are not available offline). The report goes to
runs/compare-flowers/report.html; the table, with the wall time, to bench/results/compare-flowers.md.
Running it again resumes: finished variants are not trained again.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import torch

from common import SHARED_DATA, cifar_classifier

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    from steadygan.compare import compare
    from steadygan.data.cache import cache_root

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(SHARED_DATA / "flowers102-64.zip"))
    parser.add_argument("--recipes", default="dcgan,lsgan,sngan,wgan-gp")
    parser.add_argument("--budget", default="320k")
    parser.add_argument("--width", type=int, default=32, help="model.g_width and model.d_width of every variant")
    parser.add_argument("--eval-n", type=int, default=2000)
    parser.add_argument("--extractor", help="default: the CIFAR-10 classifier, trained once if not cached")
    parser.add_argument("--out", default="runs/compare-flowers")
    parser.add_argument("--results", default=str(HERE / "results" / "compare-flowers.md"))
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)

    if not Path(args.data).exists():
        print(f"{args.data} is missing; give --data a folder or zip of images", file=sys.stderr)
        return 2
    extractor = args.extractor or cifar_classifier(cache_root())
    start = time.perf_counter()
    result = compare(args.data, args.recipes, budget=args.budget, out=args.out, resolution=32,
                     overrides=[f"model.g_width={args.width}", f"model.d_width={args.width}"], eval_n=args.eval_n,
                     extractor=extractor, device=args.device)
    minutes = (time.perf_counter() - start) / 60
    trained = sum(float(line.split("|")[4]) for line in result.markdown.read_text().splitlines()
                  if line.startswith("| ") and not line.startswith("| variant"))
    device = torch.cuda.get_device_name() if torch.cuda.is_available() and args.device != "cpu" else (
        f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)")
    footer = (f"\nCommand: `python bench/compare_flowers.py --budget {args.budget}` on {device}; "
              f"this invocation {minutes:.1f} min, the variants' training (evaluations included) {trained:.1f} min "
              f"in all. Report: {result.html}.\n")
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    Path(args.results).write_text(result.markdown.read_text() + footer)
    print(result.markdown.read_text() + footer)
    return 0 if result.completed else 1


if __name__ == "__main__":
    sys.exit(main())
