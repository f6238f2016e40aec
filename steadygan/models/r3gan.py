"""R3GAN's networks (Huang et al. 2024): a modern ResNeXt-style G and D with no normalization at all.

Every stage is a run of residual blocks, each a 1x1 convolution expanding the channels 2x, a grouped 3x3
convolution (groups of `model.group_width` channels, one group when narrower: cardinality 96 at the CIFAR
width 768), and a 1x1
convolution back, with biased leaky ReLUs between them. The last convolution of every block starts at
zero and the others are scaled by L^(-1/4) for L blocks in all (the paper's fix-up initialization), so
each block starts as the identity. Resampling is interpolation with the [1, 2, 1] filter; a width
change is a 1x1 convolution (before up-sampling in G, after down-sampling in D).

G: z times a learned 4x4 basis, its stages up to full resolution, and a 1x1 convolution to RGB (no tanh).
D: a 1x1 convolution from RGB, its stages down to 4x4, a depth-wise 4x4 convolution to one feature vector,
and the (projection) head. A class-conditional G joins a linear embedding of the one-hot class to z.
Widths: `model.g_width` / `model.d_width` at every stage (CIFAR-10: 768); `model.hidden_layers` blocks
per stage (CIFAR-10: 2).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ModelConfig
from ..errors import ConfigError
from ..nn import ProjectionHead
from ..nn.stylegan import downsample2d, fir_filter, upsample2d
from .base import ARCHITECTURES, Architecture, Discriminator, Generator, upsamplings

SLOPE = 0.2
ACTIVATION_GAIN = math.sqrt(2 / (1 + SLOPE**2))
EXPANSION = 2
RESAMPLING = fir_filter((1, 2, 1))


def msr_init(layer: nn.Conv2d | nn.Linear, gain: float = 1.0) -> nn.Module:
    """He-normal weights with `gain` (0: zeros), as R3GAN's MSRInitializer."""
    fan_in = layer.weight[0].numel()
    nn.init.normal_(layer.weight, 0.0, gain / math.sqrt(fan_in))
    return layer


def conv(a: int, b: int, kernel: int, groups: int = 1, gain: float = 1.0) -> nn.Module:
    return msr_init(nn.Conv2d(a, b, kernel, padding=kernel // 2, groups=groups, bias=False), gain)


class BiasedActivation(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x + self.bias[:, None, None], SLOPE)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, group_width: int, total_blocks: int):
        super().__init__()
        expanded = channels * EXPANSION
        if expanded > group_width and expanded % group_width:
            raise ConfigError(f"model.group_width={group_width} must divide the expanded width {expanded} (2 x "
                              f"model.g_width or d_width) of model.arch=r3gan")
        gain = ACTIVATION_GAIN * total_blocks ** (-1 / 4)  # L^(-1 / (2 * 3 - 2)) for three layers per block
        self.expand = conv(channels, expanded, 1, gain=gain)
        self.grouped = conv(expanded, expanded, 3, groups=max(1, expanded // group_width), gain=gain)
        self.project = conv(expanded, channels, 1, gain=0.0)  # zero: the block starts as the identity
        self.act1, self.act2 = BiasedActivation(expanded), BiasedActivation(expanded)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.project(self.act2(self.grouped(self.act1(self.expand(x)))))


def stage(width: int, blocks: int, group_width: int, total_blocks: int) -> nn.Sequential:
    return nn.Sequential(*(ResidualBlock(width, group_width, total_blocks) for _ in range(blocks)))


class R3GANGenerator(Generator):
    def __init__(self, z_dim: int, resolution: int, channels: int, width: int, blocks: int, group_width: int,
                 num_classes: int = 0):
        super().__init__(z_dim, num_classes)
        stages = upsamplings(resolution) + 1
        self.embed = msr_init(nn.Linear(num_classes, z_dim, bias=False)) if num_classes else None
        inputs = 2 * z_dim if num_classes else z_dim
        self.basis = nn.Parameter(torch.randn(width, 4, 4))
        self.input = msr_init(nn.Linear(inputs, width, bias=False))
        self.stages = nn.ModuleList(stage(width, blocks, group_width, stages * blocks) for _ in range(stages))
        self.output = conv(width, channels, 1)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None and y is not None:
            z = torch.cat([z, self.embed(F.one_hot(y, self.num_classes).to(z.dtype))], dim=1)
        h = self.basis[None] * self.input(z)[:, :, None, None]
        for i, layers in enumerate(self.stages):
            h = layers(upsample2d(h, RESAMPLING.to(h.device)) if i else h)
        return self.output(h)


class R3GANDiscriminator(Discriminator):
    def __init__(self, resolution: int, channels: int, width: int, blocks: int, group_width: int,
                 num_classes: int = 0):
        super().__init__()
        stages = upsamplings(resolution) + 1
        self.input = conv(channels, width, 1)
        self.stages = nn.ModuleList(stage(width, blocks, group_width, stages * blocks) for _ in range(stages))
        self.basis = msr_init(nn.Conv2d(width, width, 4, groups=width, bias=False))
        self.head = ProjectionHead(width, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = self.input(x)
        for i, layers in enumerate(self.stages):
            h = layers(h)
            if i < len(self.stages) - 1:
                h = downsample2d(h, RESAMPLING.to(h.device))
        return self.basis(h).flatten(1)


def build(cfg: ModelConfig, resolution: int, channels: int, num_classes: int):
    return (R3GANGenerator(cfg.z_dim, resolution, channels, cfg.g_width, cfg.hidden_layers, cfg.group_width,
                           num_classes),
            R3GANDiscriminator(resolution, channels, cfg.d_width, cfg.hidden_layers, cfg.group_width, num_classes))


ARCHITECTURES.register("r3gan")(Architecture(build, "image", "R3GAN's normalization-free ResNeXt (Huang et al. 2024)",
                                             tanh_output=False))
