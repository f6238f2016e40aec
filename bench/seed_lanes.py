"""Seeds as lanes of one vectorised model against the same seeds trained one by one: speed and equality.

    python bench/seed_lanes.py                      # toy2d and toy2d-stable on the grid, 5 seeds, on the CPU
    python bench/seed_lanes.py --device cuda        # the same on a GPU

For each recipe, one process trains the seeds as lanes (`steadygan.train.lanes.SeedLanes`) and as separate
runs (`Trainer`) in alternating rounds of `--steps` G steps, and prints the milliseconds per G step of
one seed both ways and their ratio (the separate runs are stepped in turn, each with its own state of
torch's generator). It compares every lane's G with its own seed's after the first G step and after the
last round, and then the samples of the sampling generator (the EMA when the recipe keeps one) from the
same 2,500 latents: their largest difference, and the modes and high-quality share each gives.

The control row runs the first seed one by one twice, the second time with every initial weight of G
changed by one float32 rounding step (a factor 1 + 2^-23). A GAN amplifies rounding differences (Adam
divides gradients near zero by its epsilon, and the game is chaotic at these learning rates), so after some
hundred steps two such runs are different draws from the same training; the lanes, whose batched kernels
round differently from the single runs', should differ from their own runs no more than the control does.
Differences are relative: the norm of the difference of all G's weights over the norm of the weights.

Writes bench/results/seed-lanes.md.
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time

from common import RESULTS, ResultsFile, SeparateSeeds, describe_machine

RESULTS_FILE = ResultsFile(__file__)

RECIPES = ("toy2d", "toy2d-stable")


def relative_difference(network, reference) -> float:
    """The norm of the difference of two networks' parameters over the norm of the reference's."""
    import torch

    a = torch.cat([p.detach().float().flatten() for p in network.parameters()])
    b = torch.cat([p.detach().float().flatten() for p in reference.parameters()])
    return float((a - b).norm() / b.norm())


def control(recipe: str, seed: int, steps: int) -> dict:
    """One seed's run beside the same run from G's weights changed by a rounding step: G's difference after 1
    and after `steps` steps."""
    import torch

    from steadygan.config import load_config

    overrides = ["data.source=grid25", f"train.steps={steps}"]
    runs, first = [], []
    with tempfile.TemporaryDirectory() as out:
        for nudge in (0.0, 2.0**-23):
            run = SeparateSeeds(load_config(recipe, overrides), [seed], f"{out}/{len(runs)}")
            with torch.no_grad():
                for parameter in run.trainers[0].G.parameters():
                    parameter.mul_(1 + nudge)
            run.train_step()
            first.append(copy.deepcopy(run.trainers[0].G))
            for _ in range(steps - 1):
                run.train_step()
            runs.append(run.trainers[0].G)
    return {"first": relative_difference(first[0], first[1]), "weights": relative_difference(runs[0], runs[1])}


def measure(recipe: str, seeds: list[int], steps: int, rounds: int, device: str) -> dict:
    import torch

    from steadygan.config import load_config
    from steadygan.data import MIXTURES, toy_centres
    from steadygan.metrics import mode_coverage
    from steadygan.sampling import generate, sample_latents
    from steadygan.train.lanes import SeedLanes

    total = steps * rounds + 1  # the first step, compared before the timed rounds
    overrides = ["data.source=grid25", f"train.steps={total}", f"train.device={device}"]
    with tempfile.TemporaryDirectory() as out:
        config = load_config(recipe, overrides)
        lanes = SeedLanes(config, seeds, f"{out}/lanes")
        separate = SeparateSeeds(config, seeds, f"{out}/separate")
        timings: dict[str, float] = {"lanes": 0.0, "one by one": 0.0}

        def timed(name: str, work) -> None:
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            start = time.perf_counter()
            work()
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            timings[name] += time.perf_counter() - start

        lanes.train_step()
        separate.train_step()
        first = max(relative_difference(lanes.G.lane(k), trainer.G) for k, trainer in enumerate(separate.trainers))
        for _ in range(rounds):  # alternating, so that a busy machine slows both alike
            timed("lanes", lambda: [lanes.train_step() for _ in range(steps)])
            timed("one by one", lambda: [separate.train_step() for _ in range(steps)])
        z = sample_latents(2500, lanes.G.z_dim, torch.Generator().manual_seed(10_000))
        weights, samples, coverage = 0.0, 0.0, []
        for k in range(len(seeds)):
            lane, own = lanes.generator(k), separate.generator(k)
            weights = max(weights, relative_difference(lanes.G.lane(k), separate.trainers[k].G))
            a, b = generate(lane, z).cpu(), generate(own, z).cpu()
            samples = max(samples, float((a - b).abs().max()))
            centres, std = toy_centres("grid25"), MIXTURES["grid25"]
            coverage.append((mode_coverage(a, centres, std), mode_coverage(b, centres, std)))
    per_step = {name: 1000 * seconds / (steps * rounds * len(seeds)) for name, seconds in timings.items()}
    return {"recipe": recipe, "steps": total, "per_step": per_step, "first": first, "weights": weights,
            "samples": samples, "coverage": coverage}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=100, help="G steps per round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--recipes", default=",".join(RECIPES))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=RESULTS_FILE.check, default=str(RESULTS / "seed-lanes.md"))
    args = parser.parse_args(argv)

    import torch

    if not args.device.startswith("cuda"):
        torch.set_num_threads(1)  # one core, as each benchmark worker has
    seeds = list(range(args.seeds))
    machine = describe_machine(args.device.startswith("cuda"))
    lines = [(f"{args.seeds} seeds on grid25, {args.rounds} alternating rounds of {args.steps} G steps each way, on "
              f"{machine}; ms per G step of one seed"), "",
             ("| recipe | lanes | one by one | speed-up | G, after 1 step / at the end (relative) | "
              "largest sample difference | modes, lanes / one by one | % HQ, lanes / one by one |"),
             "|---|---|---|---|---|---|---|---|"]
    for recipe in args.recipes.split(","):
        r = measure(recipe, seeds, args.steps, args.rounds, args.device)
        lanes, alone = r["per_step"]["lanes"], r["per_step"]["one by one"]
        modes = ", ".join(f"{a.modes}/{b.modes}" for a, b in r["coverage"])
        quality = ", ".join(f"{100 * a.high_quality:.1f}/{100 * b.high_quality:.1f}" for a, b in r["coverage"])
        lines.append(f"| {recipe} | {lanes:.2f} | {alone:.2f} | {alone / lanes:.2f}x | "
                     f"{r['first']:.1e} / {r['weights']:.1e} | {r['samples']:.1e} | {modes} | {quality} |")
        print(lines[-1], flush=True)
        same = control(recipe, seeds[0], r["steps"])
        lines.append(f"| control: {recipe}, seed {seeds[0]} one by one, G's initial weights x (1 + 2^-23) | | | | "
                     f"{same['first']:.1e} / {same['weights']:.1e} | | | |")
        print(lines[-1], flush=True)
    command = " ".join(argv if argv is not None else sys.argv[1:])
    text = f"Command: python bench/seed_lanes.py {command}\n\n" + "\n".join(lines) + "\n"
    RESULTS_FILE.publish(args.out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
