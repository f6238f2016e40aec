"""Exponential moving average of G's weights (Karras et al. 2018; Yazici et al. 2019).

The averaged copy gives visibly steadier samples than the raw G and is what sampling and
evaluation use.
"""

from __future__ import annotations

import copy
from typing import Generic, TypeVar

import torch
from torch import nn

from ..technique import Phase, Technique

Network = TypeVar("Network", bound=nn.Module)


class EMA(Technique, Generic[Network]):
    """The moving average of G's weights that samples and evaluations use; checkpoints hold it as tensors."""

    name = "ema"
    keys = ("train.ema_decay", "train.ema_start")
    phases = (Phase.AFTER_G_STEP,)

    def __init__(self, model: Network, decay: float, start_step: int = 0):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.start_step = start_step
        self.model = copy.deepcopy(model)
        self.model.eval().requires_grad_(False)

    def after_g_step(self, G: nn.Module, step: int) -> None:
        self.update(G, step)

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """Average parameters; copy buffers (BN statistics, spectral-norm vectors) as they are."""
        decay = self.decay if step >= self.start_step else 0.0
        for average, parameter in zip(self.model.parameters(), model.parameters(), strict=True):
            average.lerp_(parameter, 1.0 - decay)
        for copied, buffer in zip(self.model.buffers(), model.buffers(), strict=True):
            copied.copy_(buffer)
