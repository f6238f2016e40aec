"""Peak memory of training on CIFAR-10 (60,000 images) and on the same images repeated to 600,000: the
data pipeline reads a memory-mapped uint8 cache, so its memory must not grow with the data set.

    python bench/loader_memory.py                 # about 10 minutes on 2 CPU cores (decoding 660k JPEGs)
    python bench/loader_memory.py --repeat 3      # 180,000 images

For each data set, a fresh process builds (or opens) the cache, then trains DCGAN at 32x32 for --steps
steps while a thread samples /proc/self/status: RssAnon is the process's own memory (what a leak or an
in-memory data set would grow), RssFile the pages of the memory-mapped cache the kernel keeps resident,
reclaimable at any time, and VmHWM the peak of both together.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from common import SHARED_DATA, ResultsFile

RESULTS_FILE = ResultsFile(__file__)

HERE = Path(__file__).resolve().parent

WORKER = r"""
import json, sys, threading, time
from steadygan.config import load_config
from steadygan.data import build_dataset
from steadygan.train import Trainer

def status():
    fields = {}
    for line in open("/proc/self/status"):
        key, _, value = line.partition(":")
        if key in ("RssAnon", "RssFile", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024  # MiB
    return fields

peaks = {"RssAnon": 0.0, "RssFile": 0.0}
def sample():
    while True:
        for key, value in status().items():
            if key in peaks:
                peaks[key] = max(peaks[key], value)
        time.sleep(0.05)
threading.Thread(target=sample, daemon=True).start()

source, out, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
config = load_config("dcgan", [f"data.source={source}", "data.resolution=32", "data.labels=none",
                               f"train.out_dir={out}", f"train.steps={steps}", "train.sample_every=0",
                               "train.checkpoint_every=0", "train.log_every=50", "doctor.rollback=false"])
start = time.perf_counter()
dataset = build_dataset(config.data, progress=False)
cache = {"images": len(dataset), "cache_mib": dataset.images.nbytes / 2**20,
         "cache_seconds": time.perf_counter() - start, "cache_anon_mib": peaks["RssAnon"]}
peaks.update(RssAnon=0.0, RssFile=0.0)
trainer = Trainer(config, progress=False, tensorboard=False)
start = time.perf_counter()
trainer.fit()
time.sleep(0.1)
print(json.dumps({**cache, "train_seconds": time.perf_counter() - start, "anon_mib": peaks["RssAnon"],
                  "file_mib": peaks["RssFile"], "hwm_mib": status()["VmHWM"]}))
"""


def repeated_zip(source: Path, copies: int, target: Path) -> Path:
    """The zip's images `copies` times over (stored, not recompressed), each copy under its own folder."""
    if target.is_file():
        return target
    tmp = target.with_suffix(".tmp")
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as dst:
        entries = [e for e in src.infolist() if not e.is_dir() and e.filename.lower().endswith(".jpg")]
        for copy in range(copies):
            for entry in entries:
                dst.writestr(f"copy{copy}/{entry.filename}", src.read(entry))
    tmp.rename(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(SHARED_DATA / "cifar10-jpg.zip"))
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--work", default="runs/bench-loader-memory", help="where the repeated zip and runs go")
    parser.add_argument("--out", type=RESULTS_FILE.check, default=str(HERE / "results" / "loader-memory.md"))
    args = parser.parse_args(argv)

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    sources = [Path(args.data), repeated_zip(Path(args.data), args.repeat, work / f"x{args.repeat}.zip")]
    rows = []
    for source in sources:
        with tempfile.TemporaryDirectory() as out:
            done = subprocess.run([sys.executable, "-c", WORKER, str(source), out, str(args.steps)],
                                  capture_output=True, text=True, check=True)
        rows.append({"source": source.name, **json.loads(done.stdout.strip().splitlines()[-1])})
        print(rows[-1], flush=True)
    small, large = rows
    lines = ["# Loader memory: 60,000 images against the same repeated 10 times", "",
             (f"`python bench/loader_memory.py --repeat {args.repeat} --steps {args.steps}`: DCGAN 32x32, batch 128, "
              f"{args.steps} steps, in a fresh process per data set (MiB)."), "",
             ("| data | images | cache on disk | decode s | peak own memory (RssAnon) while decoding | "
              "peak own memory while training | peak resident cache pages (RssFile) | peak RSS (VmHWM) |"),
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['source']} | {r['images']:,} | {r['cache_mib']:,.0f} | {r['cache_seconds']:.0f} | "
                     f"{r['cache_anon_mib']:,.0f} | {r['anon_mib']:,.0f} | {r['file_mib']:,.0f} | "
                     f"{r['hwm_mib']:,.0f} |")
    lines += ["", (f"Own memory while training, {large['images']:,} vs {small['images']:,} images: "
                   f"{large['anon_mib'] / small['anon_mib']:.2f}x for {large['images'] / small['images']:.0f}x the "
                   "data.")]
    text = "\n".join(lines) + "\n"
    RESULTS_FILE.publish(args.out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
