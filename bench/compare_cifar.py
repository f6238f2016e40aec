"""`steadygan compare` on CIFAR-10 32x32: SNGAN, SAGAN, BigGAN, R3GAN and BigGAN + LeCam, one budget of
real images shown to D, one protocol, within an hour on 2 CPU cores.

    python bench/compare_cifar.py                # about 50 minutes on 2 CPU cores
    python bench/compare_cifar.py --budget 5k    # a quick look

Data: the 50,000 train-split images of ../shared/data/cifar10-jpg.zip (labels from the class folders).
Widths are scaled down for a CPU and stated in the table's variant names: width 16 for sngan, sagan
and biggan (their G is then 128-16 channels for sngan's CNN, 64 throughout for the ResNets), r3gan-small
at width 32. Every recipe keeps its own loss, learning rates, D steps and batch size; sagan, biggan and
r3gan are class-conditional as published, sngan is not. LeCam uses the BigGAN-CIFAR weight 0.3, with its
averages starting after 100 D updates (1,000 in a full run) to fit the budget. Each variant is scored by
FID/KID on 2,000 samples of its EMA generator (a plain copy of G until the recipe's ema_start) against
the train split, in the feature space of a CIFAR-10 classifier (the Inception weights are not available
offline), at four matched image counts with a sample grid at each. StudioGAN's published GPU figures
(Inception features, 50k samples, full widths and budgets) are printed beside the table as the
full-scale reference: another protocol, not comparable number for number. Running it again resumes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from common import SHARED_DATA, ResultsFile, cifar_classifier, compare_and_report, compare_parser

RESULTS_FILE = ResultsFile(__file__)

HERE = Path(__file__).resolve().parent
SMALL = "model.g_width=16+model.d_width=16"
VARIANTS = ",".join([f"sngan+{SMALL}", f"sagan+{SMALL}", f"biggan+{SMALL}",
                     "r3gan-small+model.g_width=32+model.d_width=32",
                     f"biggan+{SMALL}+regularize.lecam=0.3+regularize.lecam_start=100"])
# StudioGAN's CIFAR-10 benchmark (../shared/reference/published-results.md): conditional, 50k samples vs the
# train split, Inception features, full-size networks on GPUs.
PUBLISHED = """
Full-scale reference, another protocol (StudioGAN's CIFAR-10 benchmark: conditional, 50k samples against
the train split in Inception features, full-size networks and budgets on GPUs; IS / FID): SNGAN 8.83 / 9.01,
SAGAN 8.64 / 10.35, BigGAN 9.96 / 4.16, BigGAN+LeCam 10.17 / 3.23; R3GAN's paper: FID 1.96. The figures above
are classifier-space FIDs of small networks after a CPU-sized budget: compare them with each other only.
"""


def main(argv: list[str] | None = None) -> int:
    from steadygan.data.cache import cache_root

    parser = compare_parser(__doc__, name="compare-cifar", data=SHARED_DATA / "cifar10-jpg.zip", budget="50k",
                            results_file=RESULTS_FILE)
    parser.add_argument("--recipes", default=VARIANTS)
    args = parser.parse_args(argv)
    return compare_and_report(args.data, args.recipes, budget=args.budget, out=args.out, resolution=32,
                              overrides=["data.split=train", "data.labels=folders"], eval_n=args.eval_n,
                              extractor=args.extractor or cifar_classifier(cache_root()), device=args.device,
                              results=args.results, results_file=RESULTS_FILE,
                              command=f"python bench/compare_cifar.py --budget {args.budget}",
                              reference=PUBLISHED)


if __name__ == "__main__":
    sys.exit(main())
