"""G's objective, selected by `loss.g_objective`, and the unrolled discriminator G can be trained against.

An objective maps (trainer, critic, fake images as D sees them, their labels) to G's loss; `critic` is
D itself, or D after K look-ahead updates when `loss.unrolled_steps` = K > 0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch.func import functional_call

from ..losses import AdversarialLoss
from ..registry import Registry

if TYPE_CHECKING:
    from .trainer import Trainer

Critic = Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]
Objective = Callable[["Trainer", Critic, torch.Tensor, torch.Tensor | None], torch.Tensor]
G_OBJECTIVES: Registry[Objective] = Registry("G objective")


@G_OBJECTIVES.register("adversarial")
def adversarial(trainer: Trainer, critic: Critic, fake: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    return trainer.loss.g_loss(critic(fake, labels))


@G_OBJECTIVES.register("feature_matching")
def feature_matching(trainer: Trainer, critic: Critic, fake: torch.Tensor,
                     labels: torch.Tensor | None) -> torch.Tensor:
    """Salimans et al. 2016: |E f(x) - E f(G(z))|^2 for D's last feature layer f."""
    real, _ = trainer.real_batch()
    with torch.no_grad():
        target = trainer.D.features(trainer.augment(real)).float().mean(dim=0)
    return (trainer.D.features(fake).float().mean(dim=0) - target).pow(2).sum()


class LookaheadAdam:
    """Adam's update as a differentiable function, continuing from an optimizer's current moments."""

    def __init__(self, optimizer: torch.optim.Optimizer, parameters: list[torch.Tensor]):
        group = optimizer.param_groups[0]
        self.lr, (self.beta1, self.beta2), self.eps = group["lr"], group.get("betas", (0.0, 0.0)), group.get("eps", 0.0)
        self.adam = isinstance(optimizer, torch.optim.Adam)
        states = [optimizer.state.get(p, {}) for p in parameters]
        self.m = [s.get("exp_avg", torch.zeros_like(p)) for s, p in zip(states, parameters, strict=True)]
        self.v = [s.get("exp_avg_sq", torch.zeros_like(p)) for s, p in zip(states, parameters, strict=True)]
        self.t = int(states[0].get("step", 0)) if states else 0

    def step(self, params: list[torch.Tensor], grads: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
        if not self.adam:  # other optimizers look ahead with plain gradient steps at their learning rate
            return [p - self.lr * g for p, g in zip(params, grads, strict=True)]
        self.t += 1
        self.m = [self.beta1 * m + (1 - self.beta1) * g for m, g in zip(self.m, grads, strict=True)]
        self.v = [self.beta2 * v + (1 - self.beta2) * g * g for v, g in zip(self.v, grads, strict=True)]
        c1, c2 = 1 - self.beta1 ** self.t, 1 - self.beta2 ** self.t
        return [p - self.lr * (m / c1) / ((v / c2 + 1e-30).sqrt() + self.eps)
                for p, m, v in zip(params, self.m, self.v, strict=True)]


def lookahead_critic(D: torch.nn.Module, loss: AdversarialLoss, optimizer: torch.optim.Optimizer,
                     batches: list[tuple[torch.Tensor, torch.Tensor | None, torch.Tensor, torch.Tensor | None]]
                     ) -> Critic:
    """D after one update per (real, real labels, fake, fake labels) batch, as a function of D's weights
    and of the fakes, so that G's gradient flows through the updates (Metz et al. 2017). D itself is
    not changed."""
    names, params = zip(*D.named_parameters(), strict=True)
    buffers = dict(D.named_buffers())
    rule = LookaheadAdam(optimizer, list(params))
    current = list(params)

    def call(x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return functional_call(D, {**dict(zip(names, current, strict=True)), **buffers}, (x, y)).float()

    for real, real_labels, fake, fake_labels in batches:
        d_loss = loss.d_loss(call(real, real_labels), call(fake, fake_labels))
        grads = torch.autograd.grad(d_loss, current, create_graph=True)
        current = rule.step(current, grads)
    return call


class Unroller:
    """Builds the critic G trains against: D itself (K = 0) or D after K look-ahead updates on G's own
    batch of fakes and one batch of reals, as in Metz et al.'s reference code, where every unrolled step
    reuses the same samples."""

    def __init__(self, steps: int):
        self.steps = steps

    def critic(self, trainer: Trainer, fake: torch.Tensor, labels: torch.Tensor | None) -> Critic:
        if self.steps == 0:
            return trainer.D
        real, real_labels = trainer.real_batch()
        batch = (trainer.augment(real), real_labels, fake, labels)
        return lookahead_critic(trainer.D, trainer.loss, trainer.opt_D, [batch] * self.steps)
