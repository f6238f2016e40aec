"""SAGAN's self-attention block (Zhang et al. 2019), as in its authors' and BigGAN-PyTorch's code."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SelfAttention(nn.Module):
    """out = x + gain * o(v softmax(q^T k)): 1x1 convolutions give queries and keys of C/8 channels and values
    of C/2; keys and values are max-pooled 2x2, so that each of the HW positions attends to HW/4; the
    output projection takes the values back to C channels. The gain starts at 0, so that the block is the
    identity until training finds a use for it. Spectral norm reaches its convolutions with the network's
    (model.spectral_norm, model.g_spectral_norm)."""

    def __init__(self, channels: int):
        super().__init__()
        if channels < 8:
            raise ValueError(f"self-attention needs at least 8 channels, got {channels}")
        self.query = nn.Conv2d(channels, channels // 8, 1, bias=False)
        self.key = nn.Conv2d(channels, channels // 8, 1, bias=False)
        self.value = nn.Conv2d(channels, channels // 2, 1, bias=False)
        self.output = nn.Conv2d(channels // 2, channels, 1, bias=False)
        self.gain = nn.Parameter(torch.zeros(()))

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """(N, HW, HW/4): how much each position attends to each pooled one; every row sums to 1."""
        query = self.query(x).flatten(2)  # (N, C/8, HW)
        key = F.max_pool2d(self.key(x), 2).flatten(2)  # (N, C/8, HW/4)
        return torch.softmax(query.transpose(1, 2) @ key, dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        value = F.max_pool2d(self.value(x), 2).flatten(2)  # (N, C/2, HW/4)
        attended = (value @ self.attention(x).transpose(1, 2)).view(n, -1, h, w)
        return x + self.gain * self.output(attended)
