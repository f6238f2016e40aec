"""Progressive GAN networks (Karras et al. 2018): both grow from 4x4 by doubling, a new block faded in.

G at depth d renders 4 * 2^d pixels. While block d fades in (alpha from 0 to 1) its output is
(1 - alpha) * upsample(toRGB_{d-1}(features_{d-1})) + alpha * toRGB_d(features_d), and D mirrors
it: (1 - alpha) * fromRGB_{d-1}(avgpool(x)) + alpha * block_d(fromRGB_d(x)). Every layer has an
equalized learning rate; G normalizes each pixel's features after every conv; D ends with the
minibatch standard-deviation layer.

Both networks run at the phase `set_phase(depth, alpha)` last chose (the growth schedule sets it every
step; fully grown by default), so that the trainer calls them as it calls any G and D.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ModelConfig
from ..nn import EqualizedConv2d, EqualizedLinear, MinibatchStdDev, PixelNorm
from .base import ARCHITECTURES, Architecture, Generator, Packs, check_equalized_lr_settings, upsamplings


def channels_at(depth: int, base: int = 8192, cap: int = 512) -> int:
    """The paper's width schedule: min(base / 2^(depth + 1), cap), 512 up to 32x32, halving after
    (at least one channel, for very narrow test models)."""
    return max(1, min(base // 2 ** (depth + 1), cap))


class ConvLayer(nn.Sequential):
    """Equalized 3x3 conv, leaky ReLU 0.2, and pixel norm when `normalize` (G only)."""

    def __init__(self, inputs: int, outputs: int, normalize: bool):
        super().__init__(EqualizedConv2d(inputs, outputs, 3, padding=1), nn.LeakyReLU(0.2),
                         *([PixelNorm()] if normalize else []))


class Progressive:
    """The phase a growing network runs at: 4 * 2^depth pixels, the newest block faded in by alpha."""

    max_depth: int
    depth: int
    alpha: float

    def set_phase(self, depth: int, alpha: float = 1.0) -> None:
        if not 0 <= depth <= self.max_depth or not 0.0 <= alpha <= 1.0:
            raise ValueError(f"phase (depth {depth}, alpha {alpha}) is outside depth 0..{self.max_depth}, alpha 0..1")
        self.depth, self.alpha = depth, alpha

    def _phase(self, depth: int | None, alpha: float | None) -> tuple[int, float]:
        """An explicit depth (and alpha, 1 when left out) for this call, else the phase set last."""
        if depth is None:
            return self.depth, self.alpha if alpha is None else alpha
        return depth, 1.0 if alpha is None else alpha


class ProgressiveGenerator(Progressive, Generator):
    def __init__(self, z_dim: int = 512, max_depth: int = 4, channels: int = 3, base: int = 8192, cap: int = 512):
        super().__init__(z_dim, num_classes=0)
        self.max_depth = max_depth
        self.set_phase(max_depth)
        width = [channels_at(d, base, cap) for d in range(max_depth + 1)]
        self.input = nn.Sequential(PixelNorm(), EqualizedLinear(z_dim, 16 * width[0], gain=2 ** 0.5 / 4))
        self.first = nn.Sequential(nn.LeakyReLU(0.2), PixelNorm(), ConvLayer(width[0], width[0], normalize=True))
        self.blocks = nn.ModuleList(
            nn.Sequential(ConvLayer(width[d - 1], width[d], True), ConvLayer(width[d], width[d], True))
            for d in range(1, max_depth + 1))
        self.to_rgb = nn.ModuleList(EqualizedConv2d(w, channels, 1, gain=1.0) for w in width)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None, depth: int | None = None,
                alpha: float | None = None) -> torch.Tensor:
        depth, alpha = self._phase(depth, alpha)
        x = self.first(self.input(z).view(z.shape[0], -1, 4, 4))
        previous = x
        for block in self.blocks[:depth]:
            previous = x
            x = block(F.interpolate(x, scale_factor=2, mode="nearest"))
        out = self.to_rgb[depth](x)
        if depth > 0 and alpha < 1.0:
            old = F.interpolate(self.to_rgb[depth - 1](previous), scale_factor=2, mode="nearest")
            out = torch.lerp(old, out, alpha)
        return out


class ProgressiveDiscriminator(Progressive, Packs, nn.Module):
    def __init__(self, max_depth: int = 4, channels: int = 3, base: int = 8192, cap: int = 512, group_size: int = 4,
                 statistic: str = "std"):
        super().__init__()
        self.max_depth = max_depth
        self.set_phase(max_depth)
        width = [channels_at(d, base, cap) for d in range(max_depth + 1)]
        self.from_rgb = nn.ModuleList(nn.Sequential(EqualizedConv2d(channels, w, 1), nn.LeakyReLU(0.2)) for w in width)
        self.blocks = nn.ModuleList(  # block d maps depth d's resolution to depth d - 1's
            nn.Sequential(ConvLayer(width[d], width[d], False), ConvLayer(width[d], width[d - 1], False),
                          nn.AvgPool2d(2))
            for d in range(1, max_depth + 1))
        self.last = nn.Sequential(MinibatchStdDev(group_size=group_size, statistic=statistic),
                                  ConvLayer(width[0] + 1, width[0], False),
                                  EqualizedConv2d(width[0], width[0], 4), nn.LeakyReLU(0.2), nn.Flatten())
        self.output = EqualizedLinear(width[0], 1, gain=1.0)

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None, depth: int | None = None,
                alpha: float | None = None) -> torch.Tensor:
        return self.output(self.features(self.packed(images), depth=depth, alpha=alpha)).squeeze(1)

    def features(self, images: torch.Tensor, depth: int | None = None, alpha: float | None = None) -> torch.Tensor:
        """The last hidden layer (N, width at 4x4), which feature matching compares."""
        depth, alpha = self._phase(depth, alpha)
        x = self.from_rgb[depth](images)
        if depth > 0:
            x = self.blocks[depth - 1](x)
            if alpha < 1.0:
                old = self.from_rgb[depth - 1](F.avg_pool2d(images, 2))
                x = torch.lerp(old, x, alpha)
            for block in reversed(self.blocks[:depth - 1]):
                x = block(x)
        return self.last(x)


def build(cfg: ModelConfig, resolution: int, channels: int, num_classes: int):
    check_equalized_lr_settings(
        cfg, ("conditional", "minibatch_discrimination", "minibatch_stddev", "spectral_norm", "g_spectral_norm"),
        "its D already ends with minibatch stddev, set by model.mbstd_group and model.mbstd_statistic")
    depth = upsamplings(resolution)
    # model.g_width / d_width are the widest layers (the paper's 512); layers halve after 32x32, as in the paper.
    return (ProgressiveGenerator(cfg.z_dim, depth, channels, base=16 * cfg.g_width, cap=cfg.g_width),
            ProgressiveDiscriminator(depth, channels, base=16 * cfg.d_width, cap=cfg.d_width,
                                     group_size=cfg.mbstd_group, statistic=cfg.mbstd_statistic))


ARCHITECTURES.register("pggan")(Architecture(
    build, "image", "Progressive GAN (Karras et al. 2018): grows from 4x4, equalized LR, pixel norm, mbstd",
    progressive=True, resolutions=tuple(2 ** k for k in range(3, 11)), tanh_output=False))
