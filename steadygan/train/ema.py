"""Exponential moving average of G's weights (Karras et al. 2018; Yazici et al. 2019).

The averaged copy gives visibly steadier samples than the raw G and is what sampling and
evaluation use. Its decay is `train.ema_decay` per G step, or, with `train.ema_kimg`, set by a half-life
in G's images as StyleGAN2 does: beta = 0.5 ** (images this step / half-life images), so that the average
forgets at the same pace per image whatever the batch size; `train.ema_rampup` caps the half-life at
that share of the images so far, so that the average of a young run is not held back by its first weights.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Generic, TypeVar

import torch
from torch import nn

from ..technique import Phase, Technique

Network = TypeVar("Network", bound=nn.Module)


class EMA(Technique, Generic[Network]):
    """The moving average of G's weights that samples and evaluations use; checkpoints hold it as tensors."""

    name = "ema"
    keys = ("train.ema_decay", "train.ema_start", "train.ema_kimg", "train.ema_rampup")
    phases = (Phase.AFTER_G_STEP,)
    lane_separable = True

    def __init__(self, model: Network, decay: float, start_step: int = 0, half_life_kimg: float = 0.0,
                 rampup: float = 0.0, images: Callable[[int], int] | None = None):
        """`images(step)`: G's images in the first `step` G steps, which a half-life counts."""
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        if half_life_kimg and images is None:
            raise ValueError("an EMA half-life in images needs the images of each step")
        self.decay = decay
        self.start_step = start_step
        self.half_life_kimg, self.rampup, self.images = half_life_kimg, rampup, images
        self.model = copy.deepcopy(model)
        self.model.eval().requires_grad_(False)

    def describe(self) -> str:
        if not self.half_life_kimg:
            return f"{self.name} {self.decay:g}"
        ramp = f", ramp-up {self.rampup:g}" if self.rampup else ""
        return f"{self.name} half-life {self.half_life_kimg:g} kimg{ramp}"

    def decay_at(self, step: int) -> float:
        """The decay of the update after G step number `step` (1-based)."""
        if step < self.start_step:
            return 0.0
        if not self.half_life_kimg or self.images is None:
            return self.decay
        seen = self.images(step)
        batch = seen - self.images(step - 1)
        half_life = self.half_life_kimg * 1000
        if self.rampup:
            half_life = min(half_life, seen * self.rampup)
        return 0.5 ** (batch / max(half_life, 1e-8))

    def after_g_step(self, G: nn.Module, step: int) -> None:
        self.update(G, step)

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """Average parameters; copy buffers (BN statistics, spectral-norm vectors, the average w) as they are."""
        decay = self.decay_at(step)
        for average, parameter in zip(self.model.parameters(), model.parameters(), strict=True):
            average.lerp_(parameter, 1.0 - decay)
        for copied, buffer in zip(self.model.buffers(), model.buffers(), strict=True):
            copied.copy_(buffer)
