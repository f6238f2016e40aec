"""A whole config checked before any work starts: the schema's ranges and fixed choices, every key that
selects a registered unit against its registry, and each technique's own checks of the keys it needs.

This module sits above the config schema and the units, so that the schema imports none of them and
each unit's requirements live with the unit.
"""

from __future__ import annotations

from . import consistency, speed, styles  # noqa: F401  (register CR, the precisions, style mixing, path length)
from .ada import AdaptiveAugment
from .augment import DiffAugment
from .config import Config, check_values
from .growth import schedule_class
from .losses import LOSSES
from .models import ARCHITECTURES  # noqa: F401  (registers the architectures, initializations, activations)
from .objectives import G_OBJECTIVES
from .optimizers import LR_SCHEDULES  # noqa: F401  (registers the optimizers and learning-rate schedules)
from .packing import Packing
from .ramps import CosineRamps
from .registry import SELECTIONS
from .regularizers import REGULARIZERS
from .technique import Technique


def selected(config: Config, key: str) -> str:
    section, name = key.split(".")
    return getattr(getattr(config, section), name)


def technique_classes(config: Config) -> list[type[Technique]]:
    """The technique classes whose checks apply to a config: those it selects, and every switchable one
    (whose check refuses settings that would be ignored)."""
    return [LOSSES.get(config.loss.name), G_OBJECTIVES.get(config.loss.g_objective),
            *(unit for _, unit in REGULARIZERS.items()), DiffAugment, AdaptiveAugment, CosineRamps, Packing,
            schedule_class(config)]


def validate(config: Config) -> Config:
    """`config`, once every check passes; the first that fails is a ConfigError naming the key and the fix."""
    check_values(config)
    for key, registry in SELECTIONS.items():
        registry.get(selected(config, key))
    for technique in technique_classes(config):
        technique.check(config)
    return config
