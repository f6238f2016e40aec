"""CUDA paths: bf16 and fp16 autocast, the fp16 gradient scaler, channels_last and NCCL. They run where a
CUDA device exists and are skipped, with the reason shown, elsewhere (`pytest -m gpu -rs`)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from helpers import tiny_trainer
from steadygan.train import Trainer, load_checkpoint

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (none on this machine)")]

CUDA = {"train.device": "cuda", "train.steps": 3}


@pytest.mark.parametrize("precision, dtype", [("bf16", torch.bfloat16), ("fp16", torch.float16)])
def test_autocast_runs_d_in_half_precision_and_reduces_losses_in_float32(tmp_path, precision, dtype):
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    trainer = tiny_trainer(tmp_path, "wgan-gp", **CUDA, **{"train.precision": precision})
    seen: list[torch.dtype] = []
    trainer.D.register_forward_hook(lambda module, args, out, seen=seen: seen.append(out.dtype))
    trainer.fit()
    assert dtype in seen  # D's forward passes ran in half precision
    assert all(p.dtype == torch.float32 and p.is_cuda for p in trainer.G.parameters())
    record = trainer.metrics.records()[-1]
    assert all(torch.isfinite(torch.tensor(record[k])) for k in ("d_loss", "g_loss"))


def test_fp16_scalers_are_saved_and_restored(tmp_path):
    trainer = tiny_trainer(tmp_path, "dcgan", **CUDA, **{"train.precision": "fp16"})
    trainer.fit()
    scales = {phase: scaler.get_scale() for phase, scaler in trainer.precision.scalers.items()}
    assert set(scales) == {"G", "D"} and all(s > 0 for s in scales.values())
    resumed = Trainer.resume(tmp_path, ["train.steps=4"], progress=False, tensorboard=False)
    assert {phase: s.get_scale() for phase, s in resumed.precision.scalers.items()} == scales
    assert resumed.fit().completed


def test_fp16_scaler_skips_a_step_whose_gradients_overflow(tmp_path):
    trainer = tiny_trainer(tmp_path, "dcgan", **CUDA, **{"train.precision": "fp16"})
    before = [p.detach().clone() for p in trainer.D.parameters()]
    scale = trainer.precision.scalers["D"].get_scale()
    next(trainer.D.parameters()).register_hook(lambda grad: grad * float("inf"))  # an overflow in D's backward
    trainer.step_once.discriminator_step(0)
    assert all(torch.equal(a, b) for a, b in zip(before, trainer.D.parameters(), strict=True))  # step skipped
    assert trainer.precision.scalers["D"].get_scale() < scale  # and the scale lowered


def test_channels_last_is_the_default_layout_on_a_gpu(tmp_path):
    trainer = tiny_trainer(tmp_path, "sngan", **CUDA)
    assert trainer.memory_format is torch.channels_last
    convs = [m for m in trainer.D.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(m.weight.is_contiguous(memory_format=torch.channels_last) for m in convs)
    real, _ = trainer.batches.real()
    assert real.is_contiguous(memory_format=torch.channels_last)
    trainer.fit()
    _, meta, _ = load_checkpoint(tmp_path)
    assert meta["config"]["train"]["memory_format"] == "auto"


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="NCCL needs two CUDA devices")
def test_two_nccl_processes_end_with_the_same_weights(tmp_path):
    worker = Path(__file__).with_name("distributed_worker.py")
    overrides = ["data.resolution=16", "model.g_width=8", "model.d_width=8", "model.z_dim=16", "optim.batch_size=8",
                 "train.steps=3", "train.device=cuda", f"train.out_dir={tmp_path / 'run'}", "train.sample_every=0"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                           str(worker), "sngan", str(tmp_path), *overrides], env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    rank0, rank1 = (load_file(tmp_path / f"rank{r}.safetensors") for r in (0, 1))
    assert rank0.keys() == rank1.keys()
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)
