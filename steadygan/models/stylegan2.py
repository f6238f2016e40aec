"""StyleGAN2 (Karras et al. 2020): a mapping network to w, then a synthesis network from a learned 4x4 constant
through modulated, demodulated 3x3 convolutions with noise inputs, summing the toRGB output of every
resolution (the skip architecture); a residual discriminator with minibatch standard deviation. Plain torch.

Widths follow the official configuration's rule, min(cmax, 64 cmax / resolution): the full `model.g_width`
(`d_width`) up to 64x64, halving at each doubling beyond. One w drives every layer (no style mixing yet).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ModelConfig
from ..nn import EqualizedConv2d, MinibatchStdDev, ProjectionHead
from ..nn.stylegan import (
    GAIN,
    MappingNetwork,
    ModulatedConv2d,
    NoiseInput,
    ScaledLinear,
    downsample2d,
    fir_filter,
    upsample2d,
)
from .base import ARCHITECTURES, Architecture, Discriminator, Generator, check_equalized_lr_settings

MAPPING_LAYERS = 8


def width_at(resolution: int, cap: int) -> int:
    return min(cap, 64 * cap // resolution)


class SynthesisLayer(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, w_dim: int, up: bool = False):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim, up=up)
        self.noise = NoiseInput()
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.noise(self.conv(x, w)) + self.bias[:, None, None], 0.2) * GAIN


class ToRGB(nn.Module):
    def __init__(self, in_channels: int, channels: int, w_dim: int):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, channels, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.conv(x, w) + self.bias[:, None, None]


class SynthesisBlock(nn.Module):
    """One resolution: an upsampling layer (except at 4x4) and a layer, then its toRGB output."""

    def __init__(self, inputs: int, outputs: int, channels: int, w_dim: int, first: bool):
        super().__init__()
        ups = [] if first else [SynthesisLayer(inputs, outputs, w_dim, up=True)]
        self.layers = nn.ModuleList([*ups, SynthesisLayer(outputs, outputs, w_dim)])
        self.to_rgb = ToRGB(outputs, channels, w_dim)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for layer in self.layers:
            x = layer(x, w)
        return x, self.to_rgb(x, w)


class StyleGAN2Generator(Generator):
    kernel: torch.Tensor

    def __init__(self, z_dim: int, w_dim: int, resolution: int, channels: int, cap: int, num_classes: int = 0):
        super().__init__(z_dim, num_classes)
        self.mapping = MappingNetwork(z_dim, w_dim, MAPPING_LAYERS, num_classes)
        self.const = nn.Parameter(torch.randn(width_at(4, cap), 4, 4))
        sizes = [4 * 2 ** i for i in range(int(math.log2(resolution)) - 1)]  # 4, 8, ..., resolution
        self.blocks = nn.ModuleList(
            SynthesisBlock(width_at(max(size // 2, 4), cap), width_at(size, cap), channels, w_dim, first=size == 4)
            for size in sizes)
        self.register_buffer("kernel", fir_filter())

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None, truncation: float = 1.0) -> torch.Tensor:
        w = self.mapping(z, y, truncation)
        x, image = self.blocks[0](self.const.expand(len(z), *self.const.shape), w)
        for block in self.blocks[1:]:
            x, rgb = block(x, w)
            image = upsample2d(image, self.kernel) + rgb  # the skip architecture: every resolution adds its image
        return image


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions, the second after FIR downsampling, beside a downsampled 1x1 skip; (x + skip) / sqrt 2."""

    kernel: torch.Tensor

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv0 = EqualizedConv2d(in_channels, in_channels, 3, padding=1, gain=1.0)
        self.conv1 = EqualizedConv2d(in_channels, out_channels, 3, padding=1, gain=1.0)
        self.skip = EqualizedConv2d(in_channels, out_channels, 1, bias=False, gain=1.0)
        self.register_buffer("kernel", fir_filter())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.skip(downsample2d(x, self.kernel))
        x = F.leaky_relu(self.conv0(x), 0.2) * GAIN
        x = F.leaky_relu(self.conv1(downsample2d(x, self.kernel)), 0.2) * GAIN
        return (x + skip) * math.sqrt(0.5)


class StyleGAN2Discriminator(Discriminator):
    def __init__(self, resolution: int, channels: int, cap: int, num_classes: int = 0, group_size: int = 4):
        super().__init__()
        sizes = [resolution // 2 ** i for i in range(int(math.log2(resolution)) - 2)]  # resolution, ..., 8
        self.from_rgb = EqualizedConv2d(channels, width_at(resolution, cap), 1, gain=1.0)
        self.blocks = nn.Sequential(*(ResidualBlock(width_at(s, cap), width_at(s // 2, cap)) for s in sizes))
        width = width_at(4, cap)
        self.stddev = MinibatchStdDev(group_size=group_size)
        self.conv = EqualizedConv2d(width + 1, width, 3, padding=1, gain=1.0)
        self.fc = ScaledLinear(width * 16, width)
        self.head = ProjectionHead(width, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.from_rgb(x), 0.2) * GAIN
        x = self.blocks(x)
        x = F.leaky_relu(self.conv(self.stddev(x)), 0.2) * GAIN
        return F.leaky_relu(self.fc(x.flatten(1)), 0.2) * GAIN


def build(cfg: ModelConfig, resolution: int, channels: int, num_classes: int):
    check_equalized_lr_settings(
        cfg, ("minibatch_discrimination", "minibatch_stddev", "spectral_norm", "g_spectral_norm"),
        "its D ends with minibatch stddev, and it is normalized by demodulation")
    return (StyleGAN2Generator(cfg.z_dim, cfg.z_dim, resolution, channels, cfg.g_width, num_classes),
            StyleGAN2Discriminator(resolution, channels, cfg.d_width, num_classes, group_size=cfg.mbstd_group))


ARCHITECTURES.register("stylegan2")(Architecture(
    build, "image", "StyleGAN2 (Karras et al. 2020): mapping network, modulated convolutions, skip G, residual D",
    resolutions=tuple(2 ** k for k in range(4, 11))))
