"""The training loop: n_dis D steps then one G step, with EMA, logging, samples and checkpoints.

The loop knows phases and schedules, never technique names: the networks come from the model
registry, the losses and G's objective from their registries, penalties, constraints and DiffAugment
from the `regularize` section, and the data from the data package. Under torchrun every rank runs
this loop on its share of each global batch (`distributed`); autocast, memory layout and compilation
come from `speed`.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..atomic import write_atomic
from ..augment import DiffAugment
from ..config import Config, apply_overrides, load_config, validate
from ..data import BatchStream, build_dataset
from ..data.datasets import to_unit_range
from ..data.stream import default_workers
from ..devices import resolve_device
from ..errors import CheckpointError, ConfigError, RunFolderError, SteadyganError, TrainingDiverged, first_line
from ..images import save_image
from ..losses import build_loss
from ..models import ARCHITECTURES, build_models, check_config_networks, check_model_size, meta_models
from ..regularizers import DiscriminatorBatch, build_regularizers
from ..run_folder import DEFAULT_ROOT, NUMBERED, RunFolder
from ..sampling import generate, sample_latents
from .checkpoint import (
    BEST,
    LAST,
    flatten_module,
    flatten_optimizer,
    load_checkpoint,
    restore_optimizer,
    save_checkpoint,
    stored_config,
    unflatten,
)
from .distributed import end_process_group, ranks_from_environment, use_cross_rank_batch_norm
from .doctor import Doctor, Monitors, gradient_norm
from .ema import EMA
from .evaluation import PeriodicEvaluation
from .growth import build_schedule, images_shown
from .metrics_log import MetricsLog, plot_losses
from .objectives import G_OBJECTIVES, Unroller
from .speed import Precision, compile_networks, resolve_memory_format

OPTIMIZERS = {
    "adam": lambda params, lr, betas: torch.optim.Adam(params, lr=lr, betas=betas),
    "rmsprop": lambda params, lr, betas: torch.optim.RMSprop(params, lr=lr),  # WGAN; no momentum
}


@dataclass
class TrainResult:
    out_dir: Path
    checkpoint: Path
    step: int
    completed: bool  # False when stopped early by a signal or request_stop()


class Trainer:
    """Builds data, models, loss and optimizers from a Config and runs (or resumes) training."""

    def __init__(self, config: Config, *, progress: bool = True, tensorboard: bool = True,
                 callbacks: list[Callable[[Trainer], None]] | None = None, run_name: str | None = None,
                 continue_run: bool = False, overwrite: bool = False):
        """`config.train.out_dir` is the run folder ("" for a new numbered one, runs/NNNNN-`run_name`); it must
        not hold a run, unless `continue_run` (a resume) or `overwrite` (start over in it). The folder is
        locked until `fit()` returns or `close()` is called."""
        self.config = validate(config)
        self.ranks = ranks_from_environment()  # one process, or one of several started by torchrun
        self.progress = progress and self.ranks.main
        self.callbacks = list(callbacks or [])
        self.device = resolve_device(config.train.device, self.ranks.local_rank if self.ranks.distributed else None)
        # Models too large for this machine, or that cannot be built, fail before any data is decoded.
        check_config_networks(config)
        self.run = self._claim_run_folder(run_name or config.model.arch, continue_run, overwrite)
        self.out_dir = self.run.path
        config.train.out_dir = str(self.out_dir)
        try:
            self._build(tensorboard)
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

    def _build(self, tensorboard: bool) -> None:
        config = self.config
        self.step = 0
        self._stop_requested = False

        torch.manual_seed(config.train.seed)
        with self.ranks.main_first():  # rank 0 writes the image cache, the others read it
            self.dataset = build_dataset(config.data, progress=self.progress)
        self.num_classes = self.dataset.num_classes if config.model.conditional else 0
        self.G, self.D = build_models(config.model, resolution=config.data.resolution,
                                      channels=self.dataset.shape()[0], num_classes=self.dataset.num_classes,
                                      data_kind=self.dataset.kind)
        if self.ranks.distributed:
            for network in (self.G, self.D):
                use_cross_rank_batch_norm(network)
                self.ranks.broadcast(network)
        self.memory_format = resolve_memory_format(config.train.memory_format, self.device,
                                                   images=self.dataset.kind == "image")
        for network in (self.G, self.D):  # Module.to takes memory_format; torch's type stubs leave it out
            network.to(self.device, memory_format=self.memory_format)  # type: ignore[call-overload]
        self.precision = Precision(config.train.precision, self.device)
        self.ema = EMA(self.G, config.train.ema_decay, config.train.ema_start)
        self.compiled = compile_networks(config, self.G, self.D)  # after the EMA copies the plain G
        self.loss = build_loss(config.loss)
        self.regularizers = build_regularizers(config.regularize)
        if config.regularize.diffaugment and self.dataset.kind != "image":
            raise ConfigError("regularize.diffaugment augments images; set it to '' for 2-D point data")
        self.augment = DiffAugment(config.regularize.diffaugment)
        self.g_objective = G_OBJECTIVES.get(config.loss.g_objective)
        self.unroller = Unroller(config.loss.unrolled_steps)
        optim = config.optim
        make_optimizer = OPTIMIZERS[optim.optimizer]
        self.opt_G = make_optimizer(self.G.parameters(), optim.g_lr, optim.g_betas)
        self.opt_D = make_optimizer(self.D.parameters(), optim.d_lr, optim.d_betas)
        heldout, trained = self._split_holdout()
        self.stream = BatchStream(self.dataset, optim.batch_size, seed=config.train.seed, hflip=config.data.hflip,
                                  indices=trained, shard=(self.ranks.rank, self.ranks.world),
                                  workers=default_workers(config.data.workers))
        # The resolution, fade-in and batch size of each step: fixed, or growing for progressive architectures.
        self.schedule = build_schedule(config, self.dataset, ARCHITECTURES.get(config.model.arch).progressive)
        self.schedule.begin_step(self)
        self.latent_rng = torch.Generator().manual_seed(config.train.seed)
        self.fixed_z, self.fixed_labels = self._fixed_latents()
        self.evaluation = PeriodicEvaluation(self) if config.train.eval_every > 0 and self.ranks.main else None
        self.monitors = Monitors(self, heldout)
        self.doctor = Doctor(config)
        self.lr_scale, self.rollbacks = 1.0, 0  # lowered by every rollback after a divergence
        self._clock = (time.perf_counter(), 0.0)  # (when it was set, training seconds before then)
        self.metrics = MetricsLog(self.out_dir, tensorboard=tensorboard, write=self.ranks.main)
        self._postfix = ""
        self._last_log = (time.perf_counter(), 0)

    # ----------------------------------------------------------------------------------------------
    # construction from recipes and checkpoints

    @classmethod
    def resume(cls, checkpoint: str | Path, overrides: list[str] | tuple[str, ...] = (), *, overwrite: bool = False,
               **kwargs) -> Trainer:
        """A trainer in the exact state a checkpoint recorded; overrides apply to its stored config.

        The last checkpoint of a run folder (RUN/checkpoints/last.safetensors) continues that run in place.
        Any other checkpoint (a loose file, a run's best) starts a run folder of its own: `train.out_dir`,
        or a new numbered one. Output and cache folders are the user's to choose, never the checkpoint's."""
        tensors, meta, path = load_checkpoint(checkpoint)
        stored, data = stored_config(meta, path), meta["data"]
        check_model_size(stored.model, resolution=stored.data.resolution, channels=data["shape"][0],
                         num_classes=data["num_classes"], data_kind=data["kind"])
        config = copy.deepcopy(stored)
        config.train.out_dir = config.data.cache_dir = ""
        check_same_networks(stored, validate(apply_overrides(config, overrides)), data)
        run_dir = path.parent.parent
        in_place = path.name == LAST and path.parent.name == "checkpoints" and (run_dir / "config.yaml").is_file()
        if config.train.out_dir:
            in_place = in_place and Path(config.train.out_dir).resolve() == run_dir.resolve()
        elif in_place:
            config.train.out_dir = str(run_dir)
        name = NUMBERED.sub("", run_dir.name) if path.stem in (Path(LAST).stem, Path(BEST).stem) else path.stem
        trainer = cls(config, run_name=name, continue_run=in_place, overwrite=overwrite, **kwargs)
        try:
            trainer.load_state(tensors, meta, path)
        except BaseException:
            trainer.run.abandon()
            raise
        return trainer

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

    # ----------------------------------------------------------------------------------------------
    # the phases of one step

    def draw_latents(self, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """This rank's share of n latents (and labels): every rank draws all n, so that the global batch
        is the one a single process draws."""
        z = self.ranks.shard(sample_latents(n, self.G.z_dim, self.latent_rng)).to(self.device)
        if not self.num_classes:
            return z, None
        labels = torch.randint(self.num_classes, (n,), generator=self.latent_rng)
        return z, self.ranks.shard(labels).to(self.device)

    def real_batch(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.prepare_real(*self.stream.next())

    def prepare_real(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Real images on the device as this step's D sees them (faded in while G grows), and their labels."""
        on_device = labels.to(self.device) if self.num_classes else None
        images = to_unit_range(images.to(self.device, non_blocking=True))  # uint8 converted on the device
        if images.dim() == 4:
            images = images.contiguous(memory_format=self.memory_format)
        return self.schedule.real(images), on_device

    def discriminator_step(self) -> None:
        real, real_labels = self.real_batch()
        z, fake_labels = self.draw_latents(self.stream.batch_size)
        with self.precision.autocast():
            with torch.no_grad():
                fake = self.G(z, fake_labels)
            real, fake = self.augment(real), self.augment(fake)
            # Losses are reduced in float32 whatever precision the networks run at.
            real_out, fake_out = self.D(real, real_labels).float(), self.D(fake, fake_labels).float()
            batch = DiscriminatorBatch(self.D, real, fake, real_labels, fake_labels, real_out, fake_out)
            terms = {penalty.name: penalty(batch) for penalty in self.regularizers.d_penalties}
            terms.update({penalty.name: penalty(self.D) for penalty in self.regularizers.d_weight_penalties})
            loss = self.loss.d_loss(real_out, fake_out) + sum(terms.values())
        self.opt_D.zero_grad(set_to_none=True)
        self.precision.backward(loss, "D")
        self.ranks.average_gradients(self.D)  # before unscaling: an fp16 overflow on one rank skips the step on all
        self.precision.unscale(self.opt_D, "D")
        d_grad_norm = gradient_norm(self.D)
        self.precision.step(self.opt_D, "D")
        for constraint in self.regularizers.d_constraints:
            constraint(self.D)
        # Batch statistics (BEGAN's balance, WGAN's decision boundary) over the global batch.
        real_out, fake_out = self.ranks.gather(real_out.detach()), self.ranks.gather(fake_out.detach())
        acc_real, acc_fake = self.loss.accuracy(real_out, fake_out)
        self.metrics.add({"d_loss": loss.detach(), "d_real": real_out.detach().mean(),
                          "d_fake": fake_out.detach().mean(), "d_acc_real": acc_real, "d_acc_fake": acc_fake,
                          "d_grad_norm": d_grad_norm, **{k: v.detach() for k, v in terms.items()},
                          **self.loss.after_d_step(real_out, fake_out)})

    def generator_step(self) -> None:
        z, labels = self.draw_latents(self.stream.batch_size)
        with self.precision.autocast():
            fake = self.augment(self.G(z, labels))
            critic = self.unroller.critic(self, fake, labels)  # D itself unless G trains against an unrolled D
            self.D.requires_grad_(False)  # G's step needs gradients through D, not for D's weights
            terms = {penalty.name: penalty(self.G) for penalty in self.regularizers.g_weight_penalties}
            loss = self.g_objective(self, lambda x, y: critic(x, y).float(), fake, labels) + sum(terms.values())
        self.opt_G.zero_grad(set_to_none=True)
        self.precision.backward(loss, "G")
        self.ranks.average_gradients(self.G)
        self.precision.unscale(self.opt_G, "G")
        g_grad_norm = gradient_norm(self.G)
        self.precision.step(self.opt_G, "G")
        self.D.requires_grad_(True)
        self.metrics.add({"g_loss": loss.detach(), "g_grad_norm": g_grad_norm,
                          **{k: v.detach() for k, v in terms.items()}})

    def _set_learning_rates(self) -> None:
        optim = self.config.optim
        scale = self.lr_scale
        if optim.lr_decay == "linear":  # full rate until lr_decay_start, then linearly to zero at the last step
            remaining = 1.0 - self.step / self.config.train.steps
            scale *= min(1.0, remaining / (1.0 - optim.lr_decay_start))
        for optimizer, base in ((self.opt_G, optim.g_lr), (self.opt_D, optim.d_lr)):
            for group in optimizer.param_groups:
                group["lr"] = base * scale

    def train_step(self) -> None:
        """One G update: the schedule's n_dis D steps, the G step, then the EMA."""
        self.schedule.begin_step(self)
        self._set_learning_rates()
        self.G.train()
        self.D.train()
        for _ in range(self.config.optim.n_dis):
            self.discriminator_step()
        self.generator_step()
        self.step += 1
        self.ema.update(self.G, self.step)

    # ----------------------------------------------------------------------------------------------
    # the loop

    def train_seconds(self) -> float:
        """Wall time spent in this run so far, over every resume (samples, evaluations, checkpoints included)."""
        since, before = self._clock
        return before + time.perf_counter() - since

    def describe_speed(self) -> str:
        ranks = f"{self.ranks.world} processes ({dist.get_backend()}), " if self.ranks.distributed else ""
        layout = "channels_last" if self.memory_format is torch.channels_last else "contiguous"
        compiled = f", compiled {' and '.join(self.compiled)}" if self.compiled else ""
        return f"running on {ranks}{self.device} in {self.precision.name}, {layout}{compiled}"

    def request_stop(self) -> None:
        """Finish the current step, save a checkpoint and return from fit()."""
        self._stop_requested = True

    def fit(self) -> TrainResult:
        """Train to `train.steps` (or until a stop request), then release the run folder. A run whose weights
        are not finite at the end rolls back and trains on; out of rollbacks it raises TrainingDiverged."""
        try:
            return self._fit()
        finally:
            self.close()

    def close(self) -> None:
        """Close the logs and release the run folder for other processes."""
        self.metrics.close()
        self.run.release()

    def _fit(self) -> TrainResult:
        cfg = self.config.train
        if self.ranks.main:
            write_atomic(self.out_dir / "config.yaml", self.config.to_yaml().encode())
        periodic = [(cfg.log_every, self._log), (cfg.sample_every, self.save_samples),
                    (cfg.eval_every, self.evaluate), (cfg.checkpoint_every, self.save_checkpoint)]
        if self.progress:
            for line in [f"run folder {self.out_dir}", self.describe_speed(), *self.schedule.plan(cfg.steps)]:
                print(line)
        bar = tqdm(total=cfg.steps, initial=self.step, disable=not self.progress, unit="step",
                   dynamic_ncols=True, desc=f"training {self.out_dir.name}")
        self._last_log = (time.perf_counter(), self.step)
        self._clock = (time.perf_counter(), self._clock[1])  # construction and data caching are not training
        try:
            with self._stop_on_signals():
                if self.step == 0:
                    self.save_samples()
                if self.config.doctor.rollback and not (self.out_dir / "checkpoints" / LAST).is_file():
                    self.save_checkpoint()  # a state to roll back to from the very first steps
                while True:
                    while self.step < cfg.steps and not self._stop_requested:
                        self.train_step()
                        self._stop_requested = self.ranks.any(self._stop_requested, self.device)  # all stop together
                        bar.update(1)
                        for every, action in periodic:
                            if every > 0 and self.step % every == 0:
                                action()
                        if self.schedule.ends_segment(self.step) and self.step % max(cfg.sample_every, 1):
                            self.save_samples()  # every phase's end is a frame of the growth video
                        if self.step % max(cfg.log_every, 1) == 0:
                            bar.set_postfix_str(self._postfix, refresh=False)
                        if bar.n != self.step:  # a rollback went back to an earlier step
                            bar.n = self.step
                            bar.refresh()
                        for callback in self.callbacks:
                            callback(self)
                    if not self._diverged():  # steps that ended between two logs are checked here
                        break
                    self.roll_back()
        finally:
            bar.close()
        if self.evaluation is not None and self.step >= cfg.steps and self.evaluation.last_step != self.step:
            self.evaluate()  # the final weights are always scored
        checkpoint = self.save_checkpoint()
        if self.step % max(cfg.sample_every, 1):
            self.save_samples()
        return TrainResult(self.out_dir, checkpoint, self.step, completed=self.step >= cfg.steps)

    @contextmanager
    def _stop_on_signals(self) -> Iterator[None]:
        """Ctrl-C or SIGTERM: finish the step, save, exit cleanly. A second Ctrl-C aborts at once."""
        def handle(signum: int, frame: object) -> None:
            if self._stop_requested and signum == signal.SIGINT:
                raise KeyboardInterrupt
            self._stop_requested = True
            tqdm.write(f"{signal.Signals(signum).name}: stopping after this step and saving a checkpoint "
                       "(Ctrl-C again aborts without saving)")

        try:
            previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        except ValueError:  # not the main thread, where signals cannot be caught
            previous = {}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _log(self) -> None:
        now = time.perf_counter()
        started, first_step = self._last_log
        self._last_log = (now, self.step)
        extra = {"lr_g": self.opt_G.param_groups[0]["lr"], "lr_d": self.opt_D.param_groups[0]["lr"],
                 "kimg": images_shown(self.config, self.step) / 1000, **self.schedule.log_values()}
        if self.step > first_step:
            extra["seconds_per_step"] = (now - started) / (self.step - first_step)
        diverged = self._diverged()
        if not diverged:  # on every rank: D's batch statistics are those of all ranks together
            extra.update(self.monitors(self))
        if self.ranks.main:  # the weights are the same on every rank; rank 0 writes
            record = self.metrics.flush(self.step, extra)
            self._postfix = " ".join(filter(None, (
                self.schedule.describe(),
                f"d_loss={record.get('d_loss', math.nan):.3f} g_loss={record.get('g_loss', math.nan):.3f}")))
            self._report(self.doctor.examine(record))
        else:
            self.metrics.discard()
        if diverged:
            self.roll_back()

    def _report(self, findings) -> None:
        for finding in findings:
            if self.progress:
                tqdm.write(f"doctor: {finding.line()}")

    def _diverged(self) -> bool:
        """NaN or inf in a weight of G or D (a loss that overflowed has already spread there)."""
        finite = [torch.isfinite(p).all() for net in (self.G, self.D) for p in net.parameters()]
        return not bool(torch.stack(finite).all())  # one device sync, not one per tensor

    def roll_back(self) -> None:
        """Back to the last checkpoint with the learning rates lowered; an error after doctor.max_rollbacks."""
        cfg = self.config.doctor
        if not cfg.rollback or self.rollbacks >= cfg.max_rollbacks:
            raise TrainingDiverged(
                f"training diverged (NaN/inf weights) at step {self.step} after {self.rollbacks} rollback(s); lower "
                f"optim.g_lr and optim.d_lr, or add regularize.gradient_penalty=10, and resume from "
                f"{self.out_dir / 'checkpoints' / LAST}")
        rollbacks, lr_scale, diverged_at = self.rollbacks + 1, self.lr_scale * cfg.rollback_lr_factor, self.step
        seconds = self.train_seconds()  # the steps rolled back took time too
        self.load_state(*load_checkpoint(self.out_dir / "checkpoints" / LAST))
        self._clock = (time.perf_counter(), seconds)
        self.metrics.discard()
        self.rollbacks, self.lr_scale = rollbacks, lr_scale
        self._set_learning_rates()
        record = self.metrics.write(self.step, {"rollback": rollbacks, "lr_scale": lr_scale,
                                                "diverged_at": diverged_at})
        self._report(self.doctor.examine(record))
        if self.progress:
            tqdm.write(f"doctor: NaN/inf at step {diverged_at}; rolled back to step {self.step} with learning rates "
                       f"x{lr_scale:g} (rollback {rollbacks} of at most {cfg.max_rollbacks})")

    # ----------------------------------------------------------------------------------------------
    # outputs

    def evaluate(self) -> dict[str, float]:
        """Scores the EMA generator with the train.eval_* protocol; keeps the best checkpoint."""
        if not self.ranks.main:
            return {}
        if self.evaluation is None:
            raise ConfigError("evaluation during training is off; set train.eval_every to a number of steps")
        return self.evaluation(self)

    def save_samples(self) -> Path | None:
        if not self.ranks.main:
            return None
        images = generate(self.ema.model, self.fixed_z, self.fixed_labels)
        if self.dataset.kind == "image" and images.shape[-1] < self.dataset.shape()[-1]:  # a growing G's phase
            images = F.interpolate(images, size=self.dataset.shape()[1:], mode="nearest")
        nrow = self.num_classes if 0 < self.num_classes <= 16 else None
        grid = self.dataset.render(images, nrow=nrow)
        path = save_image(grid, self.out_dir / "samples" / f"step-{self.step:06d}.png")
        self.metrics.add_image("samples", grid, self.step)
        return path

    def state_tensors_and_meta(self) -> tuple[dict[str, torch.Tensor], dict]:
        tensors = {**flatten_module("G", self.G), **flatten_module("D", self.D),
                   **flatten_module("G_ema", self.ema.model),
                   "rng.latents": self.latent_rng.get_state(), "rng.torch": torch.get_rng_state()}
        optimizers = {}
        for name, optimizer in (("opt_G", self.opt_G), ("opt_D", self.opt_D)):
            flat, optimizers[name] = flatten_optimizer(name, optimizer)
            tensors.update(flat)
        if self.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        meta = {
            "step": self.step,
            "config": self.config.to_dict(),
            "stream": self.stream.state_dict(),
            "loss": self.loss.state_dict(),
            "evaluation": self.evaluation.state_dict() if self.evaluation is not None else {},
            "doctor": {"lr_scale": self.lr_scale, "rollbacks": self.rollbacks},
            "precision": self.precision.state_dict(),
            "train_seconds": self.train_seconds(),
            "optimizers": optimizers,
            "data": {"kind": self.dataset.kind, "shape": list(self.dataset.shape()),
                     "num_classes": self.dataset.num_classes, "class_names": list(self.dataset.class_names),
                     "name": self.dataset.name},
        }
        return tensors, meta

    def save_checkpoint(self, name: str = LAST) -> Path:
        if self._diverged():  # never overwrite the state a rollback returns to with a broken one
            self.roll_back()
        path = self.out_dir / "checkpoints" / name
        if self.ranks.main:
            save_checkpoint(path, *self.state_tensors_and_meta())
            plot_losses(self.metrics.path, self.out_dir / "loss.png")
        return path

    def load_state(self, tensors: dict[str, torch.Tensor], meta: dict, path: Path) -> None:
        """The state a checkpoint recorded; a CheckpointError when it is damaged or does not fit."""
        try:
            self._load_state(tensors, meta)
        except (RuntimeError, KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
            raise CheckpointError(f"checkpoint '{path}' is damaged or does not fit the networks its config builds "
                                  f"({first_line(exc)[:200]}); resume from another checkpoint") from None
        if self._diverged():
            raise CheckpointError(f"checkpoint '{path}' holds NaN/inf weights; resume from an earlier checkpoint")

    def _load_state(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        self.G.load_state_dict(unflatten("G", tensors))
        self.D.load_state_dict(unflatten("D", tensors))
        self.ema.model.load_state_dict(unflatten("G_ema", tensors))
        restore_optimizer("opt_G", self.opt_G, tensors, meta["optimizers"]["opt_G"])
        restore_optimizer("opt_D", self.opt_D, tensors, meta["optimizers"]["opt_D"])
        self.latent_rng.set_state(tensors["rng.latents"])
        torch.set_rng_state(tensors["rng.torch"])
        if self.device.type == "cuda" and "rng.cuda" in tensors:
            torch.cuda.set_rng_state(tensors["rng.cuda"], self.device)
        self.stream.load_state_dict(meta["stream"])
        self.loss.load_state_dict(meta["loss"])
        self.precision.load_state_dict(meta.get("precision", {}))
        if self.evaluation is not None:
            self.evaluation.load_state_dict(meta.get("evaluation", {}))
        self.step = int(meta["step"])
        self.schedule.begin_step(self)
        doctor = meta.get("doctor", {})
        lr_scale, rollbacks = float(doctor.get("lr_scale", 1.0)), int(doctor.get("rollbacks", 0))
        seconds = float(meta.get("train_seconds", 0.0))
        if not (0 < lr_scale <= 1 and rollbacks >= 0 and 0 <= seconds < math.inf):
            raise ValueError(f"doctor state {doctor} or train_seconds {seconds} out of range")
        self.lr_scale, self.rollbacks = lr_scale, rollbacks
        self._clock = (time.perf_counter(), seconds)
        self.metrics.truncate_after(self.step)
        self.doctor.replay(self.metrics.records())


def check_same_networks(stored: Config, wanted: Config, data: dict) -> None:
    """A resume may change how training goes on, not the networks the checkpoint holds: an override that
    would build G or D with other weights is a ConfigError naming it."""
    def shapes(config: Config) -> dict[str, tuple[int, ...]]:
        G, D = meta_models(config.model, resolution=config.data.resolution,
                           channels=config.data.channels or data["shape"][0], num_classes=data["num_classes"],
                           data_kind=data["kind"])
        return {f"{name}.{key}": tuple(value.shape) for name, network in (("G", G), ("D", D))
                for key, value in network.state_dict().items()}

    changed = [(section, f.name) for section in ("model", "data") for f in dataclasses.fields(getattr(stored, section))
               if getattr(getattr(stored, section), f.name) != getattr(getattr(wanted, section), f.name)]
    reference = shapes(stored) if changed else {}
    for section, key in changed:
        trial = copy.deepcopy(stored)
        value = getattr(getattr(wanted, section), key)
        setattr(getattr(trial, section), key, value)
        try:
            same = shapes(trial) == reference
        except ConfigError:
            same = False
        if not same:
            raise ConfigError(f"{section}.{key}={value} would change the networks the checkpoint holds "
                              f"({section}.{key} is {getattr(getattr(stored, section), key)} there); a resumed run "
                              "keeps its architecture: start a new run to change it")


def train(recipe: str = "dcgan", overrides: list[str] | tuple[str, ...] = (), *, resume: str | Path | None = None,
          overwrite: bool = False, progress: bool = True, tensorboard: bool = True) -> TrainResult:
    """Train a recipe with `section.key=value` overrides, or resume a run folder or checkpoint. Without
    `train.out_dir` a new run gets a new folder, runs/NNNNN-<recipe>; `overwrite` starts over in a
    `train.out_dir` that holds a run."""
    try:
        if resume is not None:
            trainer = Trainer.resume(resume, overrides, overwrite=overwrite, progress=progress, tensorboard=tensorboard)
        else:
            trainer = Trainer(load_config(recipe, overrides), run_name=Path(recipe).stem, overwrite=overwrite,
                              progress=progress, tensorboard=tensorboard)
        return trainer.fit()
    finally:
        end_process_group()
