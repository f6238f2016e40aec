"""StyleGAN2 (Karras et al. 2020) and StyleGAN (Karras et al. 2019): a mapping network from z to the styles
w, then a synthesis network from a learned 4x4 constant, with noise inputs in every layer; a residual
discriminator with minibatch standard deviation. Plain torch.

- `stylegan2`: modulated, demodulated 3x3 convolutions, and the toRGB output of every resolution summed
  (the skip architecture).
- `stylegan`: the 2019 form of the same network: plain convolutions, each followed by noise, bias, leaky
  ReLU and adaptive instance normalization (AdaIN) by the style; one toRGB at the last resolution (trained
  at full size, without the 2019 paper's progressive growing).

Each layer takes its own style: `synthesis(ws)` reads ws (N, num_ws, w_dim), one w per convolution and per
toRGB, numbered as in the official code (the toRGB of a resolution shares its w with the next
resolution's first convolution), so that style mixing and the `mix` grids can give coarse and fine
layers different latents. Widths follow the official rule min(channel_max, channel_base / resolution),
with `model.g_width` (`d_width`) as channel_max and `model.channel_base` (0: 64 x the width, the full
width up to 64x64).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ModelConfig
from ..nn import EqualizedConv2d, MinibatchStdDev, ProjectionHead
from ..nn.stylegan import (
    GAIN,
    AdaptiveInstanceNorm,
    MappingNetwork,
    ModulatedConv2d,
    NoiseInput,
    ScaledLinear,
    downsample2d,
    fir_filter,
    upsample2d,
)
from .base import ARCHITECTURES, Architecture, Discriminator, StyleGenerator, check_equalized_lr_settings

Widths = Callable[[int], int]  # resolution -> channels


def channel_widths(channel_max: int, channel_base: int = 0) -> Widths:
    base = channel_base or 64 * channel_max
    return lambda resolution: max(1, min(channel_max, base // resolution))


def block_resolutions(resolution: int) -> list[int]:
    return [4 * 2 ** i for i in range(int(math.log2(resolution)) - 1)]  # 4, 8, ..., resolution


class ModulatedLayer(nn.Module):
    """StyleGAN2's layer: modulated, demodulated convolution (upsampling first when `up`), noise, bias, leaky ReLU."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: bool = False):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim, up=up)
        self.noise = NoiseInput(resolution)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.noise(self.conv(x, w)) + self.bias[:, None, None], 0.2) * GAIN


class AdaINLayer(nn.Module):
    """StyleGAN's layer: convolution (FIR upsampling first when `up`), noise, bias, leaky ReLU, then AdaIN."""

    kernel: torch.Tensor

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: bool = False):
        super().__init__()
        self.conv = EqualizedConv2d(in_channels, out_channels, 3, padding=1, bias=False, gain=1.0)
        self.noise = NoiseInput(resolution)
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.norm = AdaptiveInstanceNorm(out_channels, w_dim)
        self.up = up
        self.register_buffer("kernel", fir_filter())

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if self.up:
            x = upsample2d(x, self.kernel)
        x = F.leaky_relu(self.noise(self.conv(x)) + self.bias[:, None, None], 0.2) * GAIN
        return self.norm(x, w)


class ToRGB(nn.Module):
    """A modulated 1x1 convolution without demodulation, and a bias; `styled=False`: a plain 1x1 convolution."""

    def __init__(self, in_channels: int, channels: int, w_dim: int, styled: bool = True):
        super().__init__()
        self.conv: nn.Module = (ModulatedConv2d(in_channels, channels, 1, w_dim, demodulate=False) if styled
                                else EqualizedConv2d(in_channels, channels, 1, bias=False, gain=1.0))
        self.styled = styled
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return (self.conv(x, w) if self.styled else self.conv(x)) + self.bias[:, None, None]


Layer = type[ModulatedLayer] | type[AdaINLayer]


class SynthesisBlock(nn.Module):
    """One resolution: an upsampling layer (except at 4x4) and a layer, then (where there is one) its toRGB."""

    def __init__(self, inputs: int, outputs: int, channels: int, w_dim: int, resolution: int, layer: Layer,
                 rgb: bool, styled_rgb: bool):
        super().__init__()
        ups = [] if resolution == 4 else [layer(inputs, outputs, w_dim, resolution, up=True)]
        self.layers = nn.ModuleList([*ups, layer(outputs, outputs, w_dim, resolution)])
        self.to_rgb = ToRGB(outputs, channels, w_dim, styled_rgb) if rgb else None
        self.num_styles = len(self.layers) + 1  # one per layer, one for the toRGB (read even where it has none)

    def forward(self, x: torch.Tensor, ws: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`ws`: this block's styles, one per layer and one more for the toRGB."""
        for i, layer in enumerate(self.layers):
            x = layer(x, ws[:, i])
        return x, None if self.to_rgb is None else self.to_rgb(x, ws[:, self.num_styles - 1])


class SynthesisNetwork(nn.Module):
    """ws -> images, from a learned 4x4 constant. With `skip`, every resolution's toRGB output is added to the
    upsampled image so far (StyleGAN2); otherwise only the last resolution has one (StyleGAN)."""

    kernel: torch.Tensor

    def __init__(self, w_dim: int, resolution: int, channels: int, widths: Widths, layer: Layer, skip: bool):
        super().__init__()
        sizes = block_resolutions(resolution)
        self.skip = skip
        self.const = nn.Parameter(torch.randn(widths(4), 4, 4))
        blocks = [SynthesisBlock(widths(max(size // 2, 4)), widths(size), channels, w_dim, size, layer,
                                 rgb=skip or size == resolution, styled_rgb=skip) for size in sizes]
        self.blocks = nn.ModuleList(blocks)
        # Each block's slice of ws: a block starts at the w of the previous block's toRGB.
        counts = [block.num_styles for block in blocks]
        starts = [sum(counts[:b]) - b for b in range(len(counts))]
        self.style_slices = [slice(start, start + n) for start, n in zip(starts, counts, strict=True)]
        self.num_ws = self.style_slices[-1].stop  # 2 per resolution: 2 log2(resolution) - 2
        self.register_buffer("kernel", fir_filter())

    def forward(self, ws: torch.Tensor) -> torch.Tensor:
        x, image = self.const.expand(ws.shape[0], *self.const.shape), None
        for block, styles in zip(self.blocks, self.style_slices, strict=True):
            x, rgb = block(x, ws[:, styles])
            if rgb is not None:
                image = rgb if image is None else upsample2d(image, self.kernel) + rgb
        assert image is not None  # the last block always has a toRGB
        return image


class StyleBasedGenerator(StyleGenerator):
    def __init__(self, z_dim: int, resolution: int, channels: int, widths: Widths, mapping_layers: int,
                 num_classes: int, layer: Layer, skip: bool):
        super().__init__(z_dim, num_classes)
        self.synthesis = SynthesisNetwork(z_dim, resolution, channels, widths, layer, skip)
        self.mapping = MappingNetwork(z_dim, z_dim, self.synthesis.num_ws, mapping_layers, num_classes)
        self.num_ws = self.synthesis.num_ws

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None, truncation: float = 1.0) -> torch.Tensor:
        return self.synthesis(self.mapping(z, y, truncation))


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
    def __init__(self, resolution: int, channels: int, widths: Widths, num_classes: int = 0, group_size: int = 4):
        super().__init__()
        sizes = [resolution // 2 ** i for i in range(int(math.log2(resolution)) - 2)]  # resolution, ..., 8
        self.from_rgb = EqualizedConv2d(channels, widths(resolution), 1, gain=1.0)
        self.blocks = nn.Sequential(*(ResidualBlock(widths(s), widths(s // 2)) for s in sizes))
        width = widths(4)
        self.stddev = MinibatchStdDev(group_size=group_size)
        self.conv = EqualizedConv2d(width + 1, width, 3, padding=1, gain=1.0)
        self.fc = ScaledLinear(width * 16, width)
        self.head = ProjectionHead(width, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.from_rgb(x), 0.2) * GAIN
        x = self.blocks(x)
        x = F.leaky_relu(self.conv(self.stddev(x)), 0.2) * GAIN
        return F.leaky_relu(self.fc(x.flatten(1)), 0.2) * GAIN


def builder(layer: Layer, skip: bool):
    def build(cfg: ModelConfig, resolution: int, channels: int, num_classes: int):
        check_equalized_lr_settings(
            cfg, ("minibatch_discrimination", "minibatch_stddev", "spectral_norm", "g_spectral_norm"),
            "its D ends with minibatch stddev, and its layers are normalized by the styles")
        G = StyleBasedGenerator(cfg.z_dim, resolution, channels, channel_widths(cfg.g_width, cfg.channel_base),
                                cfg.mapping_layers, num_classes, layer, skip)
        D = StyleGAN2Discriminator(resolution, channels, channel_widths(cfg.d_width, cfg.channel_base), num_classes,
                                   group_size=cfg.mbstd_group)
        return G, D

    return build


STYLE_RESOLUTIONS = tuple(2 ** k for k in range(4, 11))  # 16 to 1024
ARCHITECTURES.register("stylegan2")(Architecture(
    builder(ModulatedLayer, skip=True), "image",
    "StyleGAN2 (Karras et al. 2020): mapping network, modulated convolutions, skip G, residual D",
    resolutions=STYLE_RESOLUTIONS, style_based=True, tanh_output=False))
ARCHITECTURES.register("stylegan")(Architecture(
    builder(AdaINLayer, skip=False), "image",
    "StyleGAN (Karras et al. 2019): mapping network, AdaIN after every convolution, noise inputs, residual D",
    resolutions=STYLE_RESOLUTIONS, style_based=True, tanh_output=False))
