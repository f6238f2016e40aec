"""DiffAugment (Zhao et al. 2020): differentiable augmentations of every image D sees, real and fake.

Augmenting both, in both the D and the G step, keeps D from memorising a small data set without
leaking the augmentations into G's samples. The operations follow the authors' reference code:
color (brightness, saturation, contrast), translation (up to 1/8 of the size, zero padding) and
cutout (a square of half the size).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from .config import Config
from .data.toy import MIXTURES
from .errors import ConfigError
from .registry import Registry
from .technique import Phase, Technique

Augmentation = Callable[[torch.Tensor], torch.Tensor]


def _uniform(x: torch.Tensor) -> torch.Tensor:
    return torch.rand(x.size(0), 1, 1, 1, dtype=x.dtype, device=x.device)


def brightness(x: torch.Tensor) -> torch.Tensor:
    return x + (_uniform(x) - 0.5)


def saturation(x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (_uniform(x) * 2) + mean


def contrast(x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(x) + 0.5) + mean


def translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    n, _, h, w = x.shape
    shift_h, shift_w = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-shift_h, shift_h + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-shift_w, shift_w + 1, (n, 1, 1), device=x.device)
    batch, rows, cols = torch.meshgrid(torch.arange(n, device=x.device), torch.arange(h, device=x.device),
                                       torch.arange(w, device=x.device), indexing="ij")
    rows = (rows + dy + 1).clamp(0, h + 1)
    cols = (cols + dx + 1).clamp(0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)  # the padding ring supplies the zeros
    return padded[batch, rows, cols].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    n, _, h, w = x.shape
    size_h, size_w = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = torch.randint(0, h + (1 - size_h % 2), (n, 1, 1), device=x.device)
    left = torch.randint(0, w + (1 - size_w % 2), (n, 1, 1), device=x.device)
    batch, rows, cols = torch.meshgrid(torch.arange(n, device=x.device), torch.arange(size_h, device=x.device),
                                       torch.arange(size_w, device=x.device), indexing="ij")
    rows = (rows + top - size_h // 2).clamp(0, h - 1)
    cols = (cols + left - size_w // 2).clamp(0, w - 1)
    mask = torch.ones(n, h, w, dtype=x.dtype, device=x.device)
    mask[batch, rows, cols] = 0
    return x * mask.unsqueeze(1)


AUGMENTATIONS: Registry[list[Augmentation]] = Registry("DiffAugment policy")
AUGMENTATIONS.register("color")([brightness, saturation, contrast])
AUGMENTATIONS.register("translation")([translation])
AUGMENTATIONS.register("cutout")([cutout])


def parse_policy(policy: str) -> list[Augmentation]:
    """'color,translation,cutout' -> the augmentation functions, in that order."""
    names = [p.strip() for p in policy.split(",") if p.strip()]
    unknown = [n for n in names if n not in AUGMENTATIONS]
    if unknown:
        raise ConfigError(f"unknown DiffAugment policy '{unknown[0]}' in regularize.diffaugment; "
                          f"use a comma-separated list of: {', '.join(name for name, _ in AUGMENTATIONS.items())}")
    return [f for n in names for f in AUGMENTATIONS.get(n)]


class DiffAugment(Technique):
    """Applies a policy to every batch D sees; the empty policy is the identity."""

    name = "diffaugment"
    keys = ("regularize.diffaugment",)
    phases = (Phase.D_INPUT,)

    def __init__(self, policy: str = ""):
        self.policy = policy
        self.functions = parse_policy(policy)

    @classmethod
    def from_config(cls, config: Config) -> DiffAugment | None:
        return cls(config.regularize.diffaugment) if config.regularize.diffaugment else None

    @classmethod
    def check(cls, config: Config) -> None:
        parse_policy(config.regularize.diffaugment)
        if config.regularize.diffaugment and config.data.source in MIXTURES:
            raise ConfigError("regularize.diffaugment augments images; set it to '' for 2-D point data")

    def describe(self) -> str:
        return f"{self.name} {self.policy}"

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        for function in self.functions:
            x = function(x)
        return x.contiguous()

    __call__ = augment
