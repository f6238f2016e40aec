"""Spectral normalization by power iteration (Miyato et al. 2018), as a weight parametrization.

W is divided by an estimate of its largest singular value. Each layer keeps one persistent vector u
(saved in the state dict); every training forward refines it with `n_power_iterations` steps, so the
estimate tracks W as it changes. In eval mode u is left alone, so inference is deterministic.
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

EPS = 1e-12
WEIGHTED_LAYERS = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)  # the layers whose weight is a linear map
WARMUP_ITERATIONS = 15  # a fresh random u is far from the top singular vector; start close to it


class SpectralNorm(nn.Module):
    u: torch.Tensor  # the left singular vector estimate, a buffer

    def __init__(self, weight: torch.Tensor, n_power_iterations: int = 1):
        super().__init__()
        if n_power_iterations < 1:
            raise ValueError(f"n_power_iterations must be >= 1, got {n_power_iterations}")
        self.n_power_iterations = n_power_iterations
        # (out, -1) for Linear and Conv2d. A ConvTranspose2d weight is (in, out, k, k): read the same way it
        # is the matrix of the convolution it transposes, whose norm it shares, so u has `in` entries there.
        matrix = weight.detach().flatten(1)
        u = F.normalize(torch.randn(matrix.shape[0], dtype=matrix.dtype, device=matrix.device), dim=0, eps=EPS)
        self.register_buffer("u", u)
        self._power_iteration(matrix, WARMUP_ITERATIONS)

    @torch.no_grad()
    def _power_iteration(self, matrix: torch.Tensor, iterations: int) -> torch.Tensor:
        """Refines u in place and returns the matching right vector v."""
        u = self.u
        for _ in range(iterations):
            v = F.normalize(matrix.t() @ u, dim=0, eps=EPS)
            u = F.normalize(matrix @ v, dim=0, eps=EPS)
        self.u.copy_(u)
        return F.normalize(matrix.t() @ u, dim=0, eps=EPS)

    def sigma(self, weight: torch.Tensor) -> torch.Tensor:
        """The current estimate u^T W v of the largest singular value (differentiable in W)."""
        matrix = weight.flatten(1)
        iterations = self.n_power_iterations if self.training else 0
        v = self._power_iteration(matrix.detach(), iterations)
        # u and v are constants for autograd, as in the paper's gradient analysis.
        return torch.dot(self.u.clone(), matrix @ v.clone())

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        if not torch.amp.is_autocast_available(weight.device.type):  # the meta device, where models are sized
            return weight / self.sigma(weight)
        with torch.autocast(weight.device.type, enabled=False):  # sigma in the weights' float32 under autocast
            return weight / self.sigma(weight)


def spectral_norm(module: nn.Module, n_power_iterations: int = 1, name: str = "weight") -> nn.Module:
    """Registers spectral normalization on `module.<name>` and returns the module."""
    parametrize.register_parametrization(module, name, SpectralNorm(getattr(module, name), n_power_iterations))
    return module


def spectral_norm_of(module: nn.Module, name: str = "weight") -> SpectralNorm:
    """The SpectralNorm parametrization of a module's weight (raises if it has none)."""
    if parametrize.is_parametrized(module, name):
        for parametrization in cast(nn.ModuleList, cast(nn.ModuleDict, module.parametrizations)[name]):
            if isinstance(parametrization, SpectralNorm):
                return parametrization
    raise ValueError(f"{type(module).__name__}.{name} is not spectrally normalized")


def apply_spectral_norm(network: nn.Module, n_power_iterations: int = 1,
                        layer_types: tuple[type[nn.Module], ...] = (*WEIGHTED_LAYERS, nn.Embedding)) -> nn.Module:
    """Spectral normalization on every layer of the given types, after the network's own init."""
    for module in list(network.modules()):
        if isinstance(module, layer_types) and not parametrize.is_parametrized(module, "weight"):
            spectral_norm(module, n_power_iterations)
    return network
