"""Using a trained generator: load it from a checkpoint, sample, interpolate, mix styles, describe."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from .config import Config, load_config
from .devices import resolve_device
from .errors import CheckpointError, OutputError, warn
from .growth import describe_step, set_phase_for_step
from .images import (
    SOFTWARE,
    captioned,
    check_output_file,
    make_grid,
    save_gif,
    save_image,
)
from .models import Discriminator, Generator, StyleGenerator, build_models, check_model_size
from .sampling import generate, latents_for, styles_of, synthesize, walk
from .storage.atomic import writable_folder
from .storage.checkpoint import load_checkpoint, stored_config, unflatten
from .validation import validate


@dataclass
class LoadedGenerator:
    """A generator restored from a checkpoint, with what is needed to draw from it."""

    generator: Generator
    config: Config
    step: int
    data: dict[str, Any]  # kind, shape, num_classes, class_names, name
    path: Path

    @property
    def num_classes(self) -> int:
        return self.data["num_classes"] if self.config.model.conditional else 0

    def class_index(self, label: str | int | None) -> int | None:
        """A class by its name in the data (`cat`, or `77` in a labels.csv) or by its 0-based index."""
        if label is None:
            return None
        if not self.num_classes:
            raise CheckpointError(
                f"'{self.path}' holds an unconditional model; a class needs one trained with model.conditional=true"
            )
        names = [str(n) for n in self.data["class_names"]]
        if str(label) in names:
            return names.index(str(label))
        if str(label).isdigit() and int(label) < self.num_classes:
            return int(label)
        shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
        raise CheckpointError(f"unknown class {label!r}; this model's classes are: {shown}")

    def labels(self, n: int, class_index: int | None, rng: torch.Generator) -> torch.Tensor | None:
        if not self.num_classes:
            return None
        if class_index is not None:
            return torch.full((n,), class_index, dtype=torch.long)
        return torch.randint(self.num_classes, (n,), generator=rng)

    def latents(self, n: int, *, seed: int = 0, class_label: str | int | None = None,
                truncation: float | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The latents (and class labels) of `sample`'s `n` outputs."""
        rng = torch.Generator().manual_seed(seed)
        z = latents_for(self.generator, n, rng, truncation)
        return z, self.labels(n, self.class_index(class_label), rng)

    def sample(self, n: int, *, seed: int = 0, class_label: str | int | None = None,
               truncation: float | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`n` outputs (in [-1, 1] for images) and the class labels they were drawn for."""
        z, labels = self.latents(n, seed=seed, class_label=class_label, truncation=truncation)
        return generate(self.generator, z, labels, truncation=truncation), labels

    def style_generator(self, command: str) -> StyleGenerator:
        if not isinstance(self.generator, StyleGenerator):
            raise CheckpointError(f"{command} mixes the styles of a style-based G (model.arch=stylegan2 or "
                                  f"stylegan); '{self.path}' holds a {self.config.model.arch} model")
        return self.generator

    def render(self, samples: torch.Tensor, nrow: int | None = None) -> np.ndarray:
        """A picture of samples: an image grid, or a scatter plot over the real centres for 2-D data."""
        if self.data["kind"] == "points":
            from .data import build_dataset

            return build_dataset(self.config.data, progress=False).render(samples, nrow)
        return make_grid(samples, nrow)


def models_from_meta(meta: dict[str, Any], path: Path) -> tuple[Config, Generator, Discriminator]:
    """The config a checkpoint records (checked as a recipe is) and freshly built (untrained) G and D for it,
    once their size is known to fit this machine."""
    config = stored_config(meta, path, validate)
    data = meta["data"]
    shape = {"resolution": config.data.resolution, "channels": data["shape"][0], "num_classes": data["num_classes"],
             "data_kind": data["kind"]}
    check_model_size(config.model, **shape)
    G, D = build_models(config.model, **shape)
    return config, G, D


def load_generator(checkpoint: str | Path, *, ema: bool = True, device: str = "cpu") -> LoadedGenerator:
    """G (by default the EMA copy) from a checkpoint file or run folder, in eval mode."""
    tensors, meta, path = load_checkpoint(checkpoint)
    config, generator, _ = models_from_meta(meta, path)
    try:
        generator.load_state_dict(unflatten("G_ema" if ema else "G", tensors))
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint '{path}' does not fit its own config ({str(exc).splitlines()[0]})") from None
    if not all(bool(torch.isfinite(p).all()) for p in generator.parameters()):
        raise CheckpointError(f"checkpoint '{path}' holds NaN/inf weights; draw from an earlier checkpoint")
    set_phase_for_step(config, int(meta["step"]), generator)  # a growing G renders at its last phase
    generator.to(resolve_device(device, key="--device")).eval()
    return LoadedGenerator(generator, config, int(meta["step"]), meta["data"], path)


MAX_GRID = 4096  # images in one grid PNG (64 x 64)
SEPARATE_BATCH = 256  # images generated and written at a time with --separate


def sample(checkpoint: str | Path, n: int = 64, *, out: str | Path = "samples.png", separate: bool = False,
           seed: int = 0, class_label: str | int | None = None, truncation: float | None = None,
           nrow: int | None = None, ema: bool = True) -> list[Path]:
    """A grid PNG at `out`, or with `separate` one PNG per sample in the folder `out`. Existing files are
    replaced only when steadygan wrote them."""
    out, writer = Path(out), f"{SOFTWARE} sample"
    if not separate and n > MAX_GRID:
        raise OutputError(f"a grid holds at most {MAX_GRID:,} images, not {n:,}; use --separate for one PNG each")
    if separate:
        folder = writable_folder(out)
        paths = [check_output_file(folder / f"{seed:04d}-{i:05d}.png", ".png", writer) for i in range(n)]
    else:
        check_output_file(out, ".png", writer)
    loaded = load_generator(checkpoint, ema=ema)
    if not separate:
        images, _ = loaded.sample(n, seed=seed, class_label=class_label, truncation=truncation)
        return [save_image(loaded.render(images, nrow), out, writer)]
    if loaded.data["kind"] == "points":
        raise CheckpointError("separate images need an image model; this checkpoint generates 2-D points")
    z, labels = loaded.latents(n, seed=seed, class_label=class_label, truncation=truncation)
    for start in range(0, n, SEPARATE_BATCH):  # a batch at a time: memory does not grow with n
        chunk = slice(start, start + SEPARATE_BATCH)
        images = generate(loaded.generator, z[chunk], None if labels is None else labels[chunk],
                          truncation=truncation)
        for image, path in zip(images, paths[chunk], strict=True):
            save_image(make_grid(image[None], padding=0), path, writer)
    return paths


def interpolate(checkpoint: str | Path, *, out: str | Path = "interpolation", rows: int = 8, steps: int = 10,
                keys: int = 4, mode: str | None = None, seed: int = 0, class_label: str | int | None = None,
                truncation: float | None = None, frame_ms: int = 80, ema: bool = True) -> tuple[Path, Path]:
    """Latent walks: `out`.png has one row per walk between two latents (`steps` columns);
    `out`.gif loops through `keys` latents per walk, every frame a grid of the `rows` walks. A style-based
    G walks in w space (`mode` linear by default, as StyleGAN's path lengths are measured), others in z
    (`mode` slerp by default)."""
    needed = rows * max(steps, keys * (steps - 1))  # the grid's images, or the GIF's
    if needed > MAX_GRID:
        raise OutputError(f"{rows} walks of {keys} latents and {steps} steps make {needed:,} images, more than "
                          f"{MAX_GRID:,}; give fewer --rows, --keys or --steps")
    prefix = str(out)[:-4] if str(out).lower().endswith((".png", ".gif")) else str(out)
    writer = f"{SOFTWARE} interpolate"
    grid_out, gif_out = (check_output_file(f"{prefix}{suffix}", suffix, writer) for suffix in (".png", ".gif"))
    loaded = load_generator(checkpoint, ema=ema)
    if loaded.data["kind"] == "points":
        raise CheckpointError("interpolation needs an image model; this checkpoint generates 2-D points")
    rng = torch.Generator().manual_seed(seed)
    G = loaded.generator
    labels = loaded.labels(rows, loaded.class_index(class_label), rng)
    mode = mode or ("linear" if isinstance(G, StyleGenerator) else "slerp")

    def key_points(count: int, row: int) -> torch.Tensor:  # (count, z_dim), or (count, w_dim) in w space
        z = latents_for(G, count, rng, truncation)
        if not isinstance(G, StyleGenerator):
            return z
        return styles_of(G, z, None if labels is None else labels[row:row + 1].expand(count), truncation)[:, 0]

    def run(paths: torch.Tensor) -> torch.Tensor:  # (rows, frames, z or w) -> (rows, frames, C, H, W)
        frames = paths.shape[1]
        if isinstance(G, StyleGenerator):
            images = synthesize(G, paths.flatten(0, 1)[:, None].expand(-1, G.num_ws, -1))
        else:
            images = generate(G, paths.flatten(0, 1), None if labels is None else labels.repeat_interleave(frames))
        return images.unflatten(0, (rows, frames))

    pairs = run(torch.stack([walk(key_points(2, r), steps, mode) for r in range(rows)]))
    grid_path = save_image(make_grid(pairs.flatten(0, 1), nrow=steps), grid_out, writer)
    loops = run(torch.stack([walk(key_points(keys, r), steps, mode, closed=True) for r in range(rows)]))
    frames = [make_grid(loops[:, f]) for f in range(loops.shape[1])]
    gif_path = save_gif(frames, gif_out, frame_ms, writer)
    return grid_path, gif_path


COARSE_STYLES = 4  # the styles of the 4x4 and 8x8 layers, StyleGAN's 'coarse' styles (pose, face shape)


def style_mix(checkpoint: str | Path, *, out: str | Path = "mix.png", rows: int = 4, cols: int = 4,
              crossover: int | None = None, seed: int = 0, class_label: str | int | None = None,
              truncation: float | None = None, ema: bool = True) -> Path:
    """A style-mixing grid (Karras et al. 2019, Figure 3): the top row shows `cols` source images, the left
    column `rows` others; the image at (row, column) takes the styles of the layers before `crossover`
    (default: the coarse 4x4 and 8x8 layers) from its row's latent and the rest (finer) from its column's."""
    writer = f"{SOFTWARE} mix"
    target = check_output_file(out, ".png", writer)
    loaded = load_generator(checkpoint, ema=ema)
    G = loaded.style_generator("steadygan mix")
    crossover = min(COARSE_STYLES, G.num_ws - 1) if crossover is None else crossover
    if not 1 <= crossover < G.num_ws:
        raise OutputError(f"--crossover must be from 1 to {G.num_ws - 1} (this G has {G.num_ws} styles), "
                          f"got {crossover}")
    z, labels = loaded.latents(rows + cols, seed=seed, class_label=class_label)
    ws = styles_of(G, z, labels, truncation)
    row_ws, col_ws = ws[:rows], ws[rows:]
    mixed = torch.cat([row_ws[:, None, :crossover].expand(-1, cols, -1, -1),
                       col_ws[None, :, crossover:].expand(rows, -1, -1, -1)], dim=2)
    sources, cells = synthesize(G, ws), synthesize(G, mixed.flatten(0, 1))
    blank = torch.ones_like(sources[:1])  # white: the corner has no image
    grid = [blank, sources[rows:]]
    for r in range(rows):
        grid += [sources[r:r + 1], cells[r * cols:(r + 1) * cols]]
    return save_image(make_grid(torch.cat(grid), nrow=cols + 1), target, writer)


def info(checkpoint: str | Path) -> dict[str, Any]:
    """What a checkpoint holds: step, data, model size and the full config."""
    _, meta, path = load_checkpoint(checkpoint)
    _, *models = models_from_meta(meta, path)
    return {
        "path": str(path),
        "step": meta["step"],
        "data": meta["data"],
        "parameters": {name: sum(p.numel() for p in network.parameters())
                       for name, network in zip("GD", models, strict=True)},
        "size_mb": round(path.stat().st_size / 2**20, 2),
        "config": meta["config"],
    }


def training_animation(run: str | Path, out: str | Path | None = None, frame_ms: int = 250) -> Path:
    """The run's fixed-latent sample grids in step order as one looping GIF (default RUN/training.gif),
    each captioned with its step and, for a growing model, its resolution and fade-in: the growth video
    of the PGGAN paper. Grids of lower phases are already rendered at the data's resolution."""
    run = Path(run)
    grids = sorted(path for path in (run / "samples").glob("step-*.png") if path.stem[5:].isdigit())
    if not (run / "config.yaml").is_file() or not grids:
        raise CheckpointError(f"'{run}' is not a run folder with sample grids (config.yaml and samples/step-*.png); "
                              "give the folder a training run wrote")
    writer = f"{SOFTWARE} animate"
    target = check_output_file(out or run / "training.gif", ".gif", writer)
    config = load_config(str(run / "config.yaml"))
    frames = []
    for path in grids:
        step = int(path.stem.split("-")[1])
        try:
            with Image.open(path) as image:
                frames.append(captioned(np.asarray(image.convert("RGB")), describe_step(config, step)))
        except (OSError, ValueError, Image.DecompressionBombError):
            warn(f"skipped sample grid {path}: it is not a readable PNG")
    if not frames:
        raise CheckpointError(f"none of the sample grids in '{run / 'samples'}' is readable")
    size = frames[-1].shape
    frames = [f if f.shape == size else np.asarray(Image.fromarray(f).resize(size[1::-1], Image.Resampling.NEAREST))
              for f in frames]
    return save_gif(frames, target, frame_ms, writer)
