"""Regularizers of the discriminator (and of G's weights), each a small named unit.

D penalties see one D step's batch and return a term added to D's loss; weight penalties see a
network; constraints act on a network's weights after its optimizer step. `build_regularizers` turns
a `regularize:` config section into the lists the trainer runs, so the loop never names a technique.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from .config import RegularizeConfig
from .nn import WEIGHTED_LAYERS, EqualizedConv2d, EqualizedLinear

Critic = Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]


@dataclass
class DiscriminatorBatch:
    """What one D step saw: D's inputs (after any augmentation), labels and outputs."""

    D: Critic
    real: torch.Tensor
    fake: torch.Tensor
    real_labels: torch.Tensor | None
    fake_labels: torch.Tensor | None
    real_out: torch.Tensor
    fake_out: torch.Tensor


def input_gradient(D: Critic, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """d sum(D(x)) / dx per sample, kept in the graph so that a penalty on it can be trained."""
    x = x.detach().requires_grad_(True)
    with torch.autocast(x.device.type, enabled=False):  # the weights' precision (float32) under mixed precision
        (grad,) = torch.autograd.grad(D(x, labels).sum(), x, create_graph=True)
    return grad.flatten(1)


class GradientPenalty:
    """WGAN-GP (Gulrajani et al. 2017): lambda * E[(|grad D(x_hat)| - 1)^2] on random interpolates
    x_hat between real and fake samples; one-sided, only norms above 1 are penalised."""

    name = "gradient_penalty"

    def __init__(self, weight: float = 10.0, one_sided: bool = False):
        self.weight = weight
        self.one_sided = one_sided

    def interpolate(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        eps = torch.rand(len(real), *([1] * (real.ndim - 1)), device=real.device, dtype=real.dtype)
        return eps * real.detach() + (1 - eps) * fake.detach()

    def __call__(self, batch: DiscriminatorBatch) -> torch.Tensor:
        norm = input_gradient(batch.D, self.interpolate(batch.real, batch.fake), batch.real_labels).norm(dim=1)
        excess = (norm - 1).clamp(min=0) if self.one_sided else norm - 1
        return self.weight * excess.pow(2).mean()


class R1Penalty:
    """R1 (Mescheder et al. 2018): gamma / 2 * E[|grad D(x)|^2] on real samples."""

    name = "r1"

    def __init__(self, gamma: float):
        self.gamma = gamma

    def samples(self, batch: DiscriminatorBatch) -> tuple[torch.Tensor, torch.Tensor | None]:
        return batch.real, batch.real_labels

    def __call__(self, batch: DiscriminatorBatch) -> torch.Tensor:
        x, labels = self.samples(batch)
        return 0.5 * self.gamma * input_gradient(batch.D, x, labels).pow(2).sum(dim=1).mean()


class R2Penalty(R1Penalty):
    """R2: the same penalty on generated samples."""

    name = "r2"

    def samples(self, batch: DiscriminatorBatch) -> tuple[torch.Tensor, torch.Tensor | None]:
        return batch.fake, batch.fake_labels


class DriftPenalty:
    """PGGAN's drift term (Karras et al. 2018): eps * E[D(x)^2] on reals keeps a critic near zero."""

    name = "drift"

    def __init__(self, eps: float = 0.001):
        self.eps = eps

    def __call__(self, batch: DiscriminatorBatch) -> torch.Tensor:
        return self.eps * batch.real_out.pow(2).mean()


def layer_weights(network: nn.Module) -> list[torch.Tensor]:
    """The trainable weight of every conv/linear layer (the raw one under spectral norm)."""
    weights = []
    for module in network.modules():
        if isinstance(module, WEIGHTED_LAYERS):
            parametrized = getattr(module, "parametrizations", None)
            weights.append(parametrized.weight.original if parametrized is not None else module.weight)
    return weights


def linear_maps(network: nn.Module) -> list[torch.Tensor]:
    """The weight every conv/linear layer applies: the trainable one, scaled as equalized-LR layers do."""
    scaled = [m.weight * m.scale for m in network.modules() if isinstance(m, (EqualizedConv2d, EqualizedLinear))]
    return layer_weights(network) + scaled


class OrthogonalRegularization:
    """BigGAN's (Brock et al. 2019) beta * sum |W W^T * (1 - I)|_F^2 over layers, with each filter a row
    of W: it pushes filters towards orthogonality without constraining their norms."""

    def __init__(self, beta: float, name: str):
        self.beta = beta
        self.name = name

    def __call__(self, network: nn.Module) -> torch.Tensor:
        total = torch.zeros((), device=next(network.parameters()).device)
        for weight in linear_maps(network):
            rows = weight.flatten(1)
            gram = rows @ rows.t()
            total = total + (gram * (1 - torch.eye(len(gram), device=gram.device))).pow(2).sum()
        return self.beta * total


class WeightClipping:
    """WGAN (Arjovsky et al. 2017): every D parameter clamped to [-c, c] after each D update."""

    name = "weight_clip"

    def __init__(self, c: float = 0.01):
        self.c = c

    @torch.no_grad()
    def __call__(self, network: nn.Module) -> None:
        for parameter in network.parameters():
            parameter.clamp_(-self.c, self.c)


def orthogonal_init(network: nn.Module) -> nn.Module:
    """Orthogonal initialization (Saxe et al. 2014) of every conv/linear weight, as BigGAN uses."""
    for weight in layer_weights(network):
        nn.init.orthogonal_(weight)
    return network


@dataclass
class Regularizers:
    d_penalties: list  # (DiscriminatorBatch) -> term of D's loss
    d_weight_penalties: list  # (D) -> term of D's loss
    g_weight_penalties: list  # (G) -> term of G's loss
    d_constraints: list  # (D) -> None, after each D update


def build_regularizers(cfg: RegularizeConfig) -> Regularizers:
    """The units a config switches on (a weight of 0 leaves a unit off)."""
    d_penalties = [make(value) for value, make in (
        (cfg.gradient_penalty, lambda w: GradientPenalty(w, cfg.gp_one_sided)),
        (cfg.r1, R1Penalty),
        (cfg.r2, R2Penalty),
        (cfg.drift, DriftPenalty),
    ) if value > 0]
    return Regularizers(
        d_penalties=d_penalties,
        d_weight_penalties=[OrthogonalRegularization(cfg.ortho_d, "ortho_d")] if cfg.ortho_d > 0 else [],
        g_weight_penalties=[OrthogonalRegularization(cfg.ortho_g, "ortho_g")] if cfg.ortho_g > 0 else [],
        d_constraints=[WeightClipping(cfg.weight_clip)] if cfg.weight_clip > 0 else [],
    )
