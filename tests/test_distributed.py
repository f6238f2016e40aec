"""Data-parallel training: two gloo processes under torchrun end with the same weights on both ranks,
equal to one process that saw the same global batches."""

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from helpers import tiny_trainer
from steadygan.nn import BatchNorm2d
from steadygan.storage.checkpoint import flatten_module
from steadygan.train.distributed import CrossRankBatchNorm, Ranks, use_cross_rank_batch_norm

WORKER = Path(__file__).with_name("distributed_worker.py")
TINY = {"train.steps": 5, "train.log_every": 2, "train.checkpoint_every": 3, "train.sample_every": 0,
        "optim.batch_size": 8, "optim.n_dis": 2, "doctor.monitor_samples": 8}


def _overrides(out_dir) -> list[str]:
    values = {"data.resolution": 16, "model.g_width": 8, "model.d_width": 8, "model.z_dim": 16,
              "train.num_samples": 8, "train.ema_decay": 0.9, "train.out_dir": str(out_dir), **TINY}
    return [f"{k}={v}" for k, v in values.items()]


# sngan: batch norm in G, spectral norm (power-iteration vectors) in D; dcgan: batch norm in G and D.
@pytest.mark.parametrize("recipe", ["sngan", "dcgan"])
def test_two_gloo_processes_agree_with_each_other_and_with_one_process(tmp_path, recipe):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parent)}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                           str(WORKER), recipe, str(tmp_path), *_overrides(tmp_path / "ddp")],
                          env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    rank0, rank1 = (load_file(tmp_path / f"rank{r}.safetensors") for r in (0, 1))

    single = tiny_trainer(tmp_path / "single", recipe, **TINY)
    single.fit()
    reference = {**flatten_module("G", single.G), **flatten_module("D", single.D),
                 **flatten_module("G_ema", single.ema.model)}

    assert rank0.keys() == rank1.keys() == reference.keys()
    assert any("running_var" in k for k in rank0) and (recipe == "dcgan" or any(k.endswith(".u") for k in rank0))
    for name, value in rank0.items():
        assert torch.equal(value, rank1[name]), f"{name} differs between the ranks"

    # A bias right before batch norm has a gradient of zero in exact arithmetic; Adam turns its float noise
    # into full-size steps, so such biases (and the running means that absorb them) match by function only.
    vanishing = {f"{net}.{n}" for net, module in (("G", single.G), ("D", single.D))
                 for n, p in module.named_parameters() if p.grad is not None and p.grad.abs().max() < 1e-6}
    absorbed = {n.split(".")[0] for n in vanishing}
    for name, value in rank0.items():
        net = "G" if name.startswith("G_ema.") else name.split(".")[0]
        if name.replace("G_ema.", "G.") in vanishing or (name.endswith("running_mean") and net in absorbed):
            continue
        assert torch.allclose(value.float(), reference[name].float(), rtol=1e-4, atol=1e-5), \
            f"{name}: max difference {float((value.float() - reference[name].float()).abs().max()):.3g}"

    # The networks themselves compute the same functions (batch statistics, so the biases cancel).
    z = torch.randn(8, single.G.z_dim, generator=torch.Generator().manual_seed(5))
    for prefix, network in (("G", single.G), ("G_ema", single.ema.model)):
        distributed = copy.deepcopy(network).train()
        distributed.load_state_dict({k[len(prefix) + 1:]: v for k, v in rank0.items() if k.startswith(prefix + ".")})
        with torch.no_grad():
            assert torch.allclose(distributed(z), network.train()(z), atol=1e-4)
    # Rank 0 alone wrote the run folder.
    assert (tmp_path / "ddp" / "checkpoints" / "last.safetensors").is_file()
    assert len((tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()) >= 2


def test_cross_rank_batch_norm_keeps_the_layer_and_its_signature():
    layer = BatchNorm2d(3)
    use_cross_rank_batch_norm(layer)
    assert isinstance(layer, CrossRankBatchNorm) and isinstance(layer, BatchNorm2d)
    x = torch.randn(4, 3, 2, 2)
    # Outside a process group it is plain batch norm.
    assert torch.allclose(layer(x, None), torch.nn.functional.batch_norm(x, None, None, training=True))


def test_ranks_shard_a_global_batch_in_rank_order():
    batch = torch.arange(8)
    assert [Ranks(r, 2).shard(batch).tolist() for r in (0, 1)] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert Ranks().shard(batch) is batch
