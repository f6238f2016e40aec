"""The contract every technique implements: losses, penalties, constraints, augmentations, G objectives,
the resolution schedule, the monitors and the EMA of G.

A technique declares in one place
- its `name` and the config `keys` it reads (their types, ranges and defaults are the schema's, in
  `config`; `steadygan techniques` prints them);
- `check(config)`: what it needs of the rest of the config, as a ConfigError naming the fix;
- the `phases` it acts in, each with its method (below);
- an `interval`: it acts at every `interval`-th chance its phase gives, its term weighted by `interval`
  so that the expected gradient is unchanged (lazy regularization, Karras et al. 2020);
- its state across steps (`state_dict` / `load_state_dict`), saved in every checkpoint;
- capabilities the trainer must know without naming it, such as `needs_second_derivative` (of D),
  `needs_g_second_derivative` and `lane_separable` (it can train seeds as lanes of one model).

The trainer composes techniques by phase and never names one; units get the tensors and networks of
one step (`DiscriminatorBatch`, `GeneratorBatch`), never the trainer.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

if TYPE_CHECKING:
    from .config import Config
    from .losses import AdversarialLoss
    from .models.base import Discriminator

Critic = Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]
RealBatch = Callable[[], tuple[torch.Tensor, torch.Tensor | None]]
Styles = Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]  # (z, labels) -> ws of a style-based G
Generate = Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]  # (z, labels) -> G's training images


class Phase(enum.Enum):
    """Where in training a technique acts, and the method it implements there."""

    D_INPUT = "D's inputs"  # augment(x): every batch D sees, real and fake, in D and G steps
    STYLES = "G's styles"  # styles(ws, restyle): the per-layer styles of a style-based G's training batches
    D_STEP = "D step"  # d_term(batch): a term added to D's loss
    AFTER_D_STEP = "after D step"  # after_d_step(batch): D's weights or the unit's state, after D's update
    G_STEP = "G step"  # g_term(batch): a term added to G's loss
    AFTER_G_STEP = "after G step"  # after_g_step(G, step): after G's update
    STEP_START = "step start"  # begin_step(step): the resolution, fade-in and batch size of the step
    LOG = "log"  # measure(...): values logged with the losses


class Draws:
    """Where the units of a step draw their random numbers: torch's global generator. When several seeds
    train as lanes of one model (`train.lanes`), each lane's block of a draw comes from that seed's own
    generator instead, so that every seed draws what its own run would."""

    def uniform(self, like: torch.Tensor, *shape: int) -> torch.Tensor:
        """Uniform numbers in [0, 1), one (*shape) block per sample of `like`, on its device and dtype."""
        return torch.rand(len(like), *shape, device=like.device, dtype=like.dtype)


@dataclass
class DiscriminatorBatch:
    """What one D step saw: D's inputs (after any augmentation), labels and outputs. `update` counts D
    updates from the start of the run (the clock of D-step intervals); `z` are the fakes' latents,
    `generate` makes more fakes as D sees them (augmented) and `draws` gives the step's random numbers."""

    D: nn.Module
    real: torch.Tensor
    fake: torch.Tensor
    real_labels: torch.Tensor | None
    fake_labels: torch.Tensor | None
    real_out: torch.Tensor
    fake_out: torch.Tensor
    update: int = 0
    z: torch.Tensor | None = None
    generate: Generate | None = None
    draws: Draws = field(default_factory=Draws)


@dataclass
class GeneratorBatch:
    """What one G step has: G, D (frozen), the latents and the fakes made from them (as D sees them), their
    labels, the adversarial loss, a source of augmented real batches, D's optimizer (whose state a look-ahead
    continues), for a style-based G the styles of latents as training draws them (style mixing
    included), G's images before D's augmentation (`generated`) and the way to make more (`generate`)."""

    G: nn.Module
    D: Discriminator
    fake: torch.Tensor
    labels: torch.Tensor | None
    loss: AdversarialLoss
    real_batch: RealBatch
    d_optimizer: torch.optim.Optimizer
    step: int = 0
    z: torch.Tensor | None = None
    styles: Styles | None = None
    generated: torch.Tensor | None = None
    generate: Generate | None = None


class Technique:
    """The base of every technique; see the module's docstring for the contract."""

    name: ClassVar[str] = ""  # set by the registry it is registered in
    keys: ClassVar[tuple[str, ...]] = ()  # "section.key" of every config key it reads
    phases: ClassVar[tuple[Phase, ...]] = ()
    interval: int = 1
    needs_second_derivative: bool = False  # its term differentiates D's input gradient (no compiled D)
    needs_g_second_derivative: bool = False  # its term differentiates a gradient through G (no compiled G)
    # Seeds can train as lanes of one vectorised model (train/lanes.py): its term is a mean over samples
    # (packs) of values each computed from its own sample, its action elementwise on weights or optimizer
    # settings, and its random numbers come from the batch's `draws`.
    lane_separable: ClassVar[bool] = False

    @classmethod
    def check(cls, config: Config) -> None:
        """Raise a ConfigError when the rest of the config cannot work with this technique."""

    def due(self, count: int) -> bool:
        """Whether it acts at the `count`-th chance (0-based) of its phase."""
        return count % self.interval == 0

    def describe(self) -> str:
        return self.name + (f" every {self.interval}" if self.interval > 1 else "")

    def status(self) -> str:
        """A few words for the progress bar ("" for none): a schedule's phase, ADA's p."""
        return ""

    def state_dict(self) -> dict[str, Any]:
        """State kept across steps, as JSON values: saved in every checkpoint."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores `state_dict()`; a ValueError when it does not fit."""

    # The methods of the phases; a technique implements those of its own.

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def styles(self, ws: torch.Tensor, restyle: Callable[[], torch.Tensor]) -> torch.Tensor:
        """The styles `ws` (N, num_ws, w_dim) of a batch, changed; `restyle()` gives the styles of fresh latents
        with the same labels."""
        raise NotImplementedError

    def d_term(self, batch: DiscriminatorBatch) -> torch.Tensor:
        raise NotImplementedError

    def after_d_step(self, batch: DiscriminatorBatch) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def g_term(self, batch: GeneratorBatch) -> torch.Tensor:
        raise NotImplementedError

    def after_g_step(self, G: nn.Module, step: int) -> None:
        raise NotImplementedError

    def begin_step(self, step: int) -> None:
        raise NotImplementedError


class Techniques:
    """The techniques of one run: the adversarial loss, G's objective and the switched-on units, in the
    order their terms are added."""

    def __init__(self, loss: AdversarialLoss, objective: Technique, units: list[Technique]):
        self.loss, self.objective, self.units = loss, objective, list(units)
        names = [t.name for t in self.all()]
        if len(set(names)) != len(names):
            raise ValueError(f"two techniques share a name: {names}")
        # Looked up at every step: the units of each phase, and all that act after D's update (the loss first).
        self._at = {phase: [t for t in self.units if phase in t.phases] for phase in Phase}
        self._after_d = [t for t in self.all() if Phase.AFTER_D_STEP in t.phases]

    def all(self) -> list[Technique]:
        return [self.loss, self.objective, *self.units]

    def at(self, phase: Phase) -> list[Technique]:
        """The units (not the loss or the objective) that act in `phase`."""
        return self._at[phase]

    def after_d_step(self) -> list[Technique]:
        """Everything that acts after D's update, the loss's own state first."""
        return self._after_d

    @property
    def needs_second_derivative(self) -> bool:
        return any(t.needs_second_derivative for t in self.all())

    @property
    def needs_g_second_derivative(self) -> bool:
        return any(t.needs_g_second_derivative for t in self.all())

    def state_dict(self) -> dict[str, dict[str, Any]]:
        return {t.name: state for t in self.all() if (state := t.state_dict())}

    def load_state_dict(self, states: dict[str, dict[str, Any]]) -> None:
        for t in self.all():
            t.load_state_dict(states.get(t.name, {}))
