"""The package as users get it: an sdist and a wheel built from it by `python -m build`, installed into a fresh
virtual environment (no system packages: the core dependencies alone, plus torch) and run from outside the
source tree: the version, the README's first command shortened, an evaluation with a shipped classifier, and
every data file the package reads."""

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
import torch

from helpers import NO_TENSORBOARD

ROOT = Path(__file__).resolve().parents[1]
VERSION = re.search(r'^version = "(.+)"$', (ROOT / "pyproject.toml").read_text(), re.M)[1]  # type: ignore[index]


def run(*command, cwd, env=None, check=True) -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    if check and done.returncode:
        pytest.fail(f"{' '.join(map(str, command))} exited {done.returncode}:\n{done.stdout[-3000:]}"
                    f"\n{done.stderr[-3000:]}")
    return done


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    # From a copy without build leftovers: setuptools adds every file a stale *.egg-info/SOURCES.txt lists.
    source = tmp_path_factory.mktemp("source") / "steadygan"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".*", "*.egg-info", "build", "dist", "runs",
                                                                "__pycache__"))
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--outdir", out, source, cwd=out)  # the sdist, then the wheel from it
    return out


@pytest.fixture(scope="module")
def venv(dist, tmp_path_factory):
    """A fresh environment outside the repository with torch (this process's version) and the wheel."""
    folder = tmp_path_factory.mktemp("venv")
    run(sys.executable, "-m", "venv", folder, cwd=folder)
    python = folder / "bin" / "python"
    done = run(python, "-m", "pip", "install", "-q", f"torch=={torch.__version__}", cwd=folder, check=False)
    if done.returncode:  # not what this test checks: a CUDA build, say, that the index here does not hold
        pytest.skip(f"torch {torch.__version__} does not install into a fresh environment here: "
                    f"{done.stderr.strip().splitlines()[-1:]}")
    run(python, "-m", "pip", "install", "-q", next(dist.glob("steadygan-*.whl")), cwd=folder)
    return folder


def in_venv(venv, *command, cwd, check=True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", STEADYGAN_CACHE=str(cwd / "cache"))
    return run(*command, cwd=cwd, env=env, check=check)


def package_files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}


@pytest.mark.slow
def test_the_sdist_and_wheel_hold_the_package_and_its_data(dist):
    sources = package_files(ROOT / "steadygan")
    assert {"data/digits.npz", "data/digits-LICENSE.txt", "recipes/dcgan.yaml",
            "weights/digits-classifier.safetensors", "weights/mnist-classifier.safetensors"} <= sources
    with zipfile.ZipFile(next(dist.glob(f"steadygan-{VERSION}-py3-none-any.whl"))) as wheel:
        names = set(wheel.namelist())
        metadata = wheel.read(f"steadygan-{VERSION}.dist-info/METADATA").decode()
    assert {f"steadygan/{name}" for name in sources} <= names
    assert f"steadygan-{VERSION}.dist-info/licenses/steadygan/data/digits-LICENSE.txt" in names
    requires = sorted(re.findall(r"^Requires-Dist: ([\w-]+)[^;\n]*$", metadata, re.M))  # the core: no extra
    assert requires == ["matplotlib", "numpy", "pillow", "pyyaml", "safetensors", "torch", "tqdm"]
    assert "Requires-Dist: tensorboard>=2.14; extra == \"tensorboard\"" in metadata
    with tarfile.open(next(dist.glob(f"steadygan-{VERSION}.tar.gz"))) as sdist:
        members = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert {f"steadygan/{name}" for name in sources} <= members
    assert {"pyproject.toml", "README.md", "CHANGELOG.md", "tests/helpers.py", "tests/conftest.py"} <= members


@pytest.mark.slow
def test_the_installed_wheel_trains_and_evaluates_without_the_source_tree(venv, tmp_path):
    where = in_venv(venv, "python", "-c", "import importlib.metadata as m, steadygan; "
                    "print(steadygan.__file__, m.version('steadygan'), steadygan.__version__)", cwd=tmp_path)
    file, metadata_version, module_version = where.stdout.split()
    site = Path(file).parents[1]
    assert site.is_relative_to(venv) and site.name == "site-packages", file  # the wheel's, not the source tree
    assert metadata_version == module_version == VERSION
    assert in_venv(venv, "steadygan", "--version", cwd=tmp_path).stdout == f"steadygan {VERSION}\n"
    # The core alone: neither of what the digits and TensorBoard once needed is installed.
    for module in ("sklearn", "tensorboard"):
        assert in_venv(venv, "python", "-c", f"import {module}", cwd=tmp_path, check=False).returncode == 1

    out = tmp_path / "run"
    train = in_venv(venv, "steadygan", "train", "--steps", 4, "--out", out, "--no-progress", "train.log_every=2",
                    cwd=tmp_path)  # the README's first command, 4 steps of it
    assert "finished at step 4" in train.stdout
    assert train.stderr.splitlines() == [NO_TENSORBOARD]
    assert {p.name for p in out.iterdir()} >= {"checkpoints", "samples", "loss.png", "metrics.jsonl", "README.md"}
    assert [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()] == [2, 4]

    evaluation = json.loads(in_venv(venv, "steadygan", "evaluate", out, "--metrics", "fid,kid", "-n", 200,
                                    "--no-progress", "--json", cwd=tmp_path).stdout)
    assert evaluation["protocol"]["extractor"] == "classifier:digits" and evaluation["protocol"]["real"] == 1797
    assert evaluation["scores"]["fid"] > 0

    installed = package_files(site / "steadygan")
    assert package_files(ROOT / "steadygan") <= installed
    recipes = in_venv(venv, "steadygan", "recipes", cwd=tmp_path).stdout.splitlines()
    assert {line.split()[0] for line in recipes} == {p.stem for p in (ROOT / "steadygan" / "recipes").iterdir()}
    classifiers = in_venv(venv, "python", "-c", "from steadygan.metrics.classifier import load_classifier as load; "
                          "print([load(n)[1]['spec']['resolution'] for n in ('digits', 'mnist')])", cwd=tmp_path)
    assert classifiers.stdout.strip() == "[16, 32]"
