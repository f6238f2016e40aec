"""Small fully connected G and D for 2-D point data (the mixture benchmarks of VEEGAN and PacGAN)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..config import ModelConfig
from ..errors import ConfigError
from ..nn import ProjectionHead
from ..registry import Registry
from .base import ARCHITECTURES, Architecture, Discriminator, Generator

ACTIVATIONS: Registry[Callable[[], nn.Module]] = Registry("activation", key="model.activation")
ACTIVATIONS.register("relu")(nn.ReLU)
ACTIVATIONS.register("leaky_relu")(lambda: nn.LeakyReLU(0.2))
ACTIVATIONS.register("tanh")(nn.Tanh)  # VEEGAN's 2-D networks


def _hidden(inputs: int, width: int, layers: int, activation: str, batchnorm: bool = False) -> list[nn.Module]:
    modules: list[nn.Module] = []
    for i in range(layers):
        # No bias before batch norm, which removes it: its gradient would be rounding noise, which Adam turns
        # into a random walk that the eval-mode statistics (and the EMA of G) only follow with a lag.
        modules.append(nn.Linear(inputs if i == 0 else width, width, bias=not batchnorm))
        if batchnorm:  # a learned gain per unit lets G sharpen its tanh transitions between modes quickly
            modules.append(nn.BatchNorm1d(width))
        modules.append(ACTIVATIONS.get(activation)())
    return modules


class MLPGenerator(Generator):
    def __init__(self, z_dim: int, width: int, hidden_layers: int, dims: int = 2, activation: str = "relu",
                 batchnorm: bool = False):
        super().__init__(z_dim, 0)
        self.net = nn.Sequential(*_hidden(z_dim, width, hidden_layers, activation, batchnorm),
                                 nn.Linear(width, dims))

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(z)


class MLPDiscriminator(Discriminator):
    def __init__(self, width: int, hidden_layers: int, dims: int = 2, activation: str = "relu"):
        super().__init__()
        self.body = nn.Sequential(*_hidden(dims, width, hidden_layers, activation))
        self.head = ProjectionHead(width)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def build(cfg: ModelConfig, resolution: int, channels: int, num_classes: int):
    if num_classes:
        raise ConfigError("model.arch=mlp has no class-conditional variant; set model.conditional=false")
    return (MLPGenerator(cfg.z_dim, cfg.g_width, cfg.hidden_layers, channels, cfg.activation, cfg.g_batchnorm),
            MLPDiscriminator(cfg.d_width, cfg.hidden_layers, channels, cfg.activation))


ARCHITECTURES.register("mlp")(Architecture(build, "points", "MLP pair for 2-D points"))
