"""Checkpoints: tensors in one safetensors file, everything else as JSON in its header.

Loading parses JSON and raw tensor bytes only, so a checkpoint can never execute code. Writes are
atomic (see `steadygan.atomic`): a crash leaves the old checkpoint or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from ..atomic import write_atomic
from ..errors import CheckpointError

FORMAT = "steadygan-checkpoint"
VERSION = 1
LAST = "last.safetensors"
BEST = "best.safetensors"  # the best by periodic evaluation


def save_checkpoint(path: str | os.PathLike, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> Path:
    path = Path(path)
    # safetensors refuses shared or strided storage; state dicts may hold views.
    flat = {name: t.detach().cpu().contiguous().clone() for name, t in tensors.items()}
    header = {"format": FORMAT, "version": str(VERSION), "meta": json.dumps(meta)}
    write_atomic(path, save_safetensors(flat, metadata=header))
    return path


def resolve(path: str | os.PathLike) -> Path:
    """A checkpoint file, or a run folder standing for its latest checkpoint."""
    path = Path(path)
    if path.is_dir():
        candidate = path / "checkpoints" / LAST
        if not candidate.is_file():
            raise CheckpointError(f"run folder '{path}' holds no checkpoint ({candidate} is missing)")
        return candidate
    if not path.is_file():
        raise CheckpointError(f"checkpoint '{path}' does not exist; give a .safetensors file or a run folder")
    return path


def load_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any], Path]:
    """(tensors, meta, resolved path); a CheckpointError for anything steadygan did not write."""
    path = resolve(path)
    try:
        payload = path.read_bytes()
        tensors = load_safetensors(payload)
        header_size = int.from_bytes(payload[:8], "little")  # safetensors: u64 length, then the JSON header
        header = json.loads(payload[8:8 + header_size]).get("__metadata__") or {}
    except (SafetensorError, ValueError, OSError) as exc:
        raise CheckpointError(
            f"'{path}' is not a steadygan checkpoint (cannot read it as safetensors: "
            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
        ) from None
    return tensors, _meta(header, path), path


def read_meta(path: str | os.PathLike) -> dict[str, Any]:
    """A checkpoint's meta (step, config, ...) from its header alone, without reading the tensors."""
    path = resolve(path)
    try:
        with open(path, "rb") as handle:
            header_size = int.from_bytes(handle.read(8), "little")
            header = json.loads(handle.read(header_size)).get("__metadata__") or {}
    except (ValueError, OSError, AttributeError) as exc:
        raise CheckpointError(f"'{path}' is not a steadygan checkpoint (its safetensors header is unreadable: "
                              f"{type(exc).__name__})") from None
    return _meta(header, path)


def _meta(header: dict[str, str], path: Path) -> dict[str, Any]:
    if header.get("format") != FORMAT:
        raise CheckpointError(f"'{path}' is a safetensors file but not a steadygan checkpoint")
    if int(header.get("version", 0)) > VERSION:
        raise CheckpointError(
            f"'{path}' was written by a newer steadygan (format {header['version']}); upgrade steadygan"
        )
    return json.loads(header["meta"])


def flatten_module(prefix: str, module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{name}": value for name, value in module.state_dict().items()}


def unflatten(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    head = prefix + "."
    return {name[len(head):]: value for name, value in tensors.items() if name.startswith(head)}


def flatten_optimizer(prefix: str, optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Optimizer state as tensors plus JSON (param groups and any non-tensor per-parameter state)."""
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    extras: dict[str, dict[str, Any]] = {}
    for index, entries in state["state"].items():
        for key, value in entries.items():
            if torch.is_tensor(value):
                tensors[f"{prefix}.{index}.{key}"] = value
            else:
                extras.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "extras": extras}


def restore_optimizer(prefix: str, optimizer: torch.optim.Optimizer,
                      tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, value in unflatten(prefix, tensors).items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    for index, entries in meta["extras"].items():
        state.setdefault(int(index), {}).update(entries)
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
