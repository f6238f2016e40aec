"""Adversarial losses, each a small named technique with a D part and a G part, selected by `loss.name`.

All of them take D's raw outputs (logits, critic values) and return a scalar to minimise.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F

from .config import Config, LossConfig
from .errors import ConfigError
from .kinds import DOutput
from .registry import Registry
from .technique import DiscriminatorBatch, Phase, Technique

LOSSES: Registry[type[AdversarialLoss]] = Registry("loss", key="loss.name")
# (real target, fake target) of D's cross-entropy: Salimans et al. 2016 smooth only the real side.
LABEL_SMOOTHING: Registry[tuple[float, float]] = Registry("label smoothing", key="loss.label_smoothing")
LABEL_SMOOTHING.register("none")((1.0, 0.0))
LABEL_SMOOTHING.register("one_sided")((0.9, 0.0))
LABEL_SMOOTHING.register("two_sided")((0.9, 0.1))


class AdversarialLoss(Technique):
    """D's loss on real and fake outputs, and G's loss on fake outputs.

    A loss with state of its own (BEGAN's k_t) updates it after each D step and saves it through
    `state_dict`, so that checkpoints and resumed runs carry it.
    """

    keys: ClassVar[tuple[str, ...]] = ("loss.name",)
    phases: ClassVar[tuple[Phase, ...]] = (Phase.D_STEP, Phase.G_STEP)
    expects: ClassVar[DOutput] = "logits"  # the kind of D output it is defined on (see models.Architecture.output)
    label_targets = False  # whether D's targets are labels that loss.label_smoothing can soften
    boundary: float | None = 0.0  # D's output between "real" and "fake"; None: midway between the batch means
    vanishing_gradient_remedy: ClassVar[str] = "hinge"  # the loss the doctor suggests when G's gradients vanish
    relativistic: ClassVar[bool] = False  # G's loss compares D's outputs on fakes with those on a batch of reals

    def __init__(self, cfg: LossConfig | None = None):
        self.cfg = cfg or LossConfig()

    @classmethod
    def check(cls, config: Config) -> None:
        from .models import ARCHITECTURES

        if config.loss.label_smoothing != "none" and not cls.label_targets:
            smoothable = ", ".join(name for name, loss in LOSSES.items() if loss.label_targets)
            raise ConfigError(f"loss.label_smoothing softens the targets of a cross-entropy loss ({smoothable}); "
                              f"loss.name={config.loss.name} has none: set loss.label_smoothing=none")
        output = ARCHITECTURES.get(config.model.arch).output
        if cls.expects != output:
            raise ConfigError(f"loss.name={config.loss.name} needs a D that outputs {cls.expects}, but model.arch="
                              f"{config.model.arch} outputs {output}; use loss.name=began with model.arch=began only")

    @torch.no_grad()
    def accuracy(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The shares of reals and of fakes that D puts on their own side of its decision boundary."""
        boundary = self.boundary if self.boundary is not None else 0.5 * (real.mean() + fake.mean())
        return (real > boundary).float().mean(), (fake < boundary).float().mean()

    def d_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def g_loss(self, fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
        """G's loss on D's outputs for the fakes (and, for a relativistic loss, for reals)."""
        raise NotImplementedError

    def d_term(self, batch: DiscriminatorBatch) -> torch.Tensor:
        return self.d_loss(batch.real_out, batch.fake_out)


class _BinaryCrossEntropyD(AdversarialLoss):
    """D maximises log D(x) + log(1 - D(G(z))) (cross-entropy with targets 1 and 0, or smoothed)."""

    lane_separable = True

    keys: ClassVar[tuple[str, ...]] = ("loss.name", "loss.label_smoothing")
    label_targets = True

    def d_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        real_target, fake_target = LABEL_SMOOTHING.get(self.cfg.label_smoothing)
        return (F.binary_cross_entropy_with_logits(real, torch.full_like(real, real_target))
                + F.binary_cross_entropy_with_logits(fake, torch.full_like(fake, fake_target)))


@LOSSES.register("ns")
class NonSaturatingLoss(_BinaryCrossEntropyD):
    """Goodfellow et al. 2014, the practical form: G maximises log D(G(z))."""

    def g_loss(self, fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
        return F.softplus(-fake).mean()


@LOSSES.register("minimax")
class MinimaxLoss(_BinaryCrossEntropyD):
    """Goodfellow et al. 2014, the game as written: G minimises log(1 - D(G(z))).

    Its gradient vanishes when D rejects the fakes confidently, which is why `ns` exists.
    """

    vanishing_gradient_remedy: ClassVar[str] = "ns"

    def g_loss(self, fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
        return -F.softplus(fake).mean()


@LOSSES.register("hinge")
class HingeLoss(AdversarialLoss):
    """Lim & Ye 2017; Miyato et al. 2018 (SN-GAN) and Zhang et al. 2019 (SAGAN)."""

    lane_separable = True

    def d_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()

    def g_loss(self, fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
        return -fake.mean()


@LOSSES.register("wasserstein")
class WassersteinLoss(AdversarialLoss):
    """Arjovsky et al. 2017: the critic estimates E[D(x)] - E[D(G(z))].

    Needs a Lipschitz constraint on D (weight clipping, a gradient penalty or spectral norm).
    """

    lane_separable = True
    boundary = None  # a critic's values have no fixed origin

    def d_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return fake.mean() - real.mean()

    def g_loss(self, fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
        return -fake.mean()


@LOSSES.register("lsgan")
class LeastSquaresLoss(AdversarialLoss):
    """Mao et al. 2017: D pulls fakes to a and reals to b, G pulls fakes to c; the paper's factor 1/2.
    This is the 0-1 coding (a, b, c) = (0, 1, 1) of its Eq. 9."""

    lane_separable = True
    a, b, c = 0.0, 1.0, 1.0
    boundary = 0.5

    def d_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return 0.5 * (real - self.b).pow(2).mean() + 0.5 * (fake - self.a).pow(2).mean()

    def g_loss(self, fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
        return 0.5 * (fake - self.c).pow(2).mean()


@LOSSES.register("lsgan_chi2")
class PearsonLeastSquaresLoss(LeastSquaresLoss):
    """The (a, b, c) = (-1, 1, 0) coding, for which G minimises the Pearson chi^2 divergence (Eq. 8)."""

    a, b, c = -1.0, 1.0, 0.0
    boundary = 0.0


class _RelativisticLoss(AdversarialLoss):
    """D judges whether a real sample looks more real than a fake one; G's loss is the mirror image, so that
    it also pushes D's outputs on reals down (Jolicoeur-Martineau 2019)."""

    relativistic: ClassVar[bool] = True
    boundary = None  # only differences of D's outputs matter

    def relative(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """softplus(-(first - second)): the cross-entropy of "first is more real than second"."""
        raise NotImplementedError

    def d_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return self.relative(real, fake)

    def g_loss(self, fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
        if real is None:
            raise ValueError(f"loss.name={self.name} compares fakes with reals; G's loss needs D's outputs on reals")
        return self.relative(fake, real)


@LOSSES.register("ragan")
class RelativisticAverageLoss(_RelativisticLoss):
    """Relativistic average GAN (RaSGAN, Jolicoeur-Martineau 2019): each sample against the mean of the other
    side, softplus(-(D(x_r) - mean D(x_f))) + softplus(D(x_f) - mean D(x_r)) for D; G swaps reals and fakes."""

    def relative(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        return F.softplus(-(first - second.mean())).mean() + F.softplus(second - first.mean()).mean()


@LOSSES.register("rpgan")
class RelativisticPairingLoss(_RelativisticLoss):
    """Relativistic pairing GAN (RpGAN; R3GAN, Huang et al. 2024): real and fake paired one to one,
    softplus(-(D(x_r) - D(x_f))) for D and softplus(-(D(x_f) - D(x_r))) for G. With R1 and R2 it has local
    convergence guarantees (R3GAN's regularized relativistic loss)."""

    lane_separable = True

    def relative(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        if first.shape != second.shape:
            raise ValueError(f"relativistic pairing pairs reals and fakes one to one; got {len(first)} and "
                             f"{len(second)} outputs")
        return F.softplus(-(first - second)).mean()


@LOSSES.register("began")
class BEGANLoss(AdversarialLoss):
    """BEGAN (Berthelot et al. 2017). D is an auto-encoder whose outputs are per-sample L1
    reconstruction errors L(x). D minimises L(x) - k_t L(G(z)), G minimises L(G(z)), and k_t follows
    k += lambda_k (gamma L(x) - L(G(z))) in [0, 1]. M_global = L(x) + |gamma L(x) - L(G(z))| is the
    convergence measure the paper plots."""

    keys: ClassVar[tuple[str, ...]] = ("loss.name", "loss.began_gamma", "loss.began_lambda_k")
    phases: ClassVar[tuple[Phase, ...]] = (Phase.D_STEP, Phase.G_STEP, Phase.AFTER_D_STEP)
    expects: ClassVar[DOutput] = "energy"

    def __init__(self, cfg: LossConfig | None = None):
        super().__init__(cfg)
        self.k = 0.0

    @torch.no_grad()
    def accuracy(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """An auto-encoder D "accepts" what it reconstructs well: reals below the midway error, fakes above."""
        boundary = 0.5 * (real.mean() + fake.mean())
        return (real < boundary).float().mean(), (fake > boundary).float().mean()

    def d_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return real.mean() - self.k * fake.mean()

    def g_loss(self, fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
        return fake.mean()

    @torch.no_grad()
    def after_d_step(self, batch: DiscriminatorBatch) -> dict[str, torch.Tensor]:
        real, fake = batch.real_out, batch.fake_out
        balance = self.cfg.began_gamma * real.mean() - fake.mean()
        self.k = min(max(self.k + self.cfg.began_lambda_k * float(balance), 0.0), 1.0)
        return {"k": torch.tensor(self.k), "m_global": real.mean() + balance.abs()}

    def state_dict(self) -> dict[str, float]:
        return {"k": self.k}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.k = float(state["k"])


def build_loss(cfg: LossConfig | str) -> AdversarialLoss:
    cfg = LossConfig(name=cfg) if isinstance(cfg, str) else cfg
    return LOSSES.get(cfg.name)(cfg)
