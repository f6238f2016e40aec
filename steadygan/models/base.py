"""What every generator and discriminator offers the trainer, and the architecture table."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ..config import ModelConfig
from ..errors import ConfigError
from ..kinds import DataKind, DOutput
from ..nn import WEIGHTED_LAYERS, ProjectionHead, SelfAttention, pack
from ..registry import Registry

IMAGE_RESOLUTIONS = (16, 32, 64, 128)


class Generator(nn.Module):
    """Maps latents z (and class labels y for a conditional model) to samples."""

    def __init__(self, z_dim: int, num_classes: int):
        super().__init__()
        self.z_dim = z_dim
        self.num_classes = num_classes


class StyleGenerator(Generator):
    """A style-based generator (StyleGAN, StyleGAN2): `mapping(z, y, truncation)` gives the per-layer styles
    ws (N, num_ws, w_dim), `synthesis(ws)` the images. Truncation, interpolation and style mixing act on w."""

    mapping: nn.Module
    synthesis: nn.Module
    num_ws: int


class Packs:
    """A D that judges packs of `packing` consecutive samples (PacGAN; set by build_models): `packed(x)` is
    the input its layers read."""

    packing = 1

    def packed(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.packing == 1 else pack(x, self.packing)


class Discriminator(Packs, nn.Module):
    """features(x) -> (N, F); forward(x, y) -> (N,) logits: features, then any batch-level layers
    (minibatch discrimination, minibatch stddev), then the (projection) head."""

    head: ProjectionHead

    def __init__(self) -> None:
        super().__init__()
        self.batch_layers: nn.Module = nn.Identity()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The features of D's input as it is: packs of `packing` samples when packing is on."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """One logit per pack of `packing` consecutive samples of x (per sample without packing)."""
        return self.head(self.batch_layers(self.features(self.packed(x))), y)


@dataclass(frozen=True)
class Architecture:
    """A registered G/D pair, built by `build(cfg, resolution, channels, num_classes)`."""

    build: Callable[[ModelConfig, int, int, int], tuple[Generator, Discriminator]]
    data_kind: DataKind
    summary: str
    output: DOutput = "logits"  # "energy" only for the began loss
    progressive: bool = False  # grows from 4x4 under the growth schedule (set_phase on G and D)
    resolutions: tuple[int, ...] = IMAGE_RESOLUTIONS
    d_norms: tuple[str, ...] = ("none",)  # the model.d_norm values it takes besides auto
    style_based: bool = False  # G is a StyleGenerator: styles in w space (style mixing, path length, w truncation)
    attention: bool = False  # takes model.attention (SAGAN's self-attention blocks)
    tanh_output: bool = True  # G's images pass a tanh into [-1, 1] (the equalized-LR and R3GAN ones are linear)
    stem_strides: tuple[int, ...] = (1,)  # the model.d_stem_stride values it takes


ARCHITECTURES: Registry[Architecture] = Registry("architecture", key="model.arch")


def check_equalized_lr_settings(cfg: ModelConfig, flags: tuple[str, ...], reason: str) -> None:
    """Equalized-LR architectures (PGGAN, StyleGAN2) refuse the model.* `flags` they have no place for, and
    any init but their own N(0, 1) weights."""
    unsupported = [key for key in flags if getattr(cfg, key)]
    if unsupported:
        raise ConfigError(f"model.arch={cfg.arch} does not take model.{unsupported[0]} ({reason}); set it to false")
    if cfg.init != "default":
        raise ConfigError(f"model.arch={cfg.arch} keeps its equalized learning rate's N(0, 1) weights; model.init="
                          f"{cfg.init} would change their scale: set model.init=default")


def attention_after(sizes: list[int], widths: list[int], resolutions: tuple[int, ...]) -> nn.ModuleList:
    """One module per block, whose outputs have the given sizes and widths: self-attention where the size
    is one of `resolutions`, the identity elsewhere."""
    return nn.ModuleList(SelfAttention(w) if s in resolutions else nn.Identity()
                         for s, w in zip(sizes, widths, strict=True))


def upsamplings(resolution: int) -> int:
    """Doublings from the 4x4 base to `resolution`."""
    return int(math.log2(resolution)) - 2


def stage_width(width: int, resolution: int, stage_resolution: int, cap: int = 8) -> int:
    """Channels at one stage: `width` at full resolution, doubling per halving, at most cap * width."""
    return width * min(cap, resolution // stage_resolution)


def init_normal(network: nn.Module, std: float = 0.02) -> None:
    """N(0, std) weights and zero biases for convolutions and linear layers; norms and embeddings keep theirs."""
    for m in network.modules():
        if isinstance(m, WEIGHTED_LAYERS):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
