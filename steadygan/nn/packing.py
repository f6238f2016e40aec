"""PacGAN's packing (Lin et al. 2018): D judges m samples at once."""

from __future__ import annotations

import torch


def pack(x: torch.Tensor, m: int) -> torch.Tensor:
    """(N, C, ...) -> (N // m, m * C, ...): each run of m consecutive samples joined on the channel (images) or
    feature (points) axis, sample 0 of a pack first. A remainder of N mod m samples is left out."""
    packs = len(x) // m
    return x[:packs * m].reshape(packs, m * x.shape[1], *x.shape[2:])
