"""The training loop: resume equivalence, outputs on disk, the schedule's counts."""

import json

import pytest
import torch

from helpers import tiny_config
from steadygan.config import recipe_names
from steadygan.train import Trainer, load_checkpoint


def stop_at(step):
    def callback(trainer):
        if trainer.step == step:
            trainer.request_stop()
    return callback


def state_of(trainer):
    tensors, meta = trainer.state.tensors_and_meta()
    return tensors, (meta["stream"], meta["techniques"])


@pytest.mark.parametrize("recipe, overrides", [
    ("sngan-projection", {}),  # conditional ResNet, spectral norm (power-iteration buffers), EMA
    ("dcgan", {"data.hflip": "true", "optim.lr_decay": "linear"}),  # batch norm in both nets
    ("began", {}),  # the loss's own state k_t
    ("wgan", {}),  # RMSprop, weight clipping
    ("wgan-gp", {"regularize.diffaugment": "color,translation,cutout", "regularize.r1": 1.0,
                 "regularize.ortho_g": 1e-4, "model.minibatch_discrimination": "true",
                 "model.minibatch_stddev": "true", "model.init": "orthogonal"}),
    ("unrolled", {"loss.label_smoothing": "two_sided"}),
    ("dcgan", {"loss.g_objective": "feature_matching"}),
    ("dcgan", {"regularize.ada": "adaptive", "regularize.ada_p": 0.5, "regularize.ada_kimg": 1,
               "regularize.ada_interval": 1}),  # ADA's p and its running sums
    ("dcgan", {"model.arch": "stylegan2", "regularize.r1": 1.0, "regularize.r1_interval": 2}),  # noise inputs, w_avg
    ("stylegan2", {"regularize.ada": "adaptive", "regularize.ada_kimg": 1, "regularize.ada_interval": 1,
                   "regularize.pl_interval": 2, "regularize.r1_interval": 2, "train.ema_kimg": 0.05}),  # the recipe
    ("dcgan", {"model.arch": "stylegan", "regularize.style_mixing": 0.9}),  # AdaIN
    ("r3gan-small", {"optim.ramp_kimg": 0.04}),  # rpgan with R1 and R2 under the cosine ramps
    ("biggan", {"regularize.lecam": 0.3, "regularize.lecam_start": 4, "regularize.cr": 10, "regularize.cr_fake": 10,
                "regularize.zcr_dis": 20, "regularize.zcr_gen": 0.5, "model.attention": 16}),  # LeCam's averages
    ("dcgan", {"model.packing": 2, "loss.name": "ragan"}),
])
def test_stopped_and_resumed_run_equals_uninterrupted_run(tmp_path, recipe, overrides):
    straight = Trainer(tiny_config(tmp_path / "straight", recipe, **overrides), progress=False, tensorboard=False)
    straight.fit()

    first = Trainer(tiny_config(tmp_path / "resumed", recipe, **overrides), progress=False, tensorboard=False,
                    callbacks=[stop_at(3)])
    result = first.fit()
    assert (result.step, result.completed) == (3, False)
    torch.manual_seed(12345)  # the global RNG of the resuming process is whatever it happens to be
    resumed = Trainer.resume(tmp_path / "resumed", progress=False, tensorboard=False)
    assert resumed.step == 3
    assert resumed.fit().completed

    expected, expected_stream = state_of(straight)
    actual, actual_stream = state_of(resumed)
    assert actual_stream == expected_stream
    assert set(actual) == set(expected)
    different = [name for name in expected if not torch.equal(actual[name], expected[name])]
    assert different == []


def test_a_run_leaves_samples_metrics_loss_plot_and_checkpoint(tmp_path):
    trainer = Trainer(tiny_config(tmp_path, "sngan-projection"), progress=False)
    result = trainer.fit()
    assert result.completed and result.step == 6
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [
        "step-000000.png", "step-000003.png", "step-000006.png"]
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4, 6]
    assert {"d_loss", "g_loss", "d_real", "d_fake", "lr_g", "lr_d", "seconds_per_step"} <= set(records[-1])
    assert (tmp_path / "loss.png").stat().st_size > 1000
    assert any((tmp_path / "tensorboard").iterdir())
    tensors, meta, _ = load_checkpoint(tmp_path)
    assert meta["step"] == 6 and meta["config"]["model"]["arch"] == "sngan_resnet"
    assert meta["data"]["num_classes"] == 10
    assert {"G", "D", "G_ema", "opt_G", "opt_D", "rng"} == {name.split(".")[0] for name in tensors}


def test_n_dis_d_steps_per_g_step(tmp_path):
    trainer = Trainer(tiny_config(tmp_path, "dcgan", **{"optim.n_dis": 3, "train.steps": 2}),
                      progress=False, tensorboard=False)
    calls = {"d": 0, "g": 0}
    step = trainer.step_once
    d_step, g_step = step.discriminator_step, step.generator_step
    step.discriminator_step = lambda update: (calls.__setitem__("d", calls["d"] + 1), d_step(update))
    step.generator_step = lambda n: (calls.__setitem__("g", calls["g"] + 1), g_step(n))
    trainer.fit()
    assert calls == {"d": 6, "g": 2}
    assert trainer.opt_D.state[next(iter(trainer.D.parameters()))]["step"].item() == 6


def test_ttur_learning_rates_and_linear_decay(tmp_path):
    config = tiny_config(tmp_path, "dcgan", **{"optim.g_lr": 1e-4, "optim.d_lr": 4e-4,
                                               "optim.lr_decay": "linear", "train.steps": 4})
    trainer = Trainer(config, progress=False, tensorboard=False)
    seen = []
    trainer.callbacks.append(lambda t: seen.append((t.opt_G.param_groups[0]["lr"], t.opt_D.param_groups[0]["lr"])))
    trainer.fit()
    # the lr of step s (0-based) is base * (1 - s / steps)
    expected = [(1e-4 * f, 4e-4 * f) for f in (1.0, 0.75, 0.5, 0.25)]
    assert [lr for pair in seen for lr in pair] == pytest.approx([lr for pair in expected for lr in pair])


def test_linear_decay_can_start_late(tmp_path):
    config = tiny_config(tmp_path, "dcgan", **{"optim.g_lr": 1e-3, "optim.d_lr": 2e-3, "optim.lr_decay": "linear",
                                               "optim.lr_decay_start": 0.5, "train.steps": 8})
    trainer = Trainer(config, progress=False, tensorboard=False)
    seen = []
    trainer.callbacks.append(lambda t: seen.append(t.opt_G.param_groups[0]["lr"]))
    trainer.fit()
    # full rate while at least half the steps remain, then (steps - s) / (steps / 2) of it
    assert seen == pytest.approx([1e-3 * f for f in (1, 1, 1, 1, 1, 0.75, 0.5, 0.25)])
    assert trainer.opt_D.param_groups[0]["lr"] == pytest.approx(2e-3 * 0.25)


def test_ema_tracks_generator(tmp_path):
    trainer = Trainer(tiny_config(tmp_path, "dcgan", **{"train.ema_decay": 0.5, "train.steps": 1}),
                      progress=False, tensorboard=False)
    before = [p.detach().clone() for p in trainer.G.parameters()]
    trainer.fit()
    for averaged, old, new in zip(trainer.ema.model.parameters(), before, trainer.G.parameters(), strict=True):
        assert torch.allclose(averaged, 0.5 * old + 0.5 * new)


@pytest.mark.parametrize("recipe", recipe_names())
def test_every_recipe_trains(tmp_path, recipe):
    trainer = Trainer(tiny_config(tmp_path, recipe, **{"train.steps": 2}), progress=False, tensorboard=False)
    before = [p.detach().clone() for p in trainer.G.parameters()]
    trainer.train_step()
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.G.parameters(), strict=True))
