"""Consistency regularization of D: its verdict should not change under a change of its input that
changes nothing that matters.

- CR (Zhang et al. 2020) and balanced CR (bCR, Zhao et al. 2021): lambda * E[(D(x) - D(T(x)))^2] for a
  random horizontal flip and translation T (up to 1/8 of the size, as the authors' and StudioGAN's
  code), on reals (`regularize.cr`) and on fakes (`regularize.cr_fake`).
- Latent CR (zCR, Zhao et al. 2021): D's outputs for G(z) and G(z + dz) should agree
  (`regularize.zcr_dis`), while G's images for them should differ (`regularize.zcr_gen`, a negative term
  of G's loss), dz ~ N(0, zcr_noise^2 I).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .augment import translation
from .config import Config
from .data.toy import MIXTURES
from .errors import ConfigError
from .regularizers import REGULARIZERS, Regularizer
from .technique import DiscriminatorBatch, GeneratorBatch, Phase

Augmentation = Callable[[torch.Tensor], torch.Tensor]


def flip_and_translate(x: torch.Tensor) -> torch.Tensor:
    """CR's T: each image mirrored left-right with probability 1/2, then shifted by up to 1/8 of its size."""
    flip = torch.rand(len(x), 1, 1, 1, device=x.device) < 0.5
    return translation(torch.where(flip, x.flip(3), x))


def _images_only(config: Config, keys: tuple[str, ...]) -> None:
    on = [key for key in keys if getattr(config.regularize, key.split(".")[1]) > 0]
    if on and config.data.source in MIXTURES:
        raise ConfigError(f"{on[0]} compares D's verdicts on flipped and shifted images; set it to 0 for 2-D points")


@REGULARIZERS.register("cr")
class ConsistencyRegularization(Regularizer):
    """CR on reals and, for balanced CR, on fakes: lambda * E[(D(x) - D(T(x)))^2], a term of D's loss."""

    keys = ("regularize.cr", "regularize.cr_fake")
    phases = (Phase.D_STEP,)

    def __init__(self, real_weight: float, fake_weight: float = 0.0, augment: Augmentation = flip_and_translate):
        self.real_weight, self.fake_weight, self.transform = real_weight, fake_weight, augment

    @classmethod
    def from_config(cls, config: Config) -> Regularizer | None:
        reg = config.regularize
        return cls(reg.cr, reg.cr_fake) if reg.cr > 0 or reg.cr_fake > 0 else None

    @classmethod
    def check(cls, config: Config) -> None:
        _images_only(config, cls.keys)

    def describe(self) -> str:
        return "balanced cr" if self.real_weight and self.fake_weight else self.name

    def d_term(self, batch: DiscriminatorBatch) -> torch.Tensor:
        term = torch.zeros((), device=batch.real_out.device)
        for weight, x, labels, out in ((self.real_weight, batch.real, batch.real_labels, batch.real_out),
                                       (self.fake_weight, batch.fake, batch.fake_labels, batch.fake_out)):
            if weight > 0:
                term = term + weight * (batch.D(self.transform(x), labels).float() - out).pow(2).mean()
        return term


@REGULARIZERS.register("zcr")
class LatentConsistencyRegularization(Regularizer):
    """zCR: lambda_dis * E[(D(G(z)) - D(G(z + dz)))^2] in D's loss, -lambda_gen * E[(G(z) - G(z + dz))^2] in G's."""

    keys = ("regularize.zcr_dis", "regularize.zcr_gen", "regularize.zcr_noise")
    phases = (Phase.D_STEP, Phase.G_STEP)

    def __init__(self, dis_weight: float, gen_weight: float, noise: float = 0.05):
        self.dis_weight, self.gen_weight, self.noise = dis_weight, gen_weight, noise

    @classmethod
    def from_config(cls, config: Config) -> Regularizer | None:
        reg = config.regularize
        on = reg.zcr_dis > 0 or reg.zcr_gen > 0
        return cls(reg.zcr_dis, reg.zcr_gen, reg.zcr_noise) if on else None

    @classmethod
    def check(cls, config: Config) -> None:
        _images_only(config, cls.keys[:2])

    def perturbed(self, z: torch.Tensor) -> torch.Tensor:
        return z + self.noise * torch.randn_like(z)

    def d_term(self, batch: DiscriminatorBatch) -> torch.Tensor:
        if self.dis_weight == 0 or batch.z is None or batch.generate is None:
            return torch.zeros((), device=batch.fake_out.device)
        with torch.no_grad():
            moved = batch.generate(self.perturbed(batch.z), batch.fake_labels)
        return self.dis_weight * (batch.D(moved, batch.fake_labels).float() - batch.fake_out).pow(2).mean()

    def g_term(self, batch: GeneratorBatch) -> torch.Tensor:
        if self.gen_weight == 0 or batch.z is None or batch.generate is None or batch.generated is None:
            return torch.zeros((), device=batch.fake.device)
        moved = batch.generate(self.perturbed(batch.z), batch.labels)
        return -self.gen_weight * (batch.generated - moved).float().pow(2).mean()
