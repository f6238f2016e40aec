"""The decoded-image cache: one uint8 .npy file per (source, resolution, channels, labels, split).

Images are decoded once, in parallel threads, into a memory-mapped array, so later epochs and later
runs read raw bytes instead of decoding JPEGs again. The key includes a fingerprint of the source
(sizes and modification times), so an edited folder or zip is decoded afresh.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..errors import DataError
from ..storage.atomic import atomic_path
from .sources import Listing, decode_entry

CACHE_VERSION = 1


def cache_root(configured: str = "") -> Path:
    folder = configured or os.environ.get("STEADYGAN_CACHE") or str(Path.home() / ".cache" / "steadygan")
    try:
        return Path(folder).expanduser()
    except RuntimeError:  # ~user of no such user
        raise DataError(f"cannot find the home folder in data.cache_dir={folder}; give a full path") from None


def cache_key(listing: Listing, resolution: int, channels: int) -> str:
    identity = {"version": CACHE_VERSION, "source": listing.fingerprint, "resolution": resolution,
                "channels": channels, "entries": len(listing.entries),
                "entries_hash": hashlib.sha1("\n".join(listing.entries).encode()).hexdigest()}
    return hashlib.sha1(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


DECODE_CHUNK = 4096


def _decode_all(listing: Listing, target: np.ndarray, resolution: int, channels: int, allow_upscale: bool,
                progress: bool) -> None:
    def decode(index: int) -> None:
        target[index] = decode_entry(listing, index, resolution, channels, allow_upscale)

    workers = min(8, os.cpu_count() or 1)
    total = len(listing.entries)
    with ThreadPoolExecutor(workers) as pool, tqdm(total=total, disable=not progress, unit="img",
                                                    desc=f"decoding {listing.name}") as bar:
        for start in range(0, total, DECODE_CHUNK):  # a bounded number of tasks in flight, whatever the size
            for _ in pool.map(decode, range(start, min(start + DECODE_CHUNK, total))):
                bar.update(1)


def cache_path(listing: Listing, resolution: int, channels: int, cache_dir: str = "") -> Path:
    """The cache file of a listing's images at one resolution and channel count."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", listing.name)
    return cache_root(cache_dir) / f"{stem}-{resolution}px-{channels}ch-{cache_key(listing, resolution, channels)}.npy"


def is_cached(listing: Listing, resolution: int, channels: int, cache_dir: str = "") -> bool:
    """Whether the cache holds a complete file of these images (its header read, no pixels)."""
    shape = (len(listing.entries), channels, resolution, resolution)
    return _complete(cache_path(listing, resolution, channels, cache_dir), shape) is not None


def cached_images(listing: Listing, resolution: int, channels: int, *, cache_dir: str = "",
                  allow_upscale: bool = False, progress: bool = True) -> np.ndarray:
    """(N, channels, resolution, resolution) uint8, memory-mapped from the cache (decoding on a miss)."""
    path = cache_path(listing, resolution, channels, cache_dir)
    root = path.parent
    shape = (len(listing.entries), channels, resolution, resolution)
    try:
        root.mkdir(parents=True, exist_ok=True)
        return _memory_mapped(path, shape, lambda target: _decode_all(listing, target, resolution, channels,
                                                                       allow_upscale, progress))
    except PermissionError as exc:
        raise DataError(f"cannot write the image cache in '{root}' ({exc.strerror}); set data.cache_dir or "
                        "STEADYGAN_CACHE to a writable folder") from None


def _memory_mapped(path: Path, shape: tuple[int, ...], fill: Callable[[np.ndarray], None]) -> np.ndarray:
    """The uint8 array of `shape` memory-mapped from `path`; written atomically by fill(target) when the
    file is missing, damaged or of another shape."""
    array = _complete(path, shape)
    if array is not None:
        return array
    remove_abandoned_files(path)
    with atomic_path(path) as tmp:
        target = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
        fill(target)
        target.flush()
        del target
    return np.load(path, mmap_mode="r")


def _complete(path: Path, shape: tuple[int, ...]) -> np.ndarray | None:
    """The uint8 array of `shape` memory-mapped from `path`; None when the file is missing, damaged or of
    another shape."""
    if not path.is_file():
        return None
    try:
        array = np.load(path, mmap_mode="r")
    except (OSError, ValueError):
        return None
    return array if array.shape == shape and array.dtype == np.uint8 else None


def remove_abandoned_files(path: Path) -> None:
    """Half-written copies of `path` left by processes that died while decoding (kill -9): the cache is
    shared by processes, so only those whose process is gone are removed."""
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid = stale.name[len(path.name) + 2:-len(".tmp")]
        if pid.isdigit() and not _process_exists(int(pid)):
            stale.unlink(missing_ok=True)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def box_downsampled(images: np.ndarray, resolution: int, chunk: int = 2048) -> np.ndarray:
    """(N, C, resolution, resolution) uint8: each output pixel the rounded mean of its f x f block, as
    repeated 2x2 average pooling gives. Computed once in chunks; beside a memory-mapped source it is
    cached as a memory-mapped file too, so neither memory nor later runs pay for it again."""
    n, channels, size, _ = images.shape
    factor = size // resolution
    if factor * resolution != size:
        raise DataError(f"cannot box-downsample {size}px images to {resolution}px; the sizes must divide")
    shape = (n, channels, resolution, resolution)

    def fill(target: np.ndarray) -> None:
        for start in range(0, n, chunk):
            block = images[start:start + chunk].astype(np.float32)
            block = block.reshape(-1, channels, resolution, factor, resolution, factor).mean(axis=(3, 5))
            target[start:start + chunk] = np.rint(block).astype(np.uint8)

    if not isinstance(images, np.memmap) or images.filename is None:
        target = np.empty(shape, dtype=np.uint8)
        fill(target)
        return target
    path = Path(images.filename)
    return _memory_mapped(path.with_name(f"{path.stem}-box{resolution}.npy"), shape, fill)
