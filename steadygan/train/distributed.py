"""Data-parallel training over processes started by `torchrun`: gloo on CPUs, NCCL on GPUs.

Every rank holds the same G, D and EMA and sees its own share of each global batch. After each
backward pass the gradients are averaged over the ranks, so every optimizer step, every spectral-norm
power iteration (a function of the weights alone) and every EMA update is the same on every rank.
Batch-norm statistics are those of the global batch (`CrossRankBatchNorm`), so running statistics
agree too. As in stylegan2-ada-pytorch, gradients are all-reduced by hand rather than through the
DistributedDataParallel wrapper: one GAN step runs D forward several times per backward pass (reals,
fakes, penalty interpolates) and differentiates gradients (WGAN-GP, R1), which that wrapper does not
support. Rank 0 alone writes logs, sample grids, evaluations and checkpoints.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class Ranks:
    """This process's place among the training processes; `Ranks()` is a single process."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def shard(self, batch: torch.Tensor) -> torch.Tensor:
        """This rank's contiguous share of a global batch."""
        if not self.distributed:
            return batch
        if len(batch) % self.world:  # the batch stream refuses such batch sizes with a clear error
            raise ValueError(f"a batch of {len(batch)} does not split over {self.world} processes")
        share = len(batch) // self.world
        return batch[self.rank * share:(self.rank + 1) * share]

    def average_gradients(self, module: nn.Module) -> None:
        """Every rank's gradients replaced by their mean over the ranks (one flat all-reduce)."""
        if not self.distributed:
            return
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.flatten() for g in grads])
        dist.all_reduce(flat)
        flat /= self.world
        for grad, mean in zip(grads, flat.split([g.numel() for g in grads]), strict=True):
            grad.copy_(mean.view_as(grad))

    def gather(self, values: torch.Tensor) -> torch.Tensor:
        """The global batch of per-sample values, in rank order (for statistics of the whole batch)."""
        if not self.distributed:
            return values
        parts = [torch.empty_like(values) for _ in range(self.world)]
        dist.all_gather(parts, values.contiguous())
        return torch.cat(parts)

    def any(self, flag: bool, device: torch.device) -> bool:
        """True on every rank when it is true on one (e.g. a stop request that only rank 0 received)."""
        if not self.distributed:
            return flag
        value = torch.tensor([float(flag)], device=device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def broadcast(self, module: nn.Module) -> None:
        """Rank 0's weights and buffers on every rank."""
        if self.distributed:
            for tensor in [*module.parameters(), *module.buffers()]:
                dist.broadcast(tensor.data, src=0)

    def share_from_main(self, text: str, device: torch.device) -> str:
        """Rank 0's `text` on every rank (e.g. the run folder rank 0 created)."""
        if not self.distributed:
            return text
        payload = torch.tensor(list(text.encode()), dtype=torch.uint8, device=device)
        length = torch.tensor([len(payload)], device=device)
        dist.broadcast(length, src=0)
        if not self.main:
            payload = torch.empty(int(length.item()), dtype=torch.uint8, device=device)
        dist.broadcast(payload, src=0)
        return bytes(payload.cpu().tolist()).decode()

    @contextmanager
    def main_first(self) -> Iterator[None]:
        """Rank 0 runs the block first (e.g. writes a data cache), then the others (which read it)."""
        if self.distributed and not self.main:
            dist.barrier()
        yield
        if self.distributed and self.main:
            dist.barrier()


def ranks_from_environment() -> Ranks:
    """The ranks torchrun describes in RANK / WORLD_SIZE / LOCAL_RANK; the process group is started on
    first use (NCCL when CUDA is available, else gloo)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Ranks()
    ranks = Ranks(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(ranks.local_rank)
        dist.init_process_group("nccl" if cuda else "gloo")
    return ranks


def end_process_group() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


class CrossRankBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm over the global batch of all ranks: the mean and variance are all-reduced (and so are
    their gradients), so a step on W ranks equals one step of a single process on the whole batch.
    torch.nn.SyncBatchNorm does the same on GPUs only; this also runs on CPUs with gloo. Within
    `rank_local_statistics` it is a plain batch norm of this rank's batch."""

    rank_local = False

    def forward(self, x: torch.Tensor, *unused) -> torch.Tensor:
        if self.rank_local or not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x, *unused)
        from torch.distributed._functional_collectives import all_reduce as collective_sum  # differentiable

        def all_reduce(tensor: torch.Tensor) -> torch.Tensor:
            return collective_sum(tensor, "sum", dist.group.WORLD)  # type: ignore[arg-type]  # WORLD once initialized

        dims = [0, *range(2, x.dim())]
        shape = [1, -1] + [1] * (x.dim() - 2)
        count = x.numel() // x.shape[1] * dist.get_world_size()  # every rank holds an equal share
        mean = all_reduce(x.sum(dims)) / count
        centred = x - mean.view(shape)
        var = all_reduce(centred.pow(2).sum(dims)) / count  # two passes: as exact as a single process
        if self.running_mean is not None and self.running_var is not None and self.num_batches_tracked is not None:
            with torch.no_grad():
                self.num_batches_tracked += 1
                momentum = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                self.running_mean.lerp_(mean.detach(), momentum)
                self.running_var.lerp_(var.detach() * count / (count - 1), momentum)
        out = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out


@contextmanager
def rank_local_statistics(module: nn.Module) -> Iterator[None]:
    """The cross-rank batch norms of `module` normalize this rank's batch alone meanwhile: for work that one
    rank does by itself, which would wait forever for the others' all-reduce."""
    layers = [layer for layer in module.modules() if isinstance(layer, CrossRankBatchNorm)]
    for layer in layers:
        layer.rank_local = True
    try:
        yield
    finally:
        for layer in layers:
            del layer.rank_local


_CROSS_RANK_CLASSES: dict[type, type] = {}


def use_cross_rank_batch_norm(module: nn.Module) -> nn.Module:
    """Turns every batch-norm layer of `module` into a CrossRankBatchNorm of its own class, in place (the
    class keeps its call signature, e.g. the conditional one's)."""
    for layer in module.modules():
        if isinstance(layer, nn.modules.batchnorm._BatchNorm) and not isinstance(layer, CrossRankBatchNorm):
            base = type(layer)
            if base not in _CROSS_RANK_CLASSES:
                _CROSS_RANK_CLASSES[base] = type(f"CrossRank{base.__name__}", (CrossRankBatchNorm, base), {})
            layer.__class__ = _CROSS_RANK_CLASSES[base]
    return module

