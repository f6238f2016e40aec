"""`steadygan compare`: variants trained side by side on the same data, seeds and image budget, and
one report of their metrics, curves, samples and the doctor's findings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .report import write_report
from .runner import Plan, Variant, parse_budget, parse_variants, plan_comparison, run_variant

__all__ = ["Comparison", "Variant", "compare", "parse_budget", "parse_variants"]


@dataclass
class Comparison:
    plans: list[Plan]
    html: Path
    markdown: Path
    completed: bool  # False when stopped early; the same command resumes


def compare(data: str, recipes: str | list[Variant], *, budget: int | str, out: str | Path = "runs/compare",
            overrides: list[str] | tuple[str, ...] = (), resolution: int | None = None, metrics: str = "fid,kid",
            eval_n: int = 2000, extractor: str = "auto", points: int = 4, seed: int = 0, device: str = "auto",
            progress: bool = True) -> Comparison:
    """Trains every variant to the image budget (skipping finished ones), then writes OUT/report.html and
    OUT/report.md. `recipes` is 'sngan,wgan-gp,dcgan+model.spectral_norm=true' or a list of Variants."""
    variants = parse_variants(recipes) if isinstance(recipes, str) else list(recipes)
    budget, out = parse_budget(budget), Path(out)
    plans = plan_comparison(variants, data=data, budget=budget, out=out, overrides=overrides, resolution=resolution,
                            metrics=metrics, eval_n=eval_n, extractor=extractor, points=points, seed=seed,
                            device=device)
    completed = True
    for i, plan in enumerate(plans, 1):
        if progress:
            print(f"[{i}/{len(plans)}] {plan.variant.label}: {plan.steps:,} steps to {budget:,} images "
                  f"-> {plan.out_dir}", flush=True)
        if not run_variant(plan, progress=progress):
            completed = False
            break
    title = f"steadygan comparison on {Path(data).name} at {plans[0].config.data.resolution}px"
    html, markdown = write_report(out, plans, title=title, budget=budget)
    return Comparison(plans, html, markdown, completed)
