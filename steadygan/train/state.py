"""The checkpointed state of a run, as one object: everything a checkpoint holds, written and read back.

A resumed run continues bit for bit where the checkpoint left off: the weights, the optimizers, the
EMA of G, every random number generator, the data stream's position, each technique's state, the
fp16 scalers, the best evaluation score, the rollback counters and the training time.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch

from ..config import Config
from ..data import BatchStream
from ..speed import Precision
from ..storage.checkpoint import flatten_module, flatten_optimizer, restore_optimizer, unflatten
from ..technique import Techniques
from .batches import Batches
from .ema import EMA
from .evaluation import PeriodicEvaluation


class TrainingState:
    def __init__(self, *, config: Config, G: torch.nn.Module, D: torch.nn.Module, ema: EMA,
                 optimizers: dict[str, torch.optim.Optimizer], batches: Batches, stream: BatchStream,
                 techniques: Techniques, precision: Precision, evaluation: PeriodicEvaluation | None,
                 device: torch.device, data: dict[str, Any], recipe: str | None = None):
        self.config, self.G, self.D, self.ema, self.optimizers = config, G, D, ema, optimizers
        self.batches, self.stream, self.techniques, self.precision = batches, stream, techniques, precision
        self.evaluation, self.device, self.data = evaluation, device, data
        self.recipe = recipe  # the recipe the run started from, as given to `train` (for its model card)
        self.step = 0
        self.lr_scale, self.rollbacks = 1.0, 0  # lowered by every rollback after a divergence
        self._clock = (time.perf_counter(), 0.0)  # (when it was set, training seconds before then)

    def train_seconds(self) -> float:
        """Wall time spent in this run so far, over every resume (samples, evaluations, checkpoints included)."""
        since, before = self._clock
        return before + time.perf_counter() - since

    def start_clock(self, seconds: float | None = None) -> None:
        """Counts training time from now on, after `seconds` (default: the time counted so far)."""
        self._clock = (time.perf_counter(), self.train_seconds() if seconds is None else seconds)

    def diverged(self) -> bool:
        """NaN or inf in a weight of G or D (a loss that overflowed has already spread there)."""
        finite = [torch.isfinite(p).all() for net in (self.G, self.D) for p in net.parameters()]
        return not bool(torch.stack(finite).all())  # one device sync, not one per tensor

    def tensors_and_meta(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        tensors = {**flatten_module("G", self.G), **flatten_module("D", self.D),
                   **flatten_module("G_ema", self.ema.model),
                   "rng.latents": self.batches.latent_rng.get_state(), "rng.torch": torch.get_rng_state()}
        optimizers = {}
        for name, optimizer in self.optimizers.items():
            flat, optimizers[name] = flatten_optimizer(name, optimizer)
            tensors.update(flat)
        if self.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        meta = {
            "step": self.step,
            "recipe": self.recipe,
            "config": self.config.to_dict(),
            "stream": self.stream.state_dict(),
            "techniques": self.techniques.state_dict(),
            "evaluation": self.evaluation.state_dict() if self.evaluation is not None else {},
            "doctor": {"lr_scale": self.lr_scale, "rollbacks": self.rollbacks},
            "precision": self.precision.state_dict(),
            "train_seconds": self.train_seconds(),
            "optimizers": optimizers,
            "data": self.data,
        }
        return tensors, meta

    def load(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        """The state `tensors_and_meta` wrote; KeyError, ValueError and the like when it does not fit."""
        self.G.load_state_dict(unflatten("G", tensors))
        self.D.load_state_dict(unflatten("D", tensors))
        self.ema.model.load_state_dict(unflatten("G_ema", tensors))
        for name, optimizer in self.optimizers.items():
            restore_optimizer(name, optimizer, tensors, meta["optimizers"][name])
        self.batches.latent_rng.set_state(tensors["rng.latents"])
        torch.set_rng_state(tensors["rng.torch"])
        if self.device.type == "cuda" and "rng.cuda" in tensors:
            torch.cuda.set_rng_state(tensors["rng.cuda"], self.device)
        self.stream.load_state_dict(meta["stream"])
        # Checkpoints written before techniques kept their own states held the loss's alone.
        self.techniques.load_state_dict(meta.get("techniques", {self.techniques.loss.name: meta.get("loss", {})}))
        self.precision.load_state_dict(meta.get("precision", {}))
        if self.evaluation is not None:
            self.evaluation.load_state_dict(meta.get("evaluation", {}))
        self.step = int(meta["step"])
        recipe = meta.get("recipe")
        self.recipe = recipe if isinstance(recipe, str) else None  # older checkpoints did not record it
        doctor = meta.get("doctor", {})
        lr_scale, rollbacks = float(doctor.get("lr_scale", 1.0)), int(doctor.get("rollbacks", 0))
        seconds = float(meta.get("train_seconds", 0.0))
        if not (0 < lr_scale <= 1 and rollbacks >= 0 and 0 <= seconds < math.inf):
            raise ValueError(f"doctor state {doctor} or train_seconds {seconds} out of range")
        self.lr_scale, self.rollbacks = lr_scale, rollbacks
        self.start_clock(seconds)
