"""How the networks run: numeric precision, memory layout and compilation, each a `train.*` switch whose
`auto` picks what is fastest on the device found (compilation is opt-in).

- `train.precision`: fp32, bf16 (autocast) or fp16 (autocast with a gradient scaler per optimizer).
  Weights, optimizer state and the EMA stay float32; D's outputs are cast to float32 before any loss
  is reduced, gradient penalties differentiate a float32 D, and spectral norm estimates sigma in float32.
- `train.memory_format`: channels_last (NHWC, what tensor cores prefer) or contiguous.
- `train.compile`: torch.compile of G's and D's forward passes, off by default: compiling costs a
  minute or more at the start and again at every new input shape (each resolution of a growing model),
  and bench/throughput.py shows what it gains once running. D is compiled only when no penalty needs
  its second derivative (a technique with `needs_second_derivative`: WGAN-GP, R1, R2, an unrolled D),
  which compiled graphs do not provide.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .models.base import StyleGenerator
from .registry import Registry


@dataclass(frozen=True)
class NumberFormat:
    dtype: torch.dtype | None  # autocast's dtype; None: float32 throughout
    scaled: bool = False  # a gradient scaler per optimizer, for fp16's narrow range


PRECISIONS: Registry[NumberFormat | None] = Registry("precision", key="train.precision")
PRECISIONS.register("auto")(None)  # resolved per device by resolve_precision
PRECISIONS.register("fp32")(NumberFormat(None))
PRECISIONS.register("bf16")(NumberFormat(torch.bfloat16))
PRECISIONS.register("fp16")(NumberFormat(torch.float16, scaled=True))


def resolve_precision(name: str, device: torch.device) -> str:
    if name != "auto":
        return name
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    # On CPUs bf16 pays off only with bf16 matrix units (AMX, AVX512-BF16: 1.8-2x in bench/throughput.py)
    # and changes every result; float32 stays the default there, train.precision=bf16 opts in.
    return "fp32"


def resolve_memory_format(name: str, device: torch.device, images: bool) -> torch.memory_format:
    """The layout of image weights and batches (2-D point data have none to choose)."""
    if name == "auto":
        name = "channels_last" if device.type == "cuda" else "contiguous"
    return torch.channels_last if name == "channels_last" and images else torch.contiguous_format


class Precision:
    """Autocast for the forward passes; for fp16 a gradient scaler per optimizer."""

    def __init__(self, name: str, device: torch.device):
        self.name = resolve_precision(name, device)
        number_format = PRECISIONS.get(self.name) or NumberFormat(None)  # resolved: never "auto" here
        self.dtype = number_format.dtype
        self.device_type = device.type
        self.scalers: dict[str, torch.amp.GradScaler] = {}
        if number_format.scaled:
            self.scalers = {phase: torch.amp.GradScaler(device.type) for phase in ("G", "D")}

    def autocast(self):
        if self.dtype is None:
            return nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def backward(self, loss: torch.Tensor, phase: str) -> None:
        scaler = self.scalers.get(phase)
        (scaler.scale(loss) if scaler else loss).backward()

    def unscale(self, optimizer: torch.optim.Optimizer, phase: str) -> None:
        """Gradients at their true scale (for averaging over ranks, norms and clipping)."""
        if phase in self.scalers:
            self.scalers[phase].unscale_(optimizer)

    def step(self, optimizer: torch.optim.Optimizer, phase: str) -> None:
        scaler = self.scalers.get(phase)
        if scaler is None:
            optimizer.step()
        else:  # skips the step when fp16 gradients overflowed, and adapts the scale
            scaler.step(optimizer)
            scaler.update()

    def state_dict(self) -> dict[str, Any]:
        return {phase: scaler.state_dict() for phase, scaler in self.scalers.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for phase, scaler in self.scalers.items():
            if phase in state:
                scaler.load_state_dict(state[phase])


def compile_networks(G: nn.Module, D: nn.Module, d_twice: bool, g_twice: bool = False) -> list[str]:
    """torch.compile of G's and D's forward passes in place (state-dict keys unchanged); what was compiled.
    A network stays eager when a technique differentiates a gradient through it (`d_twice`: R1, WGAN-GP,
    unrolling; `g_twice`: path length), which compiled graphs do not support. A style-based G compiles its
    mapping and synthesis networks, which training calls one by one."""
    compiled = []
    if not g_twice:
        for part in (G.mapping, G.synthesis) if isinstance(G, StyleGenerator) else (G,):
            part.compile()
        compiled.append("G")
    if not d_twice:
        D.compile()
        compiled.append("D")
    return compiled
