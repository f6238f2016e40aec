"""Every technique, with the phases it acts in, its capabilities and its config keys, and every choice a
config key selects from a registry: the text of `steadygan techniques`, written by the units themselves."""

from __future__ import annotations

from .ada import COLOR, GEOMETRIC, AdaptiveAugment
from .augment import AUGMENTATIONS, DiffAugment
from .config import describe_key
from .growth import FixedResolution, ProgressiveGrowth
from .losses import LOSSES
from .objectives import G_OBJECTIVES
from .packing import Packing
from .ramps import CosineRamps
from .registry import SELECTIONS
from .regularizers import REGULARIZERS
from .technique import Technique
from .train.doctor import Monitors
from .train.ema import EMA


def technique_groups() -> list[tuple[str, str, list[type[Technique]]]]:
    """(how they are switched on, the key that selects one, technique classes) for every technique."""
    return [
        ("loss.name selects one adversarial loss", "loss.name", [loss for _, loss in LOSSES.items()]),
        ("loss.g_objective selects G's objective", "loss.g_objective",
         [objective for _, objective in G_OBJECTIVES.items()]),
        ("regularize.<name> above 0 switches each on, as its weight", "", [unit for _, unit in REGULARIZERS.items()]),
        ("regularize.diffaugment, a comma-separated policy of: " + ", ".join(n for n, _ in AUGMENTATIONS.items()),
         "", [DiffAugment]),
        ("regularize.ada=adaptive or fixed: " + ", ".join(n for n, _ in (*GEOMETRIC.items(), *COLOR.items())),
         "", [AdaptiveAugment]),
        ("optim.ramp_kimg above 0 switches on", "", [CosineRamps]),
        ("model.packing above 1 switches on", "", [Packing]),
        ("model.arch decides the resolution schedule", "", [FixedResolution, ProgressiveGrowth]),
        ("always on", "", [EMA, Monitors]),
    ]


def summary(technique: type[Technique]) -> str:
    """The first paragraph of its docstring, on one line."""
    return " ".join((technique.__doc__ or "").strip().split("\n\n")[0].split())


def describe_technique(technique: type[Technique], selector: str = "") -> list[str]:
    phases = ", ".join(phase.value for phase in technique.phases) or "no phase of its own"
    capabilities = [text for flag, text in ((technique.needs_second_derivative, "needs second derivatives"),
                                            (technique.needs_g_second_derivative,
                                             "needs second derivatives through G"),
                                            (technique.state_dict is not Technique.state_dict,
                                             "keeps state in checkpoints"),
                                            (technique.lane_separable, "trains seeds as lanes")) if flag]
    head = f"  {technique.name}: {phases}" + "".join(f"; {text}" for text in capabilities)
    keys = [f"    {describe_key(key)}" for key in technique.keys if key != selector]
    return [head, f"    {summary(technique)}", *keys]


def describe_choices() -> list[str]:
    return [f"  {key}: {', '.join(registry.names())}" for key, registry in sorted(SELECTIONS.items())]


def catalog() -> str:
    lines: list[str] = []
    for selection, selector, techniques in technique_groups():
        lines += [f"{selection}:"] + [line for t in techniques for line in describe_technique(t, selector)] + [""]
    return "\n".join([*lines, "config keys that name a registered unit, and their choices:", *describe_choices()])
