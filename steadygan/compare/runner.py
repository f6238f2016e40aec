"""Side-by-side runs: every variant trained on the same data, seeds and image budget, scored with one
protocol at the same image counts, and resumable: a finished variant is never trained again, an
interrupted one continues from its last checkpoint."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import Config, from_dict, load_config, parse_override, recipe_path
from ..errors import ConfigError
from ..growth import steps_for_images
from ..metrics.features import check_extractor, default_extractor
from ..storage.checkpoint import LAST, read_meta
from ..validation import validate

if TYPE_CHECKING:
    from ..train import Trainer


@dataclass(frozen=True)
class Variant:
    """A recipe and the overrides that make it a variant, e.g. `dcgan+model.spectral_norm=true`."""

    recipe: str
    overrides: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        name = Path(self.recipe).stem if self.recipe.endswith((".yaml", ".yml")) else self.recipe
        return "+".join((name, *self.overrides))

    @property
    def folder(self) -> str:
        return re.sub(r"[^\w.=-]+", "_", self.label)


def _is_recipe(name: str) -> bool:
    try:
        recipe_path(name)
    except ConfigError:
        return False
    return True


def parse_variants(text: str) -> list[Variant]:
    """'sngan,wgan-gp,dcgan+model.spectral_norm=true' -> three variants. A comma inside an override's value
    (regularize.diffaugment=color,translation) stays in the value: only a recipe name starts a variant."""
    groups: list[list[str]] = []
    for token in filter(None, (t.strip() for t in text.split(","))):
        head = token.split("+")[0]
        if _is_recipe(head):
            groups.append(token.split("+"))
        elif groups and len(groups[-1]) > 1:
            groups[-1][-1] += "," + token
        else:
            recipe_path(head)  # the error that names the unknown recipe and lists the known ones
    variants = []
    for recipe, *overrides in groups:
        for override in overrides:
            parse_override(override)
        variants.append(Variant(recipe, tuple(overrides)))
    if not variants:
        raise ConfigError("--recipes names no recipe; give a comma-separated list, e.g. sngan,wgan-gp,lsgan")
    folders = [v.folder for v in variants]
    if len(set(folders)) != len(folders):
        raise ConfigError(f"--recipes names the same variant twice ({', '.join(folders)}); give each once")
    return variants


def parse_budget(text: str | int) -> int:
    """An image budget: 200000, 200k or 1.5M."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kKmM]?)\s*", str(text))
    if not match or float(match[1]) <= 0:
        raise ConfigError(f"--budget {text!r} is not a positive number of images; e.g. 200000, 200k or 1.5M")
    return round(float(match[1]) * {"": 1, "k": 1_000, "m": 1_000_000}[match[2].lower()])


@dataclass
class Plan:
    """One variant's config and the steps at which it reaches each matched share of the budget."""

    variant: Variant
    config: Config
    marks: list[int]  # G steps at budget * k / points, k = 1..points; the last is train.steps

    @property
    def out_dir(self) -> Path:
        return Path(self.config.train.out_dir)

    @property
    def steps(self) -> int:
        return self.config.train.steps


def plan_comparison(variants: list[Variant], *, data: str, budget: int, out: str | Path, overrides=(),
                    resolution: int | None = None, metrics: str = "fid,kid", eval_n: int = 2000,
                    extractor: str = "auto", points: int = 4, seed: int = 0, device: str = "auto") -> list[Plan]:
    """Every variant's config, built and checked before any of them trains."""
    if points < 1:
        raise ConfigError(f"--points must be at least 1, got {points}")
    common = [f"data.source={data}", f"train.seed={seed}", f"train.device={device}",
              f"train.eval_metrics={metrics}", f"train.eval_n={eval_n}", f"train.eval_extractor={extractor}",
              *([f"data.resolution={resolution}"] if resolution else []), *overrides]
    plans = []
    for variant in variants:
        config = load_config(variant.recipe, [*common, *variant.overrides])
        steps = steps_for_images(config, budget)
        marks = sorted({steps_for_images(config, budget * k // points) for k in range(1, points + 1)} - {0})
        # The final weights are scored and drawn by the periodic actions; the earlier marks by MatchedImages.
        config.train.steps = config.train.eval_every = config.train.sample_every = steps
        config.train.out_dir = str(Path(out) / variant.folder)
        plans.append(Plan(variant, validate(config), marks))
    if any(p.config.data.source != data for p in plans):
        raise ConfigError("every variant must train on the same data; do not override data.source per variant")
    if len({p.config.data.resolution for p in plans}) > 1:
        listed = ", ".join(f"{p.variant.label} {p.config.data.resolution}px" for p in plans)
        raise ConfigError(f"the variants would train at different resolutions ({listed}); give --resolution")
    spec = default_extractor(data) if extractor == "auto" else extractor
    check_extractor(spec)
    return plans


class MatchedImages:
    """A trainer callback: at each mark before the last, a sample grid, an evaluation and a checkpoint, so
    that every variant is seen and scored after the same numbers of real images."""

    def __init__(self, marks: list[int]):
        self.marks = set(marks[:-1])

    def __call__(self, trainer) -> None:
        if trainer.step in self.marks:
            trainer.save_samples()
            trainer.evaluate()
            trainer.save_checkpoint()


LOCATIONS = {("train", "out_dir"), ("data", "cache_dir")}  # where files go, not how a variant trains


def _config_differences(stored: dict, wanted: dict) -> list[str]:
    stored = from_dict(stored).to_dict()  # keys added to steadygan since that run hold their defaults
    return [f"{section}.{key}: {stored[section][key]!r} -> {value!r}"
            for section, values in wanted.items() for key, value in values.items()
            if (section, key) not in LOCATIONS and stored[section][key] != value]


def variant_state(plan: Plan) -> str:
    """'new', 'partial' (a checkpoint before the budget) or 'done' (trained and finally scored)."""
    last = plan.out_dir / "checkpoints" / LAST
    if not last.is_file():
        return "new"
    meta = read_meta(last)
    differences = _config_differences(meta["config"], plan.config.to_dict())
    if differences:
        raise ConfigError(f"'{plan.out_dir}' holds a run of {plan.variant.label} with other settings "
                          f"({'; '.join(differences[:3])}); use another --out or remove that folder")
    evaluation = plan.out_dir / "evaluation.json"
    scored = evaluation.is_file() and json.loads(evaluation.read_text()).get("step") == plan.steps
    return "done" if meta["step"] >= plan.steps and scored else "partial"


def run_variant(plan: Plan, *, progress: bool = True) -> bool:
    """Trains (or resumes) one variant to its budget; False when stopped early (Ctrl-C)."""
    from ..train import Trainer

    state = variant_state(plan)
    if state == "done":
        return True
    callbacks: list[Callable[[Trainer], None]] = [MatchedImages(plan.marks)]
    if state == "partial":
        trainer = Trainer.resume(plan.out_dir, [f"data.cache_dir={plan.config.data.cache_dir}"], progress=progress,
                                 tensorboard=False, callbacks=callbacks)
    else:  # nothing to resume: whatever an attempt left before its first checkpoint is replaced
        trainer = Trainer(plan.config, progress=progress, tensorboard=False, callbacks=callbacks, overwrite=True,
                          recipe=plan.variant.recipe)
    return trainer.fit().completed
