"""Adaptive discriminator augmentation (ADA; Karras et al. 2020, "Training GANs with limited data").

Every image D sees, real and fake, in D and G steps, passes through a pipeline of geometric and color
transforms, each applied to each image with probability p. With `regularize.ada=adaptive`, p follows
D's overfitting: r_t = E[sign(D(x))] over the reals of the last `ada_interval` D steps is compared with
`ada_target` (0.6), and p moves up or down by (images in the interval) / (ada_kimg * 1000), so that it
can go from 0 to 1 in `ada_kimg` thousand images. `fixed` keeps p at `ada_p`. p and the running sums
are saved in checkpoints, so a resumed run continues with the same p.

The pipeline is the paper's 'bgc' (blit, geometric, color) in plain torch, differentiable, on the device:
x-flip, 90-degree rotations, integer translation, isotropic scaling, arbitrary rotation, anisotropic
scaling, fractional translation (one 3x3 matrix per image, sampled bilinearly with reflection at the
borders); brightness, contrast, luma flip, hue rotation and saturation (one 4x4 color matrix per image).
The official code resamples geometric transforms through anti-aliasing wavelet filters; bilinear
sampling is used here, which is exact for the integer transforms (flips, quarter turns, whole pixels).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from .config import Config
from .data.toy import MIXTURES
from .errors import ConfigError
from .losses import LOSSES
from .registry import Registry
from .technique import DiscriminatorBatch, Phase, Technique

# The matrices of one transform for a batch, given which images it applies to (a 0/1 float per image)
# and the image size (height, width).
Transform = Callable[[torch.Tensor, tuple[int, int]], torch.Tensor]


@dataclass(frozen=True)
class Step:
    transform: Transform
    split: bool = False  # one of two steps that together apply with probability p: 1 - sqrt(1 - p) each


GEOMETRIC: Registry[Step] = Registry("geometric augmentation")
COLOR: Registry[Step] = Registry("color augmentation")
LUMA = torch.tensor([1.0, 1.0, 1.0, 0.0]) / math.sqrt(3)  # the grey axis of (r, g, b, 1)


def _matrix(rows: list[list[Any]], n: int, device: torch.device) -> torch.Tensor:
    """An (n, k, k) batch of matrices from rows of per-image tensors (n,) or numbers."""
    return torch.stack([torch.stack([torch.as_tensor(v, dtype=torch.float32, device=device).expand(n)
                                     for v in row], dim=-1) for row in rows], dim=-2)


def translate2d(tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
    return _matrix([[1, 0, tx], [0, 1, ty], [0, 0, 1]], len(tx), tx.device)


def scale2d(sx: torch.Tensor, sy: torch.Tensor) -> torch.Tensor:
    return _matrix([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], len(sx), sx.device)


def rotate2d(theta: torch.Tensor) -> torch.Tensor:
    c, s = torch.cos(theta), torch.sin(theta)
    return _matrix([[c, -s, 0], [s, c, 0], [0, 0, 1]], len(theta), theta.device)


def _applied(values: torch.Tensor, identity: float, chosen: torch.Tensor) -> torch.Tensor:
    """`values` where an image is chosen, `identity` elsewhere."""
    return torch.where(chosen > 0, values, torch.full_like(values, identity))


# Geometric transforms map output coordinates to input coordinates in [-1, 1] (grid_sample's convention),
# in the order of the paper's pipeline.
def xflip(chosen: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    flip = torch.randint(2, (len(chosen),), device=chosen.device).float() * chosen
    return scale2d(1 - 2 * flip, torch.ones_like(flip))


def rotate90(chosen: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    quarter = torch.randint(4, (len(chosen),), device=chosen.device).float() * chosen
    return rotate2d(quarter * (math.pi / 2))


def integer_translation(chosen: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Up to 1/8 of the image each way, in whole pixels (2 / size in [-1, 1] coordinates)."""
    pixels = torch.tensor([size[1], size[0]], device=chosen.device, dtype=torch.float32)
    shift = (torch.rand(len(chosen), 2, device=chosen.device) * 2 - 1) * 0.125 * chosen[:, None]
    shift = torch.round(shift * pixels) * 2 / pixels
    return translate2d(shift[:, 0], shift[:, 1])


def isotropic_scaling(chosen: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    s = _applied(torch.exp2(torch.randn(len(chosen), device=chosen.device) * 0.2), 1.0, chosen)
    return scale2d(s, s)


def rotation(chosen: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return rotate2d(_applied((torch.rand(len(chosen), device=chosen.device) * 2 - 1) * math.pi, 0.0, chosen))


def anisotropic_scaling(chosen: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    s = _applied(torch.exp2(torch.randn(len(chosen), device=chosen.device) * 0.2), 1.0, chosen)
    return scale2d(s, 1 / s)


def fractional_translation(chosen: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    shift = torch.randn(len(chosen), 2, device=chosen.device) * 0.125 * 2 * chosen[:, None]
    return translate2d(shift[:, 0], shift[:, 1])


GEOMETRIC.register("xflip")(Step(xflip))
GEOMETRIC.register("rotate90")(Step(rotate90))
GEOMETRIC.register("xint")(Step(integer_translation))
GEOMETRIC.register("scale")(Step(isotropic_scaling))
GEOMETRIC.register("rotate")(Step(rotation, split=True))
GEOMETRIC.register("aniso")(Step(anisotropic_scaling))
GEOMETRIC.register("rotate_post")(Step(rotation, split=True))  # the second half of the arbitrary rotation
GEOMETRIC.register("xfrac")(Step(fractional_translation))


# Color transforms act on (r, g, b, 1) of images in [-1, 1].
def brightness(chosen: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    b = torch.randn(len(chosen), device=chosen.device) * 0.2 * chosen
    return _matrix([[1, 0, 0, b], [0, 1, 0, b], [0, 0, 1, b], [0, 0, 0, 1]], len(chosen), chosen.device)


def contrast(chosen: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    c = _applied(torch.exp2(torch.randn(len(chosen), device=chosen.device) * 0.5), 1.0, chosen)
    return _matrix([[c, 0, 0, 0], [0, c, 0, 0], [0, 0, c, 0], [0, 0, 0, 1]], len(chosen), chosen.device)


def _luma(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    v = LUMA.to(device)
    return v, torch.outer(v, v)


def luma_flip(chosen: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A reflection through the grey axis' orthogonal plane: I - 2 v v^T, for half the chosen images."""
    flip = torch.randint(2, (len(chosen),), device=chosen.device).float() * chosen
    _, outer = _luma(chosen.device)
    return torch.eye(4, device=chosen.device) - 2 * outer * flip[:, None, None]


def hue_rotation(theta: torch.Tensor) -> torch.Tensor:
    """Rotations by `theta` about the grey axis (Rodrigues' formula)."""
    v, outer = _luma(theta.device)
    cross = torch.tensor([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]], device=theta.device)
    rotation = torch.zeros(len(theta), 4, 4, device=theta.device)
    c, s = torch.cos(theta)[:, None, None], torch.sin(theta)[:, None, None]
    rotation[:, :3, :3] = c * torch.eye(3, device=theta.device) + s * cross + (1 - c) * outer[:3, :3]
    rotation[:, 3, 3] = 1
    return rotation


def hue(chosen: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return hue_rotation((torch.rand(len(chosen), device=chosen.device) * 2 - 1) * math.pi * chosen)


def saturation(chosen: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    s = _applied(torch.exp2(torch.randn(len(chosen), device=chosen.device)), 1.0, chosen)
    _, outer = _luma(chosen.device)
    return outer + (torch.eye(4, device=chosen.device) - outer) * s[:, None, None]


COLOR.register("brightness")(Step(brightness))
COLOR.register("contrast")(Step(contrast))
COLOR.register("lumaflip")(Step(luma_flip))
COLOR.register("hue")(Step(hue))
COLOR.register("saturation")(Step(saturation))


def apply_geometry(images: torch.Tensor, matrices: torch.Tensor) -> torch.Tensor:
    """Each image resampled through its 3x3 matrix (output -> input coordinates), reflected at the borders."""
    grid = F.affine_grid(matrices[:, :2, :].to(images.dtype), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def apply_color(images: torch.Tensor, matrices: torch.Tensor) -> torch.Tensor:
    """Each image's (r, g, b, 1) through its 4x4 matrix; a grey image as (g, g, g, 1), averaged back."""
    matrices = matrices.to(images.dtype)
    n, channels = images.shape[:2]
    flat = images.reshape(n, channels, -1)
    if channels == 1:
        rows = matrices[:, :3, :].mean(dim=1, keepdim=True)
        return (flat * rows[:, :, :3].sum(dim=2, keepdim=True) + rows[:, :, 3:]).reshape(images.shape)
    return (matrices[:, :3, :3] @ flat + matrices[:, :3, 3:]).reshape(images.shape)


class AdaptiveAugment(Technique):
    """ADA: the 'bgc' pipeline applied with probability p to every image D sees; p adapted to D's
    overfitting (or fixed), kept in checkpoints."""

    name = "ada"
    keys = ("regularize.ada", "regularize.ada_p", "regularize.ada_target", "regularize.ada_kimg",
            "regularize.ada_interval")
    phases = (Phase.D_INPUT, Phase.AFTER_D_STEP)

    def __init__(self, p: float = 0.0, adaptive: bool = True, target: float = 0.6, kimg: int = 500,
                 interval: int = 4, transforms: tuple[str, ...] | None = None):
        self.p, self.adaptive, self.target, self.kimg, self.interval_steps = p, adaptive, target, kimg, interval
        names = transforms if transforms is not None else tuple(n for n, _ in (*GEOMETRIC.items(), *COLOR.items()))
        self.geometric = [(n, f) for n, f in GEOMETRIC.items() if n in names]
        self.color = [(n, f) for n, f in COLOR.items() if n in names]
        self.sign_sum, self.count = 0.0, 0  # sum of sign(D(real)) and reals since the last adjustment

    @classmethod
    def from_config(cls, config: Config) -> AdaptiveAugment | None:
        reg = config.regularize
        if reg.ada == "off":
            return None
        return cls(reg.ada_p, reg.ada == "adaptive", reg.ada_target, reg.ada_kimg, reg.ada_interval)

    @classmethod
    def check(cls, config: Config) -> None:
        if config.regularize.ada == "off":
            return
        if config.data.source in MIXTURES:
            raise ConfigError("regularize.ada augments images; set regularize.ada=off for 2-D point data")
        if LOSSES.get(config.loss.name).expects != "logits":
            raise ConfigError(f"regularize.ada adapts p from the sign of D's logits; loss.name={config.loss.name}'s D "
                              "outputs none: set regularize.ada=off")

    def describe(self) -> str:
        return f"ada p={self.p:.3f}" + (f" (target {self.target:g})" if self.adaptive else " (fixed)")

    def matrices(self, steps: list[tuple[str, Step]], x: torch.Tensor, k: int, coordinates: bool) -> torch.Tensor:
        """The k x k matrices of `steps` for a batch, each step applied to each image with probability p, in
        the order listed. Matrices of sampling coordinates (output -> input) compose in reverse."""
        n, size = len(x), (x.shape[-2], x.shape[-1])
        composed = torch.eye(k, device=x.device).expand(n, k, k)
        for _, step in steps:
            p = 1 - math.sqrt(1 - self.p) if step.split else self.p
            matrix = step.transform((torch.rand(n, device=x.device) < p).float(), size)
            composed = composed @ matrix if coordinates else matrix @ composed
        return composed

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        if self.p <= 0:
            return x
        if self.geometric:
            x = apply_geometry(x, self.matrices(self.geometric, x, 3, coordinates=True))
        if self.color:
            x = apply_color(x, self.matrices(self.color, x, 4, coordinates=False))
        return x

    def status(self) -> str:
        return f"p={self.p:.3f}"

    @torch.no_grad()
    def after_d_step(self, batch: DiscriminatorBatch) -> dict[str, torch.Tensor]:
        if self.adaptive:
            self.sign_sum += float(batch.real_out.sign().sum())
            self.count += len(batch.real_out)
            if (batch.update + 1) % self.interval_steps == 0:
                r_t = self.sign_sum / max(self.count, 1)
                direction = (r_t > self.target) - (r_t < self.target)
                self.p = min(max(self.p + direction * self.count / (self.kimg * 1000), 0.0), 1.0)
                self.sign_sum, self.count = 0.0, 0
        return {"ada_p": torch.tensor(self.p)}

    def state_dict(self) -> dict[str, Any]:
        return {"p": self.p, "sign_sum": self.sign_sum, "count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        p = float(state.get("p", self.p))
        if not 0 <= p <= 1:
            raise ValueError(f"ADA's p {p} is outside [0, 1]")
        self.p, self.sign_sum, self.count = p, float(state.get("sign_sum", 0.0)), int(state.get("count", 0))
