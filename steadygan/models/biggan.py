"""BigGAN (Brock et al. 2019), in the layout of its authors' BigGAN-PyTorch.

G: the hierarchical latent z is split into one chunk for the input layer (linear to 4x4) and one per
residual block; each block's chunk is joined to the class's row of one shared embedding, and that vector
drives both conditional batch norms of the block (gain 1 + linear, bias linear, no biases of their own).
Blocks are BN, ReLU, nearest up-sampling, 3x3 conv, BN, ReLU, 3x3 conv, with an up-sampled 1x1 shortcut;
then BN, ReLU, 3x3 conv, tanh. Without classes the chunks alone drive the norms (plain BN without the
hierarchical latent). D: the SN-GAN ResNet discriminator with BigGAN's widths and a projection head.

Widths (ch = model.g_width or d_width), as BigGAN-PyTorch's G_arch/D_arch: at 16 and 32 px 4ch
throughout; at 64 and 128 px G goes 16ch, 16ch, 8ch, 4ch, 2ch (, ch) and D from ch up to 16ch (at 64 px D
down-samples once more than BigGAN-PyTorch, to 2x2). Convolutions and linear layers start from N(0, 0.02)
(the CIFAR script's init; model.init=orthogonal gives the ImageNet one). `model.attention` places
self-attention after the G and D blocks at those resolutions.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ModelConfig
from ..errors import ConfigError
from ..nn import BatchNorm2d
from .base import ARCHITECTURES, Architecture, Generator, attention_after, init_normal, upsamplings
from .sngan_resnet import SNGANResNetDiscriminator, is_cifar


class ClassBatchNorm(nn.Module):
    """Batch norm whose gain and bias are linear in a conditioning vector c: gain 1 + W_g c, bias W_b c."""

    def __init__(self, channels: int, condition: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Linear(condition, channels, bias=False)
        self.bias = nn.Linear(condition, channels, bias=False)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        return self.norm(x) * (1 + self.gain(c)[:, :, None, None]) + self.bias(c)[:, :, None, None]


class GBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, condition: int):
        super().__init__()
        self.norm1 = ClassBatchNorm(in_ch, condition) if condition else BatchNorm2d(in_ch)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.norm2 = ClassBatchNorm(out_ch, condition) if condition else BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.shortcut = nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        h = F.interpolate(torch.relu(self.norm1(x, c)), scale_factor=2, mode="nearest")
        h = self.conv2(torch.relu(self.norm2(self.conv1(h), c)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


def generator_widths(width: int, resolution: int) -> list[int]:
    """Channels at 4x4 and after each up-sampling block."""
    if is_cifar(resolution):
        return [4 * width] * (upsamplings(resolution) + 1)
    return [16 * width, *(width * 2 ** (4 - i) for i in range(upsamplings(resolution)))]


class BigGANGenerator(Generator):
    def __init__(self, z_dim: int, resolution: int, channels: int, width: int, num_classes: int = 0,
                 shared_dim: int = 128, hierarchical: bool = True, attention: tuple[int, ...] = ()):
        super().__init__(z_dim, num_classes)
        widths = generator_widths(width, resolution)
        blocks = len(widths) - 1
        chunks = blocks + 1 if hierarchical else 1
        if z_dim < chunks:
            raise ConfigError(f"model.z_dim={z_dim} is too small for BigGAN's hierarchical latent of {chunks} chunks; "
                              f"set model.z_dim to at least {chunks} or model.hierarchical_z=false")
        # As equal as they can be: the first z_dim % chunks chunks have one dimension more.
        self.chunks = [z_dim // chunks + (i < z_dim % chunks) for i in range(chunks)]
        self.base_width = widths[0]
        self.shared = nn.Embedding(num_classes, shared_dim) if num_classes else None
        embedded = shared_dim if num_classes else 0
        conditions = [embedded + (chunk if hierarchical else 0) for chunk in self.chunks[-blocks:]]
        self.input = nn.Linear(self.chunks[0], 16 * widths[0])
        self.blocks = nn.ModuleList(GBlock(a, b, c) for (a, b), c in zip(itertools.pairwise(widths), conditions,
                                                                          strict=True))
        self.attention = attention_after([8 * 2 ** i for i in range(blocks)], widths[1:], attention)
        self.norm = nn.BatchNorm2d(widths[-1])
        self.output = nn.Conv2d(widths[-1], channels, 3, padding=1)
        init_normal(self)

    def conditions(self, z: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        """The input layer's chunk of z, and each block's conditioning vector: [shared(y), its chunk of z]."""
        chunks = list(z.split(self.chunks, dim=1))
        first, rest = chunks[0], chunks[1:]
        embedded = [self.shared(y)] if self.shared is not None and y is not None else []
        if not rest:
            return first, [embedded[0] if embedded else None] * len(self.blocks)
        return first, [torch.cat([*embedded, chunk], dim=1) for chunk in rest]

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        first, conditions = self.conditions(z, y)
        h = self.input(first).view(z.shape[0], self.base_width, 4, 4)
        for block, attend, c in zip(self.blocks, self.attention, conditions, strict=True):
            h = attend(block(h, c))
        return torch.tanh(self.output(torch.relu(self.norm(h))))


def build(cfg: ModelConfig, resolution: int, channels: int, num_classes: int):
    d_width = 2 * cfg.d_width if is_cifar(resolution) else cfg.d_width  # SN-GAN's CIFAR D is 2w wide, BigGAN's 4ch
    D = SNGANResNetDiscriminator(resolution, channels, d_width, num_classes, cfg.attention, cfg.d_stem_stride)
    init_normal(D)
    return (BigGANGenerator(cfg.z_dim, resolution, channels, cfg.g_width, num_classes, cfg.shared_dim,
                            cfg.hierarchical_z, cfg.attention), D)


ARCHITECTURES.register("biggan")(Architecture(build, "image", "BigGAN (Brock et al. 2019)", attention=True))
