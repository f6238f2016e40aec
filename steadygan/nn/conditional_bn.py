"""Batch norm whose gain and bias depend on the class (de Vries et al. 2017; Miyato & Koyama 2018)."""

from __future__ import annotations

import torch
from torch import nn


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm2d without its own affine; each class has a gain (init 1) and a bias (init 0)."""

    def __init__(self, num_features: int, num_classes: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(num_features, affine=False)
        self.gain = nn.Embedding(num_classes, num_features)
        self.bias = nn.Embedding(num_classes, num_features)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        gain = self.gain(y)[:, :, None, None]
        bias = self.bias(y)[:, :, None, None]
        return self.norm(x) * gain + bias


class BatchNorm2d(nn.BatchNorm2d):
    """Plain batch norm with the conditional call signature, so blocks need not know which they hold."""

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return super().forward(x)


def make_norm(num_features: int, num_classes: int = 0) -> nn.Module:
    return ConditionalBatchNorm2d(num_features, num_classes) if num_classes else BatchNorm2d(num_features)
