"""`steadygan data`: the figures it reports against counts the tests make themselves, on crafted folders
(duplicates, too-small images, mixed modes, broken files), the built-in digits and the shared real data."""

import hashlib
import io
import json
import math
import os
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from steadygan import cli
from steadygan.config import DataConfig
from steadygan.data import build_dataset
from steadygan.data.sources import builtin_digits
from steadygan.data_report import inspect_data

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def save(path: Path, image: Image.Image, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **kwargs)
    return path


def noise(size: tuple[int, int], seed: int) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def texture(seed: int, size: int = 48) -> Image.Image:
    """A smooth random picture (blurred noise): something a hash of its gradients can tell from others."""
    coarse = np.random.default_rng(seed).integers(0, 256, (6, 6, 3), dtype=np.uint8)
    return Image.fromarray(coarse).resize((size, size), Image.Resampling.BICUBIC)


@pytest.fixture
def crafted(tmp_path):
    """A labelled folder (a/, b/) with a duplicate across classes, images too small for 16 and 32 px, six
    modes, a truncated JPEG, garbage bytes, an empty file, a pipe and a broken link. Returns the folder and
    what the test knows about each image file: (width, height, Pillow mode, folder)."""
    root = tmp_path / "photos"
    known = {}

    def add(name, image, **kwargs):
        save(root / name, image, **kwargs)
        known[name] = (image.width, image.height, image.mode, name.split("/")[0])

    red = Image.new("RGB", (40, 40), (200, 10, 10))
    add("a/red.png", red)
    (root / "a" / "red-copy.png").write_bytes((root / "a" / "red.png").read_bytes())
    known["a/red-copy.png"] = known["a/red.png"]
    (root / "b" / "red-again.png").parent.mkdir(parents=True)
    (root / "b" / "red-again.png").write_bytes((root / "a" / "red.png").read_bytes())
    known["b/red-again.png"] = (40, 40, "RGB", "b")
    add("a/noise.png", noise((64, 48), 1))
    add("a/small.png", noise((8, 8), 2))
    add("b/grey.png", noise((40, 20), 3).convert("L"))
    add("b/alpha.png", noise((24, 24), 4).convert("RGBA"))
    add("b/sixteen.png", Image.fromarray(np.random.default_rng(5).integers(0, 65535, (40, 40), dtype=np.uint16)))
    add("b/palette.png", noise((40, 40), 6).convert("P"))
    jpeg = io.BytesIO()
    noise((64, 64), 7).save(jpeg, format="JPEG", quality=90)
    (root / "a" / "truncated.jpg").write_bytes(jpeg.getvalue()[: len(jpeg.getvalue()) // 2])  # header intact
    known["a/truncated.jpg"] = (64, 64, "RGB", "a")
    (root / "b" / "garbage.jpg").write_bytes(b"this is not a JPEG at all" * 10)
    (root / "b" / "empty.png").write_bytes(b"")
    os.mkfifo(root / "a" / "pipe.png")
    (root / "b" / "gone.png").symlink_to(root / "nowhere.png")
    return root, known


def test_a_crafted_folder_is_reported_in_full_from_headers(crafted, tmp_path):
    root, known = crafted
    report = inspect_data(str(root), preview=tmp_path / "p.png", progress=False).to_json()
    broken = ["garbage.jpg", "empty.png", "pipe.png", "gone.png"]
    assert report["images"] == len(known) + len(broken)
    assert report["readable"] == len(known)  # the truncated JPEG's header reads; it is decoded only with verify
    assert len(report["unreadable"]) == len(broken)  # every one, not only the first
    for name in broken:
        assert sum(name in message for message in report["unreadable"]) == 1
    assert Counter(m["mode"] for m in report["modes"] for _ in range(m["count"])) == Counter(
        mode for _, _, mode, _ in known.values())
    assert {m["mode"]: m["name"] for m in report["modes"]}["I;16"] == "16-bit grey"

    sizes = Counter(f"{w}x{h}" for w, h, _, _ in known.values())
    assert {s["size"]: s["count"] for s in report["sizes"]["most_common"]} == dict(sizes)
    assert report["sizes"]["non_square"] == sum(w != h for w, h, _, _ in known.values())
    rows = {row["resolution"]: row for row in report["resolutions"]}
    for r in (16, 32, 64):
        short = [min(w, h) for w, h, _, _ in known.values()]
        assert rows[r]["too_small"] == sum(s < r for s in short)
        assert rows[r]["cropped"] == sum(w != h and min(w, h) >= r for w, h, _, _ in known.values())
        assert rows[r]["as_is"] == sum(w == h == r for w, h, _, _ in known.values())
    assert rows[16]["too_small"] == 1 and rows[32]["too_small"] == 3

    # classes: the listed images per folder, the damaged files of b/ too (the pipe and the broken link are not)
    listed = Counter(folder for *_, folder in known.values()) + Counter({"b": 2})
    assert report["labels"]["from"] == "folders"
    assert report["labels"]["classes"] == dict(listed)
    assert report["labels"]["imbalance"] == pytest.approx(max(listed.values()) / min(listed.values()))

    digests = {}
    for name in known:
        digests.setdefault(hashlib.sha256((root / name).read_bytes()).digest(), []).append(name)
    expected = [sorted(group) for group in digests.values() if len(group) > 1]
    assert [sorted(group) for group in report["duplicates"]["groups"]] == expected == [
        ["a/red-copy.png", "a/red.png", "b/red-again.png"]]
    assert report["duplicates"]["copies"] == 2 and report["duplicates"]["conflicting_labels"] == 1
    assert report["near_duplicates"] is None and not report["verified"]


def test_verify_decodes_every_image_and_finds_the_truncated_one(crafted):
    root, known = crafted
    report = inspect_data(str(root), verify=True, progress=False).to_json()
    assert report["verified"] and report["readable"] == len(known) - 1
    assert sum("truncated.jpg" in message for message in report["unreadable"]) == 1 and len(report["unreadable"]) == 5


def test_near_duplicates_are_found_and_distinct_images_are_not(tmp_path):
    root = tmp_path / "near"
    original = texture(0)
    save(root / "original.png", original)
    save(root / "recompressed.jpg", original, quality=85)
    save(root / "larger.png", original.resize((64, 64), Image.Resampling.BICUBIC))
    save(root / "brighter.png", Image.fromarray(np.clip(np.asarray(original, np.int16) + 20, 0, 255).astype(np.uint8)))
    for seed in range(1, 9):
        save(root / f"other-{seed}.png", texture(seed))
    (root / "exact-copy.png").write_bytes((root / "other-1.png").read_bytes())
    report = inspect_data(str(root), near_duplicates=True, progress=False).to_json()
    groups = [sorted(group) for group in report["near_duplicates"]["groups"]]
    assert groups == [["brighter.png", "larger.png", "original.png", "recompressed.jpg"]]
    assert report["duplicates"]["groups"] == [["exact-copy.png", "other-1.png"]]  # exact copies stay apart


def test_labels_csv_rows_and_images_it_leaves_out_are_counted(tmp_path):
    root = tmp_path / "csv"
    for i in range(6):
        save(root / f"img{i}.png", noise((20, 20), i))
    (root / "labels.csv").write_text("file,label\nimg0.png,cat\nimg1.png,cat\nimg2.png,dog\nimg3.png,cat\n"
                                     "missing.png,dog\nalso-missing.png,dog\n")
    labels = inspect_data(str(root), progress=False).to_json()["labels"]
    assert labels == {"from": "labels.csv", "classes": {"cat": 3, "dog": 1}, "imbalance": 3.0, "unlisted": 2,
                      "unmatched_rows": 2}


def test_the_built_in_digits_and_their_preview_are_what_training_sees(tmp_path):
    images, labels = builtin_digits()
    report = inspect_data("digits", preview=tmp_path / "digits.png", progress=False).to_json()
    assert report["images"] == report["readable"] == len(images)
    assert report["labels"]["classes"] == {str(c): int(n) for c, n in enumerate(np.bincount(labels))}
    pixels = np.round(images * (255 / 16)).astype(np.uint8).reshape(len(images), -1)
    _, counts = np.unique(pixels, axis=0, return_counts=True)
    assert report["duplicates"]["copies"] == int((counts - 1).sum())
    assert report["duplicates"]["copies"] == sum(len(g) - 1 for g in report["duplicates"]["groups"])

    preview = report["preview"]
    assert preview["resolution"] == 16 and preview["per_row"] == 8 and preview["images"] == 80
    dataset = build_dataset(DataConfig(source="digits", resolution=16), progress=False)
    grid = np.asarray(Image.open(preview["path"]))
    for k, name in enumerate(preview["files"]):
        index = int(name.split("#")[1])
        row, column = divmod(k, preview["per_row"])
        tile = grid[2 + row * 18:2 + row * 18 + 16, 2 + column * 18:2 + column * 18 + 16]
        assert np.array_equal(tile, dataset.images[index, 0]), name
        assert str(labels[index]) == str(row)  # a row per class


def test_the_cache_state_follows_the_training_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("STEADYGAN_CACHE", str(tmp_path / "cache"))  # a cache of this test's own
    before = {r["resolution"]: r["cache"]["cached"] for r in inspect_data("digits", progress=False).resolutions}
    build_dataset(DataConfig(source="digits", resolution=32), progress=False)
    after = {r["resolution"]: r["cache"]["cached"] for r in inspect_data("digits", progress=False).resolutions}
    assert not before[32] and after[32] and after[64] == before[64] is False


def test_the_command_prints_json_and_never_writes_over_a_file_of_yours(crafted, tmp_path, capsys):
    root, known = crafted
    preview = tmp_path / "preview.png"
    options = ["--no-progress", "--resolution", "16", "--preview", str(preview)]
    assert cli.main(["data", str(root), "--json", *options]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["resolution"] for r in report["resolutions"]] == [16]
    assert report["preview"]["images"] == len(known) - 2  # not the one too small for 16 px, nor the truncated one
    assert "a/small.png" not in report["preview"]["files"] and "a/truncated.jpg" not in report["preview"]["files"]
    assert cli.main(["data", str(root), *options]) == 0  # replaces its own preview
    text = capsys.readouterr().out
    assert "unreadable: 4" in text and "exact duplicates: 1 groups, 2 extra copies" in text

    mine = tmp_path / "mine.png"
    Image.new("RGB", (4, 4)).save(mine)
    before = mine.read_bytes()
    assert cli.main(["data", str(root), "--no-progress", "--preview", str(mine)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("steadygan: error: --preview") and "was not written by `steadygan data`" in err
    assert err.count("\n") == 1 and mine.read_bytes() == before


@pytest.mark.parametrize("args, message", [
    (["data", "/no/such/photos"], "data source '/no/such/photos' does not exist"),
    (["data", "grid25"], "is a built-in mixture of 2-D points"),
])
def test_bad_sources_are_one_line_errors(capsys, args, message):
    assert cli.main([*args, "--no-progress", "--no-preview"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def zip_members(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return [n for n in archive.namelist() if n.lower().endswith(".jpg")]


@pytest.mark.skipif(not (SHARED / "anime-faces-64.zip").is_file(), reason="../shared/data/anime-faces-64.zip is absent")
def test_the_anime_faces_counts_and_exact_duplicates():
    path = SHARED / "anime-faces-64.zip"
    report = inspect_data(str(path), progress=False).to_json()
    names = zip_members(path)
    groups: dict[str, list[str]] = {}
    with zipfile.ZipFile(path) as archive:
        for name in names:
            groups.setdefault(hashlib.md5(archive.read(name)).hexdigest(), []).append(name)
    duplicated = [g for g in groups.values() if len(g) > 1]
    assert report["images"] == report["readable"] == len(names) == 19_992
    assert len(report["duplicates"]["groups"]) == len(duplicated)
    assert report["duplicates"]["copies"] == sum(len(g) - 1 for g in duplicated)
    assert {s["size"]: s["count"] for s in report["sizes"]["most_common"]} == {"64x64": len(names)}


@pytest.mark.skipif(not (SHARED / "cifar10-jpg.zip").is_file(), reason="../shared/data/cifar10-jpg.zip is absent")
def test_the_cifar10_classes():
    path = SHARED / "cifar10-jpg.zip"
    report = inspect_data(str(path), resolution=32, progress=False).to_json()
    names = zip_members(path)
    classes = Counter(name.split("/")[-2] for name in names)
    assert report["images"] == len(names) == 60_000
    assert report["labels"]["classes"] == dict(classes) and len(classes) == 10
    assert report["resolutions"][0]["as_is"] == 60_000 and not report["unreadable"]
    assert math.isclose(report["labels"]["imbalance"], 1.0)
