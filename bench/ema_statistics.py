"""The EMA of a batch-norm G read with G's batch-norm statistics against statistics of its own.

    python bench/ema_statistics.py             # the `stacked` recipe, VEEGAN protocol, 3,000 steps, seed 0
    python bench/ema_statistics.py --quick     # 40 steps, 2,000 samples

One run of bench/stacked_mnist.py's `stacked` row (VEEGAN protocol: G and D width 32, stacked MNIST). Every
`--every` G steps the modes and KL of three generators are counted on the same latents: G itself; its EMA
with G's running batch-norm statistics copied in (`train.ema_standing_stats=0`, steadygan 0.2.0); and the same
EMA with statistics measured on its own outputs (`train.ema_standing_stats`, 8 batches). The EMA's weights are
the same in both; only the statistics differ.

Writes bench/results/ema-statistics.md.
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time

from common import RESULTS, SHARED_DATA, ResultsFile, existing_data

RESULTS_FILE = ResultsFile(__file__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="40 steps, counts every 20, 2,000 samples")
    parser.add_argument("--data", type=existing_data, default=str(SHARED_DATA / "mnist"),
                        help="a folder of MNIST IDX files")
    parser.add_argument("--steps", type=int, help="G steps (default 3000; quick 40)")
    parser.add_argument("--every", type=int, help="G steps between counts (default 1000; quick 20)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=RESULTS_FILE.check, default=str(RESULTS / "ema-statistics.md"))
    args = parser.parse_args(argv)
    steps = args.steps or (40 if args.quick else 3000)
    every = args.every or (20 if args.quick else 1000)
    samples = 2000 if args.quick else 26_000

    import torch
    from stacked_mnist import WIDTH, config_for, decode_stacked

    decode_stacked(parser, args.data)

    from steadygan.metrics import Evaluator
    from steadygan.train import Trainer

    torch.set_num_threads(1)
    rows = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        config = config_for(("veegan", "stacked", args.seed, steps, samples, args.data, WIDTH), out)
        trainer = Trainer(config, progress=False, tensorboard=False)
        evaluator = Evaluator("modes", trainer.dataset, config.data.source, n=samples, device=trainer.device,
                              progress=False)
        for step in range(1, steps + 1):
            trainer.train_step()
            if step % every == 0:
                own = trainer.ema.model
                # the same averaged weights with G's buffers, as an EMA that copies G's statistics holds them
                with_g_statistics = copy.deepcopy(own)
                for mine, buffer in zip(with_g_statistics.buffers(), trainer.G.buffers(), strict=True):
                    mine.copy_(buffer)
                g_itself = copy.deepcopy(trainer.G).eval()
                scores = {name: evaluator.score_generator(generator, seed=10_000 + args.seed).scores
                          for name, generator in (("G", g_itself), ("EMA, G's statistics", with_g_statistics),
                                                  ("EMA, its own statistics", own))}
                rows.append((step, scores))
                counted = ", ".join(f"{k} {v['modes']} / {v['modes_kl']:.3f}" for k, v in scores.items())
                print(f"step {step}: {counted}", flush=True)
    command = " ".join(argv if argv is not None else sys.argv[1:])
    lines = [f"Command: python bench/ema_statistics.py {command}", "",
             (f"`stacked` recipe, VEEGAN protocol (width {WIDTH}), seed {args.seed}; modes /1000 and KL of "
              f"{samples} samples"), "",
             "| G step | G | EMA, G's statistics | EMA, its own statistics |", "|---|---|---|---|"]
    for step, scores in rows:
        lines.append(f"| {step} | " + " | ".join(f"{v['modes']} / {v['modes_kl']:.3f}" for v in scores.values()) + " |")
    lines += ["", f"Wall time {(time.perf_counter() - start) / 60:.1f} min, one process.", ""]
    RESULTS_FILE.publish(args.out, "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
