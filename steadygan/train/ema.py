"""Exponential moving average of G's weights (Karras et al. 2018; Yazici et al. 2019).

The averaged copy gives visibly steadier samples than the raw G and is what sampling and
evaluation use.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    def __init__(self, model: nn.Module, decay: float, start_step: int = 0):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.start_step = start_step
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """Average parameters; copy buffers (BN statistics, spectral-norm vectors) as they are."""
        decay = self.decay if step >= self.start_step else 0.0
        for averaged, current in zip(self.model.parameters(), model.parameters()):
            averaged.lerp_(current, 1.0 - decay)
        for averaged, current in zip(self.model.buffers(), model.buffers()):
            averaged.copy_(current)
