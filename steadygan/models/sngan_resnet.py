"""The SN-GAN ResNet (Miyato et al. 2018; with projection, Miyato & Koyama 2018), CIFAR variant.

G: linear z -> 4x4, one up-sampling residual block per doubling (BN/CBN, ReLU, nearest up, 3x3 conv,
twice; 1x1 conv shortcut), then BN, ReLU, 3x3 conv, tanh. D: an "optimized" first block, down-sampling
blocks to 8x8, two more blocks at 8x8, ReLU, global sum pooling and the (projection) head. Widths are
constant as in the CIFAR model (G 4 x g_width = 256, D 2 x d_width = 128); higher resolutions add
blocks. Residual convolutions start from Xavier-uniform with gain sqrt(2), shortcuts and linear
layers with gain 1, as in the authors' code.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ModelConfig
from ..nn import ProjectionHead, make_norm
from .base import ARCHITECTURES, Architecture, Discriminator, Generator, upsamplings

RESIDUAL_GAIN = math.sqrt(2)


def _conv(a: int, b: int, kernel: int, gain: float) -> nn.Conv2d:
    conv = nn.Conv2d(a, b, kernel, 1, kernel // 2)
    nn.init.xavier_uniform_(conv.weight, gain)
    nn.init.zeros_(conv.bias)
    return conv


class UpBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, num_classes: int):
        super().__init__()
        self.norm1 = make_norm(in_ch, num_classes)
        self.conv1 = _conv(in_ch, out_ch, 3, RESIDUAL_GAIN)
        self.norm2 = make_norm(out_ch, num_classes)
        self.conv2 = _conv(out_ch, out_ch, 3, RESIDUAL_GAIN)
        self.shortcut = _conv(in_ch, out_ch, 1, 1.0)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        h = F.interpolate(torch.relu(self.norm1(x, y)), scale_factor=2, mode="nearest")
        h = self.conv2(torch.relu(self.norm2(self.conv1(h), y)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class DownBlock(nn.Module):
    """A D block; `first` is the paper's optimized block (no ReLU on the input, pool before the shortcut)."""

    def __init__(self, in_ch: int, out_ch: int, downsample: bool, first: bool = False):
        super().__init__()
        self.conv1 = _conv(in_ch, out_ch, 3, RESIDUAL_GAIN)
        self.conv2 = _conv(out_ch, out_ch, 3, RESIDUAL_GAIN)
        self.shortcut = _conv(in_ch, out_ch, 1, 1.0) if downsample or in_ch != out_ch else None
        self.downsample = downsample
        self.first = first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(torch.relu(self.conv1(x if self.first else torch.relu(x))))
        if self.downsample:
            h = F.avg_pool2d(h, 2)
        skip = x
        if self.first:
            skip = self.shortcut(F.avg_pool2d(x, 2))
        elif self.shortcut is not None:
            skip = self.shortcut(x)
            skip = F.avg_pool2d(skip, 2) if self.downsample else skip
        return h + skip


class SNGANResNetGenerator(Generator):
    def __init__(self, z_dim: int, resolution: int, channels: int, width: int, num_classes: int = 0):
        super().__init__(z_dim, num_classes)
        self.width = 4 * width
        self.input = nn.Linear(z_dim, 16 * self.width)
        nn.init.xavier_uniform_(self.input.weight)
        self.blocks = nn.ModuleList(UpBlock(self.width, self.width, num_classes)
                                    for _ in range(upsamplings(resolution)))
        self.norm = nn.BatchNorm2d(self.width)
        self.output = _conv(self.width, channels, 3, 1.0)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.input(z).view(len(z), self.width, 4, 4)
        for block in self.blocks:
            h = block(h, y)
        return torch.tanh(self.output(torch.relu(self.norm(h))))


class SNGANResNetDiscriminator(Discriminator):
    def __init__(self, resolution: int, channels: int, width: int, num_classes: int = 0):
        super().__init__()
        w = 2 * width
        downsamplings = max(1, int(math.log2(resolution)) - 3)  # down to 8x8 (16px: one, to 8x8)
        blocks = [DownBlock(channels, w, downsample=True, first=True)]
        blocks += [DownBlock(w, w, downsample=True) for _ in range(downsamplings - 1)]
        blocks += [DownBlock(w, w, downsample=False) for _ in range(2)]
        self.blocks = nn.Sequential(*blocks)
        self.head = ProjectionHead(w, num_classes)
        nn.init.xavier_uniform_(self.head.linear.weight)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.blocks(x)).sum(dim=(2, 3))  # global sum pooling


def build(cfg: ModelConfig, resolution: int, channels: int, num_classes: int):
    return (SNGANResNetGenerator(cfg.z_dim, resolution, channels, cfg.g_width, num_classes),
            SNGANResNetDiscriminator(resolution, channels, cfg.d_width, num_classes))


ARCHITECTURES.register("sngan_resnet")(Architecture(build, "image", "SN-GAN ResNet (Miyato et al. 2018)"))
