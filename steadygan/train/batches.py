"""The inputs of every step: latents (and labels) drawn from the run's generator, and real batches from
the data stream, on the device, as this step's D sees them."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..data import BatchStream
from ..data.datasets import to_unit_range
from ..sampling import sample_latents
from .distributed import Ranks


class Batches:
    """This process's share of every batch: every process draws the whole global batch of latents, so
    that training on several processes draws exactly what one process would."""

    def __init__(self, stream: BatchStream, *, z_dim: int, num_classes: int, seed: int, ranks: Ranks,
                 device: torch.device, memory_format: torch.memory_format,
                 fade: Callable[[torch.Tensor], torch.Tensor]):
        self.stream, self.z_dim, self.num_classes = stream, z_dim, num_classes
        self.latent_rng = torch.Generator().manual_seed(seed)
        self.ranks, self.device, self.memory_format = ranks, device, memory_format
        self.fade = fade  # the resolution schedule's blend of real images (identity unless G is growing)

    def latents(self, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """This rank's share of n latents (and labels)."""
        z = self.ranks.shard(sample_latents(n, self.z_dim, self.latent_rng)).to(self.device)
        if not self.num_classes:
            return z, None
        labels = torch.randint(self.num_classes, (n,), generator=self.latent_rng)
        return z, self.ranks.shard(labels).to(self.device)

    def real(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.prepare_real(*self.stream.next())

    def prepare_real(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Real images on the device as this step's D sees them (faded in while G grows), and their labels."""
        on_device = labels.to(self.device) if self.num_classes else None
        images = to_unit_range(images.to(self.device, non_blocking=True))  # uint8 converted on the device
        if images.dim() == 4:
            images = images.contiguous(memory_format=self.memory_format)
        return self.fade(images), on_device
