"""The `steadygan` command: data, train, runs, sample, interpolate, mix, animate, doctor, compare, evaluate,
train-classifier, export, info, recipes."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from collections.abc import Callable
from typing import NoReturn

from . import __version__
from .config import MAX_EVAL_IMAGES, is_override, recipe_names, recipe_path
from .errors import SteadyganError, SteadyganWarning

MAX_SAMPLES = 100_000

# Short flags for the fields people change most; every other field is a `section.key=value` override.
SHORTCUTS = {
    "data": "data.source",
    "resolution": "data.resolution",
    "steps": "train.steps",
    "batch_size": "optim.batch_size",
    "out": "train.out_dir",
    "seed": "train.seed",
    "device": "train.device",
}


def _data(args: argparse.Namespace) -> int:
    from .data_report import default_preview, inspect_data

    preview = None if args.no_preview else args.preview or default_preview(args.source)
    report = inspect_data(args.source, resolution=args.resolution, channels=args.channels, labels=args.labels,
                          split=args.split, preview=preview, verify=args.verify,
                          near_duplicates=args.near_duplicates, progress=not args.no_progress)
    print(json.dumps(report.to_json(), indent=2) if args.json else "\n".join(report.lines()))
    return 0


def _runs(args: argparse.Namespace) -> int:
    from .run_list import list_runs, table

    runs = list_runs(args.folder)
    if args.json:
        print(json.dumps([run.to_json() for run in runs], indent=2))
    else:
        print(table(runs, args.folder) if runs else f"no runs under {args.folder}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from .export import export_generator

    result = export_generator(args.checkpoint, format=args.format, out=args.out, truncation=args.truncation,
                              class_label=args.class_label, uint8=args.uint8, ema=not args.raw, seed=args.seed)
    print(f"wrote {result.path} and {result.usage_path}; {result.note}")
    print(result.usage)
    return 0


def _train(args: argparse.Namespace) -> int:
    from .train import train

    overrides = [f"{key}={getattr(args, flag)}" for flag, key in SHORTCUTS.items()
                 if getattr(args, flag) is not None] + list(args.overrides)
    result = train(args.recipe, overrides, resume=args.resume, overwrite=args.overwrite,
                   progress=not args.no_progress, tensorboard=not args.no_tensorboard)
    if int(os.environ.get("RANK", "0")) != 0:
        return 0  # under torchrun, rank 0 reports
    state = "finished" if result.completed else "stopped"
    print(f"{state} at step {result.step}: checkpoint {result.checkpoint}, samples {result.out_dir / 'samples'}, "
          f"loss plot {result.out_dir / 'loss.png'}")
    if not result.completed:
        print(f"resume with: steadygan train --resume {result.out_dir}")
    return 0


def _sample(args: argparse.Namespace) -> int:
    from .generate import sample

    paths = sample(args.checkpoint, args.n, out=args.out, separate=args.separate, seed=args.seed,
                   class_label=args.class_label, truncation=args.truncation, nrow=args.nrow, ema=not args.raw)
    print(f"wrote {paths[0]}" if len(paths) == 1 else f"wrote {len(paths)} images to {args.out}")
    return 0


def _interpolate(args: argparse.Namespace) -> int:
    from .generate import interpolate

    grid, gif = interpolate(args.checkpoint, out=args.out, rows=args.rows, steps=args.steps, keys=args.keys,
                            mode=args.mode, seed=args.seed, class_label=args.class_label,
                            truncation=args.truncation, frame_ms=args.frame_ms, ema=not args.raw)
    print(f"wrote {grid} and {gif}")
    return 0


def _mix(args: argparse.Namespace) -> int:
    from .generate import style_mix

    path = style_mix(args.checkpoint, out=args.out, rows=args.rows, cols=args.cols, crossover=args.crossover,
                     seed=args.seed, class_label=args.class_label, truncation=args.truncation, ema=not args.raw)
    print(f"wrote {path}")
    return 0


def _animate(args: argparse.Namespace) -> int:
    from .generate import training_animation

    print(f"wrote {training_animation(args.run_dir, args.out, args.frame_ms)}")
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from .train.doctor import examine_run

    records, findings = examine_run(args.run_dir)
    steps = f"steps {records[0]['step']}-{records[-1]['step']}" if records else "no steps"
    print(f"{args.run_dir}: {len(records)} logged records ({steps})")
    last = next((r for r in reversed(records) if "d_acc_real" in r), None)
    if last:
        shown = ("d_acc_real", "d_acc_fake", "d_acc_seen", "d_acc_heldout", "g_grad_norm", "d_grad_norm",
                 "d_lipschitz", "diversity", "near_duplicates", "sample_coverage", "sample_density",
                 "sample_cells")
        print("last monitors: " + ", ".join(f"{k}={last[k]:.3g}" for k in shown if k in last))
    for finding in findings:
        print(f"- {finding.line()}")
    if not findings:
        print("no known failure mode found")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from .compare import compare

    result = compare(args.data, args.recipes, budget=args.budget, out=args.out, overrides=args.set,
                     resolution=args.resolution, metrics=args.metrics, eval_n=args.eval_n, extractor=args.extractor,
                     points=args.points, seed=args.seed, device=args.device, progress=not args.no_progress)
    print(result.markdown.read_text())
    print(f"wrote {result.html} and {result.markdown}")
    if not result.completed:
        print("stopped early; the same command resumes (finished variants are not trained again)")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from .metrics import evaluate_checkpoint, evaluate_folders

    common = {"metrics": args.metrics, "n_real": args.n_real, "extractor": args.extractor,
                  "inception_weights": args.inception_weights, "device": args.device, "progress": not args.no_progress}
    if args.fake is not None:
        if args.checkpoint is not None or args.real is None:
            raise SteadyganError("give either a checkpoint, or --real A --fake B to compare two image sets")
        result = evaluate_folders(args.real, args.fake, n=args.n, real_split=args.real_split,
                                  fake_split=args.fake_split, resolution=args.resolution, **common)
    elif args.checkpoint is not None:
        result = evaluate_checkpoint(args.checkpoint, n=args.n or 10_000, real=args.real, real_split=args.real_split,
                                     seed=args.seed, truncation=args.truncation, ema=not args.raw, **common)
    else:
        raise SteadyganError("nothing to evaluate: give a checkpoint (or run folder), or --real A --fake B")
    if args.json:
        print(json.dumps({"scores": result.scores, "protocol": result.protocol}, indent=2))
    else:
        print("\n".join(result.lines()))
    return 0


def _train_classifier(args: argparse.Namespace) -> int:
    from .metrics.classifier import train_classifier_file

    path, report = train_classifier_file(args.data, args.out, resolution=args.resolution, labels=args.labels,
                                         split=args.split, epochs=args.epochs, batch_size=args.batch_size,
                                         seed=args.seed, progress=not args.no_progress)
    print(f"wrote {path}: held-out accuracy {report['held_out_accuracy']:.4f} on {report['held_out']} images; "
          f"use it with --extractor classifier:{path}")
    return 0


def _info(args: argparse.Namespace) -> int:
    from .generate import info

    details = info(args.checkpoint)
    if args.json:
        print(json.dumps(details, indent=2))
        return 0
    data, model = details["data"], details["config"]["model"]
    print(f"checkpoint  {details['path']} ({details['size_mb']} MB)")
    print(f"step        {details['step']} of {details['config']['train']['steps']}")
    print(f"data        {data['name']}: {data['kind']} of shape {tuple(data['shape'])}, {data['num_classes']} classes")
    print(f"model       {model['arch']}{' (conditional)' if model['conditional'] else ''}, z_dim {model['z_dim']}, "
          f"G {details['parameters']['G']:,} / D {details['parameters']['D']:,} parameters")
    print(f"loss        {details['config']['loss']['name']}")
    print("config (steadygan info --json for all of it):")
    for section, values in details["config"].items():
        print(f"  {section}: " + ", ".join(f"{k}={v}" for k, v in values.items()))
    return 0


def _recipes(args: argparse.Namespace) -> int:
    for name in recipe_names():
        first = recipe_path(name).read_text().splitlines()[0].lstrip("# ")
        print(f"{name:18s} {first}")
    return 0


def _techniques(args: argparse.Namespace) -> int:
    from .catalog import catalog

    print(catalog())
    return 0


def _integer(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer from `low` to `high`."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low:,} to {high:,}, got {text}")
        return value

    return parse


def _truncation(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a number from 0 (e.g. 0.7), got {text}")
    return value


SEED = _integer(0, 2**31 - 2)


def _resolution(text: str) -> int:
    """A training resolution: a power of two from 4 to 1024, as data.resolution takes."""
    value = _integer(4, 1024)(text)
    if value & (value - 1):
        raise argparse.ArgumentTypeError(f"must be a power of two from 4 to 1024 (e.g. 32), got {text}")
    return value


def _add_drawing_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="a checkpoint (.safetensors) or a run folder")
    parser.add_argument("--seed", type=SEED, default=0, help="latent seed (default 0)")
    parser.add_argument("--class", dest="class_label", default=None,
                        help="class to draw (conditional models): its name in the data, or its 0-based index")
    parser.add_argument("--truncation", type=_truncation, default=None,
                        help="truncation trick, smaller is cleaner and less varied: a style-based G pulls its styles "
                             "towards the average w (psi: 0 is the average image, 1 none); others redraw latent "
                             "entries beyond +-T (at least 0.05)")
    parser.add_argument("--raw", action="store_true", help="use the raw G instead of its EMA")


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line naming the problem and where the help is, like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="steadygan", description="Train GANs that do not fall apart.")
    parser.add_argument("--version", action="version", version=f"steadygan {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    data = commands.add_parser(
        "data", help="what the loader will see of a data source, without training",
        description="Lists a folder, zip, MNIST IDX files or a built-in and reads each image's header: the count, "
                    "the sizes and how many each resolution crops or finds too small, the modes, the classes and "
                    "their balance, exact duplicates, every unreadable file, the cache, and a preview grid of what "
                    "training sees after resizing and cropping.")
    data.add_argument("source", help="a folder or .zip of images, MNIST IDX files, digits or stacked:digits")
    data.add_argument("--resolution", type=_resolution, help="report (and preview) this training resolution only")
    data.add_argument("--channels", type=int, choices=(0, 1, 3), default=0,
                      help="channels training uses: 1 grey, 3 RGB, 0 as stored (data.channels)")
    data.add_argument("--labels", default="auto", help="auto, none, folders or csv (data.labels)")
    data.add_argument("--split", default="", help="only this split, e.g. train (data.split)")
    data.add_argument("--preview", help="the preview grid PNG (default NAME-preview.png, NAME the source's)")
    data.add_argument("--no-preview", action="store_true", help="write no preview grid")
    data.add_argument("--verify", action="store_true",
                      help="decode every image in full (finds files damaged after their header; slower)")
    data.add_argument("--near-duplicates", action="store_true",
                      help="also find near-duplicates (decodes every image; difference hashes and thumbnails)")
    data.add_argument("--json", action="store_true", help="everything, as JSON")
    data.add_argument("--no-progress", action="store_true")
    data.set_defaults(run=_data)

    train = commands.add_parser("train", help="train a recipe, or resume a run",
                                description="Train a recipe. Any config field can be set as section.key=value, "
                                            "e.g. optim.d_lr=4e-4 model.spectral_norm=true.")
    train.add_argument("--recipe", default="dcgan", help="a built-in recipe (steadygan recipes) or a .yaml file")
    train.add_argument("--data", help="a folder or .zip of images, MNIST IDX files, or digits / ring8 / grid25")
    train.add_argument("--resolution", help="training resolution: 16, 32, 64 or 128")
    train.add_argument("--steps", help="G updates to train for")
    train.add_argument("--batch-size")
    train.add_argument("--out", help="run folder (default: a new one, runs/NNNNN-<recipe>)")
    train.add_argument("--seed")
    train.add_argument("--device", help="auto, cpu, cuda or cuda:N")
    train.add_argument("--resume", metavar="RUN", help="continue a run folder or checkpoint where it stopped")
    train.add_argument("--overwrite", action="store_true",
                       help="start over in an --out folder that holds a run (deletes that run's outputs)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.add_argument("--no-tensorboard", action="store_true", help="no TensorBoard event files")
    train.add_argument("overrides", nargs="*", metavar="section.key=value")
    train.set_defaults(run=_train)

    runs = commands.add_parser("runs", help="a table of the runs under a folder",
                               description="Every run folder under FOLDER (default runs): recipe, data, step of "
                                           "total, state (finished, stopped, running, diverged), the best FID and "
                                           "KID with their steps, training time and the doctor's findings.")
    runs.add_argument("folder", nargs="?", default="runs", help="a folder of run folders (default runs)")
    runs.add_argument("--json", action="store_true", help="every run, as JSON")
    runs.set_defaults(run=_runs)

    sample = commands.add_parser("sample", help="draw samples from a checkpoint")
    _add_drawing_options(sample)
    sample.add_argument("-n", type=_integer(1, MAX_SAMPLES), default=64, help="number of samples (default 64)")
    sample.add_argument("--out", default="samples.png", help="grid PNG, or a folder with --separate")
    sample.add_argument("--separate", action="store_true", help="one PNG per sample in the folder --out")
    sample.add_argument("--nrow", type=_integer(1, MAX_SAMPLES), help="images per grid row")
    sample.set_defaults(run=_sample)

    interp = commands.add_parser("interpolate", help="latent walks as a grid PNG and an animated GIF")
    _add_drawing_options(interp)
    interp.add_argument("--out", default="interpolation", help="output prefix: writes PREFIX.png and PREFIX.gif")
    interp.add_argument("--rows", type=_integer(1, 256), default=8, help="independent walks (default 8)")
    interp.add_argument("--steps", type=_integer(2, 256), default=10, help="images per walk segment (default 10)")
    interp.add_argument("--keys", type=_integer(2, 256), default=4,
                        help="latents each GIF walk loops through (default 4)")
    interp.add_argument("--mode", choices=["slerp", "linear"], default=None,
                        help="default: linear in w for a style-based G, slerp in z for others")
    interp.add_argument("--frame-ms", type=_integer(1, 60_000), default=80, help="GIF frame duration")
    interp.set_defaults(run=_interpolate)

    mix = commands.add_parser("mix", help="a style-mixing grid of a style-based G (stylegan2, stylegan)",
                              description="The top row and the left column are source images; each cell takes "
                                          "the coarse styles (the layers before --crossover) from its row's latent "
                                          "and the finer ones from its column's.")
    _add_drawing_options(mix)
    mix.add_argument("--out", default="mix.png", help="the grid PNG to write (default mix.png)")
    mix.add_argument("--rows", type=_integer(1, 64), default=4, help="latents giving the coarse styles (default 4)")
    mix.add_argument("--cols", type=_integer(1, 64), default=4, help="latents giving the fine styles (default 4)")
    mix.add_argument("--crossover", type=_integer(1, 64),
                     help="the first style taken from the column's latent (default: after the 4x4 and 8x8 layers)")
    mix.set_defaults(run=_mix)

    animate = commands.add_parser("animate", help="a run's sample grids as a GIF (the growth video for pggan)",
                                  description="Every fixed-latent sample grid of a run, in step order, captioned "
                                              "with its step and growth phase, as one looping GIF.")
    animate.add_argument("run_dir", help="a run folder")
    animate.add_argument("--out", help="the GIF to write (default RUN_DIR/training.gif)")
    animate.add_argument("--frame-ms", type=_integer(1, 60_000), default=250, help="frame duration (default 250)")
    animate.set_defaults(run=_animate)

    doctor = commands.add_parser("doctor", help="diagnose a finished or running run",
                                 description="Replays the stability doctor's rules over a run's logged monitors: "
                                             "D overpowering G, mode collapse, D overfitting, vanishing G gradients, "
                                             "divergence, oscillation; each with its evidence and the override to try.")
    doctor.add_argument("run_dir", help="a run folder")
    doctor.set_defaults(run=_doctor)

    comparison = commands.add_parser(
        "compare", help="train recipes side by side on one data set and write an HTML report",
        description="Trains each variant on the same data, seeds and image budget, scores each with the same "
                    "protocol at the same image counts, and writes OUT/report.html (self-contained: metrics, "
                    "curves, sample grids, the doctor's findings) and OUT/report.md. Run it again to resume: "
                    "finished variants are not trained again.")
    comparison.add_argument("--data", required=True, help="a folder or .zip of images (or digits, MNIST IDX files)")
    comparison.add_argument("--recipes", required=True,
                            help="comma-separated recipes; RECIPE+section.key=value makes a variant, "
                                 "e.g. sngan,wgan-gp,lsgan,dcgan+model.spectral_norm=true")
    comparison.add_argument("--budget", required=True,
                            help="real images shown to D per variant (n_dis batches per G step), e.g. 200k")
    comparison.add_argument("--set", action="append", default=[], metavar="section.key=value",
                            help="an override for every variant (repeatable), e.g. --set model.g_width=32")
    comparison.add_argument("--resolution", type=_integer(4, 1024),
                            help="training resolution of every variant (default: the recipes' own, when they agree)")
    comparison.add_argument("--out", default="runs/compare", help="comparison folder (default runs/compare)")
    comparison.add_argument("--metrics", default="fid,kid", help="scores of the final weights (default fid,kid)")
    comparison.add_argument("--eval-n", type=_integer(2, MAX_EVAL_IMAGES), default=2000,
                            help="generated images per evaluation (default 2000)")
    comparison.add_argument("--extractor", default="auto",
                            help="auto, inception, or classifier:NAME_OR_FILE (see train-classifier)")
    comparison.add_argument("--points", type=_integer(1, 100), default=4,
                            help="matched image counts with a grid and an evaluation (default 4)")
    comparison.add_argument("--seed", type=SEED, default=0)
    comparison.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    comparison.add_argument("--no-progress", action="store_true")
    comparison.set_defaults(run=_compare)

    evaluate = commands.add_parser(
        "evaluate", help="FID, KID, IS, precision/recall, density/coverage, stacked-digit modes",
        description="Score a checkpoint's samples against its training data (or --real), or compare two image "
                    "folders or zips with --real A --fake B. Metrics: fid, kid, is, pr, dc, modes.")
    evaluate.add_argument("checkpoint", nargs="?", help="a checkpoint (.safetensors) or a run folder")
    evaluate.add_argument("--metrics", default="fid", help="comma-separated (default fid), e.g. fid,kid,pr")
    evaluate.add_argument("-n", "--n", type=_integer(2, MAX_EVAL_IMAGES),
                          help="generated images (default 10000; all of --fake)")
    evaluate.add_argument("--n-real", type=_integer(2, MAX_EVAL_IMAGES), help="real images (default all, up to 50000)")
    evaluate.add_argument("--real", help="reference images: a folder, zip or data source (default: the training data)")
    evaluate.add_argument("--real-split", default="", help="only this split of --real, e.g. test")
    evaluate.add_argument("--fake", help="generated images: a folder or zip (with --real)")
    evaluate.add_argument("--fake-split", default="")
    evaluate.add_argument("--resolution", type=_integer(4, 1024),
                          help="--real/--fake compared at this size (default: the real images')")
    evaluate.add_argument("--extractor", default="auto",
                          help="auto (digit classifier for digit data, else inception), inception, or "
                               "classifier:NAME_OR_FILE (see train-classifier)")
    evaluate.add_argument("--inception-weights", help="pt_inception-2015-12-05-6726825d.pth, if not in the cache")
    evaluate.add_argument("--seed", type=SEED, default=0, help="latent seed (default 0)")
    evaluate.add_argument("--truncation", type=_truncation, default=None)
    evaluate.add_argument("--raw", action="store_true", help="use the raw G instead of its EMA")
    evaluate.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    evaluate.add_argument("--json", action="store_true", help="scores and protocol as JSON")
    evaluate.add_argument("--no-progress", action="store_true")
    evaluate.set_defaults(run=_evaluate)

    classifier = commands.add_parser("train-classifier", help="train a feature extractor on a data set's labels",
                                     description="Train a small CNN on a labelled data source; its features "
                                                 "serve FID/KID/PR offline (evaluate --extractor classifier:FILE).")
    classifier.add_argument("--data", required=True, help="a labelled folder/zip (sub-folders or labels.csv), "
                                                          "MNIST IDX files, or digits")
    classifier.add_argument("--out", required=True, help="the classifier file to write (.safetensors)")
    classifier.add_argument("--resolution", type=_integer(8, 256), default=32,
                            help="input size, a multiple of 8 (default 32)")
    classifier.add_argument("--labels", default="auto", help="auto, folders or csv")
    classifier.add_argument("--split", default="", help="train on this split only, e.g. train")
    classifier.add_argument("--epochs", type=_integer(1, 10_000), default=10)
    classifier.add_argument("--batch-size", type=_integer(1, 65536), default=128)
    classifier.add_argument("--seed", type=SEED, default=0)
    classifier.add_argument("--no-progress", action="store_true")
    classifier.set_defaults(run=_train_classifier)

    export = commands.add_parser(
        "export", help="the generator as a TorchScript or ONNX file that loads without steadygan",
        description="Writes the EMA generator (latents, and class labels for a conditional model, to images) as "
                    "one file, checks the written file against steadygan's generator on the same latents, and "
                    "writes a usage example beside it. Progressive models export at their final resolution; "
                    "style-based ones carry the mapping and synthesis networks with the truncation in w.")
    export.add_argument("checkpoint", help="a checkpoint (.safetensors) or a run folder")
    export.add_argument("--format", default="torchscript",
                        help="torchscript (plain PyTorch, torch.jit.load; the default) or onnx (onnxruntime; "
                             "pip install 'steadygan[onnx]')")
    export.add_argument("--out", help="the file to write (default RUN/export/generator.pt or .onnx)")
    export.add_argument("--truncation", type=_truncation, default=None,
                        help="a style-based G's psi, baked in; for others the usage example draws z within +-T")
    export.add_argument("--class", dest="class_label", default=None,
                        help="a conditional model's class, baked in (its name or index); without it the file "
                             "takes class labels")
    export.add_argument("--uint8", action="store_true",
                        help="return (N, H, W, C) uint8 images instead of (N, C, H, W) floats in [-1, 1]")
    export.add_argument("--raw", action="store_true", help="export the raw G instead of its EMA")
    export.add_argument("--seed", type=SEED, default=0, help="latent seed of the check (default 0)")
    export.set_defaults(run=_export)

    info = commands.add_parser("info", help="describe a checkpoint")
    info.add_argument("checkpoint", help="a checkpoint (.safetensors) or a run folder")
    info.add_argument("--json", action="store_true", help="everything, as JSON")
    info.set_defaults(run=_info)

    recipes = commands.add_parser("recipes", help="list the built-in recipes")
    recipes.set_defaults(run=_recipes)

    techniques = commands.add_parser("techniques", help="list every technique: its phases, state and config keys")
    techniques.set_defaults(run=_techniques)
    return parser


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, with `section.key=value` overrides allowed anywhere among the options."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if hasattr(args, "overrides"):
        args.overrides += [word for word in unknown if is_override(word)]
        unknown = [word for word in unknown if not is_override(word)]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    if issubclass(category, SteadyganWarning):
        print(f"steadygan: warning: {message}", file=sys.stderr)
    else:
        _show_other_warning(message, category, filename, lineno, file, line)


_show_other_warning = warnings.showwarning


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_arguments(argv)
    except SystemExit as done:  # --help, or a usage error already printed as one line
        return done.code if isinstance(done.code, int) else 2
    warnings.showwarning = _one_line_warning
    try:
        return args.run(args)
    except SteadyganError as exc:
        print(f"steadygan: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        warnings.showwarning = _show_other_warning


if __name__ == "__main__":
    sys.exit(main())
