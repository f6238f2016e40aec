"""A training process killed with SIGKILL again and again (at random moments, and in the middle of
checkpoint writes), resumed each time, ends bit-identical to a run that was never interrupted."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

from steadygan.train import load_checkpoint

STEPS = 120
SETTINGS = ["--steps", str(STEPS), "--no-progress", "--no-tensorboard", "model.g_width=64", "model.d_width=32",
            "optim.batch_size=16", "train.log_every=1", "train.checkpoint_every=2", "train.sample_every=50",
            "train.num_samples=4", "doctor.monitor_samples=8"]
KILLS = 5  # the second and the fourth while a checkpoint is being written


def start(*args):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # the same arithmetic in every process
    return subprocess.Popen([sys.executable, "-m", "steadygan", "train", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def temporary_checkpoints(run):
    folder = run / "checkpoints"
    return [e.name for e in os.scandir(folder) if e.name.endswith(".tmp")] if folder.is_dir() else []


def logged_steps(run):
    path = run / "metrics.jsonl"
    return path.read_text().count("\n") if path.is_file() else 0


def kill_during_a_write(process, run, deadline):
    """SIGKILL the moment a checkpoint's temporary file exists; True if that moment came."""
    while process.poll() is None and time.monotonic() < deadline:
        if temporary_checkpoints(run):
            process.kill()
            return True
    return False


def kill_at_random(process, run, rng, deadline):
    """SIGKILL at a random moment after the process has logged a few more steps."""
    seen = logged_steps(run)
    while process.poll() is None and logged_steps(run) < seen + 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(rng.uniform(0.0, 0.3))
    process.kill()


def records(run):
    """The logged losses per step (the timings differ between runs, the arithmetic may not)."""
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["d_loss"], r["g_loss"], r["d_real"], r["d_fake"]) for r in lines if "d_loss" in r]


@pytest.mark.slow
def test_sigkill_again_and_again_then_resume_equals_an_uninterrupted_run(tmp_path):
    straight = tmp_path / "straight"
    process = start("--out", str(straight), *SETTINGS)
    assert process.wait(timeout=600) == 0, process.stderr.read().decode()[-2000:]

    run, rng = tmp_path / "crashed", random.Random(15)
    kills, during_writes = 0, 0
    deadline = time.monotonic() + 900
    while kills < KILLS and time.monotonic() < deadline:
        resumable = (run / "checkpoints" / "last.safetensors").is_file()
        process = start("--resume", str(run), *SETTINGS) if resumable else start(
            "--out", str(run), "--overwrite", *SETTINGS)
        if kills % 2:
            during_writes += kill_during_a_write(process, run, deadline)
        else:
            kill_at_random(process, run, rng, deadline)
        process.wait(timeout=60)
        if process.returncode == 0:  # finished before the kill came: start a longer stretch again
            break
        assert process.returncode == -signal.SIGKILL, process.stderr.read().decode()[-2000:]
        kills += 1
    assert kills >= 5 and during_writes >= 2, (kills, during_writes)
    if (run / "checkpoints" / "last.safetensors").is_file():
        load_checkpoint(run)  # the checkpoint a kill left behind is whole
    process = start("--resume", str(run), *SETTINGS)
    assert process.wait(timeout=600) == 0, process.stderr.read().decode()[-2000:]

    assert temporary_checkpoints(run) == []  # what the killed writes left was removed at the next start
    expected, expected_meta, _ = load_checkpoint(straight)
    actual, actual_meta, _ = load_checkpoint(run)
    assert actual_meta["step"] == expected_meta["step"] == STEPS
    assert actual_meta["stream"] == expected_meta["stream"]
    assert set(actual) == set(expected)
    assert [name for name in expected if not torch.equal(actual[name], expected[name])] == []
    assert records(run) == records(straight)  # one line per step, none lost or repeated
