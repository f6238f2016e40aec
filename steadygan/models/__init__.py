"""Generators and discriminators, looked up by `model.arch` in the ARCHITECTURES registry."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

import torch
from torch import nn

from ..config import Config, ModelConfig
from ..data.toy import MIXTURES
from ..errors import ConfigError
from ..kinds import DataKind
from ..nn import WEIGHTED_LAYERS, MinibatchDiscrimination, MinibatchStdDev, ProjectionHead, apply_spectral_norm
from ..registry import Registry
from ..regularizers import orthogonal_init
from . import began, biggan, dcgan, mlp, pggan, r3gan, sngan_cnn, sngan_resnet, stylegan2  # noqa: F401  (each registers its architecture)
from .base import ARCHITECTURES, Architecture, Discriminator, Generator, StyleGenerator

INITS: Registry[Callable[[nn.Module], nn.Module]] = Registry("initialization", key="model.init")
INITS.register("default")(lambda network: network)  # each architecture's published one, made when it is built
INITS.register("orthogonal")(orthogonal_init)
# Batch-level layers of D, each switched on by the model.* flag of its name.
BATCH_LAYERS: Registry[Callable[[int, ModelConfig], MinibatchDiscrimination | MinibatchStdDev]] = Registry(
    "batch layer")
BATCH_LAYERS.register("minibatch_discrimination")(
    lambda features, cfg: MinibatchDiscrimination(features, cfg.mbd_kernels, cfg.mbd_kernel_dim, cfg.mbd_group))
BATCH_LAYERS.register("minibatch_stddev")(
    lambda features, cfg: MinibatchStdDev(features, cfg.mbstd_group, cfg.mbstd_statistic))


def build_models(cfg: ModelConfig, *, resolution: int, channels: int, num_classes: int = 0,
                 data_kind: DataKind = "image") -> tuple[Generator, Discriminator]:
    """G and D for data of the given shape; spectral norm is applied after each network's own init."""
    arch = ARCHITECTURES.get(cfg.arch)
    if arch.data_kind != data_kind:
        if data_kind == "points":
            raise ConfigError(f"model.arch={cfg.arch} is for images but the data are 2-D points; use model.arch=mlp")
        image_archs = [n for n in ARCHITECTURES.names() if ARCHITECTURES.get(n).data_kind == "image"]
        raise ConfigError(f"model.arch={cfg.arch} is for 2-D point data (data.source=ring8 or grid25); use one of "
                          f"{', '.join(image_archs)} for images")
    if arch.output == "energy" and (cfg.conditional or cfg.minibatch_discrimination or cfg.minibatch_stddev):
        raise ConfigError(f"model.arch={cfg.arch} has an auto-encoder D: it supports neither model.conditional "
                          "nor the minibatch layers; set them to false")
    if cfg.conditional and num_classes < 2:
        raise ConfigError("model.conditional=true needs labelled data, but this data set has no class labels; "
                          "set model.conditional=false or give labels (sub-folders or a labels.csv)")
    if cfg.d_norm != "auto" and cfg.d_norm not in arch.d_norms:
        raise ConfigError(f"model.arch={cfg.arch} has no D normalization to choose (it takes model.d_norm "
                          f"{', '.join(('auto', *arch.d_norms))}); set model.d_norm=auto")
    if data_kind == "image" and resolution not in arch.resolutions:
        raise ConfigError(f"model.arch={cfg.arch} supports data.resolution "
                          f"{', '.join(map(str, arch.resolutions))}; got {resolution}")
    check_layer_options(cfg, arch, resolution)
    classes = num_classes if cfg.conditional else 0
    G, D = arch.build(cfg, resolution, channels, classes)
    if cfg.packing > 1:  # D reads packs of m samples joined on the channel axis
        D = arch.build(cfg, resolution, channels * cfg.packing, classes)[1]
        D.packing = cfg.packing
    add_batch_layers(D, cfg)
    INITS.get(cfg.init)(G)
    INITS.get(cfg.init)(D)
    if cfg.spectral_norm:
        apply_spectral_norm(D, cfg.sn_power_iterations)
    if cfg.g_spectral_norm:
        apply_spectral_norm(G, cfg.sn_power_iterations, WEIGHTED_LAYERS)  # not the class gains of conditional BN
    return G, D


def check_layer_options(cfg: ModelConfig, arch: Architecture, resolution: int) -> None:
    """The model.* layer options an architecture takes: self-attention, a strided D stem, packing."""
    if cfg.attention and not arch.attention:
        takers = [n for n in ARCHITECTURES.names() if ARCHITECTURES.get(n).attention]
        raise ConfigError(f"model.arch={cfg.arch} has no self-attention blocks; set model.attention=[] or use "
                          f"model.arch={' or '.join(takers)}")
    outside = [r for r in cfg.attention if not 8 <= r <= resolution]
    if outside:
        raise ConfigError(f"model.attention={list(cfg.attention)}: {outside[0]} is not the size of a feature map "
                          f"of G or D; give resolutions from 8 to data.resolution ({resolution})")
    if cfg.d_stem_stride not in arch.stem_strides:
        takers = [n for n in ARCHITECTURES.names() if 2 in ARCHITECTURES.get(n).stem_strides]
        raise ConfigError(f"model.arch={cfg.arch} takes model.d_stem_stride {', '.join(map(str, arch.stem_strides))}"
                          f", not {cfg.d_stem_stride}; a strided first D layer is for {', '.join(takers)}")
    if cfg.packing > 1 and (arch.output == "energy" or cfg.conditional):
        raise ConfigError(f"model.packing={cfg.packing} packs samples of one unconditional D; set model.packing=1 "
                          "with model.conditional=true or an auto-encoder D (began)")


TRAINING_COPIES = 5  # weights, gradients, two Adam moments, and the EMA of G: bytes per parameter / 4


def memory_limit() -> int:
    """The machine's physical memory in bytes: no model larger than this could train here."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 64 * 2**30


def meta_models(cfg: ModelConfig, **shape) -> tuple[Generator, Discriminator]:
    """G and D with the names and shapes of `build_models`'s, on the meta device: no memory, no values."""
    with torch.device("meta"):
        return build_models(dataclasses.replace(cfg, init="default"), **shape)  # an init changes no shape


def check_model_size(cfg: ModelConfig, *, resolution: int, channels: int, num_classes: int = 0,
                     data_kind: DataKind = "image") -> int:
    """The parameters of the G and D a config describes, counted on the meta device (no memory is used);
    a ConfigError when training them would need more memory than the machine has, or when they cannot be
    built (an unsupported resolution, say), before any data is decoded or any weight allocated."""
    G, D = meta_models(cfg, resolution=resolution, channels=channels, num_classes=num_classes, data_kind=data_kind)
    parameters = sum(p.numel() for network in (G, D) for p in network.parameters())
    needed, limit = parameters * 4 * TRAINING_COPIES, memory_limit()
    if needed > limit:
        raise ConfigError(f"G and D would have {parameters:,} parameters, {needed / 2**30:.1f} GiB to train, more "
                          f"than this machine's {limit / 2**30:.1f} GiB; lower model.g_width, model.d_width or "
                          "model.z_dim")
    return parameters


def check_config_networks(config: Config) -> int:
    """`check_model_size` for a config before its data are read: the configured channels (RGB when they
    come from the data), ten classes for a conditional model."""
    return check_model_size(config.model, resolution=config.data.resolution, channels=config.data.channels or 3,
                            num_classes=10 if config.model.conditional else 0,
                            data_kind="points" if config.data.source in MIXTURES else "image")


def add_batch_layers(D: Discriminator, cfg: ModelConfig) -> None:
    """Inserts the switched-on batch-level layers between D's features and a head resized to match."""
    chosen = [make for key, make in BATCH_LAYERS.items() if getattr(cfg, key)]
    if not chosen:
        return
    features = D.head.linear.in_features
    layers = []
    for make in chosen:
        layers.append(make(features, cfg))
        features = layers[-1].out_features
    num_classes = D.head.embed.num_embeddings if D.head.embed is not None else 0
    D.batch_layers = nn.Sequential(*layers)
    D.head = ProjectionHead(features, num_classes)


__all__ = ["ARCHITECTURES", "Architecture", "Discriminator", "Generator", "StyleGenerator", "build_models",
           "check_config_networks", "check_model_size", "meta_models"]
