"""Stacked digits (1,000 modes): recipes trained on three digits stacked as RGB, modes counted.

    python bench/stacked_digits.py                   # built-in digits, 16x16, 3 recipes x 3 seeds
    python bench/stacked_digits.py --quick           # a smoke version (1 recipe, 1 seed, short runs)
    python bench/stacked_digits.py --data ../shared/data/mnist --resolution 32   # stacked MNIST test images

Protocol (Metz et al. 2017; VEEGAN; PacGAN): each of the three channels of a generated image is read
by a digit classifier (steadygan's shipped one for the data); modes = distinct digit triples among
26,000 samples (VEEGAN's count); KL = KL(triple histogram || uniform over 1,000). The FID uses the
same classifier's features (the 3 channels side by side) against 10,000 real stacked images.

The papers stack MNIST at 28x28 with DCGAN-sized networks for many epochs; the default here stacks
scikit-learn's 8x8 digits at 16x16 and trains for a few thousand steps, so the published rows are
a reference point, not the same experiment.

Writes bench/results/stacked_digits.md.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from common import mean_std, run_pool


@dataclass(frozen=True)
class Entry:
    label: str
    recipe: str = "dcgan"
    overrides: tuple[str, ...] = ()


ENTRIES: dict[str, Entry] = {
    "dcgan": Entry("DCGAN (the default recipe)"),
    "dcgan-mbstd": Entry("DCGAN + minibatch stddev", overrides=("model.minibatch_stddev=true",)),
    "dcgan-ttur": Entry("DCGAN + TTUR (G 1e-4, D 4e-4)", overrides=("optim.g_lr=1e-4", "optim.d_lr=4e-4")),
}
QUICK_ENTRIES = ["dcgan"]
SAMPLES = 26_000
REAL = 10_000
DEFAULT_STEPS = 1500

PUBLISHED = [  # method, modes, KL, source
    ("DCGAN", 99, 3.40, "VEEGAN protocol (PacGAN Table 2)"),
    ("ALI", 16, 5.40, "VEEGAN protocol"),
    ("Unrolled GAN", 48.7, 4.32, "VEEGAN protocol"),
    ("VEEGAN", 150, 2.95, "VEEGAN protocol"),
    ("PacDCGAN2-4", 1000, "0.06-0.07", "VEEGAN protocol (PacGAN Table 2)"),
    ("DCGAN, D 1/4 of G", 30.6, 5.99, "Unrolled protocol (PacGAN Table 3)"),
    ("Unrolled GAN 10 steps, D 1/4", 327.2, 4.66, "Unrolled protocol"),
    ("PacDCGAN4, D 1/4", 667.4, 1.81, "Unrolled protocol"),
]


def config_for(key: str, source: str, resolution: int, seed: int, steps: int, out: str):
    from steadygan.config import load_config

    entry = ENTRIES[key]
    return load_config(entry.recipe, [f"data.source={source}", f"data.resolution={resolution}", "data.channels=3",
                                      f"train.seed={seed}", f"train.steps={steps}", f"train.out_dir={out}",
                                      *entry.overrides])


def run_one(job: tuple[str, str, int, int, int, int]) -> dict:
    import torch

    from steadygan.metrics import Evaluator
    from steadygan.train import Trainer

    key, source, resolution, seed, steps, samples = job
    torch.set_num_threads(1)  # one worker per core
    with tempfile.TemporaryDirectory() as out:
        trainer = Trainer(config_for(key, source, resolution, seed, steps, out), progress=False, tensorboard=False)
        start = time.perf_counter()
        for _ in range(steps):
            trainer.train_step()
        seconds = time.perf_counter() - start
    evaluator = Evaluator("modes,fid", trainer.dataset, source, n=samples, n_real=REAL, progress=False)
    result = evaluator.score_generator(trainer.ema.model, seed=10_000 + seed)
    return {"key": key, "seed": seed, "seconds": seconds, "eval_seconds": result.protocol["seconds"],
            **result.scores}


def table(results: list[dict], keys: list[str], seeds: int, steps: int, samples: int, source: str) -> str:
    lines = [f"data {source}; {steps} G steps; {seeds} seed(s); {samples} samples counted; mean ± std over seeds",
             "", "| recipe | modes /1000 | KL | FID (digit classifier) | s train / run | s eval / run |",
             "|---|---|---|---|---|---|"]
    for key in keys:
        runs = [r for r in results if r["key"] == key]
        lines.append(f"| {ENTRIES[key].label} | {mean_std([r['modes'] for r in runs])} | "
                     f"{mean_std([r['modes_kl'] for r in runs], 2)} | {mean_std([r['fid'] for r in runs], 2)} | "
                     f"{statistics.mean(r['seconds'] for r in runs):.0f} | "
                     f"{statistics.mean(r['eval_seconds'] for r in runs):.0f} |")
    lines += ["", ("Published (stacked MNIST, 28x28; their networks and budgets; "
                   "see ../shared/reference/published-results.md):"), "",
              "| method | modes /1000 | KL | protocol |", "|---|---|---|---|"]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in PUBLISHED]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 recipe, 1 seed, 60 steps, 2,000 samples")
    parser.add_argument("--data", default="digits", help="digits, or a folder of MNIST IDX files")
    parser.add_argument("--resolution", type=int, default=16)
    parser.add_argument("--steps", type=int, help=f"G steps per run (default {DEFAULT_STEPS})")
    parser.add_argument("--seeds", type=int, help="seeds per recipe (default 3)")
    parser.add_argument("--recipes", help="comma-separated subset of: " + ", ".join(ENTRIES))
    parser.add_argument("--workers", type=int, default=max(1, multiprocessing.cpu_count()))
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "stacked_digits.md"))
    args = parser.parse_args(argv)

    steps = args.steps or (60 if args.quick else DEFAULT_STEPS)
    seeds = args.seeds or (1 if args.quick else 3)
    samples = 2000 if args.quick else SAMPLES
    keys = args.recipes.split(",") if args.recipes else QUICK_ENTRIES if args.quick else list(ENTRIES)
    unknown = [k for k in keys if k not in ENTRIES]
    if unknown:
        parser.error(f"unknown recipe {unknown[0]!r}; choose from: {', '.join(ENTRIES)}")
    source = f"stacked:{args.data}"

    from steadygan.config import DataConfig
    from steadygan.data import build_dataset
    from steadygan.metrics import Evaluator

    # Decoded images and real statistics are cached once here, not raced for by the workers.
    dataset = build_dataset(DataConfig(source=source, resolution=args.resolution, channels=3))
    Evaluator("fid", dataset, source, n_real=REAL).real()
    jobs = [(k, source, args.resolution, s, steps, samples) for k in keys for s in range(seeds)]
    results, wall = run_pool(run_one, jobs, args.workers, lambda r: (
        f"{ENTRIES[r['key']].label} seed {r['seed']}: {r['modes']} modes, KL {r['modes_kl']:.2f}, FID {r['fid']:.2f} "
        f"({r['seconds']:.0f} s + {r['eval_seconds']:.0f} s)"))
    text = f"Command: python bench/stacked_digits.py {' '.join(argv if argv is not None else sys.argv[1:])}\n\n"
    text += table(results, keys, seeds, steps, samples, source)
    text += f"\nWall time {wall:.0f} s with {args.workers} worker(s).\n"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
