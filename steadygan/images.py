"""Image grids, PNG and GIF writing with Pillow and NumPy (torchvision is not required)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from .atomic import atomic_path


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) floats in [-1, 1] -> (N, H, W, C) uint8."""
    array = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return array.permute(0, 2, 3, 1).numpy()


def make_grid(images: torch.Tensor, nrow: int | None = None, padding: int = 2) -> np.ndarray:
    """Tile (N, C, H, W) images in [-1, 1] into one (H', W', C) uint8 array, `nrow` images a row."""
    tiles = to_uint8(images)
    n, h, w, c = tiles.shape
    ncol = nrow or max(1, int(math.ceil(math.sqrt(n))))
    nrows = int(math.ceil(n / ncol))
    grid = np.zeros((padding + nrows * (h + padding), padding + ncol * (w + padding), c), np.uint8)
    for i, tile in enumerate(tiles):
        r, q = divmod(i, ncol)
        y, x = padding + r * (h + padding), padding + q * (w + padding)
        grid[y:y + h, x:x + w] = tile
    return grid


def to_pil(array: np.ndarray) -> Image.Image:
    return Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)


def _atomic_save(image: Image.Image, path: str | os.PathLike, **kwargs) -> Path:
    with atomic_path(path) as tmp:
        image.save(tmp, format=Path(path).suffix.lstrip(".").upper().replace("JPG", "JPEG"), **kwargs)
    return Path(path)


def save_image(array: np.ndarray, path: str | os.PathLike) -> Path:
    return _atomic_save(to_pil(array), path)


def captioned(array: np.ndarray, text: str, height: int = 14) -> np.ndarray:
    """An (H, W, 3) image with a black strip of white text above it."""
    from PIL import ImageDraw

    image = to_pil(array).convert("RGB")
    canvas = Image.new("RGB", (image.width, image.height + height))
    canvas.paste(image, (0, height))
    ImageDraw.Draw(canvas).text((2, 1), text, fill=(255, 255, 255))
    return np.asarray(canvas)


def save_gif(frames: Sequence[np.ndarray], path: str | os.PathLike, frame_ms: int = 80) -> Path:
    """An animated GIF that loops forever; frames are (H, W, C) uint8 arrays."""
    images = [to_pil(f).convert("RGB") for f in frames]
    return _atomic_save(images[0], path, save_all=True, append_images=images[1:],
                        duration=frame_ms, loop=0)
