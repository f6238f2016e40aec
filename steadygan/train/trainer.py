"""The training loop: one `AdversarialStep` per G update, then the periodic hooks (logs with the doctor's
monitors, sample grids, evaluations, checkpoints), with a rollback when the weights diverge.

The loop never names a technique: `TrainingRun` (run.py) builds the parts from the registries, and
the step composes the techniques by phase (`steadygan.technique`). Under torchrun every rank runs this
loop on its share of each global batch (`distributed`); precision, memory layout and compilation come
from `speed`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch.nn.functional as F
from tqdm.auto import tqdm

from ..config import Config, load_config
from ..errors import ConfigError, TrainingDiverged
from ..growth import images_shown
from ..images import save_image
from ..sampling import generate
from ..storage.atomic import write_atomic
from ..storage.checkpoint import BEST, LAST, load_checkpoint, save_checkpoint
from .distributed import end_process_group
from .doctor import Finding
from .metrics_log import DIVERGED, plot_losses
from .model_card import RunFacts, describe_hardware, write_model_card
from .resume import plan_resume
from .run import TrainingRun
from .signals import stop_on_signals


@dataclass
class TrainResult:
    """What `train` and `Trainer.fit` return: the run folder, its last checkpoint and the step reached."""

    out_dir: Path
    checkpoint: Path
    step: int
    completed: bool  # False when stopped early by a signal or request_stop()


@dataclass
class Hook:
    """An action every `every` G steps (0: never)."""

    every: int
    action: Callable[[], object]


class Trainer(TrainingRun):
    """Runs (or resumes) training: the loop, its hooks, rollbacks and outputs."""

    def __init__(self, config: Config, *, callbacks: list[Callable[[Trainer], None]] | None = None, **kwargs):
        """See `TrainingRun`; each callback is called with the trainer after every step."""
        super().__init__(config, **kwargs)
        self.callbacks = list(callbacks or [])
        self._stop_requested = False
        self._postfix, self._last_log = "", (time.perf_counter(), 0)

    @classmethod
    def resume(cls, checkpoint: str | Path, overrides: list[str] | tuple[str, ...] = (), *, overwrite: bool = False,
               **kwargs) -> Trainer:
        """A trainer in the exact state a checkpoint recorded; overrides apply to its stored config (see
        `plan_resume` for the run folder it writes to)."""
        plan = plan_resume(checkpoint, overrides)
        trainer = cls(plan.config, run_name=plan.run_name, continue_run=plan.in_place, overwrite=overwrite, **kwargs)
        try:
            trainer.load_state(plan.tensors, plan.meta, plan.path)
        except BaseException:
            trainer.run.abandon()
            raise
        return trainer

    def train_step(self) -> None:
        """One G update: the schedule's n_dis D steps, the G step, then the EMA."""
        self.step_once(self.state.step, self.state.lr_scale)
        self.state.step += 1

    def request_stop(self) -> None:
        """Finish the current step, save a checkpoint and return from fit()."""
        self._stop_requested = True

    def fit(self) -> TrainResult:
        """Train to `train.steps` (or until a stop request), write the model card (README.md), then release the
        run folder. A run whose weights are not finite at the end rolls back and trains on; out of rollbacks
        it raises TrainingDiverged, its model card written first."""
        try:
            return self._fit()
        except TrainingDiverged:
            self.write_model_card(DIVERGED)
            raise
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
        hooks = [Hook(cfg.log_every, self._log), Hook(cfg.sample_every, self.save_samples),
                 Hook(cfg.eval_every, self.evaluate), Hook(cfg.checkpoint_every, self.save_checkpoint)]
        if self.progress:
            for line in [f"run folder {self.out_dir}", self.describe_speed(), self.describe_techniques(),
                         *self.schedule.plan(cfg.steps)]:
                print(line)
        bar = tqdm(total=cfg.steps, initial=self.step, disable=not self.progress, unit="step",
                   dynamic_ncols=True, desc=f"training {self.out_dir.name}")
        self._last_log = (time.perf_counter(), self.step)
        self.state.start_clock()  # construction and data caching are not training
        try:
            with stop_on_signals(lambda: self._stop_requested, self.request_stop):
                if self.step == 0:
                    self.save_samples()
                if self.config.doctor.rollback and not (self.out_dir / "checkpoints" / LAST).is_file():
                    self.save_checkpoint()  # a state to roll back to from the very first steps
                while True:
                    while self.step < cfg.steps and not self._stop_requested:
                        self.train_step()
                        self._stop_requested = self.ranks.any(self._stop_requested, self.device)  # all stop together
                        bar.update(1)
                        for hook in hooks:
                            if hook.every > 0 and self.step % hook.every == 0:
                                hook.action()
                        if self.schedule.ends_segment(self.step) and self.step % max(cfg.sample_every, 1):
                            self.save_samples()  # every phase's end is a frame of the growth video
                        if self.step % max(cfg.log_every, 1) == 0:
                            bar.set_postfix_str(self._postfix, refresh=False)
                        if bar.n != self.step:  # a rollback went back to an earlier step
                            bar.n = self.step
                            bar.refresh()
                        for callback in self.callbacks:
                            callback(self)
                    if not self.state.diverged():  # steps that ended between two logs are checked here
                        break
                    self.roll_back()
        finally:
            bar.close()
        if self.evaluation is not None and self.step >= cfg.steps and self.evaluation.last_step != self.step:
            self.evaluate()  # the final weights are always scored
        checkpoint = self.save_checkpoint()
        if self.step % max(cfg.sample_every, 1):
            self.save_samples()
        completed = self.step >= cfg.steps
        self.write_model_card("finished" if completed else "stopped")
        return TrainResult(self.out_dir, checkpoint, self.step, completed)

    def _log(self) -> None:
        now = time.perf_counter()
        started, first_step = self._last_log
        self._last_log = (now, self.step)
        extra = {"lr_g": self.opt_G.param_groups[0]["lr"], "lr_d": self.opt_D.param_groups[0]["lr"],
                 "kimg": images_shown(self.config, self.step) / 1000, **self.schedule.log_values()}
        if self.step > first_step:
            extra["seconds_per_step"] = (now - started) / (self.step - first_step)
        diverged = self.state.diverged()
        if not diverged:  # on every rank: D's batch statistics are those of all ranks together
            extra.update(self.monitors.measure(self.G, self.D, self.techniques.loss, self.device, self.ema.model))
        if self.ranks.main:  # the weights are the same on every rank; rank 0 writes
            record = self.metrics.flush(self.step, extra)
            self._postfix = " ".join(filter(None, (
                *(t.status() for t in self.techniques.all()),
                f"d_loss={record.get('d_loss', math.nan):.3f} g_loss={record.get('g_loss', math.nan):.3f}")))
            self._report(self.doctor.examine(record))
        else:
            self.metrics.discard()
        if diverged:
            self.roll_back()

    def _report(self, findings: list[Finding]) -> None:
        for finding in findings:
            if self.progress:
                tqdm.write(f"doctor: {finding.line()}")

    def roll_back(self) -> None:
        """Back to the last checkpoint with the learning rates lowered; an error after doctor.max_rollbacks."""
        cfg, state = self.config.doctor, self.state
        if not cfg.rollback or state.rollbacks >= cfg.max_rollbacks:
            self.metrics.write(self.step, {DIVERGED: state.rollbacks})  # the run's end, for `steadygan runs`
            raise TrainingDiverged(
                f"training diverged (NaN/inf weights) at step {self.step} after {state.rollbacks} rollback(s); "
                f"lower optim.g_lr and optim.d_lr, or add regularize.gradient_penalty=10, and resume from "
                f"{self.out_dir / 'checkpoints' / LAST}")
        rollbacks, lr_scale, diverged_at = state.rollbacks + 1, state.lr_scale * cfg.rollback_lr_factor, self.step
        seconds = state.train_seconds()  # the steps rolled back took time too
        self.load_state(*load_checkpoint(self.out_dir / "checkpoints" / LAST))
        state.start_clock(seconds)
        self.metrics.discard()
        state.rollbacks, state.lr_scale = rollbacks, lr_scale
        self.step_once.set_learning_rates(self.step, lr_scale)
        record = self.metrics.write(self.step, {"rollback": rollbacks, "lr_scale": lr_scale,
                                                "diverged_at": diverged_at})
        self._report(self.doctor.examine(record))
        if self.progress:
            tqdm.write(f"doctor: NaN/inf at step {diverged_at}; rolled back to step {self.step} with learning rates "
                       f"x{lr_scale:g} (rollback {rollbacks} of at most {cfg.max_rollbacks})")

    def evaluate(self) -> dict[str, float]:
        """Scores the EMA generator with the train.eval_* protocol; keeps the best checkpoint."""
        if not self.ranks.main:
            return {}
        if self.evaluation is None:
            raise ConfigError("evaluation during training is off; set train.eval_every to a number of steps")
        scores = self.evaluation(self.ema.model, self.num_classes, self.step)
        self.metrics.write(self.step, scores.values)
        shown = " ".join(f"{k}={v:.4g}" for k, v in scores.values.items())
        if scores.best:
            shown += f" (best so far: {self.save_checkpoint(BEST)})"
        if self.progress:
            tqdm.write(f"step {self.step}: {shown}")
        return scores.values

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

    def write_model_card(self, state: str) -> Path | None:
        """RUN/README.md: what the run is, how it went and how to use it (see `model_card`)."""
        if not self.ranks.main:
            return None
        facts = RunFacts(
            out_dir=self.out_dir, config=self.config, recipe=self.state.recipe, state=state, step=self.step,
            images=images_shown(self.config, self.step), seconds=self.state.train_seconds(),
            hardware=describe_hardware(self.device, self.ranks.world, self.precision.name),
            data={"name": self.dataset.name, "kind": self.dataset.kind, "count": len(self.dataset),
                  "held_out": self.held_out, "channels": self.dataset.shape()[0],
                  "class_names": list(self.dataset.class_names)},
            findings=list(self.doctor.findings.values()))
        return write_model_card(facts)

    def save_checkpoint(self, name: str = LAST) -> Path:
        if self.state.diverged():  # never overwrite the state a rollback returns to with a broken one
            self.roll_back()
        path = self.out_dir / "checkpoints" / name
        if self.ranks.main:
            save_checkpoint(path, *self.state.tensors_and_meta())
            plot_losses(self.metrics.path, self.out_dir / "loss.png")
        return path

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
                              progress=progress, tensorboard=tensorboard, recipe=recipe)
        return trainer.fit()
    finally:
        end_process_group()
