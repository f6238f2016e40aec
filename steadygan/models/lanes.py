"""G and D of several runs as one vectorised G and D (`nn.Lanes`): what the step needs of a generator and
a discriminator, for a batch of S equal blocks, block k for run k."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch

from ..nn.lanes import Lanes
from .base import Discriminator, Generator


class GeneratorLanes(Generator):
    def __init__(self, generators: Sequence[Generator]):
        super().__init__(generators[0].z_dim, generators[0].num_classes)
        self.lanes = Lanes(generators)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.lanes(z, y)

    def lane(self, k: int) -> Generator:
        return cast(Generator, self.lanes.lane(k))


class DiscriminatorLanes(Discriminator):
    """One output per sample (per pack when packing) of each lane's block, in block order. Its features
    are each lane's own: units that read them (feature matching) cannot train lanes."""

    def __init__(self, discriminators: Sequence[Discriminator]):
        super().__init__()
        self.lanes = Lanes(discriminators)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError("the features of vectorised lanes are not one network's; read a lane's")

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.lanes(x, y)

    def lane(self, k: int) -> Discriminator:
        return cast(Discriminator, self.lanes.lane(k))
