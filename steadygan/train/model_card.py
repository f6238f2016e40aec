"""The model card: README.md in every run folder, written at the end of each training session (finished,
stopped, or diverged): the recipe and the settings that differ from it, the data, steps and images shown,
wall time and hardware, the final and best scores with their protocol, the last sample grid, the doctor's
findings, and the commands to sample, resume and export.

A README.md that a run did not write (it lacks the model card's first line) is never replaced.
"""

from __future__ import annotations

import json
import platform
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..config import Config, differing_settings, load_config
from ..errors import ConfigError, warn
from ..run_folder import MODEL_CARD, MODEL_CARD_MARK, is_model_card
from ..storage.atomic import write_atomic
from .doctor import Finding
from .metrics_log import best_scores, read_records

LOCATIONS = ("train.out_dir", "data.cache_dir")  # where files go, not how the run trains
CLASSES_SHOWN = 20


@dataclass
class RunFacts:
    """What the card says of a run that only the training process knows."""

    out_dir: Path
    config: Config
    recipe: str | None  # as given to `train` (a built-in name or a .yaml path); None when not recorded
    state: str  # finished, stopped or diverged
    step: int
    images: int  # real images shown to D
    seconds: float  # wall time over every session
    hardware: str
    data: dict[str, Any]  # name, kind, count, held_out, channels, class_names
    findings: list[Finding]


def describe_hardware(device: torch.device, processes: int, precision: str) -> str:
    """The devices a session ran on, as a person names them: an NVIDIA H100, or a CPU and its threads."""
    name = (torch.cuda.get_device_name(device) if device.type == "cuda"
            else f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)")
    return f"{processes} x {name}" if processes > 1 else name + f", {precision}, torch {torch.__version__}"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def _cell(value: Any) -> str:
    return f"`{value}`".replace("|", "\\|") if value not in ("", None) else "(empty)"


def _table(rows: list[tuple[str, str]]) -> list[str]:
    return ["| | |", "|---|---|", *(f"| {name} | {value} |" for name, value in rows)]


def _recipe_section(facts: RunFacts) -> list[str]:
    """The recipe and the settings of this run that differ from it (at the run's resolution, whose row of a
    recipe's by_resolution table applies)."""
    base, column = Config(), "steadygan's defaults"
    if facts.recipe is None:
        lines = [("The recipe was not recorded (a run configured in code); these settings differ from steadygan's "
                 "defaults:")]
    else:
        try:
            base = load_config(facts.recipe, [f"data.resolution={facts.config.data.resolution}"])
            lines, column = [f"`{facts.recipe}`, with these settings changed:"], "recipe"
        except ConfigError as exc:
            lines = [(f"Recipe `{facts.recipe}`, which cannot be read now ({exc}); these settings differ from "
                     "steadygan's defaults:")]
    rows = differing_settings([base, facts.config], skip=LOCATIONS)
    lines += ["", f"| setting | {column} | this run |", "|---|---|---|",
              *(f"| {key} | {_cell(a)} | {_cell(b)} |" for key, (a, b) in rows)] if rows else ["", "none."]
    return [*lines, "", "The full configuration is in [config.yaml](config.yaml)."]


def _scores_section(facts: RunFacts, records: list[dict], run: str) -> list[str]:
    evaluation = facts.out_dir / "evaluation.json"
    latest = json.loads(evaluation.read_text()) if evaluation.is_file() else None
    best = best_scores(records)
    if latest is None:
        if best:
            return [f"Best {key}: {value:.4g} at step {step:,}." for key, (value, step) in best.items()]
        return [(f"Not evaluated (train.eval_every={facts.config.train.eval_every}); "
                f"`steadygan evaluate {run} --metrics fid,kid` scores the EMA generator.")]
    lines = [f"At the last evaluation (step {latest['step']:,}), and the best of the run:", "",
             "| score | last | best (step) |", "|---|---|---|"]
    for key, value in latest["scores"].items():
        if not key.endswith("_std"):
            spread = latest["scores"].get(f"{key}_std")
            shown = f"{value:.4g}" + (f" ± {spread:.3g}" if spread is not None else "")
            lowest = f"{best[key][0]:.4g} ({best[key][1]:,})" if key in best else "-"
            lines.append(f"| {key} | {shown} | {lowest} |")
    protocol = latest.get("protocol", {})
    if protocol:
        lines += ["", (f"Protocol: {protocol.get('generated', 0):,} images of the EMA generator (seed "
                      f"{facts.config.train.seed}) against {protocol.get('real', 0):,} real images of "
                      f"{protocol.get('reference', '?')}, features from {protocol.get('extractor', '?')}.")]
    return lines


def _commands(facts: RunFacts, run: str) -> list[str]:
    resume = (f"steadygan train --resume {run} train.steps={2 * facts.config.train.steps}   # train on, longer"
              if facts.state == "finished" else f"steadygan train --resume {run}   # continue where it stopped")
    return ["```bash",
            f"steadygan sample {run} -n 64 --out samples.png   # a grid from the EMA generator",
            resume,
            f"steadygan export {run} --format torchscript   # one file for an application (or --format onnx)",
            f"steadygan evaluate {run} --metrics fid,kid",
            "```"]


def render(facts: RunFacts) -> str:
    config, data, classes = facts.config, facts.data, facts.data["class_names"]
    run = shlex.quote(str(facts.out_dir))
    records = read_records(facts.out_dir / "metrics.jsonl")
    grids = sorted((p for p in (facts.out_dir / "samples").glob("step-*.png") if p.stem[5:].isdigit()),
                   key=lambda p: int(p.stem[5:]))
    named = ", ".join(map(str, classes[:CLASSES_SHOWN])) + (", ..." if len(classes) > CLASSES_SHOWN else "")
    split = f" (split {config.data.split})" if config.data.split else ""
    lines = [MODEL_CARD_MARK, f"# {facts.out_dir.name}: {facts.recipe or config.model.arch} on {data['name']}", "",
             (f"**{facts.state}** at step {facts.step:,} of {config.train.steps:,}: {facts.images:,} real images "
             f"shown to D in {_duration(facts.seconds)} of training."), ""]
    if grids:
        lines += [f"![the EMA generator's samples at {grids[-1].stem}](samples/{grids[-1].name})", "",
                  f"The EMA generator on the run's fixed latents ({grids[-1].name}; every grid is in samples/).", ""]
    lines += ["## Recipe", "", *_recipe_section(facts), ""]
    lines += ["## Data", "", *_table([
        ("source", _cell(config.data.source) + split),
        ("images", f"{data['count']:,} ({data['held_out']:,} of them held out from training for the doctor)"),
        ("resolution", f"{config.data.resolution}x{config.data.resolution}, {data['channels']} channel(s)"
                       if data["kind"] == "image" else "2-D points"),
        ("classes", (f"{len(classes)}: {named}" + (" (a conditional model)" if config.model.conditional else ""))
         if classes else "none")]), ""]
    lines += ["## Training", "", *_table([
        ("architecture", (f"{config.model.arch}, z {config.model.z_dim}, G width {config.model.g_width}, D width "
                         f"{config.model.d_width}")),
        ("loss", config.loss.name),
        ("steps", f"{facts.step:,} of {config.train.steps:,} G steps ({config.optim.n_dis} D steps each)"),
        ("images shown to D", f"{facts.images:,}"),
        ("wall time", f"{_duration(facts.seconds)} (every session, samples and checkpoints included)"),
        ("hardware", f"{facts.hardware} (the last session)")]), ""]
    lines += ["## Scores", "", *_scores_section(facts, records, run), ""]
    lines += ["## The doctor's findings", "",
              *([f"- {finding.line()}" for finding in facts.findings] if facts.findings
                else ["None: no known failure mode was seen in the logged monitors."]),
              "", f"`steadygan doctor {run}` replays the rules over metrics.jsonl.", ""]
    lines += ["## Use it", "", *_commands(facts, run), ""]
    return "\n".join(lines)


def write_model_card(facts: RunFacts) -> Path | None:
    """RUN/README.md, written atomically; None, with a warning, where a README.md of someone else's is."""
    path = facts.out_dir / MODEL_CARD
    if path.exists() and not is_model_card(path):
        warn(f"{path} was not written by steadygan train; the model card was not written over it")
        return None
    return write_atomic(path, render(facts).encode())
