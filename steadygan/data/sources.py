"""Where images come from: a folder, a .zip (read in place), MNIST IDX files, or the built-in digits.

A source is listed first (paths, labels, a fingerprint for the cache) and decoded later, so that a
cached data set costs only a `stat` of its source.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import math
import os
import stat
import threading
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image

from ..config import LABEL_MODES
from ..errors import DataError, first_line

# Images past Pillow's pixel limit are refused with a DataError of our own (`open_image`); Pillow's warning
# about them would only repeat it.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
MAX_FILE_BYTES = 256 * 2**20  # no image (or labels.csv) is read beyond this
MAX_IDX_BYTES = 8 * 2**30  # an IDX file larger than this (when unpacked) is refused before it is read
# A damaged zip raises any of these: bad CRC or header, truncated data, unsupported or encrypted entries.
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, RuntimeError)


@dataclass
class Listing:
    """The images of a source, in a fixed order, with their labels (or none)."""

    name: str
    fingerprint: str  # changes whenever the source's content may have changed
    entries: list[str]  # paths inside the source
    read: Callable[[str], bytes] | None  # entry -> encoded bytes; None for sources decoded whole
    labels: list[str] | None = None  # one class name per entry
    decoded: np.ndarray | None = None  # (N, H, W) or (N, H, W, C) uint8 for already-decoded sources
    native_channels: int = 3
    class_names: list[str] = field(default_factory=list)
    origin: str = ""  # prefix that turns an entry into a location a person can find
    labels_from: str = ""  # where the labels come from: labels.csv, folders, IDX labels, built-in
    unlisted: list[str] = field(default_factory=list)  # images left out because labels.csv does not list them
    unmatched_rows: int = 0  # labels.csv rows that name no image of the source

    def location(self, entry: str) -> str:
        return f"{self.origin}{entry}"

    def payload(self, entry: str) -> bytes:
        """The encoded bytes of an entry of a source that is read file by file."""
        if self.read is None:
            raise ValueError(f"source {self.name} is decoded whole; read its images from `decoded`")
        return self.read(entry)


def _is_visible(parts: tuple[str, ...]) -> bool:
    return not any(p.startswith(".") or p == "__MACOSX" for p in parts)


def _image_entries(names: list[str]) -> list[str]:
    return sorted(n for n in names
                  if n.lower().endswith(IMAGE_SUFFIXES) and _is_visible(PurePosixPath(n).parts))


def _csv_entries(names: list[str]) -> str | None:
    """The shallowest labels.csv among the source's files."""
    found = [n for n in names if PurePosixPath(n).name == "labels.csv" and _is_visible(PurePosixPath(n).parts)]
    return min(found, key=lambda n: (n.count("/"), n)) if found else None


# ---------------------------------------------------------------------------------------------------
# containers


class ZipReader:
    """Reads members of a zip without unpacking it. One handle serves every decoding thread (zipfile
    serializes the reads, the decoding runs in parallel): a handle per thread would hold one copy of the
    central directory each, hundreds of MB for a zip of 600,000 images."""

    def __init__(self, path: Path):
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self._lock = threading.Lock()

    def __call__(self, name: str) -> bytes:
        try:
            with self._lock:
                if self._zip is None:
                    self._zip = zipfile.ZipFile(self.path)
            size = self._zip.getinfo(name).file_size
            if size > MAX_FILE_BYTES:
                raise DataError(f"'{self.path}:{name}' unpacks to {size / 2**20:,.0f} MiB, more than any image "
                                f"needs ({MAX_FILE_BYTES // 2**20} MiB at most); remove it from the zip")
            return self._zip.read(name)  # checks the member's CRC-32
        except ZIP_ERRORS as exc:
            raise DataError(f"cannot read '{self.path}:{name}' ({first_line(exc)}); the zip is damaged: "
                            "re-create it") from None


def _regular_file(path: Path, limit: int = MAX_FILE_BYTES) -> os.stat_result:
    """The stat of a file the loader may read: a regular file (through links) of at most `limit` bytes."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise DataError(f"cannot read '{path}' ({exc.strerror}; a broken link?); remove it or fix it") from None
    if not stat.S_ISREG(info.st_mode):
        raise DataError(f"'{path}' is not a regular file (a device, pipe or socket); remove it from the data")
    if info.st_size > limit:
        raise DataError(f"'{path}' is {info.st_size / 2**20:,.0f} MiB, more than steadygan reads from one file "
                        f"({limit // 2**20:,} MiB); remove it from the data")
    return info


def _list_container(path: Path, skipped: list[str] | None = None) -> tuple[list[str], Callable[[str], bytes], str]:
    """All file names (posix, relative), a reader, and a fingerprint of a folder or a zip. A file that cannot
    be read (not a regular file, a broken link, too large) is an error, or with `skipped` left out of the
    names and its error message added there."""
    if path.is_dir():
        names = []
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if _is_visible((d,)))
            rel = Path(root).relative_to(path)
            names += [(rel / f).as_posix() for f in files if _is_visible((f,))]
        stats = []
        for name in [n for n in names if n.lower().endswith((*IMAGE_SUFFIXES, ".csv"))]:
            try:
                stats.append((name, _regular_file(path / name)))
            except DataError as exc:
                if skipped is None:
                    raise
                skipped.append(str(exc))
                names.remove(name)
        fingerprint = hashlib.sha1(repr([(n, s.st_size, s.st_mtime_ns) for n, s in sorted(stats)]).encode())
        return names, lambda name: (path / name).read_bytes(), f"dir:{path.resolve()}:{fingerprint.hexdigest()}"
    try:
        with zipfile.ZipFile(path) as archive:
            names = [i.filename for i in archive.infolist() if not i.is_dir()]
    except ZIP_ERRORS as exc:
        raise DataError(f"'{path}' is not a readable zip file ({exc}); re-create it, or unpack it and "
                        "point data.source at the folder") from None
    stat = path.stat()
    return names, ZipReader(path), f"zip:{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


# ---------------------------------------------------------------------------------------------------
# labels


def _sorted_classes(names: set[str]) -> list[str]:
    """Class names in natural order: numerically when all are integers (1, 2, ..., 102)."""
    if all(n.lstrip("-").isdigit() for n in names):
        return sorted(names, key=int)
    return sorted(names)


def _read_labels_csv(payload: bytes, where: str, base: str, split: str) -> dict[str, tuple[str, str]]:
    """{entry: (label, split)} from a labels.csv whose `file` paths are relative to `base`."""
    try:
        reader = csv.DictReader(io.StringIO(payload.decode("utf-8-sig")))
        columns, rows = reader.fieldnames or [], list(reader)
    except UnicodeDecodeError as exc:
        raise DataError(f"'{where}' is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except csv.Error as exc:
        raise DataError(f"'{where}' is not a readable CSV file ({exc}); fix or remove it") from None
    if not {"file", "label"} <= set(columns):
        raise DataError(f"'{where}' needs a header with the columns file,label (and optionally split)")
    if not rows:
        raise DataError(f"'{where}' has a header but no rows; add one row per image (file,label), or remove it")
    if split and "split" not in columns:
        raise DataError(f"data.split={split} but '{where}' has no split column; set data.split= (empty)")
    for number, row in enumerate(rows, 2):
        if not (row.get("file") or "").strip() or not (row.get("label") or "").strip():
            raise DataError(f"line {number} of '{where}' has no file or no label; give every row both")
    prefix = f"{base}/" if base else ""
    return {prefix + r["file"].strip().lstrip("./"): (r["label"].strip(), (r.get("split") or "").strip())
            for r in rows}


def _apply_labels(listing: Listing, names: list[str], read: Callable[[str], bytes], mode: str, split: str,
                  where: Path) -> None:
    csv_name = _csv_entries(names) if mode in ("auto", "csv") else None
    if mode == "csv" and csv_name is None:
        raise DataError(f"data.labels=csv but there is no labels.csv in '{where}'; add one (file,label) "
                        "or use data.labels=folders or none")
    if csv_name is not None:
        base = str(PurePosixPath(csv_name).parent).strip(".")
        table = _read_labels_csv(read(csv_name), f"{where}/{csv_name}", base, split)
        if not any(e in table for e in listing.entries):
            raise DataError(f"no image in '{where}' is listed in its {csv_name}; its file column must hold "
                            f"paths relative to the csv, like {listing.entries[0][len(base) + 1 if base else 0:]}")
        listing.unlisted = [e for e in listing.entries if e not in table]
        listing.unmatched_rows = len(table.keys() - set(listing.entries))
        listing.entries = [e for e in listing.entries if e in table and (not split or table[e][1] == split)]
        listing.labels = [table[e][0] for e in listing.entries]
        listing.labels_from = csv_name
    else:
        if split:
            listing.entries = [e for e in listing.entries if PurePosixPath(e).parts[0] == split]
        folders = [PurePosixPath(e).parent.name for e in listing.entries]
        if mode == "folders" or (mode == "auto" and len(set(folders)) >= 2):
            if mode == "folders" and len(set(folders)) < 2:
                raise DataError(f"data.labels=folders needs images in at least 2 sub-folders of '{where}' "
                                "(one per class); use data.labels=none for unlabelled images")
            listing.labels = folders
            listing.labels_from = "folders"
    if split and not listing.entries:
        raise DataError(f"no images of split '{split}' in '{where}'; check data.split")
    if listing.labels is not None:
        listing.class_names = _sorted_classes(set(listing.labels))


def list_image_files(path: Path, labels: str, split: str, skipped: list[str] | None = None) -> Listing:
    names, read, fingerprint = _list_container(path, skipped)
    entries = _image_entries(names)
    if not entries:
        raise DataError(f"no images ({', '.join(s[1:] for s in IMAGE_SUFFIXES)}) found in '{path}'; "
                        "point data.source at a folder or .zip of images")
    origin = f"{path}:" if path.is_file() else f"{path}/"
    listing = Listing(path.name, fingerprint, entries, read, origin=origin)
    _apply_labels(listing, names, read, labels, split, path)
    return listing


# ---------------------------------------------------------------------------------------------------
# MNIST IDX and the built-in digits


def _read_idx(path: Path, ndim: int) -> np.ndarray:
    """An IDX array of unsigned bytes with `ndim` dimensions (3 for images, 1 for labels), read no further
    than its header says: a gzip bomb or a header that claims terabytes fails before memory is spent."""
    _regular_file(path, MAX_IDX_BYTES)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            head = f.read(4)
            if len(head) < 4 or head[:2] != b"\x00\x00" or head[2] != 0x08 or head[3] != ndim:
                raise DataError(f"'{path}' is not an IDX file of {ndim}-dimensional unsigned bytes (its header says "
                                f"otherwise); give MNIST-style *-images-idx3-ubyte and *-labels-idx1-ubyte files")
            shape = tuple(int.from_bytes(f.read(4), "big") for _ in range(ndim))
            size = int(np.prod(shape, dtype=object))
            if size > MAX_IDX_BYTES or size == 0:
                raise DataError(f"IDX file '{path}' claims shape {shape}; that is not a data set steadygan can read")
            data = f.read(size + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"cannot read IDX file '{path}' ({exc}); re-download it") from None
    if len(data) != size:
        raise DataError(f"IDX file '{path}' does not match its header: header says {shape}, found "
                        f"{'more than ' if len(data) > size else ''}{min(len(data), size)} bytes; re-download it")
    return np.frombuffer(data, np.uint8).reshape(shape)


def _idx_images_in(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if "idx3-ubyte" in p.name)


def is_idx_source(path: Path) -> bool:
    return (path.is_file() and "idx3-ubyte" in path.name) or (
        path.is_dir() and bool(_idx_images_in(path)) and not _image_entries([p.name for p in path.iterdir()]))


def list_idx(path: Path, labels: str, split: str) -> Listing:
    """MNIST-style IDX images (a file, or every images file in a folder) and the labels files beside them."""
    files = [path] if path.is_file() else _idx_images_in(path)
    if split:
        files = [f for f in files if f.name.startswith(split)]  # t10k-..., train-...
        if not files:
            raise DataError(f"no IDX images file in '{path}' starts with data.split={split}")
    images, targets = [], []
    for file in files:
        images.append(_read_idx(file, 3))
        label_file = file.with_name(file.name.replace("idx3-ubyte", "idx1-ubyte").replace("images", "labels"))
        if labels != "none" and label_file.exists():
            targets.append(_read_idx(label_file, 1))
    if labels == "csv" or labels == "folders":
        raise DataError(f"data.labels={labels} does not apply to IDX files; use auto or none")
    if len({image.shape[1:] for image in images}) > 1:
        sizes = ", ".join(f"{f.name}: {i.shape[1]}x{i.shape[2]}" for f, i in zip(files, images, strict=True))
        raise DataError(f"the IDX files in '{path}' hold images of different sizes ({sizes}); give one file, or "
                        "files of one size")
    decoded = np.concatenate(images)
    listing = Listing(path.name, f"idx:{[(str(f.resolve()), f.stat().st_mtime_ns) for f in files]}",
                      [str(i) for i in range(len(decoded))], None, decoded=decoded, native_channels=1,
                      origin=f"{path}#")
    if targets and len(targets) == len(images):
        values = np.concatenate(targets)
        if len(values) != len(decoded):
            raise DataError(f"the labels beside '{path}' count {len(values)} items for {len(decoded)} images")
        listing.labels = [str(v) for v in values]
        listing.class_names = _sorted_classes(set(listing.labels))
        listing.labels_from = "IDX labels"
    return listing


def builtin_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 handwritten digits of UCI's optical recognition set (CC BY 4.0, see digits-LICENSE.txt), in
    scikit-learn's `load_digits` order: uint8 images (N, 8, 8) of 0..16 on pixels per 4x4 block, and labels."""
    with resources.files("steadygan.data").joinpath("digits.npz").open("rb") as file, \
            np.load(file, allow_pickle=False) as arrays:
        return arrays["images"], arrays["labels"]


def list_digits(labels: str) -> Listing:
    """The built-in digits (8x8, 17 grey levels) scaled to 0..255."""
    counts, targets = builtin_digits()
    images = np.round(counts * (255 / 16)).astype(np.uint8)
    # The fingerprint keeps its old name: the arrays are scikit-learn's, so caches made from them stay valid.
    listing = Listing("digits", "sklearn-digits", [str(i) for i in range(len(images))], None,
                      decoded=images, native_channels=1, origin="digits#")
    if labels in ("csv", "folders"):
        raise DataError(f"data.labels={labels} does not apply to the built-in digits; use auto or none")
    if labels != "none":
        listing.labels = [str(t) for t in targets]
        listing.class_names = [str(i) for i in range(10)]
        listing.labels_from = "built-in"
    return listing


STACKED_PREFIX = "stacked:"
STACKED_COUNT = 60_000  # stacked images drawn, the size of MNIST's training set
STACKED_SEED = 2016


def list_stacked(base_source: str, labels: str, split: str) -> Listing:
    """Stacked digits (Metz et al. 2017): three random digits of a labelled grey source as the R, G and
    B channels, 1,000 classes `abc`. The draw is fixed, so every run sees the same images."""
    base = list_source(base_source, "auto", split)
    if base.decoded is None or base.decoded.ndim != 3 or base.labels is None:
        raise DataError(f"data.source={STACKED_PREFIX}{base_source} needs grey labelled digits: "
                        f"{STACKED_PREFIX}digits or {STACKED_PREFIX}<folder of MNIST IDX files>")
    if labels in ("csv", "folders"):
        raise DataError(f"data.labels={labels} does not apply to stacked digits; use auto or none")
    picks = np.random.default_rng(STACKED_SEED).integers(len(base.decoded), size=(STACKED_COUNT, 3))
    digits = np.asarray(base.labels)[picks]  # (N, 3) class names, one per channel
    listing = Listing(f"stacked-{base.name}", f"stacked:{STACKED_COUNT}:{STACKED_SEED}:{base.fingerprint}",
                      [str(i) for i in range(STACKED_COUNT)], None, decoded=base.decoded[picks].transpose(0, 2, 3, 1),
                      native_channels=3, origin=f"{STACKED_PREFIX}{base_source}#")
    if labels != "none":
        listing.labels = ["".join(row) for row in digits]
        listing.class_names = sorted(set(listing.labels))
        listing.labels_from = "built-in"
    return listing


def list_source(source: str, labels: str, split: str, skipped: list[str] | None = None) -> Listing:
    """The images a data source names, with their labels. A file of a folder that cannot be read at all is
    an error, or with `skipped` left out and its error message added there (`steadygan data`)."""
    if labels not in LABEL_MODES:
        raise DataError(f"data.labels={labels} is not one of: {', '.join(LABEL_MODES)}")
    if source == "digits":
        if split:
            raise DataError(f"data.split={split} does not apply to the built-in digits (they have no splits); "
                            "set data.split= (empty)")
        return list_digits(labels)
    if source.startswith(STACKED_PREFIX):
        return list_stacked(source[len(STACKED_PREFIX):], labels, split)
    try:
        path = Path(source).expanduser()
        found = bool(source) and path.exists()
    except (OSError, ValueError, RuntimeError):  # a name too long, a NUL byte, an unknown ~user
        found = False
    if not found:
        raise DataError(f"data source '{source}' does not exist; give a folder, a .zip or MNIST IDX files "
                        f"of images, or a built-in: digits, stacked:digits, ring8, grid25")
    if not path.is_dir() and not path.is_file():
        raise DataError(f"data source '{source}' is not a regular file or folder (a device, pipe or socket); "
                        "give a folder, a .zip or MNIST IDX files")
    if is_idx_source(path):
        return list_idx(path, labels, split)
    if path.is_file() and not zipfile.is_zipfile(path):
        if path.suffix.lower() == ".zip":
            raise DataError(f"'{path}' is not a readable zip file; re-create it, or unpack it and point "
                            "data.source at the folder")
        raise DataError(f"data source '{path}' is a single file; give a folder or a .zip of images, or "
                        "MNIST IDX files")
    return list_image_files(path, labels, split, skipped)


# ---------------------------------------------------------------------------------------------------
# decoding


def fit_to_square(image: Image.Image, resolution: int, where: str, allow_upscale: bool) -> Image.Image:
    """Resize the shorter side to `resolution` (antialiased) and crop the centre square."""
    w, h = image.size
    if min(w, h) < resolution and not allow_upscale:
        raise DataError(f"image '{where}' is {w}x{h}, smaller than data.resolution={resolution}; remove it, or "
                        f"train at a resolution of at most {min(w, h)} pixels")
    scale = resolution / min(w, h)
    if (w, h) != (resolution, resolution):
        size = (max(resolution, round(w * scale)), max(resolution, round(h * scale)))
        image = image.resize(size, Image.Resampling.BICUBIC if scale > 1 else Image.Resampling.LANCZOS,
                             reducing_gap=None if scale > 1 else 3.0)
        left, top = (image.width - resolution) // 2, (image.height - resolution) // 2
        image = image.crop((left, top, left + resolution, top + resolution))
    return image


def eight_bit(image: Image.Image) -> Image.Image:
    """An image of more than 8 bits per sample as 8-bit grey, scaled, never clipped: 16-bit samples
    (mode I;16*) by 255/65535; 32-bit integers (mode I) the same when they fit 0..65535 (how 16-bit data is
    widened), else stretched from their minimum to their maximum; floats (mode F) as 0..1 when they fit
    it, else stretched likewise (NaN as the minimum). 8-bit images are returned as they are."""
    if not (image.mode.startswith("I") or image.mode == "F"):
        return image
    values = np.asarray(image).astype(np.float64)
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    full = 1.0 if image.mode == "F" else 65535.0
    if low >= 0 and high <= full:
        scaled = values / full
    else:
        scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    scaled = np.nan_to_num(scaled, nan=0.0, posinf=1.0, neginf=0.0)
    return Image.fromarray(np.rint(np.clip(scaled, 0, 1) * 255).astype(np.uint8), "L")


def has_transparency(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def to_mode(image: Image.Image, mode: str) -> Image.Image:
    """Any mode Pillow opens as 8-bit `mode` (L or RGB); transparent pixels become white, not black."""
    image = eight_bit(image)
    if has_transparency(image):
        image = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", image.size, (255, 255, 255, 255)), image)
    return image.convert(mode)


def open_image(payload: bytes, where: str, decode: bool = True) -> Image.Image:
    """Decoded image bytes; any failure of the decoder on damaged or hostile bytes is a DataError naming the
    file, and images beyond Pillow's pixel limit (decompression bombs) are refused before they are decoded.
    With `decode=False` only the header is read (size, mode): a file damaged after it passes."""
    try:
        image = Image.open(io.BytesIO(payload))
        if image.width * image.height > (Image.MAX_IMAGE_PIXELS or math.inf):
            raise DataError(f"image '{where}' is {image.width}x{image.height} pixels, past the decoder's limit of "
                            f"{Image.MAX_IMAGE_PIXELS:,} (a decompression bomb?); remove that file")
        if decode:
            image.load()
        return image
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001  (decoders raise many kinds of error on damaged files)
        raise DataError(f"cannot decode image '{where}' ({first_line(exc)}); remove or replace that file") from None


def decode_entry(listing: Listing, index: int, resolution: int, channels: int,
                 allow_upscale: bool) -> np.ndarray:
    """One image as (channels, resolution, resolution) uint8."""
    entry = listing.entries[index]
    where = listing.location(entry)
    if listing.decoded is not None:
        image = Image.fromarray(listing.decoded[index])
    else:
        image = open_image(listing.payload(entry), where)
    image = fit_to_square(to_mode(image, "L" if channels == 1 else "RGB"), resolution, where, allow_upscale)
    array = np.asarray(image, dtype=np.uint8)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
