"""Device names (`auto`, `cpu`, `cuda`, `cuda:N`) checked against the devices this machine has."""

from __future__ import annotations

import re

import torch

from .errors import ConfigError

DEVICE_NAME = re.compile(r"(cpu|cuda)(?::(\d+))?")


def resolve_device(name: str, local_rank: int | None = None, key: str = "train.device") -> torch.device:
    """The device `name` names; under torchrun (`local_rank`) each process takes its own GPU."""
    name = name.strip()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    match = DEVICE_NAME.fullmatch(name)
    if match is None:
        raise ConfigError(f"{key}={name!r} is not a device; use auto, cpu, cuda or cuda:N")
    if match[1] == "cpu":
        if match[2] is not None:
            raise ConfigError(f"{key}={name} is not a device; use cpu (one device for all cores)")
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ConfigError(f"{key}={name} but no CUDA device is available; use {key}=cpu")
    count = torch.cuda.device_count()
    index = local_rank if local_rank is not None else int(match[2] or 0)
    if index >= count:
        raise ConfigError(f"{key}={name} but this machine has {count} CUDA device(s), cuda:0 to cuda:{count - 1}")
    return torch.device("cuda", index)
