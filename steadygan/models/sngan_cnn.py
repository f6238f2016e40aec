"""The SN-GAN "standard CNN" (Miyato et al. 2018, Table 3).

G: linear z -> 4x4, transposed 4x4 stride-2 convolutions with BN + ReLU, a 3x3 convolution + tanh.
D: pairs of (3x3 stride 1, 4x4 stride 2) convolutions with leaky ReLU 0.1, a last 3x3 convolution,
then a linear (projection) head on the flattened 4x4 map. At 32px with width 64 the channels are
exactly the paper's (G 512-256-128-64, D 64-64-128-128-256-256-512); other resolutions add or remove
stages, with width doubling per halving of resolution up to 8x. Convolutions and linear layers start
from N(0, 0.02), as in the authors' code (chainer-gan-lib). `model.d_stem_stride=2` makes D's first 3x3
convolution strided: every later layer runs at half the size, and the head reads a 2x2 map.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from ..config import ModelConfig
from ..nn import ProjectionHead, make_norm
from .base import ARCHITECTURES, Architecture, Discriminator, Generator, init_normal, stage_width, upsamplings


class SNGANCNNGenerator(Generator):
    def __init__(self, z_dim: int, resolution: int, channels: int, width: int, num_classes: int = 0):
        super().__init__(z_dim, num_classes)
        widths = [stage_width(width, resolution, 4 * 2 ** i) for i in range(upsamplings(resolution) + 1)]
        self.base_width = widths[0]
        self.input = nn.Linear(z_dim, 16 * widths[0])
        self.norms = nn.ModuleList(make_norm(w, num_classes) for w in widths)
        self.ups = nn.ModuleList(nn.ConvTranspose2d(a, b, 4, 2, 1) for a, b in itertools.pairwise(widths))
        self.output = nn.Conv2d(widths[-1], channels, 3, 1, 1)
        init_normal(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.input(z).view(z.shape[0], self.base_width, 4, 4)
        h = torch.relu(self.norms[0](h, y))
        for up, norm in zip(self.ups, self.norms[1:], strict=True):
            h = torch.relu(norm(up(h), y))
        return torch.tanh(self.output(h))


class SNGANCNNDiscriminator(Discriminator):
    def __init__(self, resolution: int, channels: int, width: int, num_classes: int = 0, stem_stride: int = 1):
        super().__init__()
        layers: list[nn.Module] = []
        previous = channels
        for i in range(upsamplings(resolution)):
            w = stage_width(width, resolution, resolution // 2 ** i)
            stride = stem_stride if i == 0 else 1
            layers += [nn.Conv2d(previous, w, 3, stride, 1), nn.LeakyReLU(0.1), nn.Conv2d(w, w, 4, 2, 1),
                       nn.LeakyReLU(0.1)]
            previous = w
        last = stage_width(width, resolution, 4)
        layers += [nn.Conv2d(previous, last, 3, 1, 1), nn.LeakyReLU(0.1), nn.Flatten()]
        self.body = nn.Sequential(*layers)
        self.head = ProjectionHead((4 // stem_stride) ** 2 * last, num_classes)
        init_normal(self)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def build(cfg: ModelConfig, resolution: int, channels: int, num_classes: int):
    return (SNGANCNNGenerator(cfg.z_dim, resolution, channels, cfg.g_width, num_classes),
            SNGANCNNDiscriminator(resolution, channels, cfg.d_width, num_classes, cfg.d_stem_stride))


ARCHITECTURES.register("sngan_cnn")(Architecture(build, "image", "SN-GAN standard CNN (Miyato et al. 2018)",
                                                 stem_strides=(1, 2)))
