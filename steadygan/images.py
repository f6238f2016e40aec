"""Image grids, PNG and GIF writing with Pillow and NumPy (torchvision is not required)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from .errors import OutputError
from .storage.atomic import atomic_path, writable_folder


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) floats in [-1, 1] -> (N, H, W, C) uint8."""
    array = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return array.permute(0, 2, 3, 1).numpy()


def make_grid(images: torch.Tensor, nrow: int | None = None, padding: int = 2) -> np.ndarray:
    """Tile (N, C, H, W) images in [-1, 1] into one (H', W', C) uint8 array, `nrow` images a row."""
    tiles = to_uint8(images)
    n, h, w, c = tiles.shape
    ncol = nrow or max(1, math.ceil(math.sqrt(n)))
    nrows = math.ceil(n / ncol)
    grid = np.zeros((padding + nrows * (h + padding), padding + ncol * (w + padding), c), np.uint8)
    for i, tile in enumerate(tiles):
        r, q = divmod(i, ncol)
        y, x = padding + r * (h + padding), padding + q * (w + padding)
        grid[y:y + h, x:x + w] = tile
    return grid


def to_pil(array: np.ndarray) -> Image.Image:
    return Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)


SOFTWARE = "steadygan"  # the mark in every PNG and GIF steadygan writes, with the command that wrote it


def _atomic_save(image: Image.Image, path: str | os.PathLike, **kwargs) -> Path:
    with atomic_path(path) as tmp:
        image.save(tmp, format=Path(path).suffix.lstrip(".").upper().replace("JPG", "JPEG"), **kwargs)
    return Path(path)


def written_by(path: Path) -> str | None:
    """The writer an existing PNG or GIF names (`steadygan sample`, say), or None."""
    try:
        with Image.open(path) as image:
            mark = image.info.get("Software") or image.info.get("comment")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    return mark.decode(errors="replace") if isinstance(mark, bytes) else mark


def check_output_file(path: str | os.PathLike, suffix: str, writer: str, option: str = "--out",
                      replaceable: Callable[[Path], bool] | None = None) -> Path:
    """`path` as a file the command `writer` may write: of the given suffix, not a folder, and either new or
    an earlier output of the same command (`replaceable` decides for files that are not images); never a
    file of the user's or of another command. Checked before any work starts."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{option} {path} is a folder; give a file name such as {path / ('samples' + suffix)}")
    if path.suffix.lower() != suffix:
        raise OutputError(f"{option} {path} must name a {suffix} file, e.g. {path.with_suffix(suffix).name}")
    if path.exists() and not (replaceable(path) if replaceable else written_by(path) == writer):
        raise OutputError(f"{option} {path} exists and was not written by `{writer}`; give another {option} or "
                          "move that file away")
    writable_folder(path.parent, option)
    return path


def save_image(array: np.ndarray, path: str | os.PathLike, writer: str = SOFTWARE) -> Path:
    """A PNG marked with the command that wrote it (atomically written)."""
    info = PngInfo()
    info.add_text("Software", writer)
    return _atomic_save(to_pil(array), path, pnginfo=info)


def captioned(array: np.ndarray, text: str, height: int = 14) -> np.ndarray:
    """An (H, W, 3) image with a black strip of white text above it."""
    from PIL import ImageDraw

    image = to_pil(array).convert("RGB")
    canvas = Image.new("RGB", (image.width, image.height + height))
    canvas.paste(image, (0, height))
    ImageDraw.Draw(canvas).text((2, 1), text, fill=(255, 255, 255))
    return np.asarray(canvas)


def save_gif(frames: Sequence[np.ndarray], path: str | os.PathLike, frame_ms: int = 80,
             writer: str = SOFTWARE) -> Path:
    """An animated GIF that loops forever; frames are (H, W, C) uint8 arrays."""
    images = [to_pil(f).convert("RGB") for f in frames]
    return _atomic_save(images[0], path, save_all=True, append_images=images[1:],
                        duration=frame_ms, loop=0, comment=writer.encode())
