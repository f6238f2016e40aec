"""Checkpoints: tensors in one safetensors file, everything else as JSON in its header.

Loading parses JSON and raw tensor bytes only, so a checkpoint can never execute code. Writes are
atomic (see `steadygan.storage.atomic`): a crash leaves the old checkpoint or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from ..config import Config, from_dict
from ..errors import CheckpointError, ConfigError, first_line
from ..kinds import DataKind
from .atomic import write_atomic

FORMAT = "steadygan-checkpoint"
VERSION = 1
LAST = "last.safetensors"
BEST = "best.safetensors"  # the best by periodic evaluation
MAX_HEADER_BYTES = 100 * 2**20  # the safetensors format's own limit on its JSON header


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
        if path.exists():
            raise CheckpointError(f"'{path}' is not a regular file (a device, pipe or socket); give a checkpoint file")
        raise CheckpointError(f"checkpoint '{path}' does not exist; give a .safetensors file or a run folder")
    return path


def _header(head: bytes, path: Path) -> dict[str, str]:
    """The metadata of a safetensors header (u64 length, then JSON), from the file's first bytes."""
    size = int.from_bytes(head[:8], "little")
    if len(head) < 8 or not 0 < size <= min(MAX_HEADER_BYTES, len(head) - 8):
        raise CheckpointError(f"'{path}' is not a steadygan checkpoint (its safetensors header is missing or "
                              "truncated)")
    try:
        header = json.loads(head[8:8 + size])
    except (ValueError, RecursionError):
        header = None
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(metadata, dict):
        raise CheckpointError(f"'{path}' is a safetensors file but not a steadygan checkpoint")
    return metadata


def load_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any], Path]:
    """(tensors, meta, resolved path); a CheckpointError for anything steadygan did not write."""
    path = resolve(path)
    try:
        payload = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint '{path}' ({exc.strerror})") from None
    header = _header(payload[:8 + MAX_HEADER_BYTES], path)
    meta = _meta(header, path)
    try:
        tensors = load_safetensors(payload)
    except (SafetensorError, ValueError, TypeError, OverflowError) as exc:
        raise CheckpointError(
            f"'{path}' is not a steadygan checkpoint (cannot read it as safetensors: "
            f"{first_line(exc)})"
        ) from None
    return tensors, meta, path


def read_meta(path: str | os.PathLike) -> dict[str, Any]:
    """A checkpoint's meta (step, config, ...) from its header alone, without reading the tensors."""
    path = resolve(path)
    try:
        with open(path, "rb") as handle:
            size = int.from_bytes(handle.read(8), "little")
            handle.seek(0)
            head = handle.read(8 + min(size, MAX_HEADER_BYTES))
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint '{path}' ({exc.strerror})") from None
    return _meta(_header(head, path), path)


def _meta(header: dict[str, str], path: Path) -> dict[str, Any]:
    if header.get("format") != FORMAT:
        raise CheckpointError(f"'{path}' is a safetensors file but not a steadygan checkpoint")
    version = header.get("version", "0")
    if not (isinstance(version, str) and version.isdigit()):
        raise CheckpointError(f"'{path}' is damaged: its format version is {str(version)[:20]!r}")
    if int(version) > VERSION:
        raise CheckpointError(f"'{path}' was written by a newer steadygan (format {version}); upgrade steadygan")
    try:
        meta = json.loads(header.get("meta", ""))
    except (ValueError, TypeError, RecursionError):
        meta = None
    if not isinstance(meta, dict):
        raise CheckpointError(f"'{path}' is damaged: its metadata is not a JSON object")
    return meta


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


def stored_config(meta: dict[str, Any], path: Path, validate: Callable[[Config], Config]) -> Config:
    """The config a checkpoint records, checked by `validate` exactly as a recipe is, with its data
    description: a CheckpointError names whatever does not hold."""
    try:
        config = validate(from_dict(meta.get("config")))
    except ConfigError as exc:
        raise CheckpointError(f"checkpoint '{path}' records a config steadygan refuses ({exc})") from None
    data, step = meta.get("data"), meta.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise CheckpointError(f"checkpoint '{path}' is damaged: its step is {step!r}")
    if not _describes_data(data, config):
        raise CheckpointError(f"checkpoint '{path}' is damaged: its data description {str(data)[:80]!r} does not "
                              "match its config")
    return config


def _describes_data(data: Any, config: Config) -> bool:
    if not isinstance(data, dict) or data.get("kind") not in get_args(DataKind):
        return False
    shape, classes, names = data.get("shape"), data.get("num_classes"), data.get("class_names")
    expected = [[1, config.data.resolution, config.data.resolution], [3, config.data.resolution,
                                                                       config.data.resolution]]
    return ((shape in expected if data["kind"] == "image" else shape == [2])
            and isinstance(classes, int) and not isinstance(classes, bool) and 0 <= classes <= 1_000_000
            and isinstance(names, list) and len(names) == classes and isinstance(data.get("name"), str))
