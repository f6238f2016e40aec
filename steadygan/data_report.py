"""`steadygan data`: what the loader will see of a data source, before any training (as stylegan2-ada's
dataset_tool shows a data set before it is converted).

The fast path lists the source and reads each image's bytes and header (Pillow's lazy open: size and
mode, no pixels): the count, a histogram of sizes, how many images each resolution would crop or find too
small, the modes and what the loader makes of them, the classes and their balance, exact duplicates (by
a hash of the file's bytes), every file that cannot be read (all of them, not only the first), the state
of the decoded-image cache, and a preview grid of what training sees after resizing and cropping.
`verify` decodes every image in full (a file damaged after its header shows only then); `near_duplicates`
decodes them too: pairs whose 64-bit difference hashes (dHash) are close are near-duplicates when their
16x16 grey thumbnails also correlate (the hash alone pairs unrelated images of plain backgrounds).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from .data.cache import cache_path, is_cached
from .data.datasets import to_unit_range
from .data.sources import Listing, decode_entry, list_source, open_image, to_mode
from .data.toy import MIXTURES
from .errors import DataError
from .images import SOFTWARE, check_output_file, make_grid, save_image

WRITER = f"{SOFTWARE} data"
RESOLUTIONS = (16, 32, 64, 128)  # always shown; larger ones while some image is that large
LARGER_RESOLUTIONS = (256, 512, 1024)
SHORT_SIDE_EDGES = (16, 32, 64, 128, 256, 512, 1024)  # the histogram of shorter sides: < 16, 16-31, ..., >= 1024
PREVIEW_IMAGES = 64
PREVIEW_PER_CLASS = 8  # with 2 to 16 classes the preview shows a row of each
NEAR_DUPLICATE_BITS = 4  # dHashes differing in at most this many of their 64 bits are candidates ...
NEAR_DUPLICATE_CORRELATION = 0.9  # ... and near-duplicates when their thumbnails correlate this well
THUMBNAIL = 16
PAIR_BLOCK = 128  # hashes compared with all others at a time
LISTED = 5  # files named per problem in the text report (the JSON has all)

# Pillow's modes: what each is, and what the loader makes of it (steadygan.data.sources.to_mode)
MODES = {
    "RGB": ("RGB", "used as is"),
    "L": ("grey", "grey, or the same in R, G and B for 3 channels"),
    "1": ("black and white", "grey 0 or 255"),
    "P": ("palette", "its colours"),
    "RGBA": ("RGB with alpha", "transparent pixels become white"),
    "LA": ("grey with alpha", "transparent pixels become white"),
    "PA": ("palette with alpha", "transparent pixels become white"),
    "I;16": ("16-bit grey", "8 bits, scaled by 255/65535"),
    "I;16B": ("16-bit grey", "8 bits, scaled by 255/65535"),
    "I;16L": ("16-bit grey", "8 bits, scaled by 255/65535"),
    "I;16N": ("16-bit grey", "8 bits, scaled by 255/65535"),
    "I": ("32-bit integer grey", "8 bits, scaled by 255/65535 (stretched from min to max beyond 16 bits)"),
    "F": ("32-bit float grey", "8 bits from 0..1 (stretched from min to max beyond it)"),
    "CMYK": ("CMYK", "converted to RGB"),
    "YCbCr": ("YCbCr", "converted to RGB"),
}
SIXTEEN_BIT_RGB = " (16-bit)"  # Pillow reads 16-bit RGB(A) PNGs as 8-bit (their high bytes)
TRANSPARENCY = " + transparency"


@dataclass
class ImageFacts:
    index: int
    width: int
    height: int
    mode: str
    digest: bytes  # of the file's bytes (of the pixels for sources decoded whole)
    dhash: int = 0  # with near-duplicates: the difference hash ...
    thumbnail: np.ndarray | None = None  # ... and the grey thumbnail, at zero mean and unit norm


def mode_label(image: Image.Image) -> str:
    """The mode as the report counts it: Pillow's name, marked when 16-bit colour or a transparent colour
    hides behind an 8-bit mode."""
    label = image.mode
    tile = getattr(image, "tile", None)
    if tile and image.mode in ("RGB", "RGBA") and ";16" in str(tile[0][3]):
        label += SIXTEEN_BIT_RGB
    if "transparency" in image.info and image.mode in ("P", "L", "RGB"):
        label += TRANSPARENCY
    return label


def describe_mode(label: str) -> tuple[str, str]:
    base = label.replace(SIXTEEN_BIT_RGB, "").replace(TRANSPARENCY, "")
    name, loader = MODES.get(base, (base, "converted by Pillow"))
    if SIXTEEN_BIT_RGB in label:
        name, loader = f"16-bit {name}", "8 bits (Pillow keeps the high byte)"
    if TRANSPARENCY in label:
        name, loader = f"{name} with a transparent colour", "transparent pixels become white"
    return name, loader


def difference_hash(grey: Image.Image) -> int:
    """dHash: the signs of horizontal brightness steps in a 9x8 thumbnail, as 64 bits. Resizing,
    re-encoding and small changes of brightness or contrast keep most of them."""
    thumbnail = np.asarray(grey.resize((9, 8), Image.Resampling.BILINEAR), dtype=np.int16)
    bits = np.packbits((thumbnail[:, 1:] > thumbnail[:, :-1]).ravel())
    return int.from_bytes(bits.tobytes(), "big")


def unit_thumbnail(grey: Image.Image) -> np.ndarray:
    """The image at 16x16, at zero mean and unit norm: the dot product of two is their correlation (0 for a
    plain image)."""
    pixels = np.asarray(grey.resize((THUMBNAIL, THUMBNAIL), Image.Resampling.BILINEAR), dtype=np.float32).ravel()
    pixels = pixels - pixels.mean()
    norm = float(np.linalg.norm(pixels))
    return pixels / norm if norm > 1e-6 else np.zeros_like(pixels)


def _with_fingerprints(facts: ImageFacts, image: Image.Image) -> ImageFacts:
    grey = to_mode(image, "L")
    facts.dhash, facts.thumbnail = difference_hash(grey), unit_thumbnail(grey)
    return facts


def _digest(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=16).digest()


def _file_facts(listing: Listing, index: int, decode: bool, near: bool) -> ImageFacts:
    entry = listing.entries[index]
    payload = listing.payload(entry)
    image = open_image(payload, listing.location(entry), decode=decode)
    facts = ImageFacts(index, image.width, image.height, mode_label(image), _digest(payload))
    return _with_fingerprints(facts, image) if near else facts


def _array_facts(listing: Listing, index: int, near: bool) -> ImageFacts:
    assert listing.decoded is not None
    array = np.ascontiguousarray(listing.decoded[index])
    facts = ImageFacts(index, array.shape[1], array.shape[0], "L" if array.ndim == 2 else "RGB",
                       _digest(array.tobytes()))
    return _with_fingerprints(facts, Image.fromarray(array)) if near else facts


def _read_all(listing: Listing, decode: bool, near: bool, progress: bool) -> tuple[list[ImageFacts], list[str]]:
    """Every image's facts, and the message of every image that cannot be read, in listing order."""
    def facts(index: int) -> ImageFacts | str:
        try:
            if listing.decoded is not None:
                return _array_facts(listing, index, near)
            return _file_facts(listing, index, decode, near)
        except DataError as exc:
            return str(exc)

    readable: list[ImageFacts] = []
    unreadable: list[str] = []
    total = len(listing.entries)
    # Decoding runs in threads (Pillow's decoders release the GIL); reading headers is Python's own work,
    # which a pool would only slow down.
    pool = ThreadPoolExecutor(min(8, os.cpu_count() or 1)) if decode or near else None
    what = "decoding" if pool else "reading headers of"
    try:
        with tqdm(total=total, disable=not progress, unit="img", desc=f"{what} {listing.name}") as bar:
            for start in range(0, total, 4096):  # a bounded number of tasks in flight
                chunk = range(start, min(start + 4096, total))
                for result in pool.map(facts, chunk) if pool else map(facts, chunk):
                    if isinstance(result, str):
                        unreadable.append(result)
                    else:
                        readable.append(result)
                    bar.update(1)
    finally:
        if pool:
            pool.shutdown()
    return readable, unreadable


BYTE_BITS = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def bit_counts(words: np.ndarray) -> np.ndarray:
    """The set bits of every uint64, by bytes (numpy's bitwise_count needs numpy 2)."""
    return BYTE_BITS[words[..., None].view(np.uint8)].sum(axis=-1, dtype=np.int64)


def close_pairs(hashes: np.ndarray, bits: int) -> Iterator[tuple[int, int]]:
    """Index pairs (i < j) of 64-bit hashes that differ in at most `bits` bits, compared block by block."""
    for start in range(0, len(hashes), PAIR_BLOCK):
        block = hashes[start:start + PAIR_BLOCK, None] ^ hashes[None, start:]
        rows, columns = np.nonzero(bit_counts(block) <= bits)
        for i, j in zip(rows + start, columns + start, strict=True):
            if i < j:
                yield int(i), int(j)


def _groups(pairs: Iterator[tuple[int, int]], n: int) -> list[list[int]]:
    """Connected groups (of two or more) of a graph on 0..n-1 given by its edges, by union-find."""
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in pairs:
        parent[root(i)] = root(j)
    members = defaultdict(list)
    for i in range(n):
        members[root(i)].append(i)
    return sorted((group for group in members.values() if len(group) > 1), key=lambda g: (-len(g), g[0]))


@dataclass
class DataReport:
    """What `steadygan data` found; `lines()` is the text, `to_json()` everything."""

    source: str
    name: str
    listed: int
    readable: int
    unreadable: list[str]
    decoded: bool  # every image decoded in full (verified), not only its header
    upscaled: bool  # the built-in low-resolution sources are upsampled by convention
    sizes: list[tuple[str, int]]  # "WxH" and count, most common first
    short_sides: dict[str, int]
    non_square: int
    mean_crop: float  # the share of the long side a non-square image loses, on average
    resolutions: list[dict[str, Any]]
    modes: list[dict[str, Any]]
    labels: dict[str, Any] | None
    duplicates: list[list[str]]
    conflicting_duplicates: int  # duplicate groups whose copies carry different labels
    near_duplicates: list[list[str]] | None  # None when not looked for
    preview: dict[str, Any] | None
    seconds: float
    channels: int
    smallest_side: int

    def to_json(self) -> dict[str, Any]:
        copies = sum(len(g) - 1 for g in self.duplicates)
        near = None if self.near_duplicates is None else {
            "bits": NEAR_DUPLICATE_BITS, "correlation": NEAR_DUPLICATE_CORRELATION, "groups": self.near_duplicates,
            "images": sum(len(g) for g in self.near_duplicates)}
        return {"source": self.source, "name": self.name, "images": self.listed, "readable": self.readable,
                "unreadable": self.unreadable, "verified": self.decoded, "upscaled": self.upscaled,
                "channels": self.channels,
                "sizes": {"most_common": [{"size": s, "count": c} for s, c in self.sizes],
                          "short_side": self.short_sides, "non_square": self.non_square,
                          "mean_crop": self.mean_crop},
                "resolutions": self.resolutions, "modes": self.modes, "labels": self.labels,
                "duplicates": {"groups": self.duplicates, "copies": copies,
                               "conflicting_labels": self.conflicting_duplicates},
                "near_duplicates": near, "preview": self.preview, "seconds": round(self.seconds, 3)}

    def lines(self) -> list[str]:
        out = [f"{self.source}: {self.listed:,} images, {self.readable:,} readable"
               + (" (every image decoded)" if self.decoded else " (headers read; --verify decodes every image)")]
        if self.unreadable:
            out.append(f"unreadable: {len(self.unreadable):,} (training stops at the first; remove or replace them)")
            out += [f"  {message}" for message in self.unreadable]
        if not self.readable:
            return out
        out.append("sizes: " + ", ".join(f"{s} {c:,}" for s, c in self.sizes[:LISTED])
                   + (f", {len(self.sizes) - LISTED:,} other sizes" if len(self.sizes) > LISTED else ""))
        out.append("shorter side: " + ", ".join(f"{k} {v:,}" for k, v in self.short_sides.items() if v))
        if self.non_square:
            out.append(f"not square: {self.non_square:,}, centre-cropped to a square (losing {self.mean_crop:.0%} of "
                       "their long side on average)")
        out.append(f"{'resolution':>10}  {'as is':>9}  {'resized':>9}  {'cropped':>9}  {'too small':>9}  cache "
                   f"({self.channels} channel{'s' if self.channels > 1 else ''})")
        for row in self.resolutions:
            cache = ("no image is large enough" if not row["usable"] else
                     f"cached ({row['cache']['path']})" if row["cache"]["cached"] else
                     f"not cached ({row['cache']['mib']:,.1f} MiB, decoded by the first run)")
            out.append(f"{row['resolution']:>8}px  {row['as_is']:>9,}  {row['resized']:>9,}  {row['cropped']:>9,}  "
                       f"{row['too_small']:>9,}  {cache}")
        partly = next((row for row in self.resolutions if row["too_small"] and row["usable"]), None)
        if partly:
            out.append(f"at {partly['resolution']}px, {partly['too_small']:,} images are too small: training refuses "
                       f"them (remove them, or train at a resolution of at most {self.smallest_side}px)")
        if self.upscaled:
            out.append("(built-in low-resolution images are upsampled to the resolution, by convention)")
        out.append("modes: " + "; ".join(f"{m['mode']} ({m['name']}) {m['count']:,}: {m['loader']}"
                                         for m in self.modes))
        out += self._label_lines()
        copies = sum(len(g) - 1 for g in self.duplicates)
        if self.duplicates:
            out.append(f"exact duplicates: {len(self.duplicates):,} groups, {copies:,} extra copies"
                       + (f" ({self.conflicting_duplicates:,} groups with different labels)"
                          if self.conflicting_duplicates else ""))
            out += [f"  {' = '.join(group[:4])}{' ...' if len(group) > 4 else ''}"
                    for group in self.duplicates[:LISTED]]
        else:
            out.append("exact duplicates: none")
        if self.near_duplicates is not None:
            if self.near_duplicates:
                images = sum(len(g) for g in self.near_duplicates)
                out.append(f"near-duplicates (dHash within {NEAR_DUPLICATE_BITS} of 64 bits and thumbnails "
                           f"correlating >= {NEAR_DUPLICATE_CORRELATION}, exact copies aside): "
                           f"{len(self.near_duplicates):,} groups of {images:,} images")
                out += [f"  {' ~ '.join(group[:4])}{' ...' if len(group) > 4 else ''}"
                        for group in self.near_duplicates[:LISTED]]
            else:
                out.append("near-duplicates: none")
        if self.preview:
            out.append(f"preview: {self.preview['path']} ({self.preview['images']} images at "
                       f"{self.preview['resolution']}px, as training sees them)")
        out.append(f"took {self.seconds:.1f} s")
        return out

    def _label_lines(self) -> list[str]:
        if self.labels is None:
            return ["classes: none (unlabelled; labels come from a labels.csv or from sub-folders, one per class)"]
        counts = self.labels["classes"]
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        shown = ranked if len(ranked) <= 12 else [*ranked[:6], ("...", 0), *ranked[-6:]]
        out = [f"classes: {len(counts):,} from {self.labels['from']}: "
               + ", ".join(name if name == "..." else f"{name} {count:,}" for name, count in shown),
               f"imbalance: the largest class has {self.labels['imbalance']:.2f} times the images of the smallest"]
        if self.labels["unlisted"]:
            out.append(f"left out: {self.labels['unlisted']:,} images that labels.csv does not list")
        if self.labels["unmatched_rows"]:
            out.append(f"labels.csv: {self.labels['unmatched_rows']:,} rows name no image of the source")
        return out


def _short_side_histogram(short: np.ndarray) -> dict[str, int]:
    edges = (0, *SHORT_SIDE_EDGES, math.inf)
    names = [f"<{SHORT_SIDE_EDGES[0]}", *(f"{a}-{b - 1}" for a, b in itertools.pairwise(SHORT_SIDE_EDGES)),
             f">={SHORT_SIDE_EDGES[-1]}"]
    return {name: int(((short >= low) & (short < high)).sum())
            for name, (low, high) in zip(names, itertools.pairwise(edges), strict=True)}


def _resolution_rows(listing: Listing, width: np.ndarray, height: np.ndarray, resolutions: list[int],
                     channels: int, upscaled: bool) -> list[dict[str, Any]]:
    short = np.minimum(width, height)
    rows = []
    for r in resolutions:
        usable = np.ones_like(short, dtype=bool) if upscaled else short >= r
        rows.append({"resolution": r, "usable": int(usable.sum()), "too_small": int((~usable).sum()),
                     "as_is": int((usable & (width == r) & (height == r)).sum()),
                     "resized": int((usable & (short != r)).sum()),
                     "cropped": int((usable & (width != height)).sum()),
                     "cache": {"cached": is_cached(listing, r, channels),
                               "path": str(cache_path(listing, r, channels)),
                               "mib": len(listing.entries) * channels * r * r / 2**20}})
    return rows


def _labels(listing: Listing) -> dict[str, Any] | None:
    if listing.labels is None:
        return None
    counts = Counter(listing.labels)
    classes = {name: counts[name] for name in listing.class_names}
    return {"from": listing.labels_from, "classes": classes,
            "imbalance": max(classes.values()) / min(classes.values()),
            "unlisted": len(listing.unlisted), "unmatched_rows": listing.unmatched_rows}


def _preview_resolution(short: np.ndarray, upscaled: bool) -> int:
    """The largest of 16, 32 and 64 that no image is too small for; for the built-in low-resolution sources
    the smallest that holds them (16 for the 8x8 digits, 32 for MNIST)."""
    if upscaled:
        return next((r for r in RESOLUTIONS if r >= short.max()), RESOLUTIONS[-1])
    return max((r for r in RESOLUTIONS[:3] if r <= short.min()), default=RESOLUTIONS[0])


def default_preview(source: str) -> Path:
    """`NAME-preview.png` in the working folder, NAME the source's file or folder name."""
    name = re.sub(r"[^\w.-]+", "_", Path(source.rstrip("/")).stem or source).strip("_.") or "data"
    return Path(f"{name}-preview.png")


def _preview_indices(listing: Listing, usable: list[int]) -> tuple[list[int], int | None]:
    """The images of the preview and its images per row: a row of each class when there are 2 to 16."""
    def spread(indices: list[int], n: int) -> list[int]:
        if len(indices) <= n:
            return indices
        return [indices[round(i)] for i in np.linspace(0, len(indices) - 1, n)]

    if listing.labels is not None and 2 <= len(listing.class_names) <= 16:
        by_class = defaultdict(list)
        for index in usable:
            by_class[listing.labels[index]].append(index)
        rows = [spread(by_class[name], PREVIEW_PER_CLASS) for name in listing.class_names]
        if all(len(row) == PREVIEW_PER_CLASS for row in rows):
            return [i for row in rows for i in row], PREVIEW_PER_CLASS
    return spread(usable, PREVIEW_IMAGES), None


def _near_duplicate_groups(facts: list[ImageFacts]) -> list[list[int]]:
    """Groups (positions in `facts`) of images that are near-duplicates of each other, exact copies aside."""
    hashes = np.array([f.dhash for f in facts], dtype=np.uint64)
    thumbnails = np.stack([f.thumbnail for f in facts if f.thumbnail is not None])
    pairs = ((i, j) for i, j in close_pairs(hashes, NEAR_DUPLICATE_BITS) if facts[i].digest != facts[j].digest
             and float(thumbnails[i] @ thumbnails[j]) >= NEAR_DUPLICATE_CORRELATION)
    return _groups(pairs, len(facts))


def _write_preview(listing: Listing, usable: list[int], path: Path, resolution: int, channels: int,
                   upscaled: bool) -> dict[str, Any] | None:
    """The preview grid of some usable images decoded as training decodes them; None when none decodes."""
    chosen, per_row = _preview_indices(listing, usable)
    decoded = {}
    for index in chosen:
        try:
            decoded[index] = decode_entry(listing, index, resolution, channels, upscaled)
        except DataError:
            continue  # damaged after its header: listed as unreadable with --verify
    if not decoded:
        return None
    images = torch.from_numpy(np.stack(list(decoded.values())))
    save_image(make_grid(to_unit_range(images), per_row), path, WRITER)
    return {"path": str(path), "resolution": resolution, "images": len(decoded), "per_row": per_row,
            "files": list(decoded)}


def inspect_data(source: str, *, resolution: int | None = None, channels: int = 0, labels: str = "auto",
                 split: str = "", preview: str | Path | None = None, verify: bool = False,
                 near_duplicates: bool = False, progress: bool = True) -> DataReport:
    """The report of `steadygan data` on a data source; with `preview` a grid PNG of what training sees at
    `resolution` (default: the largest of 16, 32 and 64 no image is too small for) is written there (a file
    this command wrote may be replaced, never another)."""
    started = time.perf_counter()
    if source in MIXTURES:
        raise DataError(f"'{source}' is a built-in mixture of 2-D points, not images; steadygan data inspects "
                        "image sources (a folder, a .zip, MNIST IDX files, digits)")
    if channels not in (0, 1, 3):
        raise DataError(f"--channels {channels} is not supported; use 1 (grey), 3 (RGB) or 0 (as stored)")
    preview_path = check_output_file(preview, ".png", WRITER, "--preview") if preview is not None else None
    skipped: list[str] = []
    listing = list_source(source, labels, split, skipped)
    channels = channels or listing.native_channels
    upscaled = listing.decoded is not None  # as build_dataset decides
    facts, unreadable = _read_all(listing, verify or near_duplicates, near_duplicates, progress)
    width = np.array([f.width for f in facts], dtype=np.int64)
    height = np.array([f.height for f in facts], dtype=np.int64)
    short, long = np.minimum(width, height), np.maximum(width, height)

    if resolution is not None:
        shown = [resolution]
    else:
        largest = int(short.max()) if len(short) else 0
        shown = [*RESOLUTIONS, *(r for r in LARGER_RESOLUTIONS if not upscaled and r <= largest)]
    rows = _resolution_rows(listing, width, height, shown, channels, upscaled)

    def location(index: int) -> str:  # a file's name inside the source; an image's place in a decoded one
        return listing.entries[index] if listing.decoded is None else listing.location(listing.entries[index])

    by_digest = defaultdict(list)
    for f in facts:
        by_digest[f.digest].append(f.index)
    duplicates = sorted((group for group in by_digest.values() if len(group) > 1), key=lambda g: (-len(g), g[0]))
    conflicting = sum(len({listing.labels[i] for i in group}) > 1 for group in duplicates) if listing.labels else 0
    near = ([[location(facts[k].index) for k in group] for group in _near_duplicate_groups(facts)]
            if near_duplicates else None)
    preview_info = None
    if preview_path is not None and facts:
        preview_resolution = resolution or _preview_resolution(short, upscaled)
        fits = np.ones_like(short, dtype=bool) if upscaled else short >= preview_resolution
        usable = [f.index for f, ok in zip(facts, fits, strict=True) if ok]
        preview_info = _write_preview(listing, usable, preview_path, preview_resolution, channels, upscaled)
        if preview_info is not None:
            preview_info["files"] = [location(i) for i in preview_info["files"]]
    modes = Counter(f.mode for f in facts)
    sizes = Counter(f"{w}x{h}" for w, h in zip(width.tolist(), height.tolist(), strict=True))
    crop = 1 - short / np.maximum(long, 1)
    return DataReport(
        source=source, name=listing.name, listed=len(listing.entries) + len(skipped), readable=len(facts),
        unreadable=skipped + unreadable, decoded=verify or near_duplicates or upscaled, upscaled=upscaled,
        sizes=sizes.most_common(), short_sides=_short_side_histogram(short), non_square=int((width != height).sum()),
        mean_crop=float(crop[width != height].mean()) if (width != height).any() else 0.0, resolutions=rows,
        modes=[{"mode": mode, "count": count, "name": describe_mode(mode)[0], "loader": describe_mode(mode)[1]}
               for mode, count in modes.most_common()],
        labels=_labels(listing), duplicates=[[location(i) for i in group] for group in duplicates],
        conflicting_duplicates=conflicting, near_duplicates=near, preview=preview_info,
        seconds=time.perf_counter() - started, channels=channels, smallest_side=int(short.min()) if len(short) else 0)
