"""A training run's parts, built from a config: the run folder (claimed and locked), the data, the
networks, optimizers and techniques, the step, the checkpointed state, the logs and the doctor.
`Trainer` (the loop) is a `TrainingRun` that trains.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from ..ada import AdaptiveAugment
from ..augment import DiffAugment
from ..config import Config
from ..data import BatchStream, ImageDataset, PointDataset, build_dataset
from ..data.stream import default_workers
from ..devices import resolve_device
from ..errors import CheckpointError, RunFolderError, SteadyganError, first_line
from ..growth import FixedResolution, ProgressiveGrowth, images_shown, schedule_class
from ..losses import build_loss
from ..models import Discriminator, Generator, build_models, check_config_networks
from ..objectives import G_OBJECTIVES
from ..optimizers import OPTIMIZERS
from ..ramps import CosineRamps
from ..regularizers import build_regularizers
from ..run_folder import DEFAULT_ROOT, RunFolder
from ..sampling import sample_latents
from ..speed import Precision, compile_networks, resolve_memory_format
from ..technique import Techniques
from ..validation import validate
from .batches import Batches
from .distributed import ranks_from_environment, use_cross_rank_batch_norm
from .doctor import CoverageProbe, Doctor, Monitors
from .ema import EMA
from .evaluation import PeriodicEvaluation
from .metrics_log import MetricsLog
from .state import TrainingState
from .step import AdversarialStep


@dataclass
class TrainingParts:
    """What trains a G and D: the EMA of G, the two optimizers, the resolution schedule and every technique."""

    ema: EMA
    opt_G: torch.optim.Optimizer
    opt_D: torch.optim.Optimizer
    schedule: FixedResolution | ProgressiveGrowth
    techniques: Techniques


def build_training_parts(config: Config, G: Generator, D: Discriminator, dataset: ImageDataset | PointDataset,
                         stream: BatchStream) -> TrainingParts:
    """The EMA, optimizers, schedule and techniques a config switches on, for the given networks and data."""
    train, optim, optimizer = config.train, config.optim, OPTIMIZERS.get(config.optim.optimizer)

    def g_images(step: int) -> int:
        return images_shown(config, step) // optim.n_dis

    ema = EMA(G, train.ema_decay, train.ema_start, train.ema_kimg, train.ema_rampup, g_images,
              train.ema_standing_stats, optim.batch_size)
    opt_G = optimizer.build(G.parameters(), optim.g_lr, optim.g_betas)
    opt_D = optimizer.build(D.parameters(), optim.d_lr, optim.d_betas)
    # The resolution, fade-in and batch size of each step: fixed, or growing for progressive architectures.
    schedule = schedule_class(config).build(config, dataset, stream, (G, D, ema.model), (opt_G, opt_D))
    objective = G_OBJECTIVES.get(config.loss.g_objective).from_config(config)
    augment = [unit for make in (DiffAugment, AdaptiveAugment) if (unit := make.from_config(config)) is not None]
    regularizers = build_regularizers(config)
    ramps = CosineRamps.from_config(config, (opt_G, opt_D), regularizers, g_images)
    techniques = Techniques(build_loss(config.loss), objective,
                            [*regularizers, *augment, *([ramps] if ramps else []), schedule, ema])
    return TrainingParts(ema, opt_G, opt_D, schedule, techniques)


class TrainingRun:
    """Builds data, models, techniques and optimizers from a Config."""

    def __init__(self, config: Config, *, progress: bool = True, tensorboard: bool = True, run_name: str | None = None,
                 continue_run: bool = False, overwrite: bool = False, recipe: str | None = None):
        """`config.train.out_dir` is the run folder ("" for a new numbered one, runs/NNNNN-`run_name`); it must
        not hold a run, unless `continue_run` (a resume) or `overwrite` (start over in it). The folder is
        locked until `fit()` returns or `close()` is called. `recipe` names the recipe the config came from
        (recorded in checkpoints; the model card lists the settings that differ from it)."""
        self.config = validate(config)
        self.ranks = ranks_from_environment()  # one process, or one of several started by torchrun
        self.progress = progress and self.ranks.main
        self.device = resolve_device(config.train.device, self.ranks.local_rank if self.ranks.distributed else None)
        # Models too large for this machine, or that cannot be built, fail before any data is decoded.
        check_config_networks(config)
        self.run = self._claim_run_folder(run_name or config.model.arch, continue_run, overwrite)
        self.out_dir = self.run.path
        config.train.out_dir = str(self.out_dir)
        try:
            self._build(tensorboard, recipe)
        except BaseException:
            self.run.abandon()
            raise

    def _claim_run_folder(self, name: str, continue_run: bool, overwrite: bool) -> RunFolder:
        """The run folder, locked by the first process; the others learn its path from it."""
        run, error, chosen = None, None, self.config.train.out_dir
        if self.ranks.main:
            try:
                run = (RunFolder.claim(chosen, fresh=not continue_run, overwrite=overwrite) if chosen
                       else RunFolder.new(DEFAULT_ROOT, name))
            except SteadyganError as exc:
                error = exc  # raised once the other processes know, so that none waits forever
        path = self.ranks.share_from_main(str(run.path) if run else "", self.device)
        if error is not None:
            raise error
        if not path:
            raise RunFolderError("the first training process could not claim the run folder; its error says why")
        return run or RunFolder(Path(path))

    def _build(self, tensorboard: bool, recipe: str | None) -> None:
        config, train = self.config, self.config.train
        torch.manual_seed(train.seed)
        with self.ranks.main_first():  # rank 0 writes the image cache, the others read it
            self.dataset = dataset = build_dataset(config.data, progress=self.progress)
        self.num_classes = dataset.num_classes if config.model.conditional else 0
        self.G, self.D = G, D = build_models(config.model, resolution=config.data.resolution,
                                             channels=dataset.shape()[0], num_classes=dataset.num_classes,
                                             data_kind=dataset.kind)
        if self.ranks.distributed:
            for network in (G, D):
                use_cross_rank_batch_norm(network)
                self.ranks.broadcast(network)
        self.memory_format = resolve_memory_format(train.memory_format, self.device, images=dataset.kind == "image")
        for network in (G, D):  # Module.to takes memory_format; torch's type stubs leave it out
            network.to(self.device, memory_format=self.memory_format)  # type: ignore[call-overload]
        self.precision = Precision(train.precision, self.device)
        heldout, trained = self._split_holdout()
        self.held_out = len(heldout)
        self.stream = BatchStream(dataset, config.optim.batch_size, seed=train.seed, hflip=config.data.hflip,
                                  indices=trained, shard=(self.ranks.rank, self.ranks.world),
                                  workers=default_workers(config.data.workers))
        parts = build_training_parts(config, G, D, dataset, self.stream)
        self.ema, self.opt_G, self.opt_D, self.schedule = parts.ema, parts.opt_G, parts.opt_D, parts.schedule
        self.techniques = parts.techniques
        self.compiled = (compile_networks(G, D, self.techniques.needs_second_derivative,
                                          self.techniques.needs_g_second_derivative) if train.compile else [])
        self.batches = Batches(self.stream, z_dim=G.z_dim, num_classes=self.num_classes, seed=train.seed,
                               ranks=self.ranks, device=self.device, memory_format=self.memory_format,
                               fade=self.schedule.real)
        self.schedule.begin_step(0)
        self.fixed_z, self.fixed_labels = self._fixed_latents()
        self.evaluation = (PeriodicEvaluation(train, dataset, config.data.source, self.device, self.out_dir)
                           if train.eval_every > 0 and self.ranks.main else None)
        coverage = CoverageProbe.build(config.doctor.coverage_samples, heldout, self.stream.indices, G.z_dim,
                                       self.num_classes, self._real_images, train.seed)
        self.monitors = Monitors(config.doctor.monitor_samples, heldout, self.stream.indices, self.fixed_z,
                                 self.fixed_labels, self._real_images, coverage)
        self.doctor = Doctor(config)
        self.metrics = MetricsLog(self.out_dir, tensorboard=tensorboard, write=self.ranks.main)
        self.state = TrainingState(
            config=config, G=G, D=D, ema=self.ema, optimizers={"opt_G": self.opt_G, "opt_D": self.opt_D},
            batches=self.batches, stream=self.stream, techniques=self.techniques, precision=self.precision,
            evaluation=self.evaluation, device=self.device,
            data={"kind": dataset.kind, "shape": list(dataset.shape()), "num_classes": dataset.num_classes,
                  "class_names": list(dataset.class_names), "name": dataset.name}, recipe=recipe)
        self.step_once = AdversarialStep(G=G, D=D, opt_G=self.opt_G, opt_D=self.opt_D, techniques=self.techniques,
                                         precision=self.precision, ranks=self.ranks, batches=self.batches,
                                         metrics=self.metrics, optim=config.optim, total_steps=train.steps)

    def _split_holdout(self) -> tuple[np.ndarray, np.ndarray]:
        """(held-out, trained-on) indices: a fixed share of the real data that D never trains on, so that
        the doctor can compare D's verdicts on images it has and has not seen."""
        count = min(1000, int(len(self.dataset) * self.config.doctor.holdout))
        order = np.random.default_rng((self.config.train.seed, 1)).permutation(len(self.dataset))
        return np.sort(order[:count]), np.sort(order[count:])

    def _fixed_latents(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The same latents for every sample grid, so that grids of a run can be compared."""
        rng = torch.Generator().manual_seed(self.config.train.seed + 1)
        n = self.config.train.num_samples
        z = sample_latents(n, self.G.z_dim, rng)
        labels = torch.arange(n) % self.num_classes if self.num_classes else None
        return z, labels

    def _real_images(self, indices: np.ndarray) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Images of the data set by index, at the resolution the stream serves, as D sees them."""
        return self.batches.prepare_real(*self.stream.dataset.batch(indices))

    @property
    def step(self) -> int:
        return self.state.step

    @property
    def rollbacks(self) -> int:
        return self.state.rollbacks

    @property
    def lr_scale(self) -> float:
        return self.state.lr_scale

    def describe_speed(self) -> str:
        ranks = f"{self.ranks.world} processes ({dist.get_backend()}), " if self.ranks.distributed else ""
        layout = "channels_last" if self.memory_format is torch.channels_last else "contiguous"
        compiled = f", compiled {' and '.join(self.compiled)}" if self.compiled else ""
        return f"running on {ranks}{self.device} in {self.precision.name}, {layout}{compiled}"

    def describe_techniques(self) -> str:
        return "techniques: " + ", ".join(t.describe() for t in self.techniques.all() if t.phases)

    def load_state(self, tensors: dict[str, torch.Tensor], meta: dict, path: Path) -> None:
        """The state a checkpoint recorded; a CheckpointError when it is damaged or does not fit."""
        try:
            self.state.load(tensors, meta)
        except (RuntimeError, KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
            raise CheckpointError(f"checkpoint '{path}' is damaged or does not fit the networks its config builds "
                                  f"({first_line(exc)[:200]}); resume from another checkpoint") from None
        if self.state.diverged():
            raise CheckpointError(f"checkpoint '{path}' holds NaN/inf weights; resume from an earlier checkpoint")
        self.schedule.begin_step(self.step)
        self.metrics.truncate_after(self.step)
        self.doctor.replay(self.metrics.records())
