"""One training step: `optim.n_dis` D steps, then one G step, each composed of the techniques of its phase.

The step knows phases, never technique names: D's loss is the adversarial loss plus every D-step term
that is due, G's loss is G's objective plus every G-step term, and the techniques that act after an
update (constraints, state such as BEGAN's k_t or LeCam's averages, the EMA of G) run after it.
"""

from __future__ import annotations

from typing import Protocol

import torch

from ..config import OptimConfig
from ..data import BatchStream
from ..models import Discriminator, Generator, StyleGenerator
from ..optimizers import LR_SCHEDULES
from ..speed import Precision
from ..technique import DiscriminatorBatch, Draws, GeneratorBatch, Phase, Technique, Techniques
from .distributed import Ranks
from .doctor import gradient_norm
from .metrics_log import MetricsLog


class StepBatches(Protocol):
    """Where a step draws its latents and real batches: one run's `Batches`, or the seeds' `LaneBatches`."""

    stream: BatchStream

    def latents(self, n: int) -> tuple[torch.Tensor, torch.Tensor | None]: ...

    def real(self) -> tuple[torch.Tensor, torch.Tensor | None]: ...


def lazy(technique: Technique, term: torch.Tensor) -> torch.Tensor:
    """A term of a technique that acts every k-th time, weighted by k so that its expected gradient is
    that of acting every time."""
    return term if technique.interval == 1 else term * technique.interval


class AdversarialStep:
    def __init__(self, *, G: Generator, D: Discriminator, opt_G: torch.optim.Optimizer, opt_D: torch.optim.Optimizer,
                 techniques: Techniques, precision: Precision, ranks: Ranks, batches: StepBatches, metrics: MetricsLog,
                 optim: OptimConfig, total_steps: int, draws: Draws | None = None):
        """`draws`: where the units draw random numbers (torch's global generator by default)."""
        self.G, self.D, self.opt_G, self.opt_D = G, D, opt_G, opt_D
        self.draws = draws or Draws()
        self.techniques, self.precision, self.ranks = techniques, precision, ranks
        self.batches, self.metrics, self.optim, self.total_steps = batches, metrics, optim, total_steps
        self.lr_schedule = LR_SCHEDULES.get(optim.lr_decay)

    def __call__(self, step: int, lr_scale: float) -> None:
        """G update number `step` + 1 (0-based `step`), at `lr_scale` times the configured learning rates."""
        self.set_learning_rates(step, lr_scale)  # first: a STEP_START unit (the cosine ramps) may scale them
        for technique in self.techniques.at(Phase.STEP_START):
            technique.begin_step(step)
        self.G.train()
        self.D.train()
        for i in range(self.optim.n_dis):
            self.discriminator_step(step * self.optim.n_dis + i)
        self.generator_step(step)
        for technique in self.techniques.at(Phase.AFTER_G_STEP):
            technique.after_g_step(self.G, step + 1)

    def set_learning_rates(self, step: int, lr_scale: float) -> None:
        scale = lr_scale * self.lr_schedule(step, self.total_steps, self.optim.lr_decay_start)
        for optimizer, base in ((self.opt_G, self.optim.g_lr), (self.opt_D, self.optim.d_lr)):
            for group in optimizer.param_groups:
                group["lr"] = base * scale

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """G's training images: through the styles of the STYLES units when there are any."""
        if self.techniques.at(Phase.STYLES) and isinstance(self.G, StyleGenerator):  # their checks ensure one
            return self.G.synthesis(self.styles(z, labels))
        return self.G(z, labels)

    def styles(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """The styles of a style-based G's training batch, as each STYLES unit changes them."""
        G = self.G
        if not isinstance(G, StyleGenerator):
            raise TypeError(f"{type(G).__name__} has no styles; style techniques need a style-based architecture")
        ws = G.mapping(z, labels)
        for technique in self.techniques.at(Phase.STYLES):
            ws = technique.styles(ws, lambda: G.mapping(torch.randn_like(z), labels, update_average=False))
        return ws

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        for technique in self.techniques.at(Phase.D_INPUT):
            x = technique.augment(x)
        return x

    def augmented_fakes(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return self.augment(self.generate(z, labels))

    def augmented_real(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        real, labels = self.batches.real()
        return self.augment(real), labels

    def discriminator_step(self, update: int) -> None:
        """D update number `update` + 1 of the run."""
        D, loss = self.D, self.techniques.loss
        real, real_labels = self.batches.real()
        z, fake_labels = self.batches.latents(self.batches.stream.batch_size)
        with self.precision.autocast():
            with torch.no_grad():
                fake = self.generate(z, fake_labels)
            real, fake = self.augment(real), self.augment(fake)
            # Losses are reduced in float32 whatever precision the networks run at.
            real_out, fake_out = D(real, real_labels).float(), D(fake, fake_labels).float()
            batch = DiscriminatorBatch(D, real, fake, real_labels, fake_labels, real_out, fake_out, update, z,
                                       self.augmented_fakes, self.draws)
            terms = {t.name: lazy(t, t.d_term(batch)) for t in self.techniques.at(Phase.D_STEP) if t.due(update)}
            total = loss.d_term(batch) + sum(terms.values())
        self.opt_D.zero_grad(set_to_none=True)
        self.precision.backward(total, "D")
        self.ranks.average_gradients(D)  # before unscaling: an fp16 overflow on one rank skips the step on all
        self.precision.unscale(self.opt_D, "D")
        d_grad_norm = gradient_norm(D)
        self.precision.step(self.opt_D, "D")
        # Batch statistics (BEGAN's balance, WGAN's decision boundary) over the global batch.
        real_out, fake_out = self.ranks.gather(real_out.detach()), self.ranks.gather(fake_out.detach())
        acc_real, acc_fake = loss.accuracy(real_out, fake_out)
        outcome = DiscriminatorBatch(D, real, fake, real_labels, fake_labels, real_out, fake_out, update)
        after = {key: value for t in self.techniques.after_d_step() for key, value in t.after_d_step(outcome).items()}
        self.metrics.add({"d_loss": total.detach(), "d_real": real_out.mean(), "d_fake": fake_out.mean(),
                          "d_acc_real": acc_real, "d_acc_fake": acc_fake, "d_grad_norm": d_grad_norm,
                          **{k: v.detach() for k, v in terms.items()}, **after})

    def generator_step(self, step: int) -> None:
        G, D = self.G, self.D
        z, labels = self.batches.latents(self.batches.stream.batch_size)
        with self.precision.autocast():
            generated = self.generate(z, labels)
            fake = self.augment(generated)
            D.requires_grad_(False)  # G's step needs gradients through D, not for D's weights
            batch = GeneratorBatch(G, D, fake, labels, self.techniques.loss, self.augmented_real, self.opt_D, step,
                                   z, self.styles if isinstance(G, StyleGenerator) else None, generated,
                                   self.generate)
            terms = {t.name: lazy(t, t.g_term(batch)) for t in self.techniques.at(Phase.G_STEP) if t.due(step)}
            total = self.techniques.objective.g_term(batch) + sum(terms.values())
        self.opt_G.zero_grad(set_to_none=True)
        self.precision.backward(total, "G")
        self.ranks.average_gradients(G)
        self.precision.unscale(self.opt_G, "G")
        g_grad_norm = gradient_norm(G)
        self.precision.step(self.opt_G, "G")
        D.requires_grad_(True)
        self.metrics.add({"g_loss": total.detach(), "g_grad_norm": g_grad_norm,
                          **{k: v.detach() for k, v in terms.items()}})
