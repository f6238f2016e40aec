"""Seeds of one configuration trained together, as lanes of one vectorised model (torch.func).

A benchmark row trains one config with several seeds. `SeedLanes` builds the run of every seed as
`TrainingRun` does (its initial weights, data order, latents and the state of torch's generator), then
trains them as one: G and D become `GeneratorLanes` and `DiscriminatorLanes` over the stacked weights,
each step's batch is the seeds' batches one after another, each seed's random draws come from its own
generator, and the step, the loss and every technique are the ordinary ones. Their terms are means over
samples, so the lanes' loss is the mean of the seeds' losses and each seed's gradient 1/S of its own
run's, which Adam and RMSprop follow exactly when their epsilon is divided by S too. Lane k thus follows
the run of seed k, up to float rounding (tests/test_lanes.py). Only techniques that declare
`lane_separable` train as lanes; the others are refused by name.

Lanes are for measuring: they keep no checkpoints, logs or sample grids; `lane(k)` gives each seed's
generator (its EMA when the config keeps one) to score.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import cast

import torch

from ..config import Config, from_dict
from ..errors import ConfigError
from ..models import Generator
from ..models.lanes import DiscriminatorLanes, GeneratorLanes
from ..technique import Draws
from .batches import Batches
from .ema import standing_statistics
from .metrics_log import MetricsLog
from .run import TrainingRun, build_training_parts
from .step import AdversarialStep


class LaneBatches:
    """Every seed's batches one after another: what the step draws from."""

    def __init__(self, lanes: Sequence[Batches]):
        self.lanes = list(lanes)
        self.stream = self.lanes[0].stream  # the batch size of one lane

    def latents(self, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        drawn = [lane.latents(n) for lane in self.lanes]
        labels = [y for _, y in drawn if y is not None]
        return torch.cat([z for z, _ in drawn]), torch.cat(labels) if labels else None

    def real(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        drawn = [lane.real() for lane in self.lanes]
        labels = [y for _, y in drawn if y is not None]
        return torch.cat([x for x, _ in drawn]), torch.cat(labels) if labels else None


class LaneDraws(Draws):
    """Each lane's block of a draw from that seed's own generator."""

    def __init__(self, generators: Sequence[torch.Generator]):
        self.generators = list(generators)

    def uniform(self, like: torch.Tensor, *shape: int) -> torch.Tensor:
        per_lane = len(like) // len(self.generators)
        return torch.cat([torch.rand(per_lane, *shape, generator=g, device=g.device, dtype=like.dtype)
                          for g in self.generators]).to(like.device)


def current_generator(device: torch.device) -> torch.Generator:
    """A generator in the state that torch's global generator for `device` is in now."""
    generator = torch.Generator(device=device)
    generator.set_state(torch.cuda.get_rng_state(device) if device.type == "cuda" else torch.get_rng_state())
    return generator


def seed_config(config: Config, seed: int, out_dir: str | Path) -> Config:
    """A copy of `config` for one seed, its run folder `seed-N` under `out_dir`."""
    seeded = from_dict(config.to_dict())
    seeded.train.seed, seeded.train.out_dir = seed, str(Path(out_dir) / f"seed-{seed}")
    return seeded


class SeedLanes:
    """The runs of `config` with each of `seeds`, trained as lanes of one model."""

    def __init__(self, config: Config, seeds: Sequence[int], out_dir: str | Path):
        """`out_dir`: an empty folder for the seeds' run folders (each holds its lock while building)."""
        if len(set(seeds)) != len(seeds) or not seeds:
            raise ConfigError(f"lanes need distinct seeds, got {list(seeds)}")
        runs, generators = [], []
        for seed in seeds:
            run = TrainingRun(seed_config(config, seed, out_dir), progress=False, tensorboard=False)
            run.run.release()
            runs.append(run)
            generators.append(current_generator(run.device))  # where the seed's own run would start drawing
        first = runs[0]
        blocked = [t.name for t in first.techniques.all() if not t.lane_separable]
        if blocked:
            raise ConfigError(f"{', '.join(blocked)} cannot train seeds as lanes of one model (a term over the whole "
                              "batch, a network's features or weights, or draws of its own); train the seeds one "
                              "by one")
        self.config, self.seeds, self.step = first.config, list(seeds), 0
        self.G = GeneratorLanes([run.G for run in runs])
        self.D = DiscriminatorLanes([run.D for run in runs])
        parts = build_training_parts(self.config, self.G, self.D, first.dataset, first.stream)
        for optimizer in (parts.opt_G, parts.opt_D):
            for group in optimizer.param_groups:  # the lanes' gradients are 1/S of each run's
                group["eps"] /= len(seeds)
        self.ema = parts.ema
        self.step_once = AdversarialStep(
            G=self.G, D=self.D, opt_G=parts.opt_G, opt_D=parts.opt_D, techniques=parts.techniques,
            precision=first.precision, ranks=first.ranks, batches=LaneBatches([run.batches for run in runs]),
            metrics=MetricsLog(first.out_dir, tensorboard=False, write=False), optim=self.config.optim,
            total_steps=self.config.train.steps, draws=LaneDraws(generators))
        parts.schedule.begin_step(0)

    def train_step(self) -> None:
        """One G update of every lane, with its n_dis D updates."""
        self.step_once(self.step, 1.0)
        self.step += 1

    def generator(self, k: int) -> Generator:
        """The generator the run of seed `seeds[k]` samples from: its EMA (G itself when the decay is 0), with
        the batch-norm statistics it measures of its own, as the EMA of a run of its own does."""
        lane = cast(GeneratorLanes, self.ema.model).lane(k).eval()
        if self.step:
            standing_statistics(lane, self.config.train.ema_standing_stats, self.config.optim.batch_size)
        return lane
