"""What installing a steadygan wheel costs: for each wheel, a fresh virtual environment (no system packages)
gets torch first, untimed, then the wheel with its dependencies, timed; the size is that of the environment's
site-packages after the wheel less before it (torch and its own dependencies), with the largest packages the
wheel brought. Then the wall time of `import steadygan` from outside any source tree, best of --repeats.

    python bench/install.py dist/steadygan-0.2.0-py3-none-any.whl OLD.whl [--torch 2.13.0]

pip's download cache is warmed by one untimed install of each wheel into a scratch environment first, so
the times are of resolving, unpacking and byte-compiling, not of the network.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch


def run(*command: object, cwd: Path) -> str:
    done = subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"install.py: error: {' '.join(map(str, command))} exited {done.returncode}: "
                 f"{(done.stderr.strip().splitlines() or [''])[-1]}")
    return done.stdout


def site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python*/site-packages"))


def sizes(site: Path) -> dict[str, int]:
    """Bytes per top-level entry of site-packages (a package and its .dist-info counted together)."""
    found: dict[str, int] = defaultdict(int)
    for entry in site.iterdir():
        name = re.sub(r"-[^-]+\.dist-info$", "", entry.name).lower().replace("_", "-")
        files = [entry] if entry.is_file() else [p for p in entry.rglob("*") if p.is_file() and not p.is_symlink()]
        found[name] += sum(p.stat().st_size for p in files)
    return found


def fresh_venv(folder: Path, torch_version: str) -> Path:
    run(sys.executable, "-m", "venv", folder, cwd=folder.parent)
    run(folder / "bin" / "python", "-m", "pip", "install", "-q", f"torch=={torch_version}", cwd=folder.parent)
    return folder


def measure(wheel: Path, work: Path, torch_version: str, repeats: int) -> dict:
    scratch = fresh_venv(work / "scratch", torch_version)  # warms pip's cache with the wheel's dependencies
    run(scratch / "bin" / "python", "-m", "pip", "install", "-q", wheel, cwd=work)
    shutil.rmtree(scratch)
    venv = fresh_venv(work / "venv", torch_version)
    site = site_packages(venv)
    before, installed = sizes(site), set(site.glob("*.dist-info"))
    start = time.perf_counter()
    run(venv / "bin" / "python", "-m", "pip", "install", "-q", wheel, cwd=work)
    seconds = time.perf_counter() - start
    after = sizes(site)
    added = {name: size - before.get(name, 0) for name, size in after.items() if size != before.get(name, 0)}
    imports = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(venv / "bin" / "python", "-c", "import steadygan", cwd=work)
        imports.append(time.perf_counter() - start)
    modules = run(venv / "bin" / "python", "-c", "import sys, steadygan; print(len(sys.modules))", cwd=work)
    result = {"wheel": wheel.name, "seconds": seconds, "added": added,
              "packages": len(set(site.glob("*.dist-info")) - installed),
              "import": min(imports), "modules": int(modules)}
    shutil.rmtree(venv)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheels", nargs="+", type=Path)
    parser.add_argument("--torch", default=torch.__version__, help="the torch installed first (default: this one)")
    parser.add_argument("--repeats", type=int, default=5, help="imports timed; the best is kept")
    args = parser.parse_args()
    print(f"torch {args.torch} installed first; Python {sys.version.split()[0]}; {os.cpu_count()} CPU cores")
    print("| wheel | install time | site-packages added | distributions added | `import steadygan` (best of "
          f"{args.repeats}) | modules loaded |\n|---|---|---|---|---|---|")
    results = []
    for wheel in args.wheels:
        with tempfile.TemporaryDirectory() as work:
            result = measure(wheel.resolve(), Path(work), args.torch, args.repeats)
        results.append(result)
        print(f"| {result['wheel']} | {result['seconds']:.1f} s | {sum(result['added'].values()) / 2**20:.1f} MiB | "
              f"{result['packages']} | {result['import']:.2f} s | {result['modules']} |", flush=True)
    for result in results:
        largest = sorted(result["added"].items(), key=lambda item: -item[1])[:8]
        print(f"\n{result['wheel']}, the largest additions: "
              + ", ".join(f"{name} {size / 2**20:.1f} MiB" for name, size in largest))


if __name__ == "__main__":
    main()
