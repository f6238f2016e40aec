"""G's objective, selected by `loss.g_objective`: a technique of the G step that maps the fakes (as D
sees them) to G's loss. The adversarial objective trains G against D itself, or against D after K
look-ahead updates when `loss.unrolled_steps` = K > 0 (Metz et al. 2017).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import torch
from torch.func import functional_call

from .config import Config
from .errors import ConfigError
from .losses import AdversarialLoss
from .optimizers import OPTIMIZERS, LookaheadAdam, LookaheadRule
from .registry import Registry
from .technique import Critic, GeneratorBatch, Phase, Technique

G_OBJECTIVES: Registry[type[Objective]] = Registry("G objective", key="loss.g_objective")
Batch = tuple[torch.Tensor, torch.Tensor | None, torch.Tensor, torch.Tensor | None]


class Objective(Technique):
    """G's loss for one G step."""

    phases: ClassVar[tuple[Phase, ...]] = (Phase.G_STEP,)

    @classmethod
    def from_config(cls, config: Config) -> Objective:
        return cls()


@G_OBJECTIVES.register("adversarial")
class Adversarial(Objective):
    """The adversarial loss's G part on D's outputs for the fakes. With K unrolled steps, D is first
    updated K times, as a function of its weights and of the fakes, on G's own batch of fakes and one
    batch of reals (Metz et al.'s reference code reuses the same samples in every unrolled step); D
    itself is not changed."""

    keys = ("loss.g_objective", "loss.unrolled_steps", "optim.optimizer")
    lane_separable = True  # the look-ahead rule is elementwise, with the optimizer's own (lane-scaled) epsilon

    def __init__(self, unrolled_steps: int = 0,
                 lookahead: Callable[[torch.optim.Optimizer, list[torch.Tensor]], LookaheadRule] = LookaheadAdam):
        self.unrolled_steps = unrolled_steps
        self.lookahead = lookahead  # D's optimizer's update rule, continuing from its state
        self.needs_second_derivative = unrolled_steps > 0

    @classmethod
    def from_config(cls, config: Config) -> Objective:
        return cls(config.loss.unrolled_steps, OPTIMIZERS.get(config.optim.optimizer).lookahead)

    def describe(self) -> str:
        return self.name + (f" through {self.unrolled_steps} unrolled D steps" if self.unrolled_steps else "")

    def g_term(self, batch: GeneratorBatch) -> torch.Tensor:
        critic: Critic = batch.D
        if self.unrolled_steps:
            real, real_labels = batch.real_batch()
            unrolled = [(real, real_labels, batch.fake, batch.labels)] * self.unrolled_steps
            critic = lookahead_critic(batch.D, batch.loss, self.lookahead(batch.d_optimizer, _parameters(batch.D)),
                                      unrolled)
        real_out = None
        if batch.loss.relativistic:
            real, real_labels = batch.real_batch()
            real_out = critic(real, real_labels).float()
        return batch.loss.g_loss(critic(batch.fake, batch.labels).float(), real_out)


@G_OBJECTIVES.register("feature_matching")
class FeatureMatching(Objective):
    """Salimans et al. 2016: |E f(x) - E f(G(z))|^2 for D's last feature layer f."""

    keys = ("loss.g_objective",)

    @classmethod
    def check(cls, config: Config) -> None:
        if config.loss.unrolled_steps:
            raise ConfigError("loss.unrolled_steps needs loss.g_objective=adversarial (feature matching uses D's "
                              "features, which are not unrolled)")

    def g_term(self, batch: GeneratorBatch) -> torch.Tensor:
        real, _ = batch.real_batch()
        D = batch.D
        with torch.no_grad():
            target = D.features(D.packed(real)).float().mean(dim=0)
        return (D.features(D.packed(batch.fake)).float().mean(dim=0) - target).pow(2).sum()


def _parameters(D: torch.nn.Module) -> list[torch.Tensor]:
    return [p for _, p in D.named_parameters()]


def lookahead_critic(D: torch.nn.Module, loss: AdversarialLoss, rule: LookaheadRule, batches: list[Batch]) -> Critic:
    """D after one update of `rule` per (real, real labels, fake, fake labels) batch, as a function of the
    fakes, so that G's gradient flows through the updates. D's weights enter as constants: G's step
    trains none of them."""
    names = [name for name, _ in D.named_parameters()]
    buffers = dict(D.named_buffers())
    current = [p.detach().requires_grad_(True) for _, p in D.named_parameters()]

    def call(x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return functional_call(D, {**dict(zip(names, current, strict=True)), **buffers}, (x, y)).float()

    for real, real_labels, fake, fake_labels in batches:
        d_loss = loss.d_loss(call(real, real_labels), call(fake, fake_labels))
        grads = torch.autograd.grad(d_loss, current, create_graph=True)
        current = rule.step(current, grads)
    return call
