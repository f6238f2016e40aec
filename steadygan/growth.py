"""The resolution schedule: the resolution, fade-in alpha and batch size of every step.

Most architectures train at one resolution for the whole run (`FixedResolution`). A progressive one
(Karras et al. 2018) follows `ProgressiveGrowth`: a stabilization phase at the start resolution, then
for each doubling a fade-in, alpha rising linearly with the images shown, and a stabilization phase.
The phase is a pure function of the step, so a run resumed anywhere, mid-fade included, continues
exactly as the uninterrupted run would have.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

import torch
import torch.nn.functional as F
from torch import nn

from .config import Config, GrowthConfig
from .errors import ConfigError
from .models import ARCHITECTURES
from .models.base import upsamplings
from .technique import Phase, Technique

if TYPE_CHECKING:
    from .data.datasets import ImageDataset
    from .models.pggan import Progressive


class Stream(Protocol):
    def serve(self, dataset: Any, batch_size: int) -> None: ...


@dataclass(frozen=True)
class Segment:
    """A stretch of steps at one depth (4 * 2^depth pixels), fading the depth in or stabilizing it."""

    start: int  # first G step
    steps: int
    depth: int
    fading: bool
    batch_size: int
    images: int  # real images it shows

    @property
    def resolution(self) -> int:
        return 4 * 2 ** self.depth


@dataclass(frozen=True)
class GrowthPhase:
    depth: int
    alpha: float
    batch_size: int
    fading: bool
    starts_depth: bool  # the first step at a new depth (its fade-in begins)

    @property
    def resolution(self) -> int:
        return 4 * 2 ** self.depth

    def describe(self) -> str:
        return f"{self.resolution}px" + (f" fade {self.alpha:.2f}" if self.fading else "")


def growth_segments(growth: GrowthConfig, final_resolution: int, default_batch_size: int) -> list[Segment]:
    """The start resolution's stabilization, then a fade-in and a stabilization per doubling."""
    segments: list[Segment] = []

    def add(depth: int, fading: bool, images: int) -> None:
        batch = growth.batch_sizes.get(4 * 2 ** depth, default_batch_size)
        steps = math.ceil(images / batch)
        if steps:
            start = segments[-1].start + segments[-1].steps if segments else 0
            segments.append(Segment(start, steps, depth, fading, batch, images))

    first, last = upsamplings(growth.start_resolution), upsamplings(final_resolution)
    add(first, False, growth.stabilize_images)
    for depth in range(first + 1, last + 1):
        add(depth, True, growth.fade_images)
        add(depth, False, growth.stabilize_images)
    return segments


def phase_at(segments: list[Segment], step: int) -> GrowthPhase:
    """The phase step `step` (0-based) trains at; the last segment lasts to the end of the run."""
    segment = next(s for s in reversed(segments) if s.start <= step)
    alpha = min(1.0, (step - segment.start) * segment.batch_size / segment.images) if segment.fading else 1.0
    return GrowthPhase(segment.depth, alpha, segment.batch_size, segment.fading,
                 starts_depth=segment.fading and step == segment.start)


def images_shown(config: Config, steps: int) -> int:
    """Real images D draws in the first `steps` G steps: n_dis batches per step, each at its phase's size."""
    if not ARCHITECTURES.get(config.model.arch).progressive:
        return steps * config.optim.batch_size * config.optim.n_dis
    segments = growth_segments(config.growth, config.data.resolution, config.optim.batch_size)
    batches = 0
    for s in segments:
        span = steps - s.start if s is segments[-1] else min(steps - s.start, s.steps)
        batches += max(span, 0) * s.batch_size
    return batches * config.optim.n_dis


def steps_for_images(config: Config, images: int) -> int:
    """The fewest G steps in which D draws at least `images` real images (an image budget in steps)."""
    low, high = 0, 1
    while images_shown(config, high) < images:
        low, high = high, high * 2
    while high - low > 1:  # images_shown(low) < images <= images_shown(high)
        middle = (low + high) // 2
        low, high = (middle, high) if images_shown(config, middle) < images else (low, middle)
    return high if images > 0 else 0


def last_phase(config: Config, step: int) -> GrowthPhase | None:
    """The phase the last of `step` completed steps trained at; None for a model that does not grow."""
    if step <= 0 or not ARCHITECTURES.get(config.model.arch).progressive:
        return None
    return phase_at(growth_segments(config.growth, config.data.resolution, config.optim.batch_size), step - 1)


def set_phase_for_step(config: Config, step: int, *networks) -> None:
    """Puts the networks of a checkpoint written after `step` steps in the phase they were trained at last."""
    phase = last_phase(config, step)
    if phase is not None:
        for network in networks:
            network.set_phase(phase.depth, phase.alpha)


def describe_step(config: Config, step: int) -> str:
    """'step 1200' and, for a growing model, its phase: 'step 1200 · 16px fade 0.40'."""
    phase = last_phase(config, step)
    return f"step {step}" + (f" · {phase.describe()}" if phase is not None else "")


def _is_power_of_two(n: int) -> bool:
    return n >= 4 and n & (n - 1) == 0


class FixedResolution(Technique):
    """One resolution and batch size for the whole run: nothing changes between steps."""

    name = "fixed_resolution"
    keys = ("data.resolution",)
    lane_separable = True

    @classmethod
    def build(cls, config: Config, dataset: Any, stream: Stream, networks: Sequence[nn.Module],
              optimizers: Sequence[torch.optim.Optimizer]) -> FixedResolution:
        return cls()

    def begin_step(self, step: int) -> None:
        pass

    @classmethod
    def check(cls, config: Config) -> None:
        if config.growth != GrowthConfig():
            raise ConfigError(f"the growth section applies to progressive architectures (model.arch=pggan), not "
                              f"model.arch={config.model.arch}; remove the growth.* settings")

    def real(self, images: torch.Tensor) -> torch.Tensor:
        return images

    def log_values(self) -> dict[str, float]:
        return {}

    def ends_segment(self, step: int) -> bool:
        return False

    def plan(self, total_steps: int) -> list[str]:
        return []


class ProgressiveGrowth(Technique):
    """Sets the phase of G, D and the EMA G at the start of every step, serves the data at the phase's
    resolution (box-filtered once per resolution from the full-size uint8 cache), and fades real images
    in as G's are: lerp(upsample(downsample(x)), x, alpha), the reals D sees matching the fakes' mix.
    The phase is a function of the step: a resumed run needs no state of its own."""

    name = "progressive_growth"
    keys = ("growth.start_resolution", "growth.fade_images", "growth.stabilize_images", "growth.batch_sizes",
            "growth.reset_optimizer")
    phases = (Phase.STEP_START,)

    def __init__(self, growth: GrowthConfig, dataset: ImageDataset, default_batch_size: int, stream: Stream,
                 networks: Sequence[nn.Module], optimizers: Sequence[torch.optim.Optimizer]):
        self.growth = growth
        self.dataset = dataset
        self.stream, self.networks, self.optimizers = stream, networks, optimizers
        self.segments = growth_segments(growth, dataset.shape()[-1], default_batch_size)
        self.phase = phase_at(self.segments, 0)
        self._applied_step = -1
        self._served: tuple[int, int] | None = None  # (resolution, batch size) the stream serves

    @classmethod
    def build(cls, config: Config, dataset: Any, stream: Stream, networks: Sequence[nn.Module],
              optimizers: Sequence[torch.optim.Optimizer]) -> ProgressiveGrowth:
        return cls(config.growth, dataset, config.optim.batch_size, stream, networks, optimizers)

    @classmethod
    def check(cls, config: Config) -> None:
        growth, resolution = config.growth, config.data.resolution
        if not _is_power_of_two(growth.start_resolution) or growth.start_resolution > resolution:
            raise ConfigError(f"growth.start_resolution={growth.start_resolution} must be a power of two from 4 up "
                              f"to data.resolution ({resolution}); the paper starts at 4")
        for res, batch in growth.batch_sizes.items():
            if not _is_power_of_two(res) or batch <= 0:
                raise ConfigError(f"growth.batch_sizes maps resolutions (powers of two) to positive batch sizes; "
                                  f"got {res}: {batch}")

    def begin_step(self, step: int) -> None:
        if step == self._applied_step:
            return
        self._applied_step = step
        phase = self.phase = phase_at(self.segments, step)
        if self._served != (phase.resolution, phase.batch_size):
            self.stream.serve(self.dataset.downsampled(phase.resolution), phase.batch_size)
            self._served = (phase.resolution, phase.batch_size)
        if phase.starts_depth and self.growth.reset_optimizer:
            for optimizer in self.optimizers:
                optimizer.state.clear()
        for network in self.networks:
            cast("Progressive", network).set_phase(phase.depth, phase.alpha)  # progressive architectures grow

    def ends_segment(self, step: int) -> bool:
        """Whether `step` steps complete a fade-in or a stabilization phase."""
        return any(s.start + s.steps == step for s in self.segments[:-1])

    def real(self, images: torch.Tensor) -> torch.Tensor:
        if not self.phase.fading or self.phase.alpha >= 1.0:
            return images
        coarse = F.interpolate(F.avg_pool2d(images, 2), scale_factor=2, mode="nearest")
        return torch.lerp(coarse, images, self.phase.alpha)

    def log_values(self) -> dict[str, float]:
        return {"resolution": self.phase.resolution, "alpha": self.phase.alpha, "batch_size": self.phase.batch_size}

    def status(self) -> str:
        return self.phase.describe()

    def plan(self, total_steps: int) -> list[str]:
        """One line per segment: where it starts and ends in steps and images; what train.steps leaves out."""
        lines = []
        for s in self.segments:
            end = s.start + s.steps if s is not self.segments[-1] else max(total_steps, s.start)
            what = "fade-in" if s.fading else "stabilize"
            lines.append(f"{s.resolution}px {what}: steps {s.start}-{end}, batch {s.batch_size}, "
                         f"{(end - s.start) * s.batch_size:,} images")
        final = self.segments[-1].start
        if total_steps < final:
            reached = phase_at(self.segments, total_steps).describe()
            lines.append(f"warning: train.steps={total_steps} ends at {reached}; the full resolution is reached at "
                         f"step {final}")
        return lines


def schedule_class(config: Config) -> type[FixedResolution] | type[ProgressiveGrowth]:
    return ProgressiveGrowth if ARCHITECTURES.get(config.model.arch).progressive else FixedResolution
