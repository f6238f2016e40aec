"""DCGAN (Radford et al. 2016): transposed convolutions with batch norm in G, strided convolutions
with leaky ReLU in D, weights from N(0, 0.02).

Width doubles per halving of resolution up to 8x (64 -> 512 at 4x4 for 64px images). With spectral
norm on, D drops its batch norm unless model.d_norm=batch, as in the SN-GAN comparison (Miyato et al. 2018).
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from ..config import ModelConfig
from ..nn import ProjectionHead, make_norm
from .base import ARCHITECTURES, Architecture, Discriminator, Generator, init_normal, stage_width, upsamplings


class DCGANGenerator(Generator):
    def __init__(self, z_dim: int, resolution: int, channels: int, width: int, num_classes: int = 0):
        super().__init__(z_dim, num_classes)
        sizes = [4 * 2 ** i for i in range(upsamplings(resolution))]  # 4, 8, ..., resolution / 2
        widths = [stage_width(width, resolution // 2, s) for s in sizes]
        self.input = (nn.ConvTranspose2d(z_dim, widths[0], 4, 1, 0, bias=False))
        self.ups = nn.ModuleList((nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False))
                                 for a, b in itertools.pairwise(widths))
        self.norms = nn.ModuleList(make_norm(w, num_classes) for w in widths)
        self.output = (nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1))
        init_dcgan(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = torch.relu(self.norms[0](self.input(z[:, :, None, None]), y))
        for up, norm in zip(self.ups, self.norms[1:], strict=True):
            h = torch.relu(norm(up(h), y))
        return torch.tanh(self.output(h))


class DCGANDiscriminator(Discriminator):
    def __init__(self, resolution: int, channels: int, width: int, num_classes: int = 0, batch_norm: bool = True):
        super().__init__()
        sizes = [resolution // 2 ** (i + 1) for i in range(upsamplings(resolution))]  # R/2, ..., 4
        widths = [stage_width(width, resolution // 2, s) for s in sizes]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip([channels, *widths], widths, strict=False)):
            layers.append(nn.Conv2d(a, b, 4, 2, 1, bias=not batch_norm or i == 0))
            if batch_norm and i > 0:  # never on the input layer (Radford et al.)
                layers.append(nn.BatchNorm2d(b))
            layers.append(nn.LeakyReLU(0.2))
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.head = ProjectionHead(widths[-1] * 16, num_classes)
        init_dcgan(self)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def init_dcgan(module: nn.Module) -> None:
    """N(0, 0.02) for convolutions and linear layers, N(1, 0.02) for batch-norm gains (Radford et al.)."""
    init_normal(module, 0.02)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d) and m.affine:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def build(cfg: ModelConfig, resolution: int, channels: int, num_classes: int):
    batch_norm = cfg.d_norm == "batch" or (cfg.d_norm == "auto" and not cfg.spectral_norm)
    return (DCGANGenerator(cfg.z_dim, resolution, channels, cfg.g_width, num_classes),
            DCGANDiscriminator(resolution, channels, cfg.d_width, num_classes, batch_norm=batch_norm))


ARCHITECTURES.register("dcgan")(Architecture(build, "image", "DCGAN (Radford et al. 2016)", d_norms=("batch", "none")))
