"""Data sets as the trainer sees them: uint8 images (or 2-D points), labels, and a way to draw them."""

from __future__ import annotations

import io
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from ..config import DataConfig
from ..errors import DataError
from ..images import make_grid
from ..kinds import DataKind
from .cache import box_downsampled, cached_images
from .sources import list_source
from .toy import MIXTURES, sample_mixture, toy_centres

POINTS_IN_MIXTURE = 100_000  # the fixed training set of the PacGAN protocol
MIXTURE_SEED = 2017  # the data are the same in every run; the run's seed shuffles them


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 pixels as float32 in [-1, 1] (on whichever device they are); float input is returned as is."""
    return images.float().div_(127.5).sub_(1.0) if images.dtype == torch.uint8 else images


class ImageDataset:
    kind: ClassVar[DataKind] = "image"

    def __init__(self, images: np.ndarray, labels: np.ndarray | None, class_names: list[str], name: str,
                 identity: str = ""):
        self.images = images  # (N, C, H, W) uint8, usually memory-mapped
        self.labels = labels  # (N,) int64 class indices, or None
        self.class_names = class_names if labels is not None else []
        self.num_classes = len(self.class_names)
        self.name = name
        self.identity = identity or name  # changes with the content, resolution and channels: a cache key
        self._downsampled: dict[int, ImageDataset] = {}

    def __len__(self) -> int:
        return len(self.images)

    def shape(self) -> tuple[int, ...]:
        return tuple(self.images.shape[1:])

    def downsampled(self, resolution: int) -> ImageDataset:
        """The same images box-filtered to a lower resolution (computed once, then reused)."""
        if resolution == self.shape()[-1]:
            return self
        if resolution not in self._downsampled:
            self._downsampled[resolution] = ImageDataset(
                box_downsampled(self.images, resolution), self.labels, self.class_names, self.name,
                f"{self.identity}-box{resolution}")
        return self._downsampled[resolution]

    def batch(self, indices: np.ndarray, flip: np.ndarray | None = None,
              raw: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (N, C, H, W), flipped left-right where `flip` is true, and labels. The images are float32
        in [-1, 1], or with `raw` the stored uint8 (a quarter of the bytes to move; see `to_unit_range`)."""
        array = self.images[np.asarray(indices)]  # one gather from the memory-mapped cache
        if flip is not None and flip.any():
            array[flip] = array[flip][..., ::-1]
        images = torch.from_numpy(array)
        images = images if raw else to_unit_range(images)
        labels = torch.from_numpy(self.labels[indices]) if self.labels is not None else torch.zeros(
            len(indices), dtype=torch.long)
        return images, labels

    def render(self, samples: torch.Tensor, nrow: int | None = None) -> np.ndarray:
        return make_grid(samples, nrow)


class PointDataset:
    """A 2-D Gaussian mixture: a fixed set of points, its mode centres and its standard deviation."""

    kind: ClassVar[DataKind] = "points"

    def __init__(self, name: str):
        self.name = name
        self.points, self.modes = sample_mixture(name, POINTS_IN_MIXTURE, MIXTURE_SEED)
        self.centres = toy_centres(name)
        self.std = MIXTURES[name]
        self.num_classes = 0
        self.class_names: list[str] = []

    def __len__(self) -> int:
        return len(self.points)

    def shape(self) -> tuple[int, ...]:
        return (2,)

    def batch(self, indices: np.ndarray, flip: np.ndarray | None = None,
              raw: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(self.points[np.asarray(indices)]), torch.zeros(len(indices), dtype=torch.long)

    def render(self, samples: torch.Tensor, nrow: int | None = None) -> np.ndarray:
        """A scatter plot of samples over the mode centres, as an (H, W, 3) uint8 image."""
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure

        figure = Figure(figsize=(4, 4), dpi=100)
        axes = figure.add_subplot()
        points = samples.detach().float().cpu().numpy()
        axes.scatter(points[:, 0], points[:, 1], s=2, alpha=0.4, color="tab:blue", label="samples")
        axes.scatter(self.centres[:, 0], self.centres[:, 1], s=25, marker="x", color="tab:red", label="modes")
        reach = np.abs(self.centres).max() * 1.5
        axes.set(xlim=(-reach, reach), ylim=(-reach, reach), aspect="equal", title=self.name)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        from PIL import Image

        return np.asarray(Image.open(buffer).convert("RGB"))


def build_dataset(cfg: DataConfig, progress: bool = True) -> ImageDataset | PointDataset:
    """The data set a DataConfig names, decoded through the uint8 cache."""
    if cfg.source in MIXTURES:
        if cfg.hflip or cfg.split:
            key = "data.hflip=true" if cfg.hflip else f"data.split={cfg.split}"
            raise DataError(f"{key} does not apply to 2-D point data; remove it")
        return PointDataset(cfg.source)
    if cfg.channels not in (0, 1, 3):
        raise DataError(f"data.channels={cfg.channels} is not supported; use 1 (grey), 3 (RGB) or 0 (as stored)")
    if cfg.resolution < 4:
        raise DataError(f"data.resolution={cfg.resolution} is too small; use 16, 32, 64 or 128")
    listing = list_source(cfg.source, cfg.labels, cfg.split)
    channels = cfg.channels or listing.native_channels
    # Built-in digits (8x8) and MNIST (28x28) are low-resolution by nature and conventionally upsampled;
    # a user's photos are never silently blown up.
    allow_upscale = listing.decoded is not None
    images = cached_images(listing, cfg.resolution, channels, cache_dir=cfg.cache_dir,
                           allow_upscale=allow_upscale, progress=progress)
    labels = None
    if listing.labels is not None:
        index = {name: i for i, name in enumerate(listing.class_names)}
        labels = np.array([index[label] for label in listing.labels], dtype=np.int64)
    identity = Path(images.filename).stem if isinstance(images, np.memmap) and images.filename else ""
    return ImageDataset(images, labels, listing.class_names, listing.name, identity)
