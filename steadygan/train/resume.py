"""What a resume may change: how training goes on, never the networks a checkpoint holds; and where a
resumed run writes."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import torch

from ..config import Config, apply_overrides
from ..errors import ConfigError
from ..models import check_model_size, meta_models
from ..run_folder import NUMBERED
from ..storage.checkpoint import BEST, LAST, load_checkpoint, stored_config
from ..validation import validate


@dataclasses.dataclass
class Resumption:
    config: Config
    run_name: str
    in_place: bool  # continues the run folder the checkpoint is the last of
    tensors: dict[str, torch.Tensor]
    meta: dict[str, Any]
    path: Path


def plan_resume(checkpoint: str | Path, overrides: list[str] | tuple[str, ...]) -> Resumption:
    """The config (the stored one with `overrides`) and run folder of a resumed run.

    The last checkpoint of a run folder (RUN/checkpoints/last.safetensors) continues that run in place.
    Any other checkpoint (a loose file, a run's best) starts a run folder of its own: `train.out_dir`, or a
    new numbered one. Output and cache folders are the user's to choose, never the checkpoint's."""
    tensors, meta, path = load_checkpoint(checkpoint)
    stored, data = stored_config(meta, path, validate), meta["data"]
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
    return Resumption(config, name, in_place, tensors, meta, path)


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
