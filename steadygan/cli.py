"""The `steadygan` command: train, sample, interpolate, info, recipes."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .config import recipe_names, recipe_path
from .errors import SteadyganError

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


def _train(args: argparse.Namespace) -> int:
    from .train import train

    overrides = [f"{key}={getattr(args, flag)}" for flag, key in SHORTCUTS.items()
                 if getattr(args, flag) is not None] + list(args.overrides)
    if args.resume is None and args.out is None:
        overrides.insert(0, f"train.out_dir=runs/{Path(args.recipe).stem}")
    result = train(args.recipe, overrides, resume=args.resume, progress=not args.no_progress,
                   tensorboard=not args.no_tensorboard)
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


def _add_drawing_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="a checkpoint (.safetensors) or a run folder")
    parser.add_argument("--seed", type=int, default=0, help="latent seed (default 0)")
    parser.add_argument("--class", dest="class_label", default=None,
                        help="class to draw (conditional models): its name in the data, or its 0-based index")
    parser.add_argument("--truncation", type=float, default=None,
                        help="redraw latent entries beyond +-T (truncation trick; smaller is cleaner, less varied)")
    parser.add_argument("--raw", action="store_true", help="use the raw G instead of its EMA")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="steadygan", description="Train GANs that do not fall apart.")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a recipe, or resume a run",
                                description="Train a recipe. Any config field can be set as section.key=value, "
                                            "e.g. optim.d_lr=4e-4 model.spectral_norm=true.")
    train.add_argument("--recipe", default="dcgan", help="a built-in recipe (steadygan recipes) or a .yaml file")
    train.add_argument("--data", help="a folder or .zip of images, MNIST IDX files, or digits / ring8 / grid25")
    train.add_argument("--resolution", type=int, help="training resolution: 16, 32, 64 or 128")
    train.add_argument("--steps", type=int, help="G updates to train for")
    train.add_argument("--batch-size", type=int)
    train.add_argument("--out", help="run folder (default runs/<recipe>)")
    train.add_argument("--seed", type=int)
    train.add_argument("--device", help="auto, cpu, cuda or cuda:N")
    train.add_argument("--resume", metavar="RUN", help="continue a run folder or checkpoint where it stopped")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.add_argument("--no-tensorboard", action="store_true", help="no TensorBoard event files")
    train.add_argument("overrides", nargs="*", metavar="section.key=value")
    train.set_defaults(run=_train)

    sample = commands.add_parser("sample", help="draw samples from a checkpoint")
    _add_drawing_options(sample)
    sample.add_argument("-n", type=int, default=64, help="number of samples (default 64)")
    sample.add_argument("--out", default="samples.png", help="grid PNG, or a folder with --separate")
    sample.add_argument("--separate", action="store_true", help="one PNG per sample in the folder --out")
    sample.add_argument("--nrow", type=int, help="images per grid row")
    sample.set_defaults(run=_sample)

    interp = commands.add_parser("interpolate", help="latent walks as a grid PNG and an animated GIF")
    _add_drawing_options(interp)
    interp.add_argument("--out", default="interpolation", help="output prefix: writes PREFIX.png and PREFIX.gif")
    interp.add_argument("--rows", type=int, default=8, help="independent walks (default 8)")
    interp.add_argument("--steps", type=int, default=10, help="images per walk segment (default 10)")
    interp.add_argument("--keys", type=int, default=4, help="latents each GIF walk loops through (default 4)")
    interp.add_argument("--mode", choices=["slerp", "linear"], default="slerp")
    interp.add_argument("--frame-ms", type=int, default=80, help="GIF frame duration")
    interp.set_defaults(run=_interpolate)

    info = commands.add_parser("info", help="describe a checkpoint")
    info.add_argument("checkpoint", help="a checkpoint (.safetensors) or a run folder")
    info.add_argument("--json", action="store_true", help="everything, as JSON")
    info.set_defaults(run=_info)

    recipes = commands.add_parser("recipes", help="list the built-in recipes")
    recipes.set_defaults(run=_recipes)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except SteadyganError as exc:
        print(f"steadygan: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
