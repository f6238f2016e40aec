"""The optimizers (`optim.optimizer`) and learning-rate schedules (`optim.lr_decay`), each registered by name.

Every optimizer also gives its update as a differentiable function (`lookahead`), continuing from an
optimizer's current state, so that an unrolled D (Metz et al. 2017) looks ahead with the same rule
that trains it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch

from .registry import Registry

Tensors = list[torch.Tensor]
TINY = 1e-30  # inside square roots of look-ahead moments: a zero gradient keeps a finite derivative


class LookaheadRule:
    """One optimizer update as a function of parameters and gradients, built from the optimizer's state."""

    def step(self, params: Tensors, grads: tuple[torch.Tensor, ...]) -> Tensors:
        raise NotImplementedError


class LookaheadAdam(LookaheadRule):
    """Adam's update, continuing from an optimizer's current moments and step count."""

    def __init__(self, optimizer: torch.optim.Optimizer, parameters: Tensors):
        group = optimizer.param_groups[0]
        self.lr, (self.beta1, self.beta2), self.eps = group["lr"], group["betas"], group["eps"]
        states = [optimizer.state.get(p, {}) for p in parameters]
        self.m = [s.get("exp_avg", torch.zeros_like(p)) for s, p in zip(states, parameters, strict=True)]
        self.v = [s.get("exp_avg_sq", torch.zeros_like(p)) for s, p in zip(states, parameters, strict=True)]
        self.t = int(states[0].get("step", 0)) if states else 0

    def step(self, params: Tensors, grads: tuple[torch.Tensor, ...]) -> Tensors:
        self.t += 1
        self.m = [self.beta1 * m + (1 - self.beta1) * g for m, g in zip(self.m, grads, strict=True)]
        self.v = [self.beta2 * v + (1 - self.beta2) * g * g for v, g in zip(self.v, grads, strict=True)]
        c1, c2 = 1 - self.beta1 ** self.t, 1 - self.beta2 ** self.t
        return [p - self.lr * (m / c1) / ((v / c2 + TINY).sqrt() + self.eps)
                for p, m, v in zip(params, self.m, self.v, strict=True)]


class LookaheadRMSprop(LookaheadRule):
    """RMSprop's update (no momentum, not centered: WGAN's), continuing from the running squares."""

    def __init__(self, optimizer: torch.optim.Optimizer, parameters: Tensors):
        group = optimizer.param_groups[0]
        self.lr, self.alpha, self.eps = group["lr"], group["alpha"], group["eps"]
        states = [optimizer.state.get(p, {}) for p in parameters]
        self.square = [s.get("square_avg", torch.zeros_like(p)) for s, p in zip(states, parameters, strict=True)]

    def step(self, params: Tensors, grads: tuple[torch.Tensor, ...]) -> Tensors:
        self.square = [self.alpha * s + (1 - self.alpha) * g * g for s, g in zip(self.square, grads, strict=True)]
        return [p - self.lr * g / ((s + TINY).sqrt() + self.eps)
                for p, g, s in zip(params, grads, self.square, strict=True)]


@dataclass(frozen=True)
class OptimizerKind:
    build: Callable[[Iterable[torch.nn.Parameter], float, tuple[float, float]], torch.optim.Optimizer]
    lookahead: Callable[[torch.optim.Optimizer, Tensors], LookaheadRule]
    summary: str


OPTIMIZERS: Registry[OptimizerKind] = Registry("optimizer", key="optim.optimizer")
OPTIMIZERS.register("adam")(OptimizerKind(
    lambda params, lr, betas: torch.optim.Adam(params, lr=lr, betas=betas), LookaheadAdam,
    "Adam (Kingma & Ba 2015) with optim.*_betas"))
OPTIMIZERS.register("rmsprop")(OptimizerKind(
    lambda params, lr, betas: torch.optim.RMSprop(params, lr=lr), LookaheadRMSprop,
    "RMSprop, WGAN's (Arjovsky et al. 2017); the betas are not used"))


# The share of the base learning rate at a step: (step, total steps, fraction of steps at the full rate).
LearningRateSchedule = Callable[[int, int, float], float]
LR_SCHEDULES: Registry[LearningRateSchedule] = Registry("learning-rate schedule", key="optim.lr_decay")


@LR_SCHEDULES.register("none")
def constant(step: int, total: int, start: float) -> float:
    return 1.0


@LR_SCHEDULES.register("linear")
def linear_decay(step: int, total: int, start: float) -> float:
    """The full rate until `start` of the steps, then linearly to zero at the last step (SN-GAN's)."""
    remaining = 1.0 - step / total
    return min(1.0, remaining / (1.0 - start))
