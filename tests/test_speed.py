"""Precision, memory layout and compilation switches: what stays float32, what changes layout, what compiles,
and that a run under each still trains (and resumes) as it should."""

import pytest
import torch
from torch import nn

from helpers import tiny_trainer
from steadygan.config import load_config
from steadygan.errors import ConfigError
from steadygan.nn import apply_spectral_norm
from steadygan.regularizers import GradientPenalty, input_gradient
from steadygan.speed import Precision, compile_networks, resolve_precision
from steadygan.technique import DiscriminatorBatch
from steadygan.train import Trainer


def test_auto_picks_fp32_contiguous_and_eager_on_a_cpu(tmp_path):
    trainer = tiny_trainer(tmp_path, "sngan")
    assert trainer.describe_speed() == "running on cpu in fp32, contiguous"
    assert resolve_precision("auto", torch.device("cpu")) == "fp32"
    assert Precision("auto", torch.device("cpu")).scalers == {}


def test_spectral_norm_estimates_sigma_in_float32_under_bf16_autocast():
    torch.manual_seed(0)
    layer = apply_spectral_norm(nn.Linear(64, 32))
    for _ in range(200):  # power iterations (one per training-mode read) until u is the top singular vector
        layer.weight  # noqa: B018
    layer.eval()  # no power iteration: both calls divide by the same estimate
    exact = layer.weight
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under_autocast = layer.weight
    assert under_autocast.dtype == torch.float32 and torch.equal(under_autocast, exact)
    assert torch.linalg.svdvals(exact.detach())[0].item() == pytest.approx(1.0, rel=1e-3)


def test_gradient_penalty_is_the_same_under_bf16_autocast():
    torch.manual_seed(0)
    D = nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.Tanh(), nn.Linear(16, 1))
    real, fake = torch.randn(8, 3, 2, 2), torch.randn(8, 3, 2, 2)
    batch = DiscriminatorBatch(lambda x, y: D(x), real, fake, None, None, None, None)
    penalty = GradientPenalty(10.0)
    torch.manual_seed(1)
    plain = penalty.d_term(batch)
    torch.manual_seed(1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = penalty.d_term(batch)
    assert mixed.dtype == torch.float32 and torch.equal(plain, mixed)


def test_r1_and_r2_differentiate_a_float32_d_at_bf16_fakes():
    torch.manual_seed(0)
    D = nn.Sequential(nn.Flatten(), nn.Linear(12, 1))
    fake = torch.randn(8, 3, 2, 2)
    gradient = input_gradient(lambda x, y: D(x), fake.bfloat16(), None)  # G's images under bf16 autocast
    assert gradient.dtype == torch.float32  # D(x) = w . x: its input gradient is w for every sample
    torch.testing.assert_close(gradient, D[1].weight.expand(8, -1), rtol=0, atol=0)


def test_bf16_training_with_r1_and_r2_runs(tmp_path):
    trainer = tiny_trainer(tmp_path, "dcgan", **{"train.precision": "bf16", "train.steps": 2, "regularize.r1": 1.0,
                                                 "regularize.r2": 1.0, "loss.name": "rpgan"})
    trainer.fit()
    assert all(torch.isfinite(p).all() for p in trainer.D.parameters())


def test_bf16_training_reduces_losses_in_float32_and_stays_close_to_fp32(tmp_path):
    runs = {}
    for precision in ("fp32", "bf16"):
        trainer = tiny_trainer(tmp_path / precision, "wgan-gp", **{"train.precision": precision, "train.steps": 3})
        seen: list[torch.dtype] = []
        trainer.D.register_forward_hook(lambda module, args, out, seen=seen: seen.append(out.dtype))
        trainer.fit()
        runs[precision] = trainer
        assert set(seen) == ({torch.float32} if precision == "fp32" else {torch.bfloat16, torch.float32})
        assert all(p.dtype == torch.float32 for p in trainer.G.parameters())  # weights stay float32
    records = [runs[p].metrics.records()[-1] for p in ("fp32", "bf16")]
    assert records[1]["d_loss"] == pytest.approx(records[0]["d_loss"], rel=0.05, abs=0.05)


def test_fp16_scales_losses_and_resumes_with_its_scaler(tmp_path):
    overrides = {"train.precision": "fp16", "train.steps": 6, "train.checkpoint_every": 3}
    whole = tiny_trainer(tmp_path / "whole", "dcgan", **overrides)
    whole.fit()
    scale = whole.precision.scalers["D"].get_scale()
    assert scale > 0 and set(whole.precision.state_dict()) == {"G", "D"}

    first = tiny_trainer(tmp_path / "split", "dcgan", **{**overrides, "train.steps": 3})
    first.fit()
    resumed = Trainer.resume(tmp_path / "split", ["train.steps=6"], progress=False, tensorboard=False)
    assert resumed.precision.scalers["D"].get_scale() == first.precision.scalers["D"].get_scale()
    resumed.fit()
    for a, b in zip(whole.G.state_dict().values(), resumed.G.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_channels_last_changes_the_layout_not_the_result(tmp_path):
    runs = {}
    for layout in ("contiguous", "channels_last"):
        trainer = tiny_trainer(tmp_path / layout, "dcgan", **{"train.memory_format": layout, "train.steps": 2})
        trainer.fit()
        runs[layout] = trainer
    conv = next(m for m in runs["channels_last"].D.modules() if isinstance(m, nn.Conv2d) and m.in_channels > 1)
    assert conv.weight.is_contiguous(memory_format=torch.channels_last) and not conv.weight.is_contiguous()
    assert "channels_last" in runs["channels_last"].describe_speed()
    for a, b in zip(runs["contiguous"].G.parameters(), runs["channels_last"].G.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-5)


def test_compile_leaves_d_eager_when_its_penalty_needs_second_derivatives(tmp_path):
    for recipe, overrides, compiled in (("wgan-gp", {}, ["G"]), ("dcgan", {"regularize.r1": 1.0}, ["G"]),
                                        ("unrolled", {}, ["G"]), ("dcgan", {}, ["G", "D"])):
        trainer = tiny_trainer(tmp_path / f"{recipe}{len(overrides)}", recipe, **{"train.compile": True}, **overrides)
        assert trainer.compiled == compiled
        G, D = nn.Linear(2, 2), nn.Linear(2, 2)
        keys = list(G.state_dict())
        assert compile_networks(G, D, trainer.techniques.needs_second_derivative) == compiled
        assert (G._compiled_call_impl is not None) and ((D._compiled_call_impl is not None) == ("D" in compiled))
        assert list(G.state_dict()) == keys  # checkpoints keep their names
    assert tiny_trainer(tmp_path / "plain", "dcgan").compiled == []  # off by default


@pytest.mark.slow
def test_a_compiled_toy_run_matches_the_eager_one(tmp_path):
    runs = {}
    for mode in (False, True):
        config = load_config("toy2d", [f"train.out_dir={tmp_path / str(mode)}", "train.steps=3", "train.log_every=1",
                                       f"train.compile={mode}", "optim.batch_size=64", "model.g_width=32",
                                       "model.d_width=32"])
        trainer = Trainer(config, progress=False, tensorboard=False)
        trainer.fit()
        runs[mode] = trainer
    assert runs[True].compiled == ["G", "D"] and runs[False].compiled == []
    for a, b in zip(runs[False].G.parameters(), runs[True].G.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-5)


def test_unknown_switch_values_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"in train\.precision; choose one of: auto, bf16, fp16, fp32"):
        tiny_trainer(tmp_path, "dcgan", **{"train.precision": "half"})
