"""Stacked MNIST (1,000 modes) under the papers' two protocols, beside their published rows.

    python bench/stacked_mnist.py                # 10 rows x 2 protocols x 3 seeds
    python bench/stacked_mnist.py --quick        # a smoke version (2 rows, 1 seed, short runs, 2,000 samples)
    python bench/stacked_mnist.py --estimate 20  # the full table's expected time here, from 20 timed steps a row

Data: three random MNIST digits stacked as the R, G and B channels (60,000 fixed draws), from the 10,000
MNIST test digits of ../shared/data/mnist (the training images are not available here), 28x28 upsampled
to 32x32: the resolution of steadygan's image networks and of its shipped MNIST classifier.

Modes (Metz et al. 2017; VEEGAN; PacGAN): the shipped MNIST classifier reads each channel of 26,000
samples of the generator `steadygan sample` draws from; a mode is a digit triple with at least one sample;
KL is that of the triples' histogram from uniform over 1,000. 26,000 real stacked digits score 1,000 modes
and KL 0.025 this way, and 26,000 uniform draws of a triple KL 0.020: the floor at this sample count.

Protocols, with the networks of the papers (PacGAN's code, ../shared/reference/published-results.md):
- `veegan` (VEEGAN, PacGAN Table 2): DCGAN G and D of the same width, z 100, batch 64, Adam 2e-4 (0.5, 0.999),
  non-saturating loss. The papers' width is 64; `--width` scales it for a CPU.
- `hard` (Unrolled GAN, PacGAN Table 3): D with a quarter of G's filters (G 64-32-16, D 2-4-8 channels, as
  PacGAN's code), z 256, batch 128, Adam (0.5, 0.99) with G 1e-4 and D 2e-4.
Rows on each protocol's networks: DCGAN; PacDCGAN2 and 4 (D reads packs of m samples; the batch keeps the
papers' number of packs), and PacDCGAN4 with D's learning rate 5e-5 (the doctor's remedy); unrolled GAN with
5 and 10 look-ahead steps; GAN + R1 + R2 and relativistic pairing + R1 + R2 (R3GAN's loss ablation); and
steadygan's `stacked` recipe on the protocol's networks with its own optimizer, batch and techniques, as shipped
and with packs of two (`stacked-packed`, for a D much weaker than G). The papers' rows score G itself (no EMA);
the recipe scores its EMA. The papers' rows of a protocol train for the same number of G steps, VEEGAN 3,000
and hard 4,000; the recipe trains its own schedule (`--steps` sets every row's).

`--estimate STEPS` trains no run to the end: it times STEPS G steps and a count of 1,000 samples for one seed of
each row on one thread and writes what the table would take on `--workers` workers, and the time of its matrix
products and convolutions alone, a floor that no saving elsewhere in a step can go below
(bench/results/stacked-mnist-estimate.md).

Writes bench/results/stacked-mnist.md.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass

from common import (
    CONVOLUTIONS,
    MATRIX_PRODUCTS,
    RESULTS,
    SHARED_DATA,
    ResultsFile,
    existing_data,
    makespan,
    mean_std,
    run_pool,
    time_steps,
)

RESULTS_FILE = ResultsFile(__file__)

SAMPLES = 26_000
SEEDS = 3
WIDTH = 32
GAMMA = 0.1  # R1 and R2 of the R3GAN rows, each gamma / 2 times the squared input gradient


@dataclass(frozen=True)
class Protocol:
    label: str
    networks: tuple[str, ...]
    optimizer: tuple[str, ...]  # the papers' rows only: steadygan's recipe keeps its own
    batch: int  # samples of one batch without packing (packs with packing)
    steps: int  # G steps of a run unless --steps says otherwise


@dataclass(frozen=True)
class Row:
    label: str
    overrides: tuple[str, ...] = ()
    recipe: str = "dcgan"
    papers: bool = True  # a paper's row: trained with the protocol's optimizer
    packing: int = 1
    cost: float = 1.0  # seconds per step relative to DCGAN: slow runs are started first


# the papers' DCGAN: no EMA, G itself is scored, with its own running batch-norm statistics
PAPERS = ("loss.name=ns", "train.ema_decay=0", "train.ema_standing_stats=0")


def protocols(width: int) -> dict[str, Protocol]:
    return {
        "veegan": Protocol(f"VEEGAN/PacGAN (G and D width {width})",
                           (f"model.g_width={width}", f"model.d_width={width}", "model.z_dim=100"),
                           ("optim.g_lr=2e-4", "optim.d_lr=2e-4", "optim.g_betas=[0.5,0.999]",
                            "optim.d_betas=[0.5,0.999]"), batch=64, steps=3000),
        "hard": Protocol("hard: D a quarter of G (G 64-32-16, D 2-4-8)",
                         ("model.g_width=16", "model.d_width=2", "model.z_dim=256"),
                         ("optim.g_lr=1e-4", "optim.d_lr=2e-4", "optim.g_betas=[0.5,0.99]",
                          "optim.d_betas=[0.5,0.99]"), batch=128, steps=4000),
    }


R1_R2 = (f"regularize.r1={GAMMA}", f"regularize.r2={GAMMA}")
ROWS: dict[str, Row] = {
    "dcgan": Row("DCGAN", PAPERS),
    "pacdcgan2": Row("PacDCGAN2", PAPERS, packing=2, cost=1.6),
    "pacdcgan4": Row("PacDCGAN4", PAPERS, packing=4, cost=2.8),
    # the doctor's remedy for the D that tells every pack apart from about step 400 on (d_overpowering)
    "pacdcgan4-d-lr": Row("PacDCGAN4, D's learning rate 5e-5", (*PAPERS, "optim.d_lr=5e-5"), packing=4, cost=2.8),
    "unrolled5": Row("unrolled GAN, 5 steps", (*PAPERS, "loss.unrolled_steps=5"), cost=5),
    "unrolled10": Row("unrolled GAN, 10 steps", (*PAPERS, "loss.unrolled_steps=10"), cost=9),
    "gan-r1-r2": Row(f"GAN + R1 + R2 (gamma {GAMMA})", (*PAPERS, *R1_R2), cost=2.5),
    "rpgan-r1-r2": Row(f"relativistic pairing + R1 + R2 (gamma {GAMMA})",
                       (*PAPERS, "loss.name=rpgan", *R1_R2), cost=2.7),
    "stacked": Row("steadygan recipe (stacked)", recipe="stacked", papers=False, cost=1.5),
    # for a D much weaker than G: packs of two let it see a G that repeats itself
    "stacked-packed": Row("steadygan recipe (stacked), packs of two", ("model.packing=2", "optim.batch_size=128"),
                          recipe="stacked", papers=False, cost=2.7),
}
QUICK_ROWS = ["dcgan", "stacked"]

PUBLISHED = [  # protocol, method, modes, KL, source
    ("veegan", "DCGAN", 99, 3.40, "VEEGAN protocol (PacGAN Table 2)"),
    ("veegan", "ALI", 16, 5.40, "VEEGAN protocol"),
    ("veegan", "Unrolled GAN", 48.7, 4.32, "VEEGAN protocol"),
    ("veegan", "VEEGAN", 150, 2.95, "VEEGAN protocol"),
    ("veegan", "PacDCGAN2-4", 1000, "0.06-0.07", "VEEGAN protocol (PacGAN Table 2)"),
    ("veegan", "relativistic pairing + R1 + R2", 1000, 0.0781, "R3GAN Table 2 (its own networks)"),
    ("veegan", "GAN + R1 + R2", 693, 0.927, "R3GAN Table 2 (its own networks)"),
    ("hard", "DCGAN, D 1/4 of G", 30.6, 5.99, "Unrolled protocol (PacGAN Table 3)"),
    ("hard", "Unrolled GAN 10 steps, D 1/4", 327.2, 4.66, "Unrolled protocol"),
    ("hard", "PacDCGAN4, D 1/4", 667.4, 1.81, "Unrolled protocol"),
]

Job = tuple[str, str, int, int, int, str, int]  # protocol, row, seed, steps, samples, MNIST folder, width


def run_steps(protocol_name: str, key: str, width: int, steps: int | None = None) -> int:
    """G steps of a run: `steps` when given, else the protocol's for the papers' rows and the recipe's own."""
    from steadygan.config import load_config

    row = ROWS[key]
    return steps or (protocols(width)[protocol_name].steps if row.papers else load_config(row.recipe).train.steps)


def plan(names: list[str], keys: list[str], seeds: range, steps: int | None, samples: int, mnist: str,
         width: int) -> list[Job]:
    """The runs of the protocols `names` and rows `keys` on `seeds`, the slowest first (for packing)."""
    jobs = [(name, key, seed, run_steps(name, key, width, steps), samples, mnist, width)
            for name in names for key in keys for seed in seeds]
    return sorted(jobs, key=lambda job: ROWS[job[1]].cost * job[3] * (1 if job[0] == "veegan" else 0.4), reverse=True)


def config_for(job: Job, out: str):
    from steadygan.config import load_config

    protocol_name, key, seed, steps, _, mnist, width = job
    protocol, row = protocols(width)[protocol_name], ROWS[key]
    optimizer = [*protocol.optimizer, f"optim.batch_size={protocol.batch * row.packing}",
                 f"model.packing={row.packing}"] if row.papers else []
    return load_config(row.recipe, [f"data.source=stacked:{mnist}", "data.resolution=32", "data.channels=3",
                                    *protocol.networks, *optimizer, *row.overrides, f"train.seed={seed}",
                                    f"train.steps={steps}", f"train.out_dir={out}"])


def run_one(job: Job) -> dict:
    import torch

    from steadygan.metrics import Evaluator
    from steadygan.train import Trainer

    protocol, key, seed, steps, samples, _, _ = job
    torch.set_num_threads(1)  # one worker per core
    with tempfile.TemporaryDirectory() as out:
        config = config_for(job, out)
        trainer = Trainer(config, progress=False, tensorboard=False)
        start = time.perf_counter()
        for _ in range(steps):
            trainer.train_step()
        seconds = time.perf_counter() - start
    evaluator = Evaluator("modes", trainer.dataset, config.data.source, n=samples, device=trainer.device,
                          progress=False)
    result = evaluator.score_generator(trainer.ema.model, seed=10_000 + seed)
    return {"protocol": protocol, "key": key, "seed": seed, "steps": steps, "seconds": seconds,
            "eval_seconds": result.protocol["seconds"], **result.scores}


def time_run(job: Job, steps: int) -> dict:
    """Times `steps` G steps of a run on one thread, as a worker trains it (milliseconds per step, and those in
    matrix products and convolutions), and its count, from 1,000 samples counted after as many of warm-up."""
    import torch

    from steadygan.metrics import Evaluator
    from steadygan.train import Trainer

    protocol, key, _, run_budget, samples, _, _ = job
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as out:
        config = config_for(job, out)
        trainer = Trainer(config, progress=False, tensorboard=False)
        milliseconds, in_kernels = time_steps(trainer.train_step, steps, MATRIX_PRODUCTS | CONVOLUTIONS)
    counted = min(samples, 1000)
    evaluator = Evaluator("modes", trainer.dataset, config.data.source, n=counted, device=trainer.device,
                          progress=False)
    evaluator.score_generator(trainer.ema.model, seed=0)  # warm-up: the classifier's loading, kernel selection
    start = time.perf_counter()
    evaluator.score_generator(trainer.ema.model, seed=1)
    return {"protocol": protocol, "key": key, "steps": run_budget, "ms": milliseconds, "kernels_ms": in_kernels,
            "count": (time.perf_counter() - start) * samples / counted}


def estimate(jobs: list[Job], steps: int, workers: int) -> str:
    """The table's expected wall time from `steps` timed G steps of one seed's run of each row, and its floor: the
    time of its matrix products and convolutions alone, which no saving in the rest of a step removes."""
    lines = [(f"One seed's run of each row timed for {steps} G steps on one thread (as a worker trains it), after 3 "
              "steps of warm-up, and its count from 1,000 samples; every seed of a row costs the same."), "",
             ("| protocol | row | ms per G step | of it in matrix products and convolutions | G steps | "
              "s train / run | s count / run | runs |"), "|---|---|---|---|---|---|---|---|"]
    timed: dict[tuple[str, str], dict] = {}
    for job in jobs:
        if (job[0], job[1]) in timed:
            continue
        run = timed[job[0], job[1]] = time_run(job, steps)
        seeds = sum(1 for other in jobs if other[:2] == job[:2])
        lines.append(f"| {run['protocol']} | {ROWS[run['key']].label} | {run['ms']:.0f} | {run['kernels_ms']:.0f} "
                     f"({100 * run['kernels_ms'] / run['ms']:.0f}%) | {run['steps']} | "
                     f"{run['ms'] * run['steps'] / 1000:.0f} | {run['count']:.0f} | {seeds} |")
        print(lines[-1], flush=True)
    runs = [timed[job[0], job[1]] for job in jobs]
    wall = makespan((r["ms"] * r["steps"] / 1000 + r["count"] for r in runs), workers)
    floor = makespan((r["kernels_ms"] * r["steps"] / 1000 for r in runs), workers)
    lines += ["", (f"The table ({len(jobs)} runs) on {workers} worker(s): {wall / 3600:.1f} h; its matrix products "
                   f"and convolutions alone {floor / 3600:.1f} h.")]
    return "\n".join(lines) + "\n"


def table(results: list[dict], keys: list[str], names: list[str], args: argparse.Namespace, seeds: range,
          samples: int) -> str:
    which = f", numbered {', '.join(map(str, seeds))}" if seeds.start else ""
    lines = [f"{len(seeds)} seed(s){which}; {samples} samples counted; mean ± std over seeds", ""]
    for name in names:
        protocol = protocols(args.width)[name]
        lines += [f"### {protocol.label}", "",
                  "| row | G steps | modes /1000 | KL | every seed | s train / run | s count / run |",
                  "|---|---|---|---|---|---|---|"]
        for key in keys:
            runs = sorted((r for r in results if r["key"] == key and r["protocol"] == name), key=lambda r: r["seed"])
            if not runs:
                continue
            each = ", ".join(f"{r['modes']} / {r['modes_kl']:.3f}" for r in runs)
            lines.append(f"| {ROWS[key].label} | {runs[0]['steps']} | {mean_std([r['modes'] for r in runs])} | "
                         f"{mean_std([r['modes_kl'] for r in runs], 3)} | {each} | "
                         f"{statistics.mean(r['seconds'] for r in runs):.0f} | "
                         f"{statistics.mean(r['eval_seconds'] for r in runs):.0f} |")
        lines += ["", "Published (28x28 stacked MNIST from the 60,000 training digits; the papers' full budgets):", "",
                  "| method | modes /1000 | KL | protocol |", "|---|---|---|---|"]
        lines += [f"| {method} | {modes} | {kl} | {source} |"
                  for protocol_name, method, modes, kl, source in PUBLISHED if protocol_name == name]
        lines.append("")
    return "\n".join(lines)


def decode_stacked(parser: argparse.ArgumentParser, mnist: str) -> None:
    """Decode (and cache) the stacked digits of the MNIST folder `mnist`; a folder that holds none stops with
    one `--data` error line."""
    from steadygan.config import DataConfig
    from steadygan.data import build_dataset
    from steadygan.errors import DataError

    try:
        build_dataset(DataConfig(source=f"stacked:{mnist}", resolution=32, channels=3))
    except DataError as error:
        parser.error(f"--data: {error}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 rows, 1 seed, 30 steps, 2,000 samples")
    parser.add_argument("--data", type=existing_data, default=str(SHARED_DATA / "mnist"),
                        help="a folder of MNIST IDX files")
    parser.add_argument("--steps", type=int, help="G steps of every run (default: the papers' rows VEEGAN 3000, "
                        "hard 4000, the recipe its own; quick 30)")
    parser.add_argument("--seeds", type=int, help=f"seeds per row (default {SEEDS}, quick 1)")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="the seed to count from (default 0): --first-seed 2 --seeds 1 adds a row's third seed")
    parser.add_argument("--width", type=int, default=WIDTH, help="G and D width of the VEEGAN protocol (papers: 64)")
    parser.add_argument("--rows", help="comma-separated subset of: " + ", ".join(ROWS))
    parser.add_argument("--protocols", default="veegan,hard", help="comma-separated subset of: veegan, hard")
    parser.add_argument("--workers", type=int, default=max(1, multiprocessing.cpu_count()))
    parser.add_argument("--out", type=RESULTS_FILE.check, default=str(RESULTS / "stacked-mnist.md"))
    parser.add_argument("--append", action="store_true",
                        help="add this run's table below the parts already in --out instead of replacing them")
    parser.add_argument("--estimate", type=int, metavar="STEPS",
                        help="train nothing to the end: time STEPS G steps of each row and write the table's expected "
                             "wall time and the part of it no faster code can save (to OUT-estimate.md)")
    args = parser.parse_args(argv)
    if args.estimate is not None:
        if args.estimate < 1:
            parser.error(f"--estimate must be 1 or more G steps, got {args.estimate}")
        try:
            estimate_out = RESULTS_FILE.check(str(args.out.with_name(f"{args.out.stem}-estimate.md")))
        except argparse.ArgumentTypeError as error:
            parser.error(f"--out: {error}")

    args.steps = args.steps or (30 if args.quick else None)
    args.seeds = args.seeds or (1 if args.quick else SEEDS)
    if args.first_seed < 0:
        parser.error(f"--first-seed must be 0 or more, got {args.first_seed}")
    samples = 2000 if args.quick else SAMPLES
    keys = args.rows.split(",") if args.rows else QUICK_ROWS if args.quick else list(ROWS)
    names = args.protocols.split(",")
    for chosen, known, what in ((keys, ROWS, "row"), (names, protocols(args.width), "protocol")):
        unknown = [k for k in chosen if k not in known]
        if unknown:
            parser.error(f"unknown {what} {unknown[0]!r}; choose from: {', '.join(known)}")

    # The stacked digits are decoded and cached once here, not raced for by the workers.
    decode_stacked(parser, args.data)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    jobs = plan(names, keys, seeds, args.steps, samples, args.data, args.width)
    command = " ".join(argv if argv is not None else sys.argv[1:])
    if args.estimate:
        text = f"Command: python bench/stacked_mnist.py {command}\n\n" + estimate(jobs, args.estimate, args.workers)
        RESULTS_FILE.publish(estimate_out, text)
        return 0
    results, wall = run_pool(run_one, jobs, args.workers, lambda r: (
        f"{r['protocol']} {ROWS[r['key']].label} seed {r['seed']}: {r['modes']} modes, KL {r['modes_kl']:.3f} "
        f"({r['seconds']:.0f} s + {r['eval_seconds']:.0f} s)"))
    text = f"Command: python bench/stacked_mnist.py {command}\n\n" + table(results, keys, names, args, seeds, samples)
    text += f"\nWall time {wall / 60:.1f} min with {args.workers} worker(s).\n"
    RESULTS_FILE.publish(args.out, text, append=args.append)
    return 0


if __name__ == "__main__":
    sys.exit(main())
