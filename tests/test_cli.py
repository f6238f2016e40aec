"""The command line: a whole run, drawing from its checkpoint, signals, and one-line errors."""

import importlib.metadata
import json
import os
import re
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import steadygan
from helpers import NO_TENSORBOARD
from steadygan import cli
from steadygan.errors import SteadyganWarning
from steadygan.train import load_checkpoint
from steadygan.train.metrics_log import MetricsLog

TINY = ["data.resolution=16", "model.g_width=8", "model.d_width=8", "model.z_dim=16", "optim.batch_size=8",
        "optim.n_dis=1", "train.log_every=1", "train.num_samples=10"]


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    os.environ.setdefault("STEADYGAN_CACHE", str(out / "cache"))
    assert cli.main(["train", "--recipe", "sngan-projection", "--steps", "2", "--out", str(out), "--no-progress",
                     *TINY]) == 0
    return out


def run_cli(capsys, *args):
    code = cli.main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_sample_grid_and_separate_images(conditional_run, tmp_path, capsys):
    code, out, _ = run_cli(capsys, "sample", conditional_run, "-n", 12, "--nrow", 6, "--out", tmp_path / "g.png")
    assert code == 0 and "wrote" in out
    assert Image.open(tmp_path / "g.png").size == (2 + 6 * 18, 2 + 2 * 18)  # 16 px tiles, 2 px padding
    code, _, _ = run_cli(capsys, "sample", conditional_run, "-n", 3, "--separate", "--out", tmp_path / "each",
                         "--truncation", 0.5)
    files = sorted((tmp_path / "each").iterdir())
    assert code == 0 and len(files) == 3 and Image.open(files[0]).size == (16, 16)


@pytest.mark.parametrize("value", ["-1", "abc", "inf"])
def test_a_bad_truncation_is_a_one_line_usage_error(conditional_run, capsys, value):
    assert cli.main(["sample", str(conditional_run), "--truncation", value]) == 2
    err = capsys.readouterr().err
    assert err.startswith("steadygan sample: error: argument --truncation") and err.count("\n") == 1


def test_a_truncation_too_small_for_z_is_a_one_line_error(conditional_run, capsys, tmp_path):
    # psi = 0 is the average image of a style-based G; redrawing z within +-0 would never end
    assert cli.main(["sample", str(conditional_run), "--truncation", "0", "--out", str(tmp_path / "t.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("steadygan: error: truncation must be at least 0.05") and err.count("\n") == 1


def test_sample_is_reproducible_by_seed_and_class_changes_it(conditional_run, tmp_path, capsys):
    def draw(name, *extra):
        run_cli(capsys, "sample", conditional_run, "-n", 4, "--out", tmp_path / name, *extra)
        return np.asarray(Image.open(tmp_path / name))

    assert np.array_equal(draw("a.png", "--class", 3), draw("b.png", "--class", 3))
    assert not np.array_equal(draw("a.png", "--class", 3), draw("c.png", "--class", 4))


def test_interpolate_writes_grid_and_looping_gif(conditional_run, tmp_path, capsys):
    code, _, _ = run_cli(capsys, "interpolate", conditional_run, "--rows", 3, "--steps", 5, "--keys", 3,
                         "--out", tmp_path / "walk", "--class", 2)
    assert code == 0
    assert Image.open(tmp_path / "walk.png").size == (2 + 5 * 18, 2 + 3 * 18)
    gif = Image.open(tmp_path / "walk.gif")
    assert gif.n_frames == 3 * 4  # 3 keys, 4 new frames per segment, back to the first key
    assert gif.info["loop"] == 0


def test_info_describes_the_checkpoint(conditional_run, capsys):
    code, out, _ = run_cli(capsys, "info", conditional_run)
    assert code == 0 and "step        2 of 2" in out and "sngan_resnet (conditional)" in out and "10 classes" in out
    code, out, _ = run_cli(capsys, "info", conditional_run, "--json")
    assert json.loads(out)["parameters"]["G"] > 0


@pytest.mark.parametrize("args, message", [
    (["train", "--data", "/no/such/folder"], "data source '/no/such/folder' does not exist"),
    (["train", "--recipe", "sngna"], "unknown recipe 'sngna'"),
    (["train", "optim.lrr=1"], "unknown config key 'optim.lrr'; valid keys in 'optim'"),
    (["train", "loss.name=hinj"], "unknown loss 'hinj' in loss.name; choose one of"),
    (["train", "model.arch=stylegan9"], "unknown architecture 'stylegan9' in model.arch; choose one of"),
    (["train", "--data", "ring8", "model.conditional=true", "model.arch=mlp"],
     "model.arch=mlp has no class-conditional variant"),
    (["train", "data.labels=none", "model.conditional=true"], "model.conditional=true needs labelled data"),
    (["train", "loss.name=began"],
     "loss.name=began needs a D that outputs energy, but model.arch=dcgan outputs logits"),
    (["train", "--recipe", "toy2d", "regularize.diffaugment=color"], "regularize.diffaugment augments images"),
    (["train", "regularize.diffaugment=color,flip"], "unknown DiffAugment policy 'flip'"),
    (["train", "loss.unrolled_steps=2", "loss.g_objective=feature_matching"],
     "loss.unrolled_steps needs loss.g_objective=adversarial"),
    (["train", "regularize.r1=-1"], "config key 'regularize.r1' is -1.0; it must be at least 0"),
    (["train", "optim.optimizer=sgd"], "unknown optimizer 'sgd' in optim.optimizer; choose one of: adam, rmsprop"),
    (["train", "optim.lr_decay_start=1"], "config key 'optim.lr_decay_start' is 1.0; it must be in [0, 1)"),
    (["train", "--recipe", "toy2d", "model.activation=sigmoid"],
     "unknown activation 'sigmoid' in model.activation; choose one of: leaky_relu, relu, tanh"),
    (["train", "model.mbd_group=-1"], "config key 'model.mbd_group' is -1; it must be in [0, 65536]"),
    (["train", "model.mbstd_group=0"], "config key 'model.mbstd_group' is 0; it must be in [1, 65536]"),
    (["sample", "/no/such.safetensors"], "checkpoint '/no/such.safetensors' does not exist"),
    (["train", "--resume", "/no/such/run"], "checkpoint '/no/such/run' does not exist"),
])
def test_bad_input_is_one_line_naming_the_problem(capsys, tmp_path, args, message):
    code, _, err = run_cli(capsys, *args, *(["--no-progress", "--out", tmp_path / "run"] if args[0] == "train"
                                           else ["--seed", 0]))
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("steadygan: error: ")
    assert message in err


def test_class_errors(conditional_run, tmp_path, capsys):
    code, _, err = run_cli(capsys, "sample", conditional_run, "--class", "banana", "--out", tmp_path / "x.png")
    assert code == 2 and "unknown class 'banana'; this model's classes are: 0, 1, 2" in err


def test_wrong_file_as_checkpoint(tmp_path, capsys):
    fake = tmp_path / "model.safetensors"
    fake.write_bytes(b"definitely not a checkpoint")
    code, _, err = run_cli(capsys, "info", fake)
    assert code == 2 and "is not a steadygan checkpoint" in err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_saves_a_checkpoint_and_resume_continues(tmp_path, signum):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "steadygan.cli", "train", "--recipe", "toy2d", "--out", str(out),
               "--steps", "100000", "--no-progress", "--no-tensorboard", "train.log_every=5",
               "optim.batch_size=64"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "STEADYGAN_CACHE": str(tmp_path / "cache")})
    metrics = out / "metrics.jsonl"
    deadline = time.time() + 60
    while not (metrics.exists() and metrics.stat().st_size) and time.time() < deadline:
        time.sleep(0.2)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "stopped at step" in stdout and f"steadygan train --resume {out}" in stdout
    _, meta, _ = load_checkpoint(out)
    stopped = meta["step"]
    assert 5 <= stopped < 100000

    assert cli.main(["train", "--resume", str(out), "--no-progress", "--no-tensorboard",
                     f"train.steps={stopped + 3}"]) == 0
    _, meta, _ = load_checkpoint(out)
    assert meta["step"] == stopped + 3


def without_tensorboard(monkeypatch, installed=None):
    """`import tensorboard` fails as where it is not installed, or finds `installed`; torch.utils.tensorboard,
    whose first line it is, is imported afresh."""
    monkeypatch.delitem(sys.modules, "torch.utils.tensorboard", raising=False)
    monkeypatch.setitem(sys.modules, "tensorboard", installed)


def test_training_without_tensorboard_says_so_in_one_line_and_goes_on(tmp_path, capsys, monkeypatch):
    without_tensorboard(monkeypatch)
    out = tmp_path / "run"
    code, text, err = run_cli(capsys, "train", "--recipe", "toy2d", "--steps", 2, "--out", out, "--no-progress",
                              "train.log_every=1", "optim.batch_size=64")
    assert code == 0 and "finished" in text
    assert err.splitlines() == [NO_TENSORBOARD]
    assert [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()] == [1, 2]
    assert (out / "loss.png").is_file() and not (out / "tensorboard").exists()
    assert run_cli(capsys, "train", "--resume", out, "--steps", 3, "--no-progress", "--no-tensorboard")[2] == ""


def test_a_tensorboard_that_fails_to_import_names_the_failure(tmp_path, monkeypatch):
    without_tensorboard(monkeypatch, installed=types.SimpleNamespace(__version__="1.14.0"))  # torch wants 1.15
    with pytest.warns(SteadyganWarning) as caught:
        log = MetricsLog(tmp_path)
    assert [str(w.message) for w in caught] == [(
        "TensorBoard logging is off: torch.utils.tensorboard cannot be imported (TensorBoard logging requires "
        "TensorBoard version 1.15 or above); reinstall it with pip install 'steadygan[tensorboard]'")]
    log.write(1, {"loss": 0.5})
    assert json.loads(log.path.read_text()) == {"step": 1, "loss": 0.5} and not (tmp_path / "tensorboard").exists()


def test_version_is_the_installed_packages(capsys):
    declared = re.search(r'^version = "(.+)"$', (Path(__file__).parents[1] / "pyproject.toml").read_text(), re.M)
    installed = importlib.metadata.version("steadygan")
    assert declared and installed == declared[1], "the installed metadata is stale: pip install -e . again"
    assert run_cli(capsys, "--version") == (0, f"steadygan {installed}\n", "")
    assert steadygan.__version__ == installed
