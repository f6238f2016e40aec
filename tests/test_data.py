"""Data sources, labels, the uint8 cache, batches and every bad-input error."""

import gzip
import hashlib
import sys
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from steadygan.config import DataConfig
from steadygan.data import BatchStream, build_dataset, sample_mixture, sources, toy_centres
from steadygan.errors import DataError


def solid(path, colour, size=(20, 20), mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour).save(path)
    return path


@pytest.fixture
def class_folder(tmp_path):
    root = tmp_path / "pets"
    for i in range(3):
        solid(root / "cat" / f"{i}.png", (250, 0, 0))
        solid(root / "dog" / "deeper" / f"{i}.jpg", (0, 0, 250))  # recursive; class = parent folder name
    solid(root / ".hidden" / "x.png", (0, 250, 0))
    solid(root / "__MACOSX" / "cat" / "._0.png", (0, 250, 0))
    (root / "notes.txt").write_text("not an image")
    return root


def load(source, **kwargs):
    kwargs.setdefault("resolution", 16)
    return build_dataset(DataConfig(source=str(source), **kwargs), progress=False)


def test_folder_labels_from_subfolders_recursive_skipping_hidden(class_folder):
    data = load(class_folder)
    assert len(data) == 6 and data.shape() == (3, 16, 16)
    assert data.class_names == ["cat", "deeper"] or data.class_names == ["cat", "dog"]
    images, labels = data.batch(np.arange(6))
    reds = images[:, 0].mean(dim=(1, 2))
    assert torch.all((reds > 0.9) == (labels == 0))  # every cat is red, every dog blue
    assert images.min() >= -1 and images.max() <= 1


def test_zip_reads_the_same_images_as_the_folder(class_folder, tmp_path):
    archive = tmp_path / "pets.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(class_folder.rglob("*")):
            if path.is_file():
                z.write(path, path.relative_to(class_folder).as_posix())
    folder, zipped = load(class_folder), load(archive)
    assert np.array_equal(np.asarray(folder.images), np.asarray(zipped.images))
    assert np.array_equal(folder.labels, zipped.labels) and folder.class_names == zipped.class_names
    assert not any(p.name.endswith(".png") for p in tmp_path.iterdir())  # nothing was unpacked


def test_labels_csv_with_numeric_classes_and_split(tmp_path):
    root = tmp_path / "flowers"
    rows = ["file,label,split"]
    for i, (label, split) in enumerate([(10, "train"), (2, "train"), (10, "test"), (2, "train"), (7, "train")]):
        solid(root / "jpg" / f"image_{i}.jpg", (i * 50, 0, 0))
        rows.append(f"jpg/image_{i}.jpg,{label},{split}")
    (root / "labels.csv").write_text("\n".join(rows))
    everything = load(root)
    assert everything.class_names == ["2", "7", "10"]  # numeric order, not text order
    assert everything.labels.tolist() == [2, 0, 2, 0, 1]
    train = load(root, split="train")
    assert len(train) == 4 and train.labels.tolist() == [2, 0, 0, 1]
    assert load(root, labels="none").num_classes == 0


def test_folder_split_keeps_the_top_folder(tmp_path):
    for split in ("train", "test"):
        for cls in ("a", "b"):
            solid(tmp_path / split / cls / "0.png", (1, 2, 3))
            solid(tmp_path / split / cls / "1.png", (1, 2, 3))
    data = load(tmp_path, split="test")
    assert len(data) == 4 and data.class_names == ["a", "b"]


def write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_mnist_idx_files_with_labels(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28))
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.array([3, 1, 4, 1, 5]))
    data = load(tmp_path, resolution=28)
    assert data.shape() == (1, 28, 28) and np.array_equal(np.asarray(data.images)[:, 0], images)
    assert data.class_names == ["1", "3", "4", "5"] and data.labels.tolist() == [1, 0, 2, 0, 3]
    assert load(tmp_path / "t10k-images-idx3-ubyte.gz", resolution=32).shape() == (1, 32, 32)


def test_builtin_digits():
    data = load("digits")
    assert len(data) == 1797 and data.num_classes == 10 and data.shape() == (1, 16, 16)
    images = np.asarray(data.images)
    assert images.max() == 255 and images.min() == 0
    assert load("digits", channels=3).shape() == (3, 16, 16)


def test_the_shipped_digits_load_without_scikit_learn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # any import of it fails
    images, labels = sources.builtin_digits()
    assert images.dtype == labels.dtype == np.uint8 and images.shape == (1797, 8, 8)
    assert images.max() == 16 and np.bincount(labels).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    # Pins the values and their order: the cache fingerprint of `digits` promises the same images.
    digest = hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest()
    assert digest == "87ff0c9e40dc7e2c0e34e7257799c2e3f3aec1a016363bb11cad869ec428a826"
    listing = sources.list_digits("auto")
    assert np.array_equal(listing.decoded, np.round(images * (255 / 16)).astype(np.uint8))
    assert listing.labels == [str(label) for label in labels]


def test_the_shipped_digits_are_scikit_learns():
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    images, labels = sources.builtin_digits()
    assert np.array_equal(images, digits.images) and np.array_equal(labels, digits.target)
    listing = sources.list_digits("auto")  # what the scikit-learn loader made of them before
    assert np.array_equal(listing.decoded, np.round(digits.images * (255 / 16)).astype(np.uint8))
    assert listing.labels == [str(t) for t in digits.target]


def test_resize_then_center_crop(tmp_path):
    image = np.zeros((20, 40, 3), np.uint8)
    image[:, 10:30] = 255  # the white centre square survives the crop, the black sides do not
    Image.fromarray(image).save(tmp_path / "wide.png")
    data = load(tmp_path, resolution=10)
    crop = np.asarray(data.images)[0]
    assert crop.shape == (3, 10, 10) and crop.min() > 240


def test_transparency_becomes_white(tmp_path):
    solid(tmp_path / "clear.png", (0, 0, 0, 0), mode="RGBA")
    assert np.asarray(load(tmp_path).images).min() == 255


def test_cache_is_reused_and_invalidated_when_the_source_changes(class_folder, monkeypatch):
    first = load(class_folder)
    assert isinstance(first.images, np.memmap)
    calls = []
    real_decode = sources.decode_entry
    monkeypatch.setattr("steadygan.data.cache.decode_entry", lambda *a, **k: calls.append(1) or real_decode(*a, **k))
    load(class_folder)
    assert calls == []  # a cache hit decodes nothing
    solid(class_folder / "cat" / "new.png", (250, 0, 0))
    assert len(load(class_folder)) == 7 and len(calls) == 7


def test_batch_stream_is_reproducible_resumable_and_covers_each_epoch():
    data = load("digits")
    stream = BatchStream(data, 100, seed=3)
    seen = np.concatenate([stream.next()[1].numpy() for _ in range(17)])  # 17 batches = one epoch
    assert np.bincount(seen, minlength=10).tolist() == np.bincount(data.labels[:1700] * 0 + data.labels[
        np.random.default_rng((3, 0)).permutation(1797)[:1700]], minlength=10).tolist()
    a = BatchStream(data, 100, seed=3)
    for _ in range(30):  # 13 batches into the second epoch
        a.next()
    b = BatchStream(data, 100, seed=3)
    b.load_state_dict(a.state_dict())
    epochs = [b.state_dict()["epoch"]]
    for _ in range(25):  # the resumed stream crosses two epoch boundaries, into the fourth epoch
        xa, ya = a.next()
        xb, yb = b.next()
        assert torch.equal(xa, xb) and torch.equal(ya, yb) and a.state_dict() == b.state_dict()
        epochs.append(b.state_dict()["epoch"])
    assert sorted(set(epochs)) == [1, 2, 3] and epochs == sorted(epochs)


def test_batch_threads_serve_the_same_batches_and_resume_state(tmp_path):
    data = load("digits")
    plain = BatchStream(data, 100, seed=3, hflip=True)
    threaded = BatchStream(data, 100, seed=3, hflip=True, workers=2)
    for step in range(40):  # two epoch boundaries, a resolution switch and a resume on the way
        if step == 10:
            for stream in (plain, threaded):
                stream.serve(data.downsampled(8), 50)
        if step == 25:
            threaded = BatchStream(data.downsampled(8), 50, seed=3, hflip=True, workers=2)
            threaded.load_state_dict(plain.state_dict())
        (xa, ya), (xb, yb) = plain.next(), threaded.next()
        assert xa.dtype == torch.uint8 and torch.equal(xa, xb) and torch.equal(ya, yb)
        assert plain.state_dict() == threaded.state_dict()


def test_shards_of_a_stream_make_up_its_global_batches():
    data = load("digits")
    whole = BatchStream(data, 8, seed=1)
    shards = [BatchStream(data, 8, seed=1, shard=(rank, 2)) for rank in (0, 1)]
    for _ in range(3):
        images, labels = whole.next()
        parts = [shard.next() for shard in shards]
        assert torch.equal(torch.cat([p[0] for p in parts]), images)
        assert torch.equal(torch.cat([p[1] for p in parts]), labels)
    with pytest.raises(DataError, match="multiples of 2"):
        BatchStream(data, 7, shard=(0, 2))


def test_hflip_flips_exactly_the_chosen_images(tmp_path):
    image = np.zeros((16, 16, 3), np.uint8)
    image[:, :4] = 255
    Image.fromarray(image).save(tmp_path / "left.png")
    solid(tmp_path / "other.png", (9, 9, 9), (16, 16))
    data = load(tmp_path)
    images, _ = data.batch(np.array([0, 0, 0]), np.array([True, False, True]))
    assert torch.equal(images[0], images[1].flip(-1)) and torch.equal(images[0], images[2])
    assert np.asarray(data.images)[0, 0, 0, 0] == 255  # the cache itself is never modified


def test_toy_mixtures_follow_the_published_geometry():
    ring = toy_centres("ring8")
    assert len(np.unique(ring.round(6), axis=0)) == 8  # not linspace(0, 2pi, 8), which repeats a mode
    assert np.allclose(np.linalg.norm(ring, axis=1), 1)
    grid = toy_centres("grid25")
    assert sorted(set(grid[:, 0])) == [-4, -2, 0, 2, 4] and len(grid) == 25
    points, modes = sample_mixture("grid25", 20000, seed=0)
    offsets = points - grid[modes]
    assert abs(offsets.std() - 0.05) < 0.002 and np.bincount(modes).min() > 600
    data = load("ring8")
    assert len(data) == 100_000 and data.shape() == (2,) and data.render(torch.zeros(10, 2)).shape[-1] == 3


def corrupt(tmp_path):
    solid(tmp_path / "fine.png", (1, 2, 3))
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return tmp_path


@pytest.mark.parametrize("make, kwargs, message", [
    (lambda p: p / "missing", {}, "does not exist; give a folder, a .zip"),
    (lambda p: p, {}, "no images (jpg, jpeg, png, webp, bmp, tif, tiff) found in"),
    (corrupt, {}, "/broken.jpg' (Truncated File Read); remove or replace that file"),
    (lambda p: solid(p / "small.png", (0, 0, 0), (20, 30)).parent, {"resolution": 32},
     "is 20x30, smaller than data.resolution=32; remove it, or train at a resolution of at most 20 pixels"),
    (lambda p: (p / "bad.zip").write_bytes(b"PK nope") and p / "bad.zip", {}, "is not a readable zip file"),
    (lambda p: solid(p / "one.png", (0, 0, 0)), {}, "is a single file; give a folder or a .zip"),
    (lambda p: solid(p / "a.png", (0, 0, 0)).parent, {"labels": "csv"}, "data.labels=csv but there is no labels.csv"),
    (lambda p: solid(p / "a.png", (0, 0, 0)).parent, {"labels": "folders"}, "needs images in at least 2 sub-folders"),
    (lambda p: solid(p / "a" / "x.png", (0, 0, 0)).parent.parent, {"split": "train"}, "no images of split 'train'"),
    (lambda p: p, {"source": "ring8", "hflip": True}, "data.hflip=true does not apply to 2-D point data"),
    (lambda p: p, {"source": "digits", "channels": 2}, "data.channels=2 is not supported"),
])
def test_bad_data_is_a_one_line_error_naming_the_fix(tmp_path, make, kwargs, message):
    source = kwargs.pop("source", None) or make(tmp_path)
    with pytest.raises(DataError) as error:
        load(source, **kwargs)
    assert message in str(error.value) and "\n" not in str(error.value)
    if make is corrupt:
        assert f"cannot decode image '{tmp_path}/broken.jpg'" in str(error.value)


def test_labels_csv_that_matches_no_file(tmp_path):
    solid(tmp_path / "img" / "a.png", (0, 0, 0))
    (tmp_path / "labels.csv").write_text("file,label\na.png,1\n")
    with pytest.raises(DataError, match=r"must hold paths relative to the csv, like img/a.png"):
        load(tmp_path)


def test_batch_larger_than_the_data():
    with pytest.raises(DataError,
                       match=r"batch size 2000 is larger than the data set \(1797 items\); lower optim.batch_size"):
        BatchStream(load("digits"), 2000)
