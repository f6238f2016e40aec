"""The 2-D mode-collapse benchmark at convergence: every technique on the ring of 8 and the grid of 25 Gaussians.

    python bench/mixtures.py            # the full table: every technique, both mixtures, 5 seeds
    python bench/mixtures.py --quick    # a smoke version (2 seeds, 3 rows, short runs)
    python bench/mixtures.py --estimate 30   # the full table's expected time here, from 30 timed steps a row

Protocol (VEEGAN, Srivastava et al. 2017; PacGAN, Lin et al. 2018): ring centres at 2*pi*k/8 on the
unit circle with std 0.01, grid centres {-4, -2, 0, 2, 4}^2 with std 0.05; MLP G and D with two hidden
layers of 128 units, z of 256; 2,500 samples evaluated; a sample is high quality within 3 std of its
nearest centre; a mode is captured when a high-quality sample is nearest to it; KL is that of the
high-quality samples' mode histogram from uniform (PacGAN's reverse KL).

Each technique runs on VEEGAN's networks and optimizer (the `toy2d` recipe) with the technique's
published settings and trains until it stops improving: every `--eval-every` G steps each seed is scored,
and a row stops when no seed has gained a mode or half a point of high-quality samples for `--patience`
scorings, or at `--max-steps`. A steadygan recipe row trains for its recipe's own schedule. The generator
scored is the one `steadygan sample` draws from: the EMA of G when the recipe keeps one, G itself otherwise.

The seeds of a row train as lanes of one vectorised model (`steadygan.train.lanes`) when all its
techniques allow it (feature matching and orthogonal regularization do not: their seeds train one by
one); `bench/seed_lanes.py` measures what that costs and that each lane follows its own seed's run.

`--estimate STEPS` trains no row to the end: it times STEPS G steps of each row's seeds on one thread and
writes what the table would take on `--workers` workers, and the time of its matrix products alone, a floor
that no saving elsewhere in a step can go below (bench/results/mixtures-estimate.md).

Writes bench/results/mixtures.md (the table) and bench/results/mixtures.png (samples per row).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common import MATRIX_PRODUCTS, RESULTS, ResultsFile, SeparateSeeds, makespan, mean_std, run_pool, time_steps

RESULTS_FILE = ResultsFile(__file__)


@dataclass(frozen=True)
class Entry:
    label: str
    overrides: tuple[str, ...] = ()
    recipe: str = "toy2d"
    own_schedule: bool = False  # train for the recipe's own train.steps, not until it stops improving
    cost: float = 1.0  # seconds per step relative to plain GAN: slow rows are started first, for packing


WGAN_GP = ("loss.name=wasserstein", "regularize.gradient_penalty=10", "optim.g_lr=1e-4", "optim.d_lr=1e-4",
           "optim.g_betas=[0.0,0.9]", "optim.d_betas=[0.0,0.9]", "optim.n_dis=5")
TTUR = ("optim.g_lr=1e-4", "optim.d_lr=4e-4")
ENTRIES: dict[str, Entry] = {
    "gan": Entry("GAN (non-saturating)"),
    "smoothing": Entry("GAN + one-sided label smoothing", ("loss.label_smoothing=one_sided",)),
    "smoothing-2": Entry("GAN + two-sided label smoothing", ("loss.label_smoothing=two_sided",)),
    "lsgan": Entry("LSGAN (0-1 coding)", ("loss.name=lsgan",)),
    "lsgan-chi2": Entry("LSGAN (-1, 1, 0 coding)", ("loss.name=lsgan_chi2",)),
    "hinge": Entry("hinge", ("loss.name=hinge",)),
    "wgan": Entry("WGAN (clipping 0.01, RMSprop 5e-5, n_critic 5)",
                  ("loss.name=wasserstein", "regularize.weight_clip=0.01", "optim.optimizer=rmsprop",
                   "optim.g_lr=5e-5", "optim.d_lr=5e-5", "optim.n_dis=5"), cost=3),
    "wgan-gp": Entry("WGAN-GP (lambda 10, Adam 1e-4 (0, 0.9), n_critic 5)", WGAN_GP, cost=4.5),
    "r1": Entry("GAN + R1 (gamma 1)", ("regularize.r1=1.0",), cost=1.3),
    "rpgan-r1-r2": Entry("relativistic pairing + R1 + R2 (gamma 1)",
                         ("loss.name=rpgan", "regularize.r1=1.0", "regularize.r2=1.0"), cost=1.8),
    "feature-matching": Entry("feature matching", ("loss.g_objective=feature_matching",)),
    "minibatch-discrimination": Entry("minibatch discrimination (B 10, C 5, groups of 64)",
                                      ("model.minibatch_discrimination=true", "model.mbd_kernels=10",
                                       "model.mbd_group=64"), cost=6),
    "minibatch-stddev": Entry("minibatch stddev (group 4)", ("model.minibatch_stddev=true",), cost=1.3),
    "pacgan2": Entry("PacGAN2 (packs of 2, 512 packs a batch)", ("model.packing=2", "optim.batch_size=1024"), cost=2),
    "pacgan4": Entry("PacGAN4 (packs of 4, 512 packs a batch)", ("model.packing=4", "optim.batch_size=2048"), cost=4),
    "unrolled": Entry("unrolled GAN (K = 5)", ("loss.unrolled_steps=5",), cost=6.5),
    "sn-hinge": Entry("spectral norm + hinge", ("model.spectral_norm=true", "loss.name=hinge"), cost=1.3),
    "ttur": Entry("TTUR (G 1e-4, D 4e-4)", TTUR),
    "orthogonal": Entry("orthogonal init + regularization (beta 1e-4)",
                        ("model.init=orthogonal", "regularize.ortho_g=1e-4", "regularize.ortho_d=1e-4"), cost=1.1),
    "g-batchnorm": Entry("GAN + batch norm in G", ("model.g_batchnorm=true",)),
    "ns-gp": Entry("GAN + gradient penalty 0.05", ("regularize.gradient_penalty=0.05",), cost=1.4),
    "ttur-r1": Entry("TTUR + R1", (*TTUR, "regularize.r1=1.0"), cost=1.3),
    "lsgan-ttur": Entry("LSGAN + TTUR", ("loss.name=lsgan", *TTUR)),
    "ttur-mbstd": Entry("TTUR + minibatch stddev", (*TTUR, "model.minibatch_stddev=true"), cost=1.3),
    "stable": Entry("steadygan 2-D recipe (toy2d-stable)", recipe="toy2d-stable", own_schedule=True, cost=1.5),
}
QUICK_ENTRIES = ["gan", "feature-matching", "stable"]
MIXTURES = ("ring8", "grid25")
SAMPLES = 2500
SEEDS = 5
MAX_STEPS = 10_000
EVAL_EVERY = 1000
PATIENCE = 3
HQ_GOAL = 0.95  # the share of high-quality samples the table marks, with every mode and KL_GOAL, on every seed
KL_GOAL = 0.02  # the KL of the modes' histogram from uniform
GAIN = 0.005  # half a point of high-quality samples: less is not an improvement

# Published rows (protocols in ../shared/reference/published-results.md): (method, ring modes, ring HQ %,
# ring KL, grid modes, grid HQ %, grid KL, source); "-" where the paper gives no KL.
PUBLISHED = [
    ("GAN", 1, 99.3, "-", 3.3, 0.5, "-", "VEEGAN Table 1 (25k steps)"),
    ("Unrolled GAN (5 steps)", 7.6, 35.6, "-", 23.6, 16, "-", "VEEGAN Table 1"),
    ("VEEGAN", 8, 52.9, "-", 24.6, 40, "-", "VEEGAN Table 1"),
    ("WGAN-GP", 6.8, 59.6, "-", 24.2, 28.7, "-", "GDPP Table 1"),
    ("GDPP-GAN", 8.0, 71.7, "-", 24.8, 68.5, "-", "GDPP Table 1"),
    ("GAN (tuned)", 6.3, 98.2, 0.45, 17.3, 94.8, 0.70, "PacGAN Table 1 (10 runs, 400 epochs)"),
    ("PacGAN2", 7.9, 95.6, 0.07, 23.8, 91.3, 0.13, "PacGAN Table 1"),
    ("PacGAN4", 7.8, 95.9, 0.07, 24.8, 93.6, 0.04, "PacGAN Table 1"),
]


def row_steps(key: str, max_steps: int, quick: bool) -> int | None:
    """A row's G-step budget: None for a recipe row's own schedule (outside the quick form)."""
    return None if ENTRIES[key].own_schedule and not quick else max_steps


def config_for(key: str, mixture: str, seed: int, steps: int | None, out: str):
    """The config of a row; `steps` None keeps the recipe's train.steps."""
    from steadygan.config import load_config

    entry = ENTRIES[key]
    budget = [] if steps is None else [f"train.steps={steps}"]
    return load_config(entry.recipe, [f"data.source={mixture}", f"train.seed={seed}", f"train.out_dir={out}",
                                      *budget, *entry.overrides])


def build_seeds(config, seeds: list[int], out: str):
    """The seeds as lanes of one model when the row's techniques allow it, else as separate runs."""
    from steadygan.errors import ConfigError
    from steadygan.train.lanes import SeedLanes

    try:
        return SeedLanes(config, seeds, f"{out}/lanes"), True
    except ConfigError:
        return SeparateSeeds(config, seeds, out), False


def score(generator, mixture: str, seed: int):
    import torch

    from steadygan.data import MIXTURES as STDS
    from steadygan.data import toy_centres
    from steadygan.metrics import mode_coverage
    from steadygan.sampling import generate, sample_latents

    z = sample_latents(SAMPLES, generator.z_dim, torch.Generator().manual_seed(10_000 + seed))
    samples = generate(generator, z).numpy()
    return mode_coverage(samples, toy_centres(mixture), STDS[mixture]), samples


Job = tuple[str, str, int, int | None, int, int]  # key, mixture, seeds, steps (None: own), eval every, patience


def run_row(job: Job) -> dict:
    """Trains one row on one mixture with `seeds` seeds until it stops improving, or for its recipe's schedule."""
    import torch

    key, mixture, seeds, steps, eval_every, patience = job
    torch.set_num_threads(1)  # one worker per core
    seed_list = list(range(seeds))
    with tempfile.TemporaryDirectory() as out:
        config = config_for(key, mixture, 0, steps, out)
        group, vectorised = build_seeds(config, seed_list, out)
        total = config.train.steps
        best = [(0, 0.0)] * seeds
        stale, step, seconds, history = 0, 0, 0.0, []
        while step < total and (steps is None or stale < patience):
            start = time.perf_counter()
            for _ in range(min(eval_every, total - step)):
                group.train_step()
            seconds += time.perf_counter() - start
            step = min(step + eval_every, total)
            results = [score(group.generator(k), mixture, seed) for k, seed in enumerate(seed_list)]
            scored = [coverage for coverage, _ in results]
            history.append((step, [s.modes for s in scored], [round(100 * s.high_quality, 1) for s in scored]))
            improved = [s.modes > b[0] or s.high_quality > b[1] + GAIN for s, b in zip(scored, best, strict=True)]
            best = [(max(s.modes, b[0]), max(s.high_quality, b[1])) for s, b in zip(scored, best, strict=True)]
            stale = 0 if any(improved) else stale + 1
    return {"key": key, "mixture": mixture, "steps": step, "seconds": seconds, "vectorised": vectorised,
            "samples": results[0][1], "runs": [coverage.as_dict() for coverage in scored], "history": history}


def time_row(job: Job, steps: int) -> dict:
    """Times `steps` G steps of a row's seeds on one thread, as a worker trains them: milliseconds per G step of
    the whole row, and those of them spent in matrix products."""
    import torch

    key, mixture, seeds, row_budget, _, _ = job
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as out:
        config = config_for(key, mixture, 0, row_budget, out)
        group, vectorised = build_seeds(config, list(range(seeds)), out)
        milliseconds, in_products = time_steps(group.train_step, steps, MATRIX_PRODUCTS)
    return {"key": key, "mixture": mixture, "vectorised": vectorised, "ms": milliseconds,
            "products_ms": in_products, "steps": config.train.steps}


def estimate(jobs: list[Job], steps: int, workers: int) -> str:
    """The table's expected wall time from `steps` timed G steps of each row, and its floor: the time of its matrix
    products alone, which no saving in the rest of a step removes."""
    lines = [(f"Each row's seeds timed for {steps} G steps on one thread (as a worker trains them), after 3 steps "
              "of warm-up; a row's steps are its budget, the most it trains (scorings not counted)."), "",
             ("| technique | mixture | seeds as | ms per G step, all seeds | of it in matrix products | G steps | "
              "s | s in matrix products |"), "|---|---|---|---|---|---|---|---|"]
    timed = []
    for job in jobs:
        row = time_row(job, steps)
        timed.append(row)
        lines.append(f"| {ENTRIES[row['key']].label} | {row['mixture']} | "
                     f"{'lanes' if row['vectorised'] else 'one by one'} | {row['ms']:.1f} | "
                     f"{row['products_ms']:.1f} ({100 * row['products_ms'] / row['ms']:.0f}%) | {row['steps']} | "
                     f"{row['ms'] * row['steps'] / 1000:.0f} | {row['products_ms'] * row['steps'] / 1000:.0f} |")
        print(lines[-1], flush=True)
    wall = makespan((r["ms"] * r["steps"] / 1000 for r in timed), workers)
    floor = makespan((r["products_ms"] * r["steps"] / 1000 for r in timed), workers)
    lines += ["", (f"The table on {workers} worker(s): at most {wall / 60:.0f} min; its matrix products alone "
                   f"{floor / 60:.0f} min.")]
    return "\n".join(lines) + "\n"


def meets_goal(run: dict) -> bool:
    """Every mode, at least HQ_GOAL high-quality samples and their histogram within KL_GOAL of uniform."""
    return run["modes"] == run["total_modes"] and run["high_quality"] >= HQ_GOAL and run["kl"] <= KL_GOAL


def table(results: list[dict], keys: list[str], seeds: int) -> str:
    lines = [f"{seeds} seed(s) per row and mixture; mean ± std over seeds; {SAMPLES} samples scored; batch 512",
             "",
             ("| technique | G steps (ring / grid) | ring modes /8 | ring % HQ | ring KL | grid modes /25 | "
              f"grid % HQ | grid KL | all modes, >= {100 * HQ_GOAL:.0f}% HQ, KL <= {KL_GOAL}, every seed | s / seed |"),
             "|---|---|---|---|---|---|---|---|---|---|"]
    for key in keys:
        cells, perfect, seconds, steps = [], True, [], []
        for mixture in MIXTURES:
            found = [r for r in results if r["key"] == key and r["mixture"] == mixture]
            if not found:
                cells += ["-", "-", "-"]
                perfect = False
                continue
            row = found[0]
            runs = row["runs"]
            cells += [mean_std([r["modes"] for r in runs]), mean_std([100 * r["high_quality"] for r in runs]),
                      mean_std([r["kl"] for r in runs], 2)]
            perfect &= all(meets_goal(r) for r in runs)
            seconds.append(row["seconds"] / len(runs))
            steps.append(str(row["steps"]))
        lines.append(f"| {ENTRIES[key].label} | {' / '.join(steps)} | " + " | ".join(cells) +
                     f" | {'yes' if perfect else 'no'} | {statistics.mean(seconds) if seconds else 0:.0f} |")
    lines += ["", "Every seed (modes / % HQ / KL):", ""]
    lines += [f"- {ENTRIES[r['key']].label}, {r['mixture']}: " +
              ", ".join(f"{x['modes']} / {100 * x['high_quality']:.1f} / {x['kl']:.3f}" for x in r["runs"])
              for key in keys for r in results if r["key"] == key]
    lines += ["", "Published (their protocols and budgets; see ../shared/reference/published-results.md):", "",
              "| method | ring modes /8 | ring % HQ | ring KL | grid modes /25 | grid % HQ | grid KL | source |",
              "|---|---|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in PUBLISHED]
    return "\n".join(lines) + "\n"


def scatter(results: list[dict], keys: list[str], path: Path, per_row: int = 4) -> Path:
    """Two panels (ring, grid) per table row, `per_row` table rows across: the first seed's samples. Returns
    where the figure went (`ResultsFile.destination`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from steadygan.data import toy_centres

    rows = math.ceil(len(keys) / per_row)
    cols = min(per_row, len(keys)) * len(MIXTURES)
    fig, axes = plt.subplots(rows, cols, figsize=(2.3 * cols, 2.5 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for index, key in enumerate(keys):
        for offset, mixture in enumerate(MIXTURES):
            ax = axes[index // per_row][(index % per_row) * len(MIXTURES) + offset]
            ax.axis("on")
            found = [r for r in results if r["key"] == key and r["mixture"] == mixture]
            centres = toy_centres(mixture)
            reach = np.abs(centres).max() * 1.5
            if found:
                row, first = found[0], found[0]["runs"][0]
                ax.scatter(row["samples"][:, 0], row["samples"][:, 1], s=1, alpha=0.3)
                ax.set_title(f"{ENTRIES[key].label[:34]}\n{row['steps']} steps: {first['modes']}/{len(centres)}, "
                             f"{100 * first['high_quality']:.0f}% HQ", fontsize=7)
            ax.scatter(centres[:, 0], centres[:, 1], s=8, marker="x", color="tab:red", linewidths=0.8)
            ax.set(xlim=(-reach, reach), ylim=(-reach, reach), aspect="equal", xticks=[], yticks=[])
    fig.tight_layout()
    path = RESULTS_FILE.destination(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80, metadata={"Comment": RESULTS_FILE.mark})  # read by RESULTS_FILE.check: a benchmark's file
    RESULTS_FILE.written(path)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds, 3 rows, short runs (well under 2 minutes)")
    parser.add_argument("--max-steps", type=int,
                        help=f"the most G steps of a row (default {MAX_STEPS}, quick 200); recipe rows keep theirs")
    parser.add_argument("--eval-every", type=int, help=f"G steps between scorings (default {EVAL_EVERY}, quick 100)")
    parser.add_argument("--patience", type=int, default=PATIENCE,
                        help="scorings without a gain before a row stops")
    parser.add_argument("--seeds", type=int, help=f"seeds per row and mixture (default {SEEDS}, quick 2)")
    parser.add_argument("--techniques", help="comma-separated subset of: " + ", ".join(ENTRIES))
    parser.add_argument("--workers", type=int, default=max(1, multiprocessing.cpu_count()))
    parser.add_argument("--out", default=str(RESULTS / "mixtures"),
                        help="output prefix: writes PREFIX.md and PREFIX.png (with --estimate PREFIX-estimate.md)")
    parser.add_argument("--estimate", type=int, metavar="STEPS",
                        help="train nothing to the end: time STEPS G steps of each row and write the table's expected "
                             "wall time and the part of it no faster code can save (its matrix products)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    outputs = [out.with_name(f"{out.name}-estimate.md")] if args.estimate else [out.with_suffix(".md"),
                                                                                out.with_suffix(".png")]
    for path in outputs:
        try:
            RESULTS_FILE.check(str(path))
        except argparse.ArgumentTypeError as error:
            parser.error(f"--out: {error}")
    if args.estimate is not None and args.estimate < 1:
        parser.error(f"--estimate must be 1 or more G steps, got {args.estimate}")

    max_steps = args.max_steps or (200 if args.quick else MAX_STEPS)
    eval_every = args.eval_every or (100 if args.quick else EVAL_EVERY)
    seeds = args.seeds or (2 if args.quick else SEEDS)
    keys = args.techniques.split(",") if args.techniques else QUICK_ENTRIES if args.quick else list(ENTRIES)
    unknown = [k for k in keys if k not in ENTRIES]
    if unknown:
        parser.error(f"unknown technique {unknown[0]!r}; choose from: {', '.join(ENTRIES)}")
    jobs: list[Job] = [(k, m, seeds, row_steps(k, max_steps, args.quick), eval_every, args.patience)
                       for k in keys for m in MIXTURES]

    def expected_seconds(job: Job) -> float:
        return ENTRIES[job[0]].cost * config_for(job[0], job[1], 0, job[3], ".").train.steps

    jobs.sort(key=expected_seconds, reverse=True)  # longest first, for better packing on the workers
    command = " ".join(argv if argv is not None else sys.argv[1:])
    if args.estimate:
        text = f"Command: python bench/mixtures.py {command}\n\n" + estimate(jobs, args.estimate, args.workers)
        RESULTS_FILE.publish(outputs[0], text)
        return 0

    def describe(r: dict) -> str:
        runs = r["runs"]
        return (f"{ENTRIES[r['key']].label} on {r['mixture']} ({r['steps']} steps, "
                f"{'lanes' if r['vectorised'] else 'one by one'}): modes {[x['modes'] for x in runs]}, "
                f"HQ {[round(100 * x['high_quality'], 1) for x in runs]}, KL {[round(x['kl'], 3) for x in runs]} "
                f"({r['seconds']:.0f} s); "
                f"by step (modes, % HQ): {r['history']}")

    results, wall = run_pool(run_row, jobs, args.workers, describe)
    text = f"Command: python bench/mixtures.py {command}\n\n" + table(results, keys, seeds)
    text += (f"\nA row stops when no seed gained a mode or {100 * GAIN:.1f} points of high-quality samples in "
             f"{args.patience} scorings {eval_every} G steps apart, or at {max_steps} G steps; recipe rows train "
             f"their own schedule. Wall time {wall:.0f} s with {args.workers} worker(s).\n")
    RESULTS_FILE.publish(out.with_suffix(".md"), text)
    print(f"wrote {scatter(results, keys, out.with_suffix('.png'))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
