"""Shuffled batches with a resumable position: the same seed and state give the same batches."""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

import numpy as np
import torch

from ..errors import DataError


class Indexable(Protocol):
    def __len__(self) -> int: ...
    def batch(self, indices: np.ndarray, flip: np.ndarray | None = None,
              raw: bool = False) -> tuple[torch.Tensor, torch.Tensor]: ...


class BatchStream:
    """Endless batches: a fresh permutation each epoch, the last incomplete batch dropped.

    The permutation of epoch e and the flips of each batch are pure functions of (seed, epoch,
    position), so the state to resume from is two integers. With `shard=(rank, world)` every process
    follows the same global batches of `batch_size` and loads only its own contiguous share of each.
    With `workers` > 0, that many threads assemble the next batches while the current step runs (a
    batch is one gather from the memory-mapped uint8 cache, which releases the GIL); the batches and
    the resume state are the same as without them.
    """

    def __init__(self, dataset: Indexable, batch_size: int, *, seed: int = 0, hflip: bool = False,
                 indices: np.ndarray | None = None, shard: tuple[int, int] = (0, 1), workers: int = 0):
        self.seed = seed
        self.hflip = hflip
        self.rank, self.world = shard
        self.indices = np.arange(len(dataset)) if indices is None else np.asarray(indices)  # the items trained on
        self.workers = workers
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="steadygan-batches") if workers else None
        self._pending: deque[tuple[tuple[int, int], Future]] = deque()  # (state after it, batch) in order
        self._orders: dict[int, np.ndarray] = {}
        self.dataset = dataset
        self.epoch = self.position = 0
        self.serve(dataset, batch_size)
        self.load_state_dict({"epoch": 0, "position": 0})

    def serve(self, dataset: Indexable, batch_size: int) -> None:
        """Switch to another view of the same items (e.g. another resolution) or batch size, keeping the
        position in the epoch's order."""
        if batch_size > len(self.indices):
            raise DataError(f"batch size {batch_size} is larger than the data set ({len(self.indices)} items); "
                            "lower optim.batch_size (or growth.batch_sizes) or add data")
        if batch_size % self.world:
            raise DataError(f"a batch of {batch_size} does not split over {self.world} processes; make "
                            f"optim.batch_size (and growth.batch_sizes) multiples of {self.world}")
        if len(dataset) != len(self.dataset):
            raise ValueError("a stream can switch only between views of the same items")
        self.dataset = dataset
        self.batch_size = batch_size
        self._drop_pending()

    def _order(self, epoch: int) -> np.ndarray:
        if epoch not in self._orders:
            self._orders = {e: o for e, o in self._orders.items() if e >= epoch - 1}
            self._orders[epoch] = self.indices[np.random.default_rng((self.seed, epoch)).permutation(len(self.indices))]
        return self._orders[epoch]

    def _plan(self, epoch: int, position: int) -> tuple[np.ndarray, np.ndarray | None, tuple[int, int]]:
        """The batch that follows state (epoch, position): this rank's indices and flips, and the state after it."""
        if position + self.batch_size > len(self.indices):
            epoch, position = epoch + 1, 0
        indices = self._order(epoch)[position:position + self.batch_size]
        flip = None
        if self.hflip:
            flip = np.random.default_rng((self.seed, epoch, position, 1)).random(self.batch_size) < 0.5
        share = slice(self.rank * self.batch_size // self.world, (self.rank + 1) * self.batch_size // self.world)
        return indices[share], None if flip is None else flip[share], (epoch, position + self.batch_size)

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next batch: uint8 images (the device converts them) or float points, and labels."""
        if self._pool is None:
            indices, flip, (self.epoch, self.position) = self._plan(self.epoch, self.position)
            return self.dataset.batch(indices, flip, raw=True)
        ahead = self._pending[-1][0] if self._pending else (self.epoch, self.position)
        while len(self._pending) <= self.workers:
            indices, flip, ahead = self._plan(*ahead)
            self._pending.append((ahead, self._pool.submit(self.dataset.batch, indices, flip, raw=True)))
        (self.epoch, self.position), batch = self._pending.popleft()
        return batch.result()

    def _drop_pending(self) -> None:
        for _, batch in self._pending:
            batch.cancel()
        self._pending.clear()

    def __iter__(self):
        while True:
            yield self.next()

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self._drop_pending()


def default_workers(configured: int) -> int:
    """data.workers, or for -1 one batch thread per 4 CPU cores, at most 4 (none on a 2-core machine, where
    a thread would take a core from the step itself)."""
    return configured if configured >= 0 else min(4, (os.cpu_count() or 1) // 4)
