"""Regularizers of the discriminator (and of G's weights), each a small named technique.

D penalties add a term to D's loss in the D step; G's weight penalty adds one to G's loss; constraints
act on D's weights after its update. Each is switched on by its `regularize.*` weight (0 leaves it
off) and registered in REGULARIZERS, in the order their terms are added, so the loop never names one.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .config import Config
from .errors import ConfigError
from .nn import WEIGHTED_LAYERS, EqualizedConv2d, EqualizedLinear
from .registry import Registry
from .technique import Critic, DiscriminatorBatch, Draws, GeneratorBatch, Phase, Technique

REGULARIZERS: Registry[type[Regularizer]] = Registry("regularizer")


class Regularizer(Technique):
    """A technique switched on by a nonzero `regularize.<name>`, its weight."""

    def __init__(self, weight: float):
        self.weight = weight

    @classmethod
    def from_config(cls, config: Config) -> Regularizer | None:
        weight = getattr(config.regularize, cls.name)
        return cls(weight) if weight > 0 else None


def input_gradient(D: Critic, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """d sum(D(x)) / dx per sample, kept in the graph so that a penalty on it can be trained."""
    if x.dtype in (torch.bfloat16, torch.float16):  # G's images under mixed precision: D's weights are float32
        x = x.float()
    x = x.detach().requires_grad_(True)
    with torch.autocast(x.device.type, enabled=False):  # the weights' precision (float32) under mixed precision
        (grad,) = torch.autograd.grad(D(x, labels).sum(), x, create_graph=True)
    return grad.flatten(1)


@REGULARIZERS.register("gradient_penalty")
class GradientPenalty(Regularizer):
    """WGAN-GP (Gulrajani et al. 2017): lambda * E[(|grad D(x_hat)| - 1)^2] on random interpolates
    x_hat between real and fake samples; one-sided, only norms above 1 are penalised."""

    keys = ("regularize.gradient_penalty", "regularize.gp_one_sided")
    phases = (Phase.D_STEP,)
    needs_second_derivative = True
    lane_separable = True

    def __init__(self, weight: float = 10.0, one_sided: bool = False):
        self.weight = weight
        self.one_sided = one_sided

    @classmethod
    def from_config(cls, config: Config) -> Regularizer | None:
        reg = config.regularize
        return cls(reg.gradient_penalty, reg.gp_one_sided) if reg.gradient_penalty > 0 else None

    def interpolate(self, real: torch.Tensor, fake: torch.Tensor, draws: Draws | None = None) -> torch.Tensor:
        eps = (draws or Draws()).uniform(real, *([1] * (real.ndim - 1)))
        return eps * real.detach() + (1 - eps) * fake.detach()

    def d_term(self, batch: DiscriminatorBatch) -> torch.Tensor:
        x_hat = self.interpolate(batch.real, batch.fake, batch.draws)
        norm = input_gradient(batch.D, x_hat, batch.real_labels).norm(dim=1)
        excess = (norm - 1).clamp(min=0) if self.one_sided else norm - 1
        return self.weight * excess.pow(2).mean()


@REGULARIZERS.register("r1")
class R1Penalty(Regularizer):
    """R1 (Mescheder et al. 2018): gamma / 2 * E[|grad D(x)|^2] on real samples; with
    regularize.r1_interval = k > 1 only every k-th D step, weighted by k (StyleGAN2's lazy form)."""

    keys = ("regularize.r1", "regularize.r1_interval")
    phases = (Phase.D_STEP,)
    needs_second_derivative = True
    lane_separable = True

    def __init__(self, gamma: float, interval: int = 1):
        self.gamma = gamma
        self.interval = interval

    @classmethod
    def from_config(cls, config: Config) -> Regularizer | None:
        gamma = getattr(config.regularize, cls.name)
        return cls(gamma, config.regularize.r1_interval) if gamma > 0 else None

    @classmethod
    def check(cls, config: Config) -> None:
        reg = config.regularize
        if reg.r1_interval > 1 and not (reg.r1 or reg.r2):
            raise ConfigError(f"regularize.r1_interval={reg.r1_interval} spaces out R1 and R2, which are off; set "
                              "regularize.r1 (or r2) above 0, or regularize.r1_interval=1")

    def samples(self, batch: DiscriminatorBatch) -> tuple[torch.Tensor, torch.Tensor | None]:
        return batch.real, batch.real_labels

    def d_term(self, batch: DiscriminatorBatch) -> torch.Tensor:
        x, labels = self.samples(batch)
        return 0.5 * self.gamma * input_gradient(batch.D, x, labels).pow(2).sum(dim=1).mean()


@REGULARIZERS.register("r2")
class R2Penalty(R1Penalty):
    """R2: the same penalty on generated samples (at the same interval as R1)."""

    keys = ("regularize.r2", "regularize.r1_interval")

    def samples(self, batch: DiscriminatorBatch) -> tuple[torch.Tensor, torch.Tensor | None]:
        return batch.fake, batch.fake_labels


@REGULARIZERS.register("drift")
class DriftPenalty(Regularizer):
    """PGGAN's drift term (Karras et al. 2018): eps * E[D(x)^2] on reals keeps a critic near zero."""

    keys = ("regularize.drift",)
    phases = (Phase.D_STEP,)
    lane_separable = True

    def __init__(self, eps: float = 0.001):
        self.eps = eps

    def d_term(self, batch: DiscriminatorBatch) -> torch.Tensor:
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


def orthogonality(network: nn.Module) -> torch.Tensor:
    """BigGAN's (Brock et al. 2019) sum 1/2 |W W^T * (1 - I)|_F^2 over layers, with each filter a row of W: it
    pushes filters towards orthogonality without constraining their norms. The 1/2 makes its gradient
    2 (W W^T * (1 - I)) W, the update BigGAN-PyTorch adds to each weight's gradient."""
    total = torch.zeros((), device=next(network.parameters()).device)
    for weight in linear_maps(network):
        rows = weight.flatten(1)
        gram = rows @ rows.t()
        total = total + 0.5 * (gram * (1 - torch.eye(len(gram), device=gram.device))).pow(2).sum()
    return total


@REGULARIZERS.register("ortho_d")
class DiscriminatorOrthogonality(Regularizer):
    """beta * orthogonality(D), a term of D's loss."""

    keys = ("regularize.ortho_d",)
    phases = (Phase.D_STEP,)

    def __init__(self, beta: float):
        self.beta = beta

    def d_term(self, batch: DiscriminatorBatch) -> torch.Tensor:
        return self.beta * orthogonality(batch.D)


@REGULARIZERS.register("ortho_g")
class GeneratorOrthogonality(Regularizer):
    """beta * orthogonality(G), a term of G's loss."""

    keys = ("regularize.ortho_g",)
    phases = (Phase.G_STEP,)

    def __init__(self, beta: float):
        self.beta = beta

    def g_term(self, batch: GeneratorBatch) -> torch.Tensor:
        return self.beta * orthogonality(batch.G)


@REGULARIZERS.register("lecam")
class LeCamRegularization(Regularizer):
    """LeCam (Tseng et al. 2021): lambda * (E[relu(D(x) - a_fake)^2] + E[relu(a_real - D(G(z)))^2]), where
    a_real and a_fake are moving averages of D's mean outputs on reals and fakes. It keeps D's outputs
    on reals from running far above those on fakes, which matters most with little data.

    The averages follow the reference code: for the first `start` D updates each is the latest batch's
    mean (decay 0), then a moving average with `decay`. They are updated after each D step from the
    outputs of the whole global batch, so that every process keeps the same state, and are saved in
    checkpoints."""

    keys = ("regularize.lecam", "regularize.lecam_decay", "regularize.lecam_start")
    phases = (Phase.D_STEP, Phase.AFTER_D_STEP)

    def __init__(self, weight: float, decay: float = 0.99, start: int = 0):
        self.weight, self.decay, self.start = weight, decay, start
        self.real_average: float | None = None
        self.fake_average: float | None = None

    @classmethod
    def from_config(cls, config: Config) -> Regularizer | None:
        reg = config.regularize
        return cls(reg.lecam, reg.lecam_decay, reg.lecam_start) if reg.lecam > 0 else None

    def d_term(self, batch: DiscriminatorBatch) -> torch.Tensor:
        real_average = batch.real_out.detach().mean() if self.real_average is None else self.real_average
        fake_average = batch.fake_out.detach().mean() if self.fake_average is None else self.fake_average
        return self.weight * (torch.relu(batch.real_out - fake_average).pow(2).mean()
                              + torch.relu(real_average - batch.fake_out).pow(2).mean())

    @torch.no_grad()
    def after_d_step(self, batch: DiscriminatorBatch) -> dict[str, torch.Tensor]:
        real, fake = float(batch.real_out.mean()), float(batch.fake_out.mean())
        if self.real_average is None or self.fake_average is None or batch.update < self.start:
            self.real_average, self.fake_average = real, fake
        else:
            self.real_average = self.decay * self.real_average + (1 - self.decay) * real
            self.fake_average = self.decay * self.fake_average + (1 - self.decay) * fake
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {"real_average": self.real_average, "fake_average": self.fake_average}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        real, fake = state.get("real_average"), state.get("fake_average")
        self.real_average = None if real is None else float(real)
        self.fake_average = None if fake is None else float(fake)


@REGULARIZERS.register("weight_clip")
class WeightClipping(Regularizer):
    """WGAN (Arjovsky et al. 2017): every D parameter clamped to [-c, c] after each D update."""

    keys = ("regularize.weight_clip",)
    phases = (Phase.AFTER_D_STEP,)
    lane_separable = True

    def __init__(self, c: float = 0.01):
        self.c = c

    @torch.no_grad()
    def after_d_step(self, batch: DiscriminatorBatch) -> dict[str, torch.Tensor]:
        for parameter in batch.D.parameters():
            parameter.clamp_(-self.c, self.c)
        return {}


def orthogonal_init(network: nn.Module) -> nn.Module:
    """Orthogonal initialization (Saxe et al. 2014) of every conv/linear weight, as BigGAN uses."""
    for weight in layer_weights(network):
        nn.init.orthogonal_(weight)
    return network


def build_regularizers(config: Config) -> list[Regularizer]:
    """The regularizers a config switches on, in the order their terms are added."""
    return [unit for _, make in REGULARIZERS.items() if (unit := make.from_config(config)) is not None]
