"""R3GAN's cosine ramps (Huang et al. 2024): over `optim.ramp_kimg` thousand G images the learning rates,
Adam's beta2 and the R1/R2 gammas move from their configured values to their ramp_* ones along half a
cosine, then stay there. The values are a function of the step, so a resumed run needs no state.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from .config import Config, OptimConfig
from .errors import ConfigError
from .regularizers import R1Penalty
from .technique import Phase, Technique


def cosine_progress(images: float, total: float) -> float:
    """How far along a cosine ramp of `total` images is after `images`: 0 at the start, 1 from the end on."""
    return 0.5 * (1 - math.cos(math.pi * min(images / total, 1.0)))


class CosineRamps(Technique):
    """At the start of every step, sets each optimizer's rates (already set from the configured ones) to
    their share along the ramp, its beta2, and the gamma of every R1/R2 penalty."""

    name = "cosine_ramps"
    keys = ("optim.ramp_kimg", "optim.ramp_lr_share", "optim.ramp_beta2", "optim.ramp_gamma_share")
    phases = (Phase.STEP_START,)
    lane_separable = True

    def __init__(self, optim: OptimConfig, optimizers: Sequence[torch.optim.Optimizer], penalties: Sequence[R1Penalty],
                 images: Callable[[int], int]):
        self.total, self.lr_share = optim.ramp_kimg * 1000, optim.ramp_lr_share
        self.beta2, self.gamma_share = optim.ramp_beta2, optim.ramp_gamma_share
        self.optimizers, self.images = optimizers, images
        self.penalties = [(penalty, penalty.gamma) for penalty in penalties]
        self.start_beta2 = [[group["betas"][1] for group in o.param_groups] if "betas" in o.defaults else []
                            for o in optimizers]
        self.progress = 0.0

    @classmethod
    def from_config(cls, config: Config, optimizers: Sequence[torch.optim.Optimizer], units: Sequence[Technique],
                    images: Callable[[int], int]) -> CosineRamps | None:
        if config.optim.ramp_kimg <= 0:
            return None
        return cls(config.optim, optimizers, [u for u in units if isinstance(u, R1Penalty)], images)

    @classmethod
    def check(cls, config: Config) -> None:
        optim, defaults = config.optim, OptimConfig()
        names = [key.split(".")[1] for key in cls.keys[1:]]
        changed = [name for name in names if getattr(optim, name) != getattr(defaults, name)]
        if changed and optim.ramp_kimg <= 0:
            raise ConfigError(f"optim.{changed[0]} sets where a cosine ramp ends, but optim.ramp_kimg=0 leaves the "
                              "ramps off; set optim.ramp_kimg (R3GAN: 20000) or remove it")

    def begin_step(self, step: int) -> None:
        s = self.progress = cosine_progress(self.images(step), self.total)
        for optimizer, betas in zip(self.optimizers, self.start_beta2, strict=True):
            for group, start in zip(optimizer.param_groups, betas or [None] * len(optimizer.param_groups),
                                    strict=True):
                group["lr"] *= 1 + s * (self.lr_share - 1)
                if start is not None:
                    group["betas"] = (group["betas"][0], start + s * (self.beta2 - start))
        for penalty, gamma in self.penalties:
            penalty.gamma = gamma * (1 + s * (self.gamma_share - 1))

    def status(self) -> str:
        return f"ramps {100 * self.progress:.0f}%"
