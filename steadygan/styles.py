"""The training terms of style-based generators (StyleGAN, StyleGAN2), as techniques: style mixing
regularization and path-length regularization. Both are switched on by their `regularize.*` value and
need `model.arch` to be a style-based architecture.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from .config import Config
from .errors import ConfigError
from .models.base import ARCHITECTURES, StyleGenerator
from .regularizers import REGULARIZERS, Regularizer
from .technique import GeneratorBatch, Phase


def check_style_based(config: Config, key: str) -> None:
    if not ARCHITECTURES.get(config.model.arch).style_based:
        styled = " or ".join(n for n in ARCHITECTURES.names() if ARCHITECTURES.get(n).style_based)
        raise ConfigError(f"regularize.{key} acts on the styles of a style-based G, and model.arch={config.model.arch} "
                          f"has none; use model.arch={styled}, or set regularize.{key}=0")


@REGULARIZERS.register("style_mixing")
class StyleMixing(Regularizer):
    """Mixing regularization (Karras et al. 2019): with probability p a training batch takes its styles from
    two latents, the first up to a crossover layer drawn uniformly from 1 to num_ws - 1, the second from it
    on, so that G cannot rely on neighbouring layers' styles being correlated. The second latent does not
    move the tracked average w."""

    keys = ("regularize.style_mixing",)
    phases = (Phase.STYLES,)

    def __init__(self, probability: float):
        self.probability = probability

    @classmethod
    def check(cls, config: Config) -> None:
        if config.regularize.style_mixing > 0:
            check_style_based(config, "style_mixing")

    def describe(self) -> str:
        return f"{self.name} p={self.probability:g}"

    def crossover(self, num_ws: int, device: torch.device) -> int:
        """The first layer that takes the second latent's style."""
        return int(torch.randint(1, num_ws, (), device=device))

    def styles(self, ws: torch.Tensor, restyle: Callable[[], torch.Tensor]) -> torch.Tensor:
        if ws.shape[1] < 2 or float(torch.rand((), device=ws.device)) >= self.probability:
            return ws
        cutoff = self.crossover(ws.shape[1], ws.device)
        return torch.cat([ws[:, :cutoff], restyle()[:, cutoff:]], dim=1)


def path_lengths(images: torch.Tensor, ws: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """|J_w^T y| per sample, for images g(w) and the image-space direction y = `noise`: the gradient of
    sum(g(w) * y) with respect to each layer's w, its square summed over w's dimensions and averaged over
    the layers, then the square root; kept in the graph so that a penalty on it trains G."""
    (grads,) = torch.autograd.grad((images * noise).sum(), ws, create_graph=True)
    grads = grads.to(torch.promote_types(grads.dtype, torch.float32))  # at least float32 under mixed precision
    return grads.square().sum(dim=2).mean(dim=1).sqrt()


@REGULARIZERS.register("path_length")
class PathLengthPenalty(Regularizer):
    """StyleGAN2's path-length regularization (Karras et al. 2020): weight * E[(|J_w^T y| - a)^2], y ~ N(0, I)
    / sqrt(H W) in image space, a the running mean of the lengths (moved by `pl_decay` each time). It
    pushes a fixed step in w to a fixed-size change of the image, which smooths the mapping to images.
    Lazy: every `pl_interval` G steps on batch_size / `pl_batch_shrink` latents, weighted by the interval.
    The running mean is saved in checkpoints."""

    keys = ("regularize.path_length", "regularize.pl_interval", "regularize.pl_decay", "regularize.pl_batch_shrink")
    phases = (Phase.G_STEP,)
    needs_g_second_derivative = True  # differentiates G's gradient with respect to w: G is not compiled

    def __init__(self, weight: float, interval: int = 4, decay: float = 0.01, batch_shrink: int = 2):
        self.weight, self.interval, self.decay, self.batch_shrink = weight, interval, decay, batch_shrink
        self.mean = torch.zeros(())

    @classmethod
    def from_config(cls, config: Config) -> Regularizer | None:
        reg = config.regularize
        return cls(reg.path_length, reg.pl_interval, reg.pl_decay, reg.pl_batch_shrink) if reg.path_length else None

    @classmethod
    def check(cls, config: Config) -> None:
        if config.regularize.path_length > 0:
            check_style_based(config, "path_length")

    def g_term(self, batch: GeneratorBatch) -> torch.Tensor:
        G = batch.G
        if batch.styles is None or batch.z is None or not isinstance(G, StyleGenerator):
            raise TypeError("path-length regularization needs the latents and styles of a style-based G")
        n = max(len(batch.z) // self.batch_shrink, 1)
        ws = batch.styles(batch.z[:n], None if batch.labels is None else batch.labels[:n])
        images = G.synthesis(ws)
        noise = torch.randn_like(images) / math.sqrt(images.shape[2] * images.shape[3])
        lengths = path_lengths(images, ws, noise)
        mean = self.mean.to(lengths).lerp(lengths.mean(), self.decay)
        self.mean = mean.detach()
        return self.weight * (lengths - mean).square().mean()

    def state_dict(self) -> dict[str, Any]:
        return {"mean": float(self.mean)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        mean = float(state.get("mean", 0.0))
        if not 0 <= mean < math.inf:
            raise ValueError(f"the path-length mean {mean} is not a finite length")
        self.mean = torch.tensor(mean, dtype=torch.float32)
