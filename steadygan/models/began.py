"""BEGAN (Berthelot et al. 2017): D is an auto-encoder and its output is the per-sample L1
reconstruction error, which the `began` loss balances between real and generated images.

G and D's decoder share one design: a linear map to 8x8, then per scale two 3x3 convolutions with ELU
and a nearest-neighbour up-sampling. The encoder mirrors it with stride-2 down-sampling and widths
growing linearly (n, 2n, 3n, ...), as in the paper. The code size is z_dim.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ModelConfig
from .base import ARCHITECTURES, Architecture, Discriminator, Generator


def _conv_pair(a: int, b: int) -> list[nn.Module]:
    return [nn.Conv2d(a, b, 3, 1, 1), nn.ELU(), nn.Conv2d(b, b, 3, 1, 1), nn.ELU()]


class Decoder(nn.Module):
    def __init__(self, code: int, resolution: int, channels: int, width: int):
        super().__init__()
        self.width = width
        self.input = nn.Linear(code, 64 * width)
        self.scales = nn.ModuleList(nn.Sequential(*_conv_pair(width, width))
                                    for _ in range(int(math.log2(resolution)) - 2))  # 8, ..., resolution
        self.output = nn.Conv2d(width, channels, 3, 1, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        x = self.input(h).view(h.shape[0], self.width, 8, 8)
        for i, scale in enumerate(self.scales):
            x = scale(x if i == 0 else F.interpolate(x, scale_factor=2, mode="nearest"))
        return torch.tanh(self.output(x))


class Encoder(nn.Module):
    def __init__(self, code: int, resolution: int, channels: int, width: int):
        super().__init__()
        levels = int(math.log2(resolution)) - 3  # halvings down to 8x8
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 3, 1, 1), nn.ELU()]
        for i in range(levels):
            layers += _conv_pair(width * (i + 1), width * (i + 1))
            layers += [nn.Conv2d(width * (i + 1), width * (i + 2), 3, 2, 1), nn.ELU()]
        layers += _conv_pair(width * (levels + 1), width * (levels + 1))
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.code = nn.Linear(64 * width * (levels + 1), code)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.code(self.body(x))


class BEGANGenerator(Generator):
    def __init__(self, z_dim: int, resolution: int, channels: int, width: int):
        super().__init__(z_dim, 0)
        self.decoder = Decoder(z_dim, resolution, channels, width)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z)


class BEGANDiscriminator(Discriminator):
    """forward(x) -> mean |x - D(E(x))| per sample; features(x) -> the code E(x)."""

    def __init__(self, code: int, resolution: int, channels: int, width: int):
        super().__init__()
        self.encoder = Encoder(code, resolution, channels, width)
        self.decoder = Decoder(code, resolution, channels, width)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return (self.reconstruct(x) - x).abs().flatten(1).mean(dim=1)


def build(cfg: ModelConfig, resolution: int, channels: int, num_classes: int):
    return (BEGANGenerator(cfg.z_dim, resolution, channels, cfg.g_width),
            BEGANDiscriminator(cfg.z_dim, resolution, channels, cfg.d_width))


ARCHITECTURES.register("began")(Architecture(build, "image", "BEGAN auto-encoder D (Berthelot et al. 2017)",
                                             output="energy"))
