"""Layers that let D look at a whole batch, so that a collapsed G (all samples alike) is easy to spot."""

from __future__ import annotations

import torch
from torch import nn


def group_of(n: int, group_size: int) -> int:
    """The largest group size <= group_size that divides a batch of n (0 or less: the whole batch)."""
    if group_size <= 0:
        return n
    return max(g for g in range(1, min(group_size, n) + 1) if n % g == 0)


class MinibatchDiscrimination(nn.Module):
    """Salimans et al. 2016: features f (N, A) times a tensor T (A, B x C) give M (N, B, C); sample i gains
    o_i,b = sum_j exp(-|M_i,b - M_j,b|_1) over the other samples j, appended to its features.

    The cost is quadratic in the batch; `group_size` > 0 compares each sample only with the others of
    its group (sample i is in group i % (N / group), as in MinibatchStdDev), which bounds it."""

    def __init__(self, in_features: int, kernels: int = 100, kernel_dim: int = 5, group_size: int = 0):
        super().__init__()
        self.kernels, self.kernel_dim, self.group_size = kernels, kernel_dim, group_size
        self.T = nn.Parameter(torch.randn(in_features, kernels * kernel_dim) * 0.1)
        self.out_features = in_features + kernels

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        n = len(features)
        group = group_of(n, self.group_size)
        M = (features @ self.T).view(group, n // group, self.kernels, self.kernel_dim)
        # Kernels in chunks bound the (group, group, N / group, chunk, C) temporary; torch.cdist would be
        # faster but has no double backward, which gradient penalties on D need.
        chunk = max(1, 2 ** 24 // (n * group * self.kernel_dim))
        closeness = [torch.exp(-(Mk[:, None] - Mk[None]).abs().sum(dim=4)).sum(dim=1) for Mk in M.split(chunk, dim=2)]
        o = torch.cat(closeness, dim=2).reshape(n, self.kernels) - 1  # minus each sample's own exp(0)
        return torch.cat([features, o], dim=1)


class MinibatchStdDev(nn.Module):
    """Karras et al. 2018: the standard deviation of each feature over a group of samples, averaged to one
    number per group and appended to every sample of that group (as a channel for feature maps).
    `statistic="variance"` averages the variances instead, the form some re-implementations use."""

    STATISTICS = ("std", "variance")

    def __init__(self, in_features: int = 0, group_size: int = 4, statistic: str = "std"):
        super().__init__()
        if statistic not in self.STATISTICS:
            raise ValueError(f"minibatch stddev statistic must be one of {self.STATISTICS}, got {statistic!r}")
        self.group_size, self.statistic = group_size, statistic
        self.out_features = in_features + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = len(x)
        group = group_of(n, self.group_size)
        grouped = x.view(group, n // group, *x.shape[1:])  # sample i is in group i % (n // group)
        deviation = grouped - grouped.mean(dim=0)
        variance = deviation.pow(2).mean(dim=0) + 1e-8  # written out: torch.var over dim 0 is slow on CPU
        spread = variance.sqrt() if self.statistic == "std" else variance
        stat = spread.flatten(1).mean(dim=1)  # (n // group,)
        stat = stat.repeat(group).view(n, *([1] * (x.ndim - 1)))
        shape = (n, 1, *x.shape[2:])
        return torch.cat([x, stat.expand(shape)], dim=1)
