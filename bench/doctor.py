"""The stability doctor on runs whose outcome is known: how often each rule names the failure a run measurably
had, how often it fires on a healthy run, and how early.

    python bench/doctor.py                 # train the labelled runs (kept under --runs) and write the report;
                                           # a kept run trained with other settings than its case is trained again
    python bench/doctor.py --report-only   # replay the rules over the kept runs (after changing a threshold)
    python bench/doctor.py --quick         # a smoke version: four short runs

The labelled runs, each trained with `steadygan.train.Trainer` as `steadygan train` trains (the doctor's
monitors logged every `train.log_every` steps), and scored while they train:
- 2-D mixtures (ring of 8, grid of 25; modes and high-quality samples counted exactly on 2,500 samples as in
  bench/mixtures.py every 500 steps): VEEGAN's GAN at 2,000 and 5,000 steps, PacGAN2, WGAN-GP, relativistic
  pairing + R1 + R2, and the `toy2d-stable` recipe at its own 20,000 steps and at 5,000;
- stacked MNIST, the hard protocol of bench/stacked_mnist.py (D a quarter of G, 4,000 steps): DCGAN and the
  `stacked` recipe with packs of two; modes counted by the shipped MNIST classifier on 5,000 samples every 1,000 steps;
- stacked 8x8 digits at 16x16 with the `dcgan` recipe: as shipped, with D's learning rate 100 times (D
  overpowering), the Wasserstein loss without any Lipschitz constraint at 50 times the learning rates
  (divergence); and a tiny data set of 64
  digits (48 trained on) that D memorises (2,500 steps).

Labels come from what was measured, never from what a case was meant to show: a run is collapsed when its last
count finds fewer than 80% of the modes (stacked: of the modes a uniform generator shows with as many samples;
the last count takes 26,000 as bench/stacked_mnist.py does); off the data when fewer than 10% of its 2-D samples
are high quality; diverged when a loss or weight became NaN/inf or D's loss ended beyond 10,000 in size. The
induced cases also carry the rule they were built to provoke (D overpowering, D overfitting), for which no count
exists. For each rule: true and false positives, false negatives, and the step it first fired beside the step
from which the outcome held at every later count.
`mode_collapse` is also replayed over a grid of its thresholds, to show where the shipped ones sit.

Writes bench/results/doctor.md.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from common import RESULTS, SHARED_DATA, ResultsFile, existing_data, run_pool

if TYPE_CHECKING:
    from steadygan.config import Config

RESULTS_FILE = ResultsFile(__file__)

COLLAPSED = 0.8  # fewer than this share of the modes captured: collapsed
OFF_DATA = 0.1  # fewer than this share of 2-D samples within 3 std of a centre: off the data
DIVERGED = 1e4  # a last |d_loss| this large (or NaN/inf, or a rollback): diverged
MIXTURE_SAMPLES = 2500
STACKED_SAMPLES = 5000  # while training; the last count takes bench/stacked_mnist.py's 26,000
FINAL_STACKED_SAMPLES = 26_000
MARK = ".bench-doctor"  # a case folder this benchmark made, and may train into again


@dataclass(frozen=True)
class Case:
    name: str
    group: str
    recipe: str
    overrides: tuple[str, ...]
    score_every: int
    counter: str  # "mixture", "stacked" or "" (no count: an induced case)
    induced: str = ""  # the rule the case was built to provoke
    cost: float = 1.0  # minutes on one core: the slow cases start first

    @property
    def healthy(self) -> bool:
        """A run of a shipped recipe at its own schedule: the runs the doctor must not alarm on."""
        return self.group.endswith("healthy")


def mixture_cases(quick: bool) -> list[Case]:
    veegan = {"GAN": (), "PacGAN2": ("model.packing=2", "optim.batch_size=1024"),
              "WGAN-GP": ("loss.name=wasserstein", "regularize.gradient_penalty=10", "optim.g_lr=1e-4",
                          "optim.d_lr=1e-4", "optim.g_betas=[0.0,0.9]", "optim.d_betas=[0.0,0.9]", "optim.n_dis=5"),
              "rpgan-R1-R2": ("loss.name=rpgan", "regularize.r1=1.0", "regularize.r2=1.0")}
    costs = {"GAN": 0.7, "PacGAN2": 1.4, "WGAN-GP": 3.2, "rpgan-R1-R2": 1.3}
    if quick:
        return [Case(f"grid25-{row}-300-s0", group, recipe, ("data.source=grid25", "train.steps=300"), 100, "mixture",
                     cost=0.1) for row, group, recipe in (("GAN", "2-D", "toy2d"),
                                                          ("stable", "2-D healthy", "toy2d-stable"))]
    cases = []
    for mixture in ("ring8", "grid25"):
        data = (f"data.source={mixture}",)
        runs = [("GAN", 5000, seed) for seed in range(3)] + [("GAN", 2000, seed) for seed in (3, 4)]
        runs += [(row, 5000, seed) for row in ("PacGAN2", "rpgan-R1-R2") for seed in range(2)] + [("WGAN-GP", 5000, 0)]
        cases += [Case(f"{mixture}-{row}-{steps}-s{seed}", "2-D", "toy2d",
                       (*data, *veegan[row], f"train.steps={steps}", f"train.seed={seed}"), 500, "mixture",
                       cost=costs[row] * steps / 5000) for row, steps, seed in runs]
        cases += [Case(f"{mixture}-stable-20000-s{seed}", "2-D healthy", "toy2d-stable", (*data, f"train.seed={seed}"),
                       500, "mixture", cost=3.5) for seed in range(3)]
        cases += [Case(f"{mixture}-stable-5000-s{seed}", "2-D", "toy2d-stable",  # a quarter of its schedule
                       (*data, "train.steps=5000", f"train.seed={seed}"), 500, "mixture", cost=0.9) for seed in (3, 4)]
    return cases


def stacked_mnist_cases(mnist: str, quick: bool) -> list[Case]:
    hard = (f"data.source=stacked:{mnist}", "data.resolution=32", "data.channels=3", "model.g_width=16",
            "model.d_width=2", "model.z_dim=256")
    papers = ("loss.name=ns", "train.ema_decay=0", "train.ema_standing_stats=0", "optim.g_lr=1e-4",
              "optim.d_lr=2e-4", "optim.g_betas=[0.5,0.99]", "optim.d_betas=[0.5,0.99]", "optim.batch_size=128",
              "model.packing=1")
    steps = 40 if quick else 4000
    # the recipe as its notes advise for a D much weaker than G: packs of two (bench/stacked_mnist.py's
    # stacked-packed row)
    rows = {"DCGAN": ("dcgan", papers, 7.0),
            "stacked": ("stacked", ("model.packing=2", "optim.batch_size=128"), 12.0)}
    return [Case(f"stacked-mnist-hard-{row}-s{seed}", "stacked MNIST" + (" healthy" if row == "stacked" else ""),
                 recipe, (*hard, *overrides, f"train.steps={steps}", f"train.seed={seed}"), steps // 4, "stacked",
                 cost=cost) for row, (recipe, overrides, cost) in rows.items() for seed in range(1 if quick else 2)]


def induced_cases(tiny: str, quick: bool) -> list[Case]:
    digits = ("data.source=stacked:digits", "data.resolution=16", "data.channels=3")
    steps = 60 if quick else 1500
    every = steps // 5
    cases = [Case("digits-dcgan-s0", "stacked digits", "dcgan", (*digits, f"train.steps={steps}"), every, "stacked",
                  cost=4.0),
             Case("digits-d-lr-x100-s0", "induced", "dcgan", (*digits, f"train.steps={steps}", "optim.d_lr=2e-2"),
                  every, "stacked", "d_overpowering", cost=4.0)]
    if quick:
        return cases
    return [*cases,
            Case("digits-dcgan-s1", "stacked digits", "dcgan", (*digits, "train.steps=1500", "train.seed=1"), 300,
                 "stacked", cost=4.0),
            Case("digits-wgan-unconstrained-s0", "induced", "dcgan",
                 (*digits, "train.steps=1500", "loss.name=wasserstein", "optim.g_lr=1e-2", "optim.d_lr=1e-2"),
                 300, "stacked", "divergence", cost=4.0),
            Case("tiny-digits-64-s0", "induced", "dcgan",
                 (f"data.source={tiny}", "data.resolution=16", "train.steps=2500", "doctor.holdout=0.25",
                  "optim.batch_size=32"),
                 500, "", "d_overfitting", cost=5.0)]


def write_tiny_digits(folder: Path, count: int = 64) -> str:
    """`count` of the built-in digits as PNG files: the data set D memorises (a quarter held out)."""
    from PIL import Image

    from steadygan.config import DataConfig
    from steadygan.data import build_dataset

    if not folder.is_dir():
        folder.mkdir(parents=True)
        images = build_dataset(DataConfig(source="digits", resolution=16), progress=False).images  # as trained
        for i in range(count):
            Image.fromarray(images[i, 0]).save(folder / f"{i:03d}.png")
    return str(folder)


Job = tuple[Case, str]  # the case and its run folder


def mode_counter(case: Case, trainer, final: bool = False):
    """A function of the generator to {"modes", "total", "hq"?, "kl"}, or None for an uncounted case. A stacked
    count's total is the number of modes a uniform generator shows with as many samples (993 of 1,000 with
    5,000), so that "80% of the modes" means the same at every sample count."""
    import torch

    if case.counter == "mixture":
        from steadygan.data import MIXTURES, toy_centres
        from steadygan.metrics import mode_coverage
        from steadygan.sampling import generate, sample_latents

        source = trainer.config.data.source
        z = sample_latents(MIXTURE_SAMPLES, trainer.config.model.z_dim, torch.Generator().manual_seed(10_000))

        def count_mixture(generator) -> dict:
            found = mode_coverage(generate(generator, z).numpy(), toy_centres(source), MIXTURES[source])
            return {"modes": found.modes, "total": found.total_modes, "hq": found.high_quality, "kl": found.kl}
        return count_mixture
    if case.counter == "stacked":
        from steadygan.metrics import Evaluator

        n = FINAL_STACKED_SAMPLES if final else STACKED_SAMPLES
        evaluator = Evaluator("modes", trainer.dataset, trainer.config.data.source, n=n, device=trainer.device,
                              progress=False)
        total = uniform_modes(n)

        def count_stacked(generator) -> dict:
            scores = evaluator.score_generator(generator, seed=10_000).scores
            return {"modes": scores["modes"], "total": total, "kl": scores["modes_kl"], "samples": n}
        return count_stacked
    return None


def uniform_modes(samples: int, modes: int = 1000) -> float:
    """The expected number of modes that `samples` uniform draws of `modes` hit."""
    return modes * (1 - (1 - 1 / modes) ** samples)


def run_case(job: Job) -> dict:
    """Trains one case (scoring it every `score_every` steps) and keeps its outcome beside the run."""
    import torch

    from steadygan.config import load_config
    from steadygan.errors import TrainingDiverged
    from steadygan.train import Trainer

    case, folder = job
    torch.set_num_threads(1)  # one worker per core
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARK).touch()
    config = load_config(case.recipe, [*case.overrides, f"train.out_dir={out}"])
    history: list[dict] = []

    def score(trainer) -> None:
        if trainer.step % case.score_every == 0 and counter is not None:
            history.append({"step": trainer.step, **counter(trainer.ema.model)})

    trainer = Trainer(config, progress=False, tensorboard=False, callbacks=[score], overwrite=True)
    (out / MARK).touch()  # again: a run abandoned while it was built leaves its folder empty
    counter = mode_counter(case, trainer)
    start, diverged = time.perf_counter(), False
    try:
        trainer.fit()
    except TrainingDiverged:
        diverged = True
    outcome = {"case": case.name, "steps": trainer.step, "seconds": time.perf_counter() - start,
               "diverged": diverged, "history": history}
    return with_final_count(case, trainer, outcome, out)


def with_final_count(case: Case, trainer, outcome: dict, out: Path) -> dict:
    """The outcome with its last count at the stacked benchmark's sample count (the 2-D counts already are),
    written beside the run."""
    if case.counter == "stacked":
        outcome["final"] = {"step": trainer.step, **mode_counter(case, trainer, final=True)(trainer.ema.model)}
    elif outcome["history"]:
        outcome["final"] = outcome["history"][-1]
    (out / "outcome.json").write_text(json.dumps(outcome, indent=1))
    return outcome


# --- the report ----------------------------------------------------------------------------------------------


@dataclass
class Labelled:
    case: Case
    outcome: dict
    findings: dict[str, int]  # rule -> the step it first fired
    labels: dict[str, bool | None]  # rule -> whether the run had that failure (None: not measured)
    measurable: dict[str, int]  # rule -> the step from which the label held at every count
    records: list[dict]  # metrics.jsonl, which the rules are replayed over
    config: Config
    changed: list[str]  # settings the run was trained with otherwise than its case asks today


def labels_of(case: Case, outcome: dict, records: list[dict]) -> tuple[dict[str, bool | None], dict[str, int]]:
    history = outcome["history"]
    losses = [r["d_loss"] for r in records if "d_loss" in r]
    diverged = outcome["diverged"] or (bool(losses) and abs(losses[-1]) >= DIVERGED) or any(
        "rollback" in r or any(isinstance(v, float) and not math.isfinite(v) for v in r.values()) for r in records)
    labels: dict[str, bool | None] = {"divergence": diverged, "mode_collapse": None, "not_fitting": None,
                                      "d_overpowering": None, "d_overfitting": None}
    measurable: dict[str, int] = {}
    last = outcome.get("final") or (history[-1] if history else None)
    if last is not None and not diverged:
        def collapsed(h: dict) -> bool:
            return h["modes"] < COLLAPSED * h["total"]

        def off_data(h: dict) -> bool:
            return h["hq"] < OFF_DATA

        tests = {"mode_collapse": collapsed, **({"not_fitting": off_data} if "hq" in last else {})}
        for rule, test in tests.items():
            labels[rule] = test(last)
            if labels[rule]:
                since = len(history)
                while since > 0 and test(history[since - 1]):
                    since -= 1
                measurable[rule] = history[since]["step"] if since < len(history) else last["step"]
    if case.induced and not diverged:
        labels[case.induced] = True
    for rule in ("d_overpowering", "d_overfitting"):  # the cases that did not provoke them: healthy runs
        if labels[rule] is None and case.healthy:
            labels[rule] = False
    return labels, measurable


def changed_settings(case: Case, folder: Path) -> list[str]:
    """The settings ("section.key") that a kept run was trained with otherwise than its case asks today; a
    setting added since counts, as the run trained without it. The output folder is left out: --runs may name
    the same folder another way."""
    import yaml

    from steadygan.config import load_config

    kept = yaml.safe_load((folder / "config.yaml").read_text()) or {}
    now = load_config(case.recipe, [*case.overrides, f"train.out_dir={folder}"]).to_dict()
    missing = object()
    return [f"{section}.{key}" for section, values in now.items() for key, value in values.items()
            if f"{section}.{key}" != "train.out_dir" and kept.get(section, {}).get(key, missing) != value]


def to_train(runs: Path, cases: list[Case]) -> list[Case]:
    """The cases without a kept outcome, and those whose kept run was trained with other settings."""
    return [case for case in cases if not (runs / case.name / "outcome.json").is_file()
            or changed_settings(case, runs / case.name)]


def load_runs(runs: Path, cases: list[Case]) -> list[Labelled]:
    from steadygan.config import load_config
    from steadygan.train.doctor import diagnose
    from steadygan.train.metrics_log import read_records

    labelled = []
    for case in cases:
        folder = runs / case.name
        if not (folder / "outcome.json").is_file():
            continue
        outcome = json.loads((folder / "outcome.json").read_text())
        records, config = read_records(folder / "metrics.jsonl"), load_config(str(folder / "config.yaml"))
        findings = {f.rule: f.step for f in diagnose(records, config)}
        labels, measurable = labels_of(case, outcome, records)
        labelled.append(Labelled(case, outcome, findings, labels, measurable, records, config,
                                 changed_settings(case, folder)))
    return labelled


def rule_table(labelled: list[Labelled]) -> list[str]:
    lines = [("| rule | runs with the failure | found | missed | runs without it | false alarms | "
              "fired at / outcome held from (step, each found run) |"), "|---|---|---|---|---|---|---|"]
    for rule in ("mode_collapse", "not_fitting", "divergence", "d_overpowering", "d_overfitting"):
        positive = [r for r in labelled if r.labels.get(rule)]
        negative = [r for r in labelled if r.labels.get(rule) is False]
        found = [r for r in positive if rule in r.findings]
        alarms = [r for r in negative if rule in r.findings]
        timing = ", ".join(f"{r.findings[rule]} / {r.measurable[rule]}" if rule in r.measurable
                           else str(r.findings[rule]) for r in found)
        lines.append(f"| `{rule}` | {len(positive)} | {len(found)} ({share(len(found), len(positive))}) | "
                     f"{len(positive) - len(found)} | {len(negative)} | {len(alarms)} "
                     f"({share(len(alarms), len(negative))}) | {timing or '-'} |")
    return lines


def share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def run_table(labelled: list[Labelled]) -> list[str]:
    lines = ["| run | group | steps | modes at each count | last count: modes / HQ % / KL | labels | fired (step) |",
             "|---|---|---|---|---|---|---|"]
    for r in labelled:
        history = r.outcome["history"]
        counts = " ".join(f"{h['modes']}" for h in history) or "-"
        last = r.outcome.get("final")
        hq = f"{100 * last['hq']:.1f}" if last and "hq" in last else "-"
        measured = "-" if last is None else f"{last['modes']}/{last['total']:.0f} / {hq} / {last['kl']:.2f}"
        labels = ", ".join(rule for rule, value in r.labels.items() if value) or "healthy"
        fired = ", ".join(f"{rule} ({step})" for rule, step in sorted(r.findings.items(), key=lambda x: x[1])) or "-"
        lines.append(f"| {r.case.name} | {r.case.group} | {r.outcome['steps']} | {counts} | {measured} | {labels} | "
                     f"{fired} |")
    return lines


def threshold_sweep(labelled: list[Labelled], threshold: str, values: tuple[float, ...], points: bool) -> list[str]:
    """mode_collapse's found and false alarms on the counted 2-D (points) or image runs over a grid of one of
    its thresholds and the share of the run after which it judges."""
    from steadygan.train import doctor

    counted = [r for r in labelled if r.labels["mode_collapse"] is not None and (r.case.counter == "mixture") == points]
    shipped = {name: getattr(doctor, name) for name in (threshold, "JUDGE_AFTER")}
    judges = (0.1, 0.25, 0.5)
    lines = [f"| `{threshold}` \\ `JUDGE_AFTER` | " + " | ".join(f"{j:g}" for j in judges) + " |",
             "|---|" + "---|" * len(judges)]
    try:
        for value in values:
            cells = []
            for judge in judges:
                setattr(doctor, threshold, value)
                doctor.JUDGE_AFTER = judge
                fired = [(any(f.rule == "mode_collapse" for f in doctor.diagnose(r.records, r.config)),
                          r.labels["mode_collapse"]) for r in counted]
                positives = sum(label for _, label in fired)
                found = sum(hit and label for hit, label in fired)
                alarms = sum(hit and not label for hit, label in fired)
                recipe = [hit for (hit, _), r in zip(fired, counted, strict=True) if r.case.healthy]
                mark = " **(shipped)**" if (value, judge) == tuple(shipped.values()) else ""
                cells.append(f"{found}/{positives} found; {alarms}/{len(fired) - positives} alarms, "
                             f"{sum(recipe)}/{len(recipe)} on the recipes{mark}")
            lines.append(f"| {value:g} | " + " | ".join(cells) + " |")
    finally:
        for name, value in shipped.items():
            setattr(doctor, name, value)
    return lines


def stale_runs(labelled: list[Labelled]) -> list[str]:
    """A paragraph on the kept runs trained with settings their cases no longer have (none when all match)."""
    stale = [r for r in labelled if r.changed]
    if not stale:
        return []
    settings = sorted({key for r in stale for key in r.changed})
    return [(f"**{len(stale)} of {len(labelled)} runs were trained with settings their cases no longer have** "
             f"({', '.join(f'`{key}`' for key in settings)}); their labels and findings are those of the earlier "
             "settings. `python bench/doctor.py` without `--report-only` trains them again."), ""]


def report(runs: Path, cases: list[Case], command: str, wall: float | None) -> str:
    labelled = load_runs(runs, cases)
    recipes = [r for r in labelled if r.case.healthy]
    alarms = [r for r in recipes if "mode_collapse" in r.findings or "not_fitting" in r.findings]
    lines = [f"Command: python bench/doctor.py {command}", "",
             (f"{len(labelled)} labelled runs. Collapsed: the last count finds fewer than {COLLAPSED:.0%} of the "
             f"modes; off the data: under {OFF_DATA:.0%} of 2-D samples high quality; diverged: a NaN/inf loss or "
             f"weight, or a last |d_loss| over {DIVERGED:g}. The induced cases count for the rule they provoke; the "
             "healthy recipes (toy2d-stable, the stacked recipe) count as negatives for every rule whose failure they "
             "did not measurably have."), "",
             *stale_runs(labelled),
             "### Each rule", "", *rule_table(labelled), "",
             f"Runs of the shipped recipes at their own schedules (toy2d-stable, stacked) with a mode_collapse or "
             f"not_fitting finding: {len(alarms)} of {len(recipes)}"
             + (f" ({', '.join(r.case.name for r in alarms)})" if alarms else "") + ".", "",
             "### `mode_collapse` over its thresholds", "",
             "2-D runs (judged by the cells their samples reach):", "",
             *threshold_sweep(labelled, "CELLS_FLOOR", (0.6, 0.7, 0.75, 0.8, 0.85, 0.9), points=True), "",
             "Image runs (judged by coverage):", "",
             *threshold_sweep(labelled, "COVERAGE_FLOOR", (0.2, 0.3, 0.4, 0.5), points=False), "",
             "### Each run", "", *run_table(labelled), ""]
    trained = sum(r.outcome["seconds"] for r in labelled) / 60
    lines.append(f"Training and counting took {trained:.1f} min of one core in all"
                 + (f"; this invocation {wall / 60:.1f} min." if wall is not None else "."))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke version: a few short runs")
    parser.add_argument("--report-only", action="store_true", help="replay the rules over the kept runs, train none")
    parser.add_argument("--groups", default="2-D,stacked MNIST,induced",
                        help="comma-separated subset of: 2-D, stacked MNIST, induced")
    parser.add_argument("--mnist", type=existing_data, default=str(SHARED_DATA / "mnist"),
                        help="a folder of MNIST IDX files")
    parser.add_argument("--runs", default="runs/bench-doctor", help="where the labelled runs are kept")
    parser.add_argument("--workers", type=int, default=max(1, multiprocessing.cpu_count()))
    parser.add_argument("--out", type=RESULTS_FILE.check, default=str(RESULTS / "doctor.md"))
    args = parser.parse_args(argv)

    runs = Path(args.runs)
    groups = args.groups.split(",")
    known = {"2-D", "stacked MNIST", "induced"}
    if not set(groups) <= known:
        parser.error(f"unknown group {sorted(set(groups) - known)[0]!r}; choose from: {', '.join(sorted(known))}")
    cases = []
    if "2-D" in groups:
        cases += mixture_cases(args.quick)
    if "stacked MNIST" in groups:
        cases += stacked_mnist_cases(args.mnist, args.quick)
    if "induced" in groups:
        cases += induced_cases(str(runs / "tiny-digits-64"), args.quick)
    for case in cases:
        folder = runs / case.name
        if folder.exists() and any(folder.iterdir()) and not (folder / MARK).is_file():
            parser.error(f"'{folder}' exists and was not made by this benchmark; give another --runs folder")
    wall = None
    if not args.report_only:
        if "induced" in groups:
            write_tiny_digits(runs / "tiny-digits-64")
        todo = to_train(runs, cases)
        todo.sort(key=lambda case: case.cost, reverse=True)
        _, wall = run_pool(run_case, [(case, str(runs / case.name)) for case in todo], args.workers,
                           lambda r: f"{r['case']}: {r['steps']} steps in {r['seconds']:.0f} s, last count "
                                     f"{r.get('final', '-')}")
    if not any((runs / case.name / "outcome.json").is_file() for case in cases):
        parser.error(f"no labelled runs under '{runs}': train them first (without --report-only)")
    command = " ".join(argv if argv is not None else sys.argv[1:])
    text = report(runs, cases, command, wall)
    RESULTS_FILE.publish(args.out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
