"""The 2-D mode-collapse benchmark: every technique on the ring of 8 and the grid of 25 Gaussians.

    python bench/mixtures.py            # the full table: all techniques, both mixtures, 5 seeds
    python bench/mixtures.py --quick    # a smoke version (1 seed, a few techniques, short runs)

Protocol (VEEGAN, Srivastava et al. 2017; PacGAN, Lin et al. 2018): ring centres at 2*pi*k/8 on the
unit circle with std 0.01, grid centres {-4, -2, 0, 2, 4}^2 with std 0.05; MLP G and D with two hidden
layers of 128 units, z of 256; 2,500 samples evaluated; a sample is high quality within 3 std of its
nearest centre; a mode is captured when a high-quality sample is nearest to it; KL is that of the
high-quality samples' mode histogram from uniform. The number of G steps is smaller than VEEGAN's
25k to fit a CPU budget; it is printed with the table, with the command that made it.

Writes bench/results/mixtures.md (the table) and bench/results/mixtures.png (samples per technique).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# key: (label, overrides of the toy2d recipe). Settings are each technique's published defaults.
WGAN_GP = ["loss.name=wasserstein", "regularize.gradient_penalty=10", "optim.g_lr=1e-4", "optim.d_lr=1e-4",
           "optim.g_betas=[0.0,0.9]", "optim.d_betas=[0.0,0.9]", "optim.n_dis=5"]
TECHNIQUES: dict[str, tuple[str, list[str]]] = {
    "gan": ("GAN (non-saturating)", []),
    "smoothing": ("GAN + one-sided label smoothing", ["loss.label_smoothing=one_sided"]),
    "lsgan": ("LSGAN", ["loss.name=lsgan"]),
    "hinge": ("hinge", ["loss.name=hinge"]),
    "wgan": ("WGAN (clipping, RMSprop, n_critic 5)", ["loss.name=wasserstein", "regularize.weight_clip=0.01",
                                                      "optim.optimizer=rmsprop", "optim.g_lr=5e-5",
                                                      "optim.d_lr=5e-5", "optim.n_dis=5"]),
    "wgan-gp": ("WGAN-GP (n_critic 5)", WGAN_GP),
    "r1": ("GAN + R1 (gamma 1)", ["regularize.r1=1.0"]),
    "feature-matching": ("feature matching", ["loss.g_objective=feature_matching"]),
    "minibatch-discrimination": ("minibatch discrimination", ["model.minibatch_discrimination=true"]),
    "minibatch-stddev": ("minibatch stddev", ["model.minibatch_stddev=true"]),
    "unrolled": ("unrolled GAN (K = 5)", ["loss.unrolled_steps=5"]),
    "sn-hinge": ("spectral norm + hinge", ["model.spectral_norm=true", "loss.name=hinge"]),
    "ttur": ("TTUR (G 1e-4, D 4e-4)", ["optim.g_lr=1e-4", "optim.d_lr=4e-4"]),
    "wgan-gp-mbstd": ("WGAN-GP + minibatch stddev", WGAN_GP + ["model.minibatch_stddev=true"]),
    "r1-mbstd": ("GAN + R1 + minibatch stddev", ["regularize.r1=1.0", "model.minibatch_stddev=true"]),
    "ttur-r1": ("TTUR + R1 (gamma 1)", ["optim.g_lr=1e-4", "optim.d_lr=4e-4", "regularize.r1=1.0"]),
    "lsgan-ttur": ("LSGAN + TTUR", ["loss.name=lsgan", "optim.g_lr=1e-4", "optim.d_lr=4e-4"]),
    "ttur-mbstd": ("TTUR + minibatch stddev", ["optim.g_lr=1e-4", "optim.d_lr=4e-4", "model.minibatch_stddev=true"]),
    "lsgan-ttur-mbstd": ("LSGAN + TTUR + minibatch stddev", ["loss.name=lsgan", "optim.g_lr=1e-4", "optim.d_lr=4e-4",
                                                             "model.minibatch_stddev=true"]),
    "sn-hinge-mbstd": ("spectral norm + hinge + minibatch stddev", ["model.spectral_norm=true", "loss.name=hinge",
                                                                    "model.minibatch_stddev=true"]),
}
QUICK_TECHNIQUES = ["gan", "wgan-gp", "minibatch-stddev"]
MIXTURES = ("ring8", "grid25")
SAMPLES = 2500

# Published rows (protocols in ../shared/reference/published-results.md): (ring modes, ring HQ %,
# grid modes, grid HQ %, source).
PUBLISHED = [
    ("GAN", 1, 99.3, 3.3, 0.5, "VEEGAN Table 1 (25k steps)"),
    ("Unrolled GAN (5 steps)", 7.6, 35.6, 23.6, 16, "VEEGAN Table 1"),
    ("VEEGAN", 8, 52.9, 24.6, 40, "VEEGAN Table 1"),
    ("WGAN-GP", 6.8, 59.6, 24.2, 28.7, "GDPP Table 1"),
    ("GAN (tuned)", 6.3, 98.2, 17.3, 94.8, "PacGAN Table 1 (10 runs)"),
    ("PacGAN4", 7.8, 95.9, 24.8, 93.6, "PacGAN Table 1"),
]


def run_one(job: tuple[str, str, int, int]) -> dict:
    """Trains one technique on one mixture with one seed and scores 2,500 samples of G itself: its EMA
    would average a mode-hopping G into the gaps between modes."""
    import torch

    from steadygan.config import load_config
    from steadygan.data import MIXTURES as STDS
    from steadygan.data import toy_centres
    from steadygan.metrics import mode_coverage
    from steadygan.sampling import generate, sample_latents
    from steadygan.train import Trainer

    technique, mixture, seed, steps = job
    torch.set_num_threads(1)  # one worker per core
    with tempfile.TemporaryDirectory() as out:
        overrides = [f"data.source={mixture}", f"train.seed={seed}", f"train.steps={steps}",
                     f"train.out_dir={out}", *TECHNIQUES[technique][1]]
        trainer = Trainer(load_config("toy2d", overrides), progress=False, tensorboard=False)
        start = time.perf_counter()
        for _ in range(steps):
            trainer.train_step()
        seconds = time.perf_counter() - start
    z = sample_latents(SAMPLES, trainer.G.z_dim, torch.Generator().manual_seed(10_000 + seed))
    samples = generate(trainer.G, z).numpy()
    coverage = mode_coverage(samples, toy_centres(mixture), STDS[mixture])
    return {"technique": technique, "mixture": mixture, "seed": seed, "seconds": seconds,
            "samples": samples, **coverage.as_dict()}


def mean_std(values: list[float], digits: int = 1) -> str:
    if any(np.isinf(values)):
        return "inf"
    spread = statistics.pstdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.{digits}f} ± {spread:.{digits}f}"


def table(results: list[dict], techniques: list[str], seeds: int, steps: int) -> str:
    lines = [f"G steps {steps}, batch 512, {seeds} seed(s) each; mean ± std over seeds; "
             f"{SAMPLES} samples",
             "",
             "| technique | ring modes /8 | ring % HQ | ring KL | grid modes /25 | grid % HQ | grid KL | all modes, "
             ">= 90% HQ on every seed | s / run |",
             "|---|---|---|---|---|---|---|---|---|"]
    for technique in techniques:
        cells, perfect, seconds = [], True, []
        for mixture in MIXTURES:
            runs = [r for r in results if r["technique"] == technique and r["mixture"] == mixture]
            if not runs:
                cells += ["-", "-", "-"]
                perfect = False
                continue
            cells += [mean_std([r["modes"] for r in runs]), mean_std([100 * r["high_quality"] for r in runs]),
                      mean_std([r["kl"] for r in runs], 2)]
            perfect &= all(r["modes"] == r["total_modes"] and r["high_quality"] >= 0.9 for r in runs)
            seconds += [r["seconds"] for r in runs]
        lines.append(f"| {TECHNIQUES[technique][0]} | " + " | ".join(cells) + f" | {'yes' if perfect else 'no'} | "
                     f"{statistics.mean(seconds):.0f} |")
    lines += ["", "Published (their protocols and budgets; see ../shared/reference/published-results.md):", "",
              "| method | ring modes /8 | ring % HQ | grid modes /25 | grid % HQ | source |", "|---|---|---|---|---|---|"]
    lines += [f"| {name} | {a} | {b} | {c} | {d} | {src} |" for name, a, b, c, d, src in PUBLISHED]
    return "\n".join(lines) + "\n"


def scatter(results: list[dict], techniques: list[str], path: Path) -> None:
    """One row per technique, one column per mixture: the first seed's samples over the mode centres."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from steadygan.data import toy_centres

    fig, axes = plt.subplots(len(techniques), len(MIXTURES), figsize=(3.2 * len(MIXTURES), 3 * len(techniques)),
                             squeeze=False)
    for row, technique in enumerate(techniques):
        for col, mixture in enumerate(MIXTURES):
            ax = axes[row][col]
            runs = sorted((r for r in results if r["technique"] == technique and r["mixture"] == mixture),
                          key=lambda r: r["seed"])
            centres = toy_centres(mixture)
            reach = np.abs(centres).max() * 1.5
            if runs:
                ax.scatter(runs[0]["samples"][:, 0], runs[0]["samples"][:, 1], s=1, alpha=0.3)
                ax.set_title(f"{TECHNIQUES[technique][0]}\n{runs[0]['modes']}/{len(centres)} modes, "
                             f"{100 * runs[0]['high_quality']:.0f}% HQ", fontsize=8)
            ax.scatter(centres[:, 0], centres[:, 1], s=12, marker="x", color="tab:red")
            ax.set(xlim=(-reach, reach), ylim=(-reach, reach), aspect="equal", xticks=[], yticks=[])
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 seed, 3 techniques, short runs (under 2 minutes)")
    parser.add_argument("--steps", type=int, help="G steps per run (default 2000, quick 300)")
    parser.add_argument("--seeds", type=int, help="seeds per technique and mixture (default 5, quick 1)")
    parser.add_argument("--techniques", help="comma-separated subset of: " + ", ".join(TECHNIQUES))
    parser.add_argument("--workers", type=int, default=max(1, multiprocessing.cpu_count()))
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "mixtures"),
                        help="output prefix: writes PREFIX.md and PREFIX.png")
    args = parser.parse_args(argv)

    steps = args.steps or (300 if args.quick else 2000)
    seeds = args.seeds or (1 if args.quick else 5)
    techniques = (args.techniques.split(",") if args.techniques
                  else QUICK_TECHNIQUES if args.quick else list(TECHNIQUES))
    unknown = [t for t in techniques if t not in TECHNIQUES]
    if unknown:
        parser.error(f"unknown technique {unknown[0]!r}; choose from: {', '.join(TECHNIQUES)}")
    jobs = [(t, m, s, steps) for t in techniques for m in MIXTURES for s in range(seeds)]
    slowest = ("unrolled", "minibatch-discrimination")
    jobs.sort(key=lambda job: job[0] not in slowest)  # the slowest first, for better packing

    os.environ["OMP_NUM_THREADS"] = "1"  # spawned workers start with one thread each: one worker per core
    start = time.perf_counter()
    results = []
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        for i, result in enumerate(pool.imap_unordered(run_one, jobs), 1):
            results.append(result)
            print(f"[{i}/{len(jobs)}] {TECHNIQUES[result['technique']][0]} on {result['mixture']} seed {result['seed']}: "
                  f"{result['modes']}/{result['total_modes']} modes, {100 * result['high_quality']:.1f}% HQ "
                  f"({result['seconds']:.0f} s)", flush=True)
    text = f"Command: python bench/mixtures.py {' '.join(argv if argv is not None else sys.argv[1:])}\n\n"
    text += table(results, techniques, seeds, steps)
    text += f"\nWall time {time.perf_counter() - start:.0f} s with {args.workers} worker(s).\n"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(text)
    scatter(results, techniques, out.with_suffix(".png"))
    print(text)
    print(f"wrote {out.with_suffix('.md')} and {out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
