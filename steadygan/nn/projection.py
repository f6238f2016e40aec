"""The projection discriminator's output (Miyato & Koyama 2018): psi(phi) + <embed(y), phi>."""

from __future__ import annotations

import torch
from torch import nn


class ProjectionHead(nn.Module):
    """Logits from features phi: a linear score, plus the inner product with the class embedding."""

    def __init__(self, features: int, num_classes: int = 0):
        super().__init__()
        self.linear = nn.Linear(features, 1)
        self.embed = nn.Embedding(num_classes, features) if num_classes else None
        if self.embed is not None:  # Xavier as in the authors' code; N(0, 1) rows would swamp psi(phi)
            nn.init.xavier_uniform_(self.embed.weight)

    def forward(self, phi: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        out = self.linear(phi).squeeze(1)
        if self.embed is not None:
            out = out + (self.embed(y) * phi).sum(dim=1)
        return out
