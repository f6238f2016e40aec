"""Exponential moving average of G's weights (Karras et al. 2018; Yazici et al. 2019).

The averaged copy gives visibly steadier samples than the raw G and is what sampling and
evaluation use. Its decay is `train.ema_decay` per G step, or, with `train.ema_kimg`, set by a half-life
in G's images as StyleGAN2 does: beta = 0.5 ** (images this step / half-life images), so that the average
forgets at the same pace per image whatever the batch size; `train.ema_rampup` caps the half-life at
that share of the images so far, so that the average of a young run is not held back by its first weights.

Batch norm: the running statistics of G belong to G's weights, not to their average. Copied into the
average they misread it (bench/ema_statistics.py, step 2,000: 100 of 1,000 modes with G's statistics, 934
with its own). So the average measures its own, as BigGAN's "standing statistics" do: before it is read after an
update, `train.ema_standing_stats` batches of its outputs for fixed latents set each batch norm's
statistics (a plain mean over the batches).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Generic, TypeVar, cast

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..models.base import Generator
from ..technique import Phase, Technique
from .distributed import rank_local_statistics

Network = TypeVar("Network", bound=nn.Module)


class EMA(Technique, Generic[Network]):
    """The moving average of G's weights that samples and evaluations use; checkpoints hold it as tensors."""

    name = "ema"
    keys = ("train.ema_decay", "train.ema_start", "train.ema_kimg", "train.ema_rampup", "train.ema_standing_stats")
    phases = (Phase.AFTER_G_STEP,)
    lane_separable = True

    def __init__(self, model: Network, decay: float, start_step: int = 0, half_life_kimg: float = 0.0,
                 rampup: float = 0.0, images: Callable[[int], int] | None = None, standing_batches: int = 0,
                 batch_size: int = 64):
        """`images(step)`: G's images in the first `step` G steps, which a half-life counts.
        `standing_batches` of `batch_size` latents measure the average's batch-norm statistics (0: G's are copied)."""
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        if half_life_kimg and images is None:
            raise ValueError("an EMA half-life in images needs the images of each step")
        self.decay = decay
        self.start_step = start_step
        self.half_life_kimg, self.rampup, self.images = half_life_kimg, rampup, images
        self.average = copy.deepcopy(model)
        self.average.eval().requires_grad_(False)
        norms = batch_norms(self.average)
        self.standing_batches = standing_batches if norms else 0
        self.batch_size = batch_size
        own = {id(b) for norm in norms for b in norm.buffers()} if self.standing_batches else set()
        self.copies = [id(b) not in own for b in self.average.buffers()]  # per buffer: copied from G at each update
        self.stale = False  # the average changed since its batch-norm statistics were measured

    @property
    def model(self) -> Network:
        """The averaged G, ready to sample from: its batch-norm statistics are its own."""
        if self.stale:
            self.measure_statistics()
        return self.average

    def describe(self) -> str:
        if not self.half_life_kimg:
            return f"{self.name} {self.decay:g}"
        ramp = f", ramp-up {self.rampup:g}" if self.rampup else ""
        return f"{self.name} half-life {self.half_life_kimg:g} kimg{ramp}"

    def decay_at(self, step: int) -> float:
        """The decay of the update after G step number `step` (1-based)."""
        if step < self.start_step:
            return 0.0
        if not self.half_life_kimg or self.images is None:
            return self.decay
        seen = self.images(step)
        batch = seen - self.images(step - 1)
        half_life = self.half_life_kimg * 1000
        if self.rampup:
            half_life = min(half_life, seen * self.rampup)
        return 0.5 ** (batch / max(half_life, 1e-8))

    def after_g_step(self, G: nn.Module, step: int) -> None:
        self.update(G, step)

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """Average parameters; copy the other buffers (spectral-norm vectors, the average w, and batch-norm
        statistics unless the average measures its own) as they are."""
        decay = self.decay_at(step)
        for average, parameter in zip(self.average.parameters(), model.parameters(), strict=True):
            average.lerp_(parameter, 1.0 - decay)
        for copies, mine, buffer in zip(self.copies, self.average.buffers(), model.buffers(), strict=True):
            if copies:
                mine.copy_(buffer)
        self.stale = self.standing_batches > 0

    def measure_statistics(self) -> None:
        standing_statistics(cast(Generator, self.average), self.standing_batches, self.batch_size)
        self.stale = False


def batch_norms(model: nn.Module) -> list[_BatchNorm]:
    return [m for m in model.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]


@torch.no_grad()
def standing_statistics(generator: Generator, batches: int, batch_size: int) -> None:
    """Set each batch norm's statistics of `generator` to the mean over `batches` batches
    of its outputs. The latents come from a random generator of their own: the same every time, and no other
    draw is disturbed."""
    norms = batch_norms(generator)
    if not norms or not batches:
        return
    device = next(generator.parameters()).device
    rng = torch.Generator().manual_seed(0)
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative mean over the batches
    generator.train()
    try:
        z_dim, num_classes = generator.z_dim, generator.num_classes
        with rank_local_statistics(generator):  # every rank measures the same, whether or not the others do
            for _ in range(batches):
                z = torch.randn(batch_size, z_dim, generator=rng).to(device)
                labels = torch.randint(num_classes, (batch_size,), generator=rng).to(device) if num_classes else None
                generator(z, labels)
    finally:
        generator.eval()
        for norm, momentum in zip(norms, momenta, strict=True):
            norm.momentum = momentum
