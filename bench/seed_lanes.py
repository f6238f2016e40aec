"""Seeds as lanes of one vectorised model against the same seeds trained one by one: speed and equality.

    python bench/seed_lanes.py                      # toy2d and toy2d-stable on the grid, 5 seeds, on the CPU
    python bench/seed_lanes.py --device cuda        # the same on a GPU

For each recipe, one process trains the seeds as lanes (`steadygan.train.lanes.SeedLanes`) and as separate
runs (`Trainer`) in alternating rounds of `--steps` G steps, and prints the milliseconds per G step of
one seed both ways and their ratio (the separate runs are stepped in turn, each with its own state of
torch's generator). After the last round it compares every lane with its own seed's run:
the largest difference of the sampling generator's weights, relative to the weight's largest value, and
of 2,500 samples drawn from the same latents, and the modes and high-quality share each gives.

Writes bench/results/seed-lanes.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from common import SeparateSeeds, describe_machine

RECIPES = ("toy2d", "toy2d-stable")


def measure(recipe: str, seeds: list[int], steps: int, rounds: int, device: str) -> dict:
    import torch

    from steadygan.config import load_config
    from steadygan.data import MIXTURES, toy_centres
    from steadygan.metrics import mode_coverage
    from steadygan.sampling import generate, sample_latents
    from steadygan.train.lanes import SeedLanes

    total = steps * rounds
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

        for _ in range(rounds):  # alternating, so that a busy machine slows both alike
            timed("lanes", lambda: [lanes.train_step() for _ in range(steps)])
            timed("one by one", lambda: [separate.train_step() for _ in range(steps)])
        z = sample_latents(2500, lanes.G.z_dim, torch.Generator().manual_seed(10_000))
        weights, samples, coverage = 0.0, 0.0, []
        for k in range(len(seeds)):
            lane, own = lanes.generator(k), separate.generator(k)
            for value, expected in zip(lane.state_dict().values(), own.state_dict().values(), strict=True):
                scale = float(expected.float().abs().max()) or 1.0
                weights = max(weights, float((value.float() - expected.float()).abs().max()) / scale)
            a, b = generate(lane, z).cpu(), generate(own, z).cpu()
            samples = max(samples, float((a - b).abs().max()))
            centres, std = toy_centres("grid25"), MIXTURES["grid25"]
            coverage.append((mode_coverage(a, centres, std), mode_coverage(b, centres, std)))
    per_step = {name: 1000 * seconds / (total * len(seeds)) for name, seconds in timings.items()}
    return {"recipe": recipe, "steps": total, "per_step": per_step, "weights": weights, "samples": samples,
            "coverage": coverage}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=100, help="G steps per round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--recipes", default=",".join(RECIPES))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "seed-lanes.md"))
    args = parser.parse_args(argv)

    import torch

    if not args.device.startswith("cuda"):
        torch.set_num_threads(1)  # one core, as each benchmark worker has
    seeds = list(range(args.seeds))
    machine = describe_machine(args.device.startswith("cuda"))
    lines = [(f"{args.seeds} seeds on grid25, {args.rounds} alternating rounds of {args.steps} G steps each way, on "
              f"{machine}; ms per G step of one seed"), "",
             ("| recipe | lanes | one by one | speed-up | largest weight difference (relative) | "
              "largest sample difference | modes, lanes / one by one | % HQ, lanes / one by one |"),
             "|---|---|---|---|---|---|---|---|"]
    for recipe in args.recipes.split(","):
        r = measure(recipe, seeds, args.steps, args.rounds, args.device)
        lanes, alone = r["per_step"]["lanes"], r["per_step"]["one by one"]
        modes = ", ".join(f"{a.modes}/{b.modes}" for a, b in r["coverage"])
        quality = ", ".join(f"{100 * a.high_quality:.1f}/{100 * b.high_quality:.1f}" for a, b in r["coverage"])
        lines.append(f"| {recipe} | {lanes:.2f} | {alone:.2f} | {alone / lanes:.2f}x | {r['weights']:.1e} | "
                     f"{r['samples']:.1e} | {modes} | {quality} |")
        print(lines[-1], flush=True)
    command = " ".join(argv if argv is not None else sys.argv[1:])
    text = f"Command: python bench/seed_lanes.py {command}\n\n" + "\n".join(lines) + "\n"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
