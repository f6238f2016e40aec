"""The SN-GAN ResNet (Miyato et al. 2018; with projection, Miyato & Koyama 2018).

G: linear z -> 4x4, one up-sampling residual block per doubling (BN/CBN, ReLU, nearest up, 3x3 conv,
twice; 1x1 conv shortcut), then BN, ReLU, 3x3 conv, tanh. D: an "optimized" first block, residual
down-sampling blocks, ReLU, global sum pooling and the (projection) head.

Widths follow the authors' two models, with w = g_width or d_width:
- 16 and 32 px, the CIFAR model: constant widths, G 4w (256) and D 2w (128); D down-samples to 8x8
  and adds two blocks there (16 px drops one up and one down block).
- 64 and 128 px, the ImageNet models: G starts at 16w at 4x4 and halves per block down to w at full
  resolution (at most 16w); D doubles from w per down-sampling up to 16w, down to 2x2 (64 px) or to
  4x4 plus one more 16w block (128 px).
Residual convolutions start from Xavier-uniform with gain sqrt(2), shortcuts, linear and embedding
layers with gain 1, as in the authors' code. `model.attention` adds SAGAN's self-attention after the
G block that reaches each listed resolution and after the D block that leaves it; `model.d_stem_stride=2`
makes the first D convolution strided (in place of that block's pooling), halving its cost.
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ModelConfig
from ..nn import ProjectionHead, make_norm
from .base import ARCHITECTURES, Architecture, Discriminator, Generator, attention_after, stage_width, upsamplings

RESIDUAL_GAIN = math.sqrt(2)


def _conv(a: int, b: int, kernel: int, gain: float) -> nn.Conv2d:
    conv = nn.Conv2d(a, b, kernel, 1, kernel // 2)
    nn.init.xavier_uniform_(conv.weight, gain)
    nn.init.zeros_(conv.bias)  # type: ignore[arg-type]  # made with a bias just above
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

    def __init__(self, in_ch: int, out_ch: int, downsample: bool, first: bool = False, stride: int = 1):
        super().__init__()
        self.conv1 = _conv(in_ch, out_ch, 3, RESIDUAL_GAIN)
        self.conv1.stride = (stride, stride)  # a strided first block down-samples here instead of pooling
        self.conv2 = _conv(out_ch, out_ch, 3, RESIDUAL_GAIN)
        self.shortcut = _conv(in_ch, out_ch, 1, 1.0) if downsample or in_ch != out_ch else None
        self.downsample = downsample
        self.first = first
        self.strided = stride > 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(torch.relu(self.conv1(x if self.first else torch.relu(x))))
        if self.downsample and not self.strided:
            h = F.avg_pool2d(h, 2)
        skip = x
        if self.shortcut is not None and self.first:  # the first block pools before its 1x1 convolution
            skip = self.shortcut(F.avg_pool2d(x, 2))
        elif self.shortcut is not None:
            skip = self.shortcut(x)
            skip = F.avg_pool2d(skip, 2) if self.downsample else skip
        return h + skip


def is_cifar(resolution: int) -> bool:
    """Whether `resolution` uses the constant-width CIFAR model rather than the ImageNet one."""
    return resolution <= 32


def generator_widths(width: int, resolution: int) -> list[int]:
    """Channels at 4x4 and after each up-sampling block."""
    sizes = [4 * 2 ** i for i in range(upsamplings(resolution) + 1)]
    if is_cifar(resolution):
        return [4 * width for _ in sizes]
    return [stage_width(width, resolution, s, cap=16) for s in sizes]


def discriminator_widths(width: int, resolution: int) -> list[tuple[int, bool]]:
    """(channels, down-samples) of each block after the optimized first one."""
    if is_cifar(resolution):
        downsamplings = int(math.log2(resolution)) - 3  # the first block plus these reach 8x8
        return [(2 * width, True)] * (downsamplings - 1) + [(2 * width, False)] * 2
    blocks = [(width * 2 ** i, True) for i in range(1, 5)]  # 2w, 4w, 8w, 16w
    return blocks if resolution == 64 else [*blocks, (16 * width, False)]


class SNGANResNetGenerator(Generator):
    def __init__(self, z_dim: int, resolution: int, channels: int, width: int, num_classes: int = 0,
                 attention: tuple[int, ...] = ()):
        super().__init__(z_dim, num_classes)
        widths = generator_widths(width, resolution)
        self.base_width = widths[0]
        self.input = nn.Linear(z_dim, 16 * widths[0])
        nn.init.xavier_uniform_(self.input.weight)
        nn.init.zeros_(self.input.bias)
        self.blocks = nn.ModuleList(UpBlock(a, b, num_classes) for a, b in itertools.pairwise(widths))
        sizes = [8 * 2 ** i for i in range(len(self.blocks))]
        self.attention = attention_after(sizes, widths[1:], attention)
        self.norm = nn.BatchNorm2d(widths[-1])
        self.output = _conv(widths[-1], channels, 3, 1.0)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.input(z).view(z.shape[0], self.base_width, 4, 4)
        for block, attend in zip(self.blocks, self.attention, strict=True):
            h = attend(block(h, y))
        return torch.tanh(self.output(torch.relu(self.norm(h))))


class SNGANResNetDiscriminator(Discriminator):
    def __init__(self, resolution: int, channels: int, width: int, num_classes: int = 0,
                 attention: tuple[int, ...] = (), stem_stride: int = 1):
        super().__init__()
        first = 2 * width if is_cifar(resolution) else width
        blocks = [DownBlock(channels, first, downsample=True, first=True, stride=stem_stride)]
        sizes, widths, size = [resolution // 2], [first], resolution // 2
        for w, downsample in discriminator_widths(width, resolution):
            blocks.append(DownBlock(widths[-1], w, downsample))
            size = size // 2 if downsample else size
            sizes.append(size)
            widths.append(w)
        previous = widths[-1]
        attend = attention_after(sizes, widths, attention)  # after the block that leaves each listed resolution
        self.blocks = nn.Sequential(*(layer for block, after in zip(blocks, attend, strict=True)
                                      for layer in (block, after) if not isinstance(layer, nn.Identity)))
        self.head = ProjectionHead(previous, num_classes)
        nn.init.xavier_uniform_(self.head.linear.weight)
        nn.init.zeros_(self.head.linear.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.blocks(x)).sum(dim=(2, 3))  # global sum pooling


def build(cfg: ModelConfig, resolution: int, channels: int, num_classes: int):
    return (SNGANResNetGenerator(cfg.z_dim, resolution, channels, cfg.g_width, num_classes, cfg.attention),
            SNGANResNetDiscriminator(resolution, channels, cfg.d_width, num_classes, cfg.attention, cfg.d_stem_stride))


ARCHITECTURES.register("sngan_resnet")(Architecture(build, "image", "SN-GAN ResNet (Miyato et al. 2018)",
                                                    attention=True, stem_strides=(1, 2)))
