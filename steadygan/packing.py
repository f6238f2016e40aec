"""PacGAN's packing (Lin et al. 2018) as a technique: `model.packing=m` builds D to read m samples at once,
joined on the channel axis (images) or the feature axis (2-D points), so that it sees the variety of a
set of samples and a collapsed G is easy to tell apart. Real packs are m independent draws (consecutive
samples of a shuffled batch), fake packs m independent latents. `optim.batch_size` counts samples: D
judges batch_size / m packs per step, and its losses and penalties are over packs.
"""

from __future__ import annotations

from .config import Config
from .errors import ConfigError
from .technique import Technique


class Packing(Technique):
    """D judges packs of model.packing samples (built into D by `build_models`; no phase of its own)."""

    name = "packing"
    keys = ("model.packing",)

    @classmethod
    def check(cls, config: Config) -> None:
        m = config.model.packing
        if m == 1:
            return
        sizes = {"optim.batch_size": config.optim.batch_size,
                 **{f"growth.batch_sizes[{res}]": size for res, size in config.growth.batch_sizes.items()}}
        for key, size in sizes.items():
            if size % m:
                raise ConfigError(f"model.packing={m} needs batches of whole packs, but {key}={size} is not a "
                                  f"multiple of {m}; set it to {max(m, size - size % m)}")
