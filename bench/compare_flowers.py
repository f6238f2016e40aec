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

import sys

from common import SHARED_DATA, ResultsFile, cifar_classifier, compare_and_report, compare_parser

RESULTS_FILE = ResultsFile(__file__)


def main(argv: list[str] | None = None) -> int:
    from steadygan.data.cache import cache_root

    parser = compare_parser(__doc__, name="compare-flowers", data=SHARED_DATA / "flowers102-64.zip", budget="320k",
                            results_file=RESULTS_FILE)
    parser.add_argument("--recipes", default="dcgan,lsgan,sngan,wgan-gp")
    parser.add_argument("--width", type=int, default=32, help="model.g_width and model.d_width of every variant")
    args = parser.parse_args(argv)

    return compare_and_report(args.data, args.recipes, budget=args.budget, out=args.out, resolution=32,
                              overrides=[f"model.g_width={args.width}", f"model.d_width={args.width}"],
                              eval_n=args.eval_n, extractor=args.extractor or cifar_classifier(cache_root()),
                              device=args.device, results=args.results, results_file=RESULTS_FILE,
                              command=f"python bench/compare_flowers.py --budget {args.budget}")

if __name__ == "__main__":
    sys.exit(main())
