"""Shuffled batches with a resumable position: the same seed and state give the same batches."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch

from ..errors import DataError


class Indexable(Protocol):
    def __len__(self) -> int: ...
    def batch(self, indices: np.ndarray, flip: np.ndarray | None) -> tuple[torch.Tensor, torch.Tensor]: ...


class BatchStream:
    """Endless batches: a fresh permutation each epoch, the last incomplete batch dropped.

    The permutation of epoch e and the flips of each batch are pure functions of (seed, epoch,
    position), so the state to resume from is two integers.
    """

    def __init__(self, dataset: Indexable, batch_size: int, *, seed: int = 0, hflip: bool = False,
                 indices: np.ndarray | None = None):
        self.seed = seed
        self.hflip = hflip
        self.indices = np.arange(len(dataset)) if indices is None else np.asarray(indices)  # the items trained on
        self.serve(dataset, batch_size)
        self.load_state_dict({"epoch": 0, "position": 0})

    def serve(self, dataset: Indexable, batch_size: int) -> None:
        """Switch to another view of the same items (e.g. another resolution) or batch size, keeping the
        position in the epoch's order."""
        if batch_size > len(self.indices):
            raise DataError(f"batch size {batch_size} is larger than the data set ({len(self.indices)} items); "
                            "lower optim.batch_size (or growth.batch_sizes) or add data")
        if hasattr(self, "dataset") and len(dataset) != len(self.dataset):
            raise ValueError("a stream can switch only between views of the same items")
        self.dataset = dataset
        self.batch_size = batch_size

    def _permutation(self, epoch: int) -> np.ndarray:
        return self.indices[np.random.default_rng((self.seed, epoch)).permutation(len(self.indices))]

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.position + self.batch_size > len(self.indices):
            self.load_state_dict({"epoch": self.epoch + 1, "position": 0})
        indices = self._order[self.position:self.position + self.batch_size]
        flip = None
        if self.hflip:
            flip = np.random.default_rng((self.seed, self.epoch, self.position, 1)).random(self.batch_size) < 0.5
        self.position += self.batch_size
        return self.dataset.batch(indices, flip)

    def __iter__(self):
        while True:
            yield self.next()

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self._order = self._permutation(self.epoch)
