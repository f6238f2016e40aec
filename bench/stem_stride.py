"""The cost and the result of a stride-2 first D layer (`model.d_stem_stride=2`) on Oxford 102 Flowers at 64x64.

    python bench/stem_stride.py                 # about 4 minutes on 2 CPU cores
    python bench/stem_stride.py --budget 40k    # a longer look

First D's time per D step (forward and backward of the hinge loss on a batch of reals and one of fakes,
spectral norm on), with and without the strided stem, measured side by side in one process: the median
of `--repeats` alternating rounds after a warm-up, for the SN-GAN standard CNN and ResNet discriminators. Then
`steadygan compare` of the sngan recipe with and without it, one budget of real images, FID/KID on
2,000 samples against all 8,189 flowers in the CIFAR-10 classifier's feature space. The table goes to
bench/results/stem-stride.md.
"""

from __future__ import annotations

import statistics
import sys
import time

import torch

from common import SHARED_DATA, ResultsFile, cifar_classifier, compare_and_report, compare_parser

RESULTS_FILE = ResultsFile(__file__)


def d_step_seconds(arch: str, width: int, batch: int, repeats: int) -> tuple[float, float]:
    """Median seconds of one D step with stride 1 and with stride 2, the two timed in alternating rounds so
    that a busy machine slows both alike."""
    from steadygan.config import ModelConfig
    from steadygan.losses import build_loss
    from steadygan.models import build_models

    loss, steps = build_loss("hinge"), []
    for stride in (1, 2):
        torch.manual_seed(0)
        _, D = build_models(ModelConfig(arch=arch, d_width=width, g_width=8, spectral_norm=True,
                                        d_stem_stride=stride), resolution=64, channels=3)
        steps.append((D, torch.optim.Adam(D.parameters(), 2e-4, betas=(0.0, 0.9))))
    real, fake = torch.randn(batch, 3, 64, 64), torch.randn(batch, 3, 64, 64)
    times: list[list[float]] = [[], []]
    for i in range(repeats + 2):  # two warm-up rounds
        for k, (D, optimizer) in enumerate(steps):
            start = time.perf_counter()
            optimizer.zero_grad(set_to_none=True)
            loss.d_loss(D(real), D(fake)).backward()
            optimizer.step()
            if i >= 2:
                times[k].append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def main(argv: list[str] | None = None) -> int:
    from steadygan.data.cache import cache_root

    parser = compare_parser(__doc__, name="stem-stride", data=SHARED_DATA / "flowers102-64.zip", budget="10k",
                            results_file=RESULTS_FILE)
    parser.add_argument("--width", type=int, default=16, help="model.g_width and model.d_width")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)
    rows = [f"| D (64 px, width {args.width}, batch 64) | stride 1: ms per D step | stride 2: ms per D step | ratio |",
            "|---|---|---|---|"]
    for arch in ("sngan_cnn", "sngan_resnet"):
        plain, strided = d_step_seconds(arch, args.width, 64, args.repeats)
        rows.append(f"| {arch} | {1000 * plain:.0f} | {1000 * strided:.0f} | {strided / plain:.2f} |")
    timing = "\n".join(["", "## D's time per step, measured side by side", "", *rows, ""])
    print(timing, flush=True)
    flags = f"model.g_width={args.width}+model.d_width={args.width}"
    return compare_and_report(args.data, f"sngan+{flags},sngan+{flags}+model.d_stem_stride=2", budget=args.budget,
                              out=args.out, resolution=64, overrides=[], eval_n=args.eval_n,
                              extractor=args.extractor or cifar_classifier(cache_root()), device=args.device,
                              results=args.results, results_file=RESULTS_FILE,
                              command=f"python bench/stem_stride.py --budget {args.budget}", extra=timing)


if __name__ == "__main__":
    sys.exit(main())
