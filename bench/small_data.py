"""StyleGAN2 on a small data set: no augmentation, DiffAugment and ADA side by side on 1,000 anime faces.

    python bench/small_data.py            # 1,000 faces at 32x32, 3 variants, 100k images each (about 55 min, 2 cores)
    python bench/small_data.py --quick    # seconds: what the tests run

The seeds' users train on a few hundred to a few thousand photos, where D memorises its training images.
This trains `stylegan2-small` (widths 32, z and w 128, 2 mapping layers, batch 32: sized for a CPU) on a
fixed subset of ../shared/data/anime-faces-64.zip (1,100 faces drawn with seed 0: 1,000 trained on and
100 that the doctor holds out for its overfitting monitor) three times with `steadygan compare`: without
augmentation, with DiffAugment (color, translation, cutout) and with ADA (adaptive p, target 0.6, p able
to go from 0 to 1 in 100k images, as short runs need). Every variant is scored by FID and KID of 2,000 EMA
samples against all 19,992 faces, not only those trained on, so that a G that copies its training
images gains nothing; and by FID against the subset and against as many other faces, whose gap shows
memorising (at equal sizes, FID's bias from few real images is the same on both sides).
Features come from a CIFAR-10 classifier trained once and cached (the Inception weights are not
available offline). Writes bench/results/small-data.md (the scores, p over time, the doctor's
overfitting monitor and findings) and the final sample grids beside it; the report of `compare` is in
--out. Running it again resumes: finished variants are not trained again.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import torch

from common import SHARED_DATA, ResultsFile, cifar_classifier, describe_machine

RESULTS_FILE = ResultsFile(__file__)

HERE = Path(__file__).resolve().parent
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
VARIANTS = {
    "no augmentation": "stylegan2-small",
    "DiffAugment": "stylegan2-small+regularize.diffaugment=color,translation,cutout",
    "ADA": "stylegan2-small+regularize.ada=adaptive+regularize.ada_kimg=100",
}


def subset(source: Path, count: int, folder: Path, seed: int = 0, offset: int = 0) -> Path:
    """Images `offset` to `offset + count` of a zip or folder in an order drawn with `seed`, copied (bytes as
    they are) into `folder`, unless it holds them already: sets of different offsets share no image."""
    if folder.is_dir() and len(list(folder.iterdir())) == count:
        return folder

    def pick(names: list[str]) -> list[str]:
        chosen = [names[i] for i in np.random.default_rng(seed).permutation(len(names))[offset:offset + count]]
        if len(chosen) < count:
            raise SystemExit(f"{source} has {len(names)} images, fewer than the {offset + count} needed")
        return chosen

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            chosen = pick(sorted(n for n in archive.namelist() if n.lower().endswith(IMAGE_SUFFIXES)))
            payloads = {name: archive.read(name) for name in chosen}
    else:
        chosen = pick(sorted(str(p.relative_to(source)) for p in source.rglob("*")
                             if p.suffix.lower() in IMAGE_SUFFIXES))
        payloads = {name: (source / name).read_bytes() for name in chosen}
    for i, name in enumerate(chosen):
        (folder / f"{i:05d}{Path(name).suffix.lower()}").write_bytes(payloads[name])
    return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for i, name in enumerate(chosen):
        (folder / f"{i:05d}{Path(name).suffix.lower()}").write_bytes(payloads[name])
    return folder


def grid_name(label: str) -> str:
    return label.lower().replace(" ", "-") + ".png"


def ada_p_over_time(records: list[dict], budget: int, marks: int = 10) -> list[tuple[float, float]]:
    """(kimg, p) at every tenth of the budget: the logged p nearest to each mark."""
    logged = [(r["kimg"], r["ada_p"]) for r in records if "ada_p" in r and "kimg" in r]
    if not logged:
        return []
    return [min(logged, key=lambda kp: abs(kp[0] - budget * k / marks / 1000)) for k in range(1, marks + 1)]


def overfitting(records: list[dict]) -> tuple[float, float] | None:
    """D's accuracy on its training reals and on held-out reals at the last log that has both."""
    last = next((r for r in reversed(records) if "d_acc_seen" in r and "d_acc_heldout" in r), None)
    return None if last is None else (last["d_acc_seen"], last["d_acc_heldout"])


def main(argv: list[str] | None = None) -> int:
    from steadygan.compare import compare, parse_budget
    from steadygan.data.cache import cache_root
    from steadygan.metrics import evaluate_checkpoint
    from steadygan.train.doctor import examine_run
    from steadygan.train.metrics_log import read_records

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(SHARED_DATA / "anime-faces-64.zip"), help="the full data set")
    parser.add_argument("--images", type=int, default=1000, help="images trained on")
    parser.add_argument("--holdout", type=int, default=100, help="images more, held out for the doctor")
    parser.add_argument("--budget", default="100k", help="real images shown to D per variant")
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--eval-n", type=int, default=2000)
    parser.add_argument("--extractor", help="default: the CIFAR-10 classifier, trained once if not cached")
    parser.add_argument("--set", action="append", default=[], help="an override for every variant")
    parser.add_argument("--out", default="runs/small-data")
    parser.add_argument("--results", type=RESULTS_FILE.check, default=str(HERE / "results" / "small-data.md"))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--quick", action="store_true", help="tiny widths and budget: a smoke test")
    args = parser.parse_args(argv)

    data = Path(args.data)
    if not data.exists():
        print(f"{data} is missing; give --data a folder or zip of images", file=sys.stderr)
        return 2
    overrides = list(args.set)
    if args.quick:
        args.images, args.holdout, args.budget, args.eval_n = 40, 10, "256", 50
        overrides += ["model.g_width=8", "model.d_width=8", "model.z_dim=16", "optim.batch_size=8",
                      "train.log_every=4"]
    size = args.images + args.holdout
    folder = subset(data, size, cache_root() / "bench" / f"{data.stem}-subset-{size}")
    others = subset(data, size, cache_root() / "bench" / f"{data.stem}-others-{size}", offset=size)
    holdout_share = (args.holdout + 0.5) / (args.images + args.holdout)  # int() of it is exactly args.holdout
    overrides += [f"doctor.holdout={holdout_share}", f"train.eval_real={data}"]
    extractor = args.extractor or cifar_classifier(cache_root())
    budget = parse_budget(args.budget)

    start = time.perf_counter()
    result = compare(str(folder), ",".join(VARIANTS.values()), budget=budget, out=args.out,
                     resolution=args.resolution, overrides=overrides, eval_n=args.eval_n, extractor=extractor,
                     device=args.device)
    minutes = (time.perf_counter() - start) / 60

    trained = sum(float(line.split("|")[4]) for line in result.markdown.read_text().splitlines()
                  if line.startswith("| ") and not line.startswith("| variant"))
    results = Path(args.results)
    grids = results.parent / results.stem
    grids.mkdir(parents=True, exist_ok=True)
    rows, p_rows, doctor_rows = [], [], []
    for (label, _), plan in zip(VARIANTS.items(), result.plans, strict=True):
        run = plan.out_dir
        on_subset, on_others = (evaluate_checkpoint(run, "fid", n=args.eval_n, real=str(real), extractor=extractor,
                                                    progress=False).scores for real in (folder, others))
        final = next(r for r in reversed(read_records(run / "metrics.jsonl")) if "fid" in r)
        rows.append(f"| {label} | {final['fid']:.2f} | {final['kid']:.3g} | {on_others['fid']:.2f} | "
                    f"{on_subset['fid']:.2f} | {on_others['fid'] - on_subset['fid']:.2f} |")
        records = read_records(run / "metrics.jsonl")
        for kimg, p in ada_p_over_time(records, budget):
            p_rows.append(f"| {label} | {kimg:g} | {p:.3f} |")
        _, findings = examine_run(run)
        accuracies = overfitting(records)
        seen, held = (f"{accuracies[0]:.2f}", f"{accuracies[1]:.2f}") if accuracies else ("-", "-")
        named = ", ".join(f"{f.rule} (step {f.step})" for f in findings) or "none"
        doctor_rows.append(f"| {label} | {seen} | {held} | {named} |")
        shutil.copyfile(sorted((run / "samples").glob("step-*.png"))[-1], grids / grid_name(label))

    device = describe_machine(torch.cuda.is_available() and args.device != "cpu")
    widths = "widths 8 (--quick)" if args.quick else "stylegan2-small's widths 32"
    text = "\n".join([
        f"# StyleGAN2 on {args.images:,} images of {data.name} at {args.resolution}px",
        "",
        (f"`stylegan2-small` ({widths}) trained on {args.images:,} images (seed 0; {args.holdout} more held out "
         f"for the doctor), {budget:,} real images shown to D per variant, scored on {args.eval_n:,} EMA samples "
         f"in the feature space of {extractor.split('/')[-1]}. FID and KID against all images of "
         f"{data.name}; then FID against {size:,} other faces (none of the subset) and against the {size:,} "
         "of the subset trained on: at equal sizes FID's small-sample bias is the same on both sides, so a G "
         "that copies its training images shows as a positive gap."),
        "",
        f"| variant | FID (all) | KID (all) | FID ({size:,} others) | FID (the subset) | gap |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        "ADA's p over training (the logged p nearest each tenth of the budget):",
        "",
        "| variant | kimg | p |",
        "|---|---|---|",
        *(p_rows or ["| - | - | - |"]),
        "",
        ("The doctor's overfitting monitor at the last log (D's accuracy on its training reals and on the "
         "held-out reals) and the rules that fired, with the step they first fired at:"),
        "",
        "| variant | D acc. training reals | D acc. held-out reals | findings |",
        "|---|---|---|---|",
        *doctor_rows,
        "",
        (f"Final sample grids: {grids.name}/. The full report (curves of every monitor, grids at matched image "
         f"counts): {result.html}."),
        "",
        (f"Command: `python bench/small_data.py{' --quick' if args.quick else ''}` on {device}; the variants' "
         f"training, evaluations included, {trained:.1f} min in all (this invocation {minutes:.1f} min)."),
        "",
    ])
    RESULTS_FILE.publish(results, text)
    return 0 if result.completed else 1


if __name__ == "__main__":
    sys.exit(main())
