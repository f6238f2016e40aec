"""Progressive growing to 64x64: seconds per 1,000 images, peak memory and FID at the end of every phase.

    python bench/pggan.py                                    # CPU, scaled-down sizes (about 40 min on 2 cores)
    python bench/pggan.py --full --device cuda               # the paper's sizes and schedule on a GPU
    python bench/pggan.py --quick                            # seconds: a smoke test of the whole bench

Trains the `pggan` recipe on ../shared/data/anime-faces-64.zip (19,992 faces) from 4x4 to 64x64. At the
end of every fade-in and stabilization phase it records the training seconds per 1,000 real images of
that phase (evaluation excluded), the peak memory so far (resident set on CPU, allocated memory on a
GPU), and FID and KID of the EMA generator against the real faces box-filtered to that phase's
resolution. The extractor is Inception when its weights are at hand (--extractor inception), else a
CIFAR-10 classifier trained on ../shared/data/cifar10-jpg.zip once and cached: classifier-space FIDs
rank the phases of one run but are not comparable with published Inception FIDs. Writes
bench/results/pggan.md and leaves the run (sample grids, growth GIF, final grid) in --run.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import torch

from common import SHARED_DATA, ResultsFile, cifar_classifier, describe_machine

RESULTS_FILE = ResultsFile(__file__)

HERE = Path(__file__).resolve().parent
DATA = SHARED_DATA / "anime-faces-64.zip"

# (z_dim, widest layers, images per fade-in, images per stabilization, batch size per resolution, eval samples)
PRESETS = {
    "cpu": {"z_dim": 128, "width": 32, "fade": 40_000, "stabilize": 40_000,
                "batch_sizes": {4: 128, 8: 128, 16: 128, 32: 64, 64: 32}, "eval_n": 2000},
    "full": {"z_dim": 512, "width": 512, "fade": 800_000, "stabilize": 800_000,
                 "batch_sizes": {4: 128, 8: 128, 16: 128, 32: 64, 64: 32}, "eval_n": 10_000},
    "quick": {"z_dim": 16, "width": 8, "fade": 256, "stabilize": 256,
              "batch_sizes": {4: 16, 8: 16, 16: 16, 32: 16, 64: 16},
                  "eval_n": 200},
}


def peak_memory_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class PhaseMeter:
    """A trainer callback: at every phase's end, the phase's training speed, memory, FID and KID."""

    def __init__(self, trainer, extractor: str, eval_n: int, source: str):
        self.extractor, self.eval_n, self.source = extractor, eval_n, source
        self.rows: list[dict] = []
        self.evaluators: dict[int, object] = {}
        self.started, self.start_step = time.perf_counter(), trainer.step

    def __call__(self, trainer) -> None:
        if not (trainer.schedule.ends_segment(trainer.step) or trainer.step == trainer.config.train.steps):
            return
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - self.started
        from steadygan.growth import images_shown

        images = images_shown(trainer.config, trainer.step) - images_shown(trainer.config, self.start_step)
        phase = trainer.schedule.phase
        resolution = phase.resolution
        if resolution not in self.evaluators:
            from steadygan.metrics import Evaluator

            self.evaluators[resolution] = Evaluator("fid,kid", trainer.dataset.downsampled(resolution), self.source,
                                                    extractor=self.extractor, n=self.eval_n, device=trainer.device,
                                                    progress=False)
        evaluation = self.evaluators[resolution].score_generator(trainer.ema.model, seed=1)
        row = {"resolution": resolution, "what": "fade-in" if phase.fading else "stabilize",
               "end_step": trainer.step, "kimg": images_shown(trainer.config, trainer.step) / 1000,
               "seconds": seconds, "s_per_kimg": 1000 * seconds / max(images, 1),
               "peak_mib": peak_memory_mib(trainer.device), **evaluation.scores}
        self.rows.append(row)
        print(f"{resolution}px {row['what']} ends at step {trainer.step} ({row['kimg']:.0f} kimg): "
              f"{row['s_per_kimg']:.2f} s/kimg, peak {row['peak_mib']:.0f} MiB, FID {row['fid']:.2f}, "
              f"KID {row['kid']:.4g} (eval {evaluation.protocol['seconds']:.0f} s)", flush=True)
        if trainer.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(trainer.device)
        self.started, self.start_step = time.perf_counter(), trainer.step


def total_steps(preset: dict, resolution: int) -> int:
    from steadygan.config import GrowthConfig
    from steadygan.growth import growth_segments

    growth = GrowthConfig(fade_images=preset["fade"], stabilize_images=preset["stabilize"],
                          batch_sizes=preset["batch_sizes"])
    last = growth_segments(growth, resolution, 16)[-1]
    return last.start + last.steps  # the final resolution stabilized once, as every other


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--full", action="store_true", help="the paper's widths (512), z 512 and 800k-image phases")
    size.add_argument("--quick", action="store_true", help="a tiny run of the whole bench (tests)")
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--extractor", help="inception or classifier:FILE (default: the cached CIFAR-10 classifier)")
    parser.add_argument("--eval-n", type=int, help="generated images per evaluation")
    parser.add_argument("--run", default="", help="the run folder (default: a new one, runs/NNNNN-bench-pggan)")
    parser.add_argument("--out", type=RESULTS_FILE.check,
                        help="the table to write (default bench/results/pggan.md; none with --quick)")
    args = parser.parse_args(argv)

    from steadygan.config import load_config
    from steadygan.data.cache import cache_root
    from steadygan.generate import training_animation
    from steadygan.images import make_grid, save_image
    from steadygan.sampling import generate, sample_latents
    from steadygan.train import Trainer

    name = "full" if args.full else "quick" if args.quick else "cpu"
    preset = PRESETS[name]
    eval_n = args.eval_n or preset["eval_n"]
    extractor = args.extractor or cifar_classifier(cache_root())
    steps = total_steps(preset, args.resolution)
    batches = "{" + ", ".join(f"{k}: {v}" for k, v in preset["batch_sizes"].items()) + "}"
    overrides = [f"data.source={args.data}", f"data.resolution={args.resolution}", "data.hflip=true",
                 f"model.z_dim={preset['z_dim']}", f"model.g_width={preset['width']}",
                 f"model.d_width={preset['width']}", f"growth.fade_images={preset['fade']}",
                 f"growth.stabilize_images={preset['stabilize']}", f"growth.batch_sizes={batches}",
                 f"train.steps={steps}", f"train.out_dir={args.run}", f"train.device={args.device}",
                 "train.sample_every=1000000", "train.checkpoint_every=1000", "train.log_every=50"]
    trainer = Trainer(load_config("pggan", overrides), progress=not args.quick, tensorboard=False,
                      run_name="bench-pggan")
    meter = PhaseMeter(trainer, extractor, eval_n, args.data)
    trainer.callbacks.append(meter)
    wall = time.perf_counter()
    trainer.fit()
    wall = time.perf_counter() - wall

    run = trainer.out_dir
    z = sample_latents(64, trainer.G.z_dim, torch.Generator().manual_seed(2))
    final_grid = save_image(make_grid(generate(trainer.ema.model, z), nrow=8), run / "final-grid.png")
    gif = training_animation(run)
    device = describe_machine(trainer.device.type == "cuda", trainer.device)
    params = {k: sum(p.numel() for p in m.parameters()) for k, m in (("G", trainer.G), ("D", trainer.D))}
    lines = [f"Command: python bench/pggan.py {' '.join(argv if argv is not None else sys.argv[1:])}", "",
             (f"Device: {device}; torch {torch.__version__}. Data: {Path(args.data).name}, grown 4 -> "
              f"{args.resolution}px, random flips."),
             (f"Sizes ({name}): z {preset['z_dim']}, widest layers {preset['width']} (G {params['G']:,} / D "
              f"{params['D']:,} parameters); {preset['fade']:,} images per fade-in and per stabilization; batch "
              f"size per resolution {batches}. Recipe otherwise `pggan`: WGAN-GP lambda 10, n_critic 1, drift 0.001, "
              "Adam 1e-3 (0, 0.99), EMA 0.999, minibatch stddev group 4, Adam moments reset per resolution."),
             (f"Scores: EMA G, {eval_n:,} samples vs all {len(trainer.dataset):,} real images box-filtered to the "
              f"phase's resolution; extractor `{extractor.split('/')[-1]}`. Wall time {wall / 60:.1f} min "
              "(evaluations included)."), "",
             "| phase | ends at step | kimg | s / 1k images | peak memory MiB | FID | KID |",
             "|---|---|---|---|---|---|---|"]
    for r in meter.rows:
        lines.append(f"| {r['resolution']}px {r['what']} | {r['end_step']} | {r['kimg']:.1f} | {r['s_per_kimg']:.2f} | "
                     f"{r['peak_mib']:.0f} | {r['fid']:.2f} | {r['kid']:.4g} |")
    lines += ["", f"Final 8x8 grid: {final_grid}; growth GIF: {gif}."]
    text = "\n".join(lines) + "\n"
    out = args.out or (None if args.quick else HERE / "results" / "pggan.md")
    if out:
        RESULTS_FILE.publish(out, text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
