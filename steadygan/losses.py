"""Adversarial losses, each a small named unit with a D part and a G part.

All of them take D's raw outputs (logits, critic values) and return a scalar to minimise.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .registry import Registry

LOSSES: Registry[type["AdversarialLoss"]] = Registry("loss")


class AdversarialLoss:
    """D's loss on real and fake outputs, and G's loss on fake outputs."""

    def d_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def g_loss(self, fake: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class _BinaryCrossEntropyD(AdversarialLoss):
    """D maximises log D(x) + log(1 - D(G(z))), written with softplus for stability."""

    def d_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return F.softplus(-real).mean() + F.softplus(fake).mean()


@LOSSES.register("ns")
class NonSaturatingLoss(_BinaryCrossEntropyD):
    """Goodfellow et al. 2014, the practical form: G maximises log D(G(z))."""

    def g_loss(self, fake: torch.Tensor) -> torch.Tensor:
        return F.softplus(-fake).mean()


@LOSSES.register("minimax")
class MinimaxLoss(_BinaryCrossEntropyD):
    """Goodfellow et al. 2014, the game as written: G minimises log(1 - D(G(z))).

    Its gradient vanishes when D rejects the fakes confidently, which is why `ns` exists.
    """

    def g_loss(self, fake: torch.Tensor) -> torch.Tensor:
        return -F.softplus(fake).mean()


@LOSSES.register("hinge")
class HingeLoss(AdversarialLoss):
    """Lim & Ye 2017; Miyato et al. 2018 (SN-GAN) and Zhang et al. 2019 (SAGAN)."""

    def d_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()

    def g_loss(self, fake: torch.Tensor) -> torch.Tensor:
        return -fake.mean()


@LOSSES.register("wasserstein")
class WassersteinLoss(AdversarialLoss):
    """Arjovsky et al. 2017: the critic estimates E[D(x)] - E[D(G(z))].

    Needs a Lipschitz constraint on D (weight clipping, a gradient penalty or spectral norm).
    """

    def d_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return fake.mean() - real.mean()

    def g_loss(self, fake: torch.Tensor) -> torch.Tensor:
        return -fake.mean()


@LOSSES.register("lsgan")
class LeastSquaresLoss(AdversarialLoss):
    """Mao et al. 2017 with the 0-1 coding (a=0, b=1, c=1) and the paper's factor 1/2."""

    def d_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return 0.5 * (real - 1).pow(2).mean() + 0.5 * fake.pow(2).mean()

    def g_loss(self, fake: torch.Tensor) -> torch.Tensor:
        return 0.5 * (fake - 1).pow(2).mean()


def build_loss(name: str) -> AdversarialLoss:
    return LOSSES.get(name)()
