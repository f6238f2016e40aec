"""Latents, truncation and latent-space walks for sampling and interpolation.

Truncation has two forms: for most generators entries of z beyond +-T are redrawn (Brock et al. 2019);
a style-based G instead pulls its styles towards the average w, w' = w_avg + psi (w - w_avg) (Karras et
al. 2019), so that psi = 0 is the average image and psi = 1 changes nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import torch
from torch import nn

from .errors import ConfigError
from .models.base import Generator, StyleGenerator
from .registry import Registry

MIN_TRUNCATION = 0.05  # below it, redrawing until every entry fits would take very long

INTERPOLATIONS: Registry[Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]] = Registry(
    "interpolation"
)


def sample_latents(n: int, z_dim: int, generator: torch.Generator | None = None,
                   truncation: float | None = None) -> torch.Tensor:
    """N(0, I) latents; with `truncation`, entries beyond +-truncation are redrawn (Brock et al. 2019)."""
    z = torch.randn(n, z_dim, generator=generator)
    if truncation is not None:
        if not MIN_TRUNCATION <= truncation < float("inf"):
            raise ConfigError(f"truncation must be at least {MIN_TRUNCATION} (e.g. 0.7), got {truncation}")
        outside = z.abs() > truncation
        while outside.any():
            z[outside] = torch.randn(int(outside.sum()), generator=generator)
            outside = z.abs() > truncation
    return z


def latents_for(generator: Generator, n: int, rng: torch.Generator | None = None,
                truncation: float | None = None) -> torch.Tensor:
    """z for `n` samples of `generator`: truncated in z, unless the generator truncates its styles instead."""
    in_z = truncation is not None and not isinstance(generator, StyleGenerator)
    return sample_latents(n, generator.z_dim, rng, truncation if in_z else None)


@INTERPOLATIONS.register("linear")
def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return a + (b - a) * t


@INTERPOLATIONS.register("slerp")
def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation (White 2016): keeps the norm typical of Gaussian latents on the way."""
    a_unit = a / a.norm(dim=-1, keepdim=True)
    b_unit = b / b.norm(dim=-1, keepdim=True)
    omega = torch.acos((a_unit * b_unit).sum(-1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))
    sin_omega = torch.sin(omega)
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / sin_omega


def walk(keys: torch.Tensor, steps: int, mode: str = "slerp", closed: bool = False) -> torch.Tensor:
    """Latents along consecutive pairs of `keys` (K, z_dim), `steps` per segment, ends included once.

    With `closed` the walk returns to the first key, so an animation loops without a jump.
    """
    if steps < 2:
        raise ValueError(f"an interpolation needs at least 2 steps, got {steps}")
    interpolate = INTERPOLATIONS.get(mode)
    points = torch.cat([keys, keys[:1]]) if closed else keys
    t = torch.linspace(0, 1, steps).unsqueeze(-1)
    segments = [interpolate(a.unsqueeze(0), b.unsqueeze(0), t)[:-1] for a, b in itertools.pairwise(points)]
    if not closed:
        segments.append(points[-1:])
    return torch.cat(segments)


@torch.no_grad()
def generate(generator: nn.Module, z: torch.Tensor, labels: torch.Tensor | None = None,
             batch_size: int = 256, truncation: float | None = None) -> torch.Tensor:
    """G's outputs on CPU for latents `z` (and class labels), in batches on G's device, with G in eval mode
    (batch norm uses its running statistics and leaves them unchanged); G's mode is restored after. A
    style-based G applies `truncation` psi to its styles; other G's take z as it comes (see `latents_for`)."""
    styled = {"truncation": truncation} if truncation is not None and isinstance(generator, StyleGenerator) else {}
    return _batched(generator, lambda g, chunk, y: g(chunk, y, **styled), z, labels, batch_size)


@torch.no_grad()
def styles_of(generator: StyleGenerator, z: torch.Tensor, labels: torch.Tensor | None = None,
              truncation: float | None = None, batch_size: int = 256) -> torch.Tensor:
    """The styles ws (N, num_ws, w_dim) of latents `z`, on CPU, G in eval mode (the average w stays as it is)."""
    psi = 1.0 if truncation is None else truncation
    return _batched(generator, lambda g, chunk, y: g.mapping(chunk, y, psi), z, labels, batch_size)


@torch.no_grad()
def synthesize(generator: StyleGenerator, ws: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Images of styles ws (N, num_ws, w_dim), on CPU, G in eval mode."""
    return _batched(generator, lambda g, chunk, _: g.synthesis(chunk), ws, None, batch_size)


def _batched(generator: nn.Module, run: Callable, inputs: torch.Tensor, labels: torch.Tensor | None,
             batch_size: int) -> torch.Tensor:
    device = next(generator.parameters()).device
    was_training = generator.training
    generator.eval()
    try:
        outputs = []
        for start in range(0, len(inputs), batch_size):
            y = None if labels is None else labels[start:start + batch_size].to(device)
            outputs.append(run(generator, inputs[start:start + batch_size].to(device), y).cpu())
    finally:
        generator.train(was_training)
    return torch.cat(outputs)
