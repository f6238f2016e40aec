"""Fuzzing what users hand steadygan: configs, data sources, recipe files and checkpoints.

    python bench/fuzz.py                      # 1,000 configs and 500 damaged files (about 25 minutes on 2 cores)
    python bench/fuzz.py --configs 60 --files 40 --out ''   # the quick form the tests run

Configs are drawn from the schema: unknown sections and keys, malformed overrides, values of the wrong
type, values outside their range (0, negatives, NaN, inf, huge numbers), and valid small configs that
train two steps. Files start from good ones (an image folder with labels.csv, the same as a zip, MNIST
IDX files, a recipe, a checkpoint) and are damaged: truncated, bit-flipped, bytes spliced in, headers
altered, labels.csv rows and columns mislabelled, recipes made invalid UTF-8 or YAML, zip members
corrupted so their CRC fails. Each case runs one `steadygan` command in this process with a time limit.

Every case must end in success or in exactly one `steadygan: error:` line: a traceback, any other
output on stderr, a hang past the time limit, or memory past the bound is a failure, printed with the
seed that reproduces it (`--case N`). The seeded generator (not hypothesis) makes the counts exact.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gzip
import io
import os
import random
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
TIME_LIMIT_S = 60  # per case: a hang is anything slower
MEMORY_BOUND_MB = 4096  # peak resident memory of the whole run

# Every valid run is tiny: small networks and batches, two steps, every periodic action exercised.
TINY = ["--steps", "2", "--no-progress", "--no-tensorboard", "model.g_width=4", "model.d_width=4",
        "model.z_dim=8", "optim.batch_size=8", "train.log_every=1", "train.sample_every=1",
        "train.checkpoint_every=1", "train.num_samples=4", "doctor.monitor_samples=8"]


class CaseTimeout(Exception):
    pass


@dataclass
class Outcome:
    case: int
    kind: str
    description: str
    result: str  # "ok", "error" (one SteadyganError line) or "failure"
    detail: str = ""
    seconds: float = 0.0


def run_command(argv: list[str], time_limit: int = TIME_LIMIT_S) -> tuple[str, str]:
    """(result, detail) of `steadygan ARGV` run in this process."""
    from steadygan import cli

    def expire(signum, frame):
        raise CaseTimeout

    out, err = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(time_limit)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(argv)
    except CaseTimeout:
        return "failure", f"no answer within {time_limit} s"
    except BaseException:  # noqa: BLE001  (anything that escapes the command is what the harness looks for)
        return "failure", traceback.format_exc(limit=-8)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    lines = [line for line in err.getvalue().splitlines() if not line.startswith("steadygan: warning: ")]
    if code == 0 and not lines:
        return "ok", ""
    if code == 2 and len(lines) == 1 and lines[0].startswith("steadygan") and ": error: " in lines[0]:
        return "error", lines[0]
    return "failure", f"exit {code}, stderr: {err.getvalue()[-2000:]}"


# --------------------------------------------------------------------------------------------------
# configs drawn from the schema


def schema() -> list[tuple[str, str, object, dataclasses.Field]]:
    """(section, key, default, field) for every config key."""
    from steadygan.config import Config

    config = Config()
    return [(section.name, entry.name, getattr(getattr(config, section.name), entry.name), entry)
            for section in dataclasses.fields(config) for entry in dataclasses.fields(getattr(config, section.name))]


# Keys whose valid values could make a tiny run slow or write outside the work folder: drawn as invalid only.
COSTLY = {"train.out_dir", "data.cache_dir", "train.steps", "train.eval_every", "data.source", "model.g_width",
          "model.d_width", "model.z_dim", "optim.batch_size", "growth.fade_images", "growth.stabilize_images",
          "data.resolution", "growth.batch_sizes", "train.eval_n", "data.workers", "train.compile"}
JUNK_TEXT = ["", " ", "none", "[1, 2", "{a: b}", "1e400", "-0", "0x10", "1_0", "ümlaut", "a\tb", "~nobody/x", "\\",
             "photos #1", "'quoted'", "yes", "null", "1.5", "-1", "nan", "inf", "2e-4", "[0.5, 0.9, 0.1]", "{4: 8"]
BAD_NUMBERS = ["-1", "0", "-0.5", "1", "1.0", "2", "65537", "2147483647", "9" * 30, "nan", "inf", "-inf", "1e-320",
               "1e400", "0.999999999", "-1e-30"]


def valid_value(rng: random.Random, default: object, entry: dataclasses.Field) -> str:
    """A small value the key accepts."""
    choices = entry.metadata.get("choices")
    if choices:
        return str(rng.choice(choices))
    if isinstance(default, bool):
        return rng.choice(["true", "false"])
    if isinstance(default, int):
        bounds = entry.metadata.get("bounds")
        low = int(bounds.low) if bounds is not None and bounds.low is not None else 0
        return str(rng.choice([max(low, v) for v in (0, 1, 2, 3, 4)]))
    if isinstance(default, float):
        return repr(rng.choice([0.0, 1e-4, 0.01, 0.1, 0.5, 0.9]))
    if isinstance(default, tuple):
        return f"[{rng.choice([0.0, 0.5])}, {rng.choice([0.9, 0.99])}]"
    return rng.choice(["", "color", "translation", "fid", "auto", "cpu", "digits", "ns", "hinge", "dcgan", "mlp"])


def config_case(rng: random.Random, workdir: Path, recipes: list[str]) -> tuple[str, list[str]]:
    """A `steadygan train` command line and what kind of config it carries."""
    fields = schema()
    recipe = rng.choice(recipes)
    kind = rng.choices(["garbage", "range", "valid"], weights=[4, 4, 2])[0]
    overrides = []
    for _ in range(rng.randint(1, 4)):
        section, key, default, entry = rng.choice(fields)
        name = f"{section}.{key}"
        if kind == "garbage":
            form = rng.randrange(5)
            overrides.append([f"{rng.choice(['datta', 'optim', 'x'])}.{key}=1", f"{section}.{key}x=1",
                              f"{name}{rng.choice(JUNK_TEXT)}", f"{section}{key}=1",
                              f"{name}={rng.choice(JUNK_TEXT)}"][form])
        elif kind == "range" and isinstance(default, (int, float, tuple, dict)) and not isinstance(default, bool):
            bad = rng.choice(BAD_NUMBERS)
            value = f"[{bad}, 0.9]" if isinstance(default, tuple) else f"{{8: {bad}}}" if isinstance(default, dict) \
                else bad
            overrides.append(f"{name}={value}")
        elif name not in COSTLY:
            overrides.append(f"{name}={valid_value(rng, default, entry)}")
    if kind == "valid" and recipe in ("toy2d", "toy2d-stable", "unrolled"):
        overrides.append(f"data.source={rng.choice(['ring8', 'grid25'])}")
    if kind == "valid" and recipe == "pggan":
        overrides += ["growth.fade_images=8", "growth.stabilize_images=8", "growth.batch_sizes={}"]
    argv = ["train", "--recipe", recipe, *TINY, "--out", str(workdir / "run"), *overrides]
    return f"{kind} config ({recipe}: {' '.join(overrides)})", argv


# --------------------------------------------------------------------------------------------------
# damaged files


def good_files(workdir: Path) -> dict[str, Path]:
    """The undamaged originals: an image folder with labels.csv, the same zipped, IDX files, a recipe and a
    checkpoint of a two-step run."""
    from steadygan import cli
    from steadygan.config import DataConfig
    from steadygan.data import build_dataset

    digits = build_dataset(DataConfig(source="digits", resolution=16, channels=3), progress=False)
    folder = workdir / "good" / "images"
    rows = ["file,label,split"]
    for i in range(24):
        name = f"{'a' if i % 2 else 'b'}/{i:03d}.{'png' if i % 3 else 'jpg'}"
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(digits.images[i].transpose(1, 2, 0)).resize((20, 20)).save(folder / name)
        rows.append(f"{name},{i % 3},{'train' if i % 4 else 'test'}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    archive = workdir / "good" / "images.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zipped.write(path, path.relative_to(folder).as_posix(),
                             compress_type=zipfile.ZIP_DEFLATED if path.suffix == ".csv" else zipfile.ZIP_STORED)
    idx = workdir / "good" / "idx"
    idx.mkdir()
    pixels = (np.random.default_rng(0).random((40, 12, 12)) * 255).astype(np.uint8)
    (idx / "t10k-images-idx3-ubyte").write_bytes(bytes([0, 0, 8, 3]) + b"".join(
        n.to_bytes(4, "big") for n in pixels.shape) + pixels.tobytes())
    with gzip.open(idx / "t10k-labels-idx1-ubyte.gz", "wb") as labels:
        labels.write(bytes([0, 0, 8, 1]) + (40).to_bytes(4, "big") + bytes(i % 10 for i in range(40)))
    recipe = workdir / "good" / "recipe.yaml"
    recipe.write_text("# a small recipe\nmodel:\n  arch: dcgan\n  g_width: 4\n  d_width: 4\n  z_dim: 8\n"
                      "optim:\n  batch_size: 8\n  g_betas: [0.5, 0.999]\ntrain:\n  steps: 2\n  log_every: 1\n")
    run = workdir / "good" / "run"
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(["train", "--recipe", str(recipe), "--out", str(run), *TINY]) == 0
    return {"folder": folder, "zip": archive, "idx": idx, "recipe": recipe,
            "checkpoint": run / "checkpoints" / "last.safetensors"}


def damage(rng: random.Random, payload: bytes) -> tuple[str, bytes]:
    """A damaged copy of `payload` and how it was damaged."""
    if not payload:
        return "empty", b""
    form = rng.randrange(6)
    if form == 0:
        cut = rng.randrange(len(payload))
        return f"truncated to {cut} bytes", payload[:cut]
    data = bytearray(payload)
    if form in (1, 2):
        count = rng.choice([1, 2, 8, 64])
        for _ in range(count):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        return f"{count} bits flipped", bytes(data)
    if form == 3:
        at = rng.randrange(len(data))
        return f"{16} random bytes spliced in at {at}", bytes(data[:at] + rng.randbytes(16) + data[at:])
    if form == 4:  # the header region, where sizes and counts live
        at = rng.randrange(min(len(data), 64))
        data[at:at + 4] = rng.choice([b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff"])
        return f"header bytes {at}-{at + 3} replaced", bytes(data)
    return "replaced by random bytes", rng.randbytes(len(payload))


def mislabel(rng: random.Random, text: str) -> tuple[str, str]:
    lines = text.splitlines()
    form = rng.randrange(6)
    if form == 0:
        return "header only", lines[0] + "\n"
    if form == 1:
        return "columns renamed", "path,class\n" + "\n".join(lines[1:])
    if form == 2:
        lines[rng.randrange(1, len(lines))] = "missing.png,3"
        return "a row names a missing file", "\n".join(lines)
    if form == 3:
        lines[rng.randrange(1, len(lines))] += ",,extra"
        return "a row with extra fields", "\n".join(lines)
    if form == 4:
        lines[rng.randrange(1, len(lines))] = lines[1].split(",")[0]
        return "a row without a label", "\n".join(lines)
    return "NUL bytes", "\0".join(lines)


def file_case(rng: random.Random, workdir: Path, good: dict[str, Path], number: int) -> tuple[str, list[str]]:
    """A damaged copy of one good file, and the command that reads it."""
    kind = rng.choice(["folder image", "labels.csv", "zip", "zip member", "idx", "recipe", "checkpoint"])
    case = workdir / f"case-{number}"
    out = ["--out", str(case / "run")]
    if kind in ("folder image", "labels.csv"):
        folder = case / "images"
        shutil.copytree(good["folder"], folder)
        if kind == "labels.csv":
            how, text = mislabel(rng, (folder / "labels.csv").read_text())
            (folder / "labels.csv").write_text(text)
        else:
            target = rng.choice(sorted(p for p in folder.rglob("*") if p.suffix in (".png", ".jpg")))
            how, payload = damage(rng, target.read_bytes())
            target.write_bytes(payload)
            how = f"{target.name} {how}"
        extra = rng.choice([[], ["model.conditional=true", "--recipe", "sngan-projection"], ["data.split=train"]])
        return f"{kind}: {how}", ["train", "--data", str(folder), *TINY, *out, *extra]
    if kind in ("zip", "zip member"):
        archive = case / "images.zip"
        case.mkdir()
        if kind == "zip":
            how, payload = damage(rng, good["zip"].read_bytes())
            archive.write_bytes(payload)
        else:  # a member's stored bytes changed: its CRC-32 no longer matches
            data = bytearray(good["zip"].read_bytes())
            with zipfile.ZipFile(good["zip"]) as zipped:
                info = rng.choice([i for i in zipped.infolist() if not i.is_dir()])
            start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
            data[start + rng.randrange(max(1, info.compress_size))] ^= 0x55
            archive.write_bytes(bytes(data))
            how = f"{info.filename} altered"
        return f"{kind}: {how}", ["train", "--data", str(archive), *TINY, *out]
    if kind == "idx":
        folder = case / "idx"
        shutil.copytree(good["idx"], folder)
        target = rng.choice(sorted(folder.iterdir()))
        raw = gzip.decompress(target.read_bytes()) if target.suffix == ".gz" else target.read_bytes()
        how, payload = damage(rng, raw)
        target.write_bytes(gzip.compress(payload) if target.suffix == ".gz" and rng.random() < 0.5 else payload)
        return f"idx: {target.name} {how}", ["train", "--data", str(folder), *TINY, *out]
    if kind == "recipe":
        recipe = case / "recipe.yaml"
        case.mkdir()
        text = good["recipe"].read_bytes()
        form = rng.randrange(3)
        if form == 0:
            how, payload = "invalid UTF-8", text.replace(b"dcgan", b"dc\xffgan")
        elif form == 1:
            how, payload = "broken YAML", text.replace(b"  g_width: 4", b"  g_width: [4")
        else:
            how, payload = damage(rng, text)
        recipe.write_bytes(payload)
        return f"recipe: {how}", ["train", "--recipe", str(recipe), *TINY, *out]
    checkpoint = case / "model.safetensors"
    case.mkdir()
    payload = good["checkpoint"].read_bytes()
    header = int.from_bytes(payload[:8], "little")
    region = rng.choice(["header", "metadata", "tensors"])
    if region == "tensors":  # flip bits in the tensor bytes, after the JSON header
        data = bytearray(payload)
        for _ in range(rng.choice([1, 16, 256])):
            data[8 + header + rng.randrange(len(payload) - 8 - header)] ^= 1 << rng.randrange(8)
        how = "tensor bytes flipped"
        payload = bytes(data)
    elif region == "metadata":  # a valid header whose JSON says something else
        how, head = damage(rng, payload[8:8 + header])
        payload = len(head).to_bytes(8, "little") + head + payload[8 + header:]
    else:
        how, payload = damage(rng, payload)
    checkpoint.write_bytes(payload)
    command = rng.choice([["info", str(checkpoint)],
                          ["sample", str(checkpoint), "-n", "4", "--out", str(case / "s.png")],
                          ["train", "--resume", str(checkpoint), "--steps", "3", "--no-progress", "--no-tensorboard",
                           *out]])
    return f"checkpoint {region}: {how} ({command[0]})", command


# --------------------------------------------------------------------------------------------------


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fuzz(configs: int, files: int, seed: int = 0, only: int | None = None, log=print) -> list[Outcome]:
    """Runs the cases (or only case `only`) and returns their outcomes."""
    outcomes: list[Outcome] = []
    cache = os.environ.get("STEADYGAN_CACHE")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        os.environ["STEADYGAN_CACHE"] = str(workdir / "cache")  # nothing is written outside the work folder
        try:
            good = good_files(workdir)
            for number in range(configs + files):
                if only is None or number == only:
                    outcomes.append(run_case(number, number < configs, seed, workdir, good, log))
        finally:
            if cache is None:
                os.environ.pop("STEADYGAN_CACHE", None)
            else:
                os.environ["STEADYGAN_CACHE"] = cache
    return outcomes


def run_case(number: int, is_config: bool, seed: int, workdir: Path, good: dict[str, Path], log) -> Outcome:
    from steadygan.config import recipe_names

    rng = random.Random(f"{seed}:{number}")
    description, argv = (config_case(rng, workdir / f"case-{number}", recipe_names()) if is_config
                         else file_case(rng, workdir, good, number))
    start, home = time.perf_counter(), Path.cwd()
    (workdir / f"case-{number}").mkdir(exist_ok=True)
    os.chdir(workdir / f"case-{number}")  # relative paths a case names stay inside its folder
    try:
        result, detail = run_command(argv)
    finally:
        os.chdir(home)
    if peak_memory_mb() > MEMORY_BOUND_MB:
        result, detail = "failure", f"peak memory {peak_memory_mb():.0f} MB > {MEMORY_BOUND_MB} MB"
    if result == "failure":
        log(f"FAILURE case {number}: {description}\n  steadygan {' '.join(argv)}\n{detail}")
    shutil.rmtree(workdir / f"case-{number}", ignore_errors=True)
    return Outcome(number, "config" if is_config else "file", description, result, detail,
                   time.perf_counter() - start)


def report(outcomes: list[Outcome], seconds: float, command: str) -> str:
    summary = (f"`{command}`: {len(outcomes)} cases in {seconds / 60:.1f} minutes, peak memory "
               f"{peak_memory_mb():,.0f} MB (bound {MEMORY_BOUND_MB:,} MB), {TIME_LIMIT_S} s per case at most.")
    lines = [summary, "",
             "| inputs | cases | succeeded | one-line error | tracebacks, hangs, other output |",
             "|---|---|---|---|---|"]
    for kind in ("config", "file"):
        group = [o for o in outcomes if o.kind == kind]
        counts = {r: sum(o.result == r for o in group) for r in ("ok", "error", "failure")}
        lines.append(f"| {'configs' if kind == 'config' else 'damaged files'} | {len(group):,} | {counts['ok']:,} | "
                     f"{counts['error']:,} | {counts['failure']:,} |")
    slowest = max(outcomes, key=lambda o: o.seconds, default=None)
    if slowest:
        lines += ["", f"Slowest case: {slowest.seconds:.1f} s ({slowest.description[:100]})."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=1000)
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--case", type=int, help="run this case alone (to reproduce a failure)")
    parser.add_argument("--out", default=str(HERE / "results" / "fuzz.md"), help="the table ('' for none)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    outcomes = fuzz(args.configs, args.files, args.seed, args.case)
    command = "python bench/fuzz.py" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    text = report(outcomes, time.perf_counter() - start, command)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 1 if any(o.result == "failure" for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
