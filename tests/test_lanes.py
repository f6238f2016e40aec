"""Seeds trained as lanes of one vectorised model follow their own runs."""

import pytest
import torch
from torch import nn

from steadygan.config import load_config
from steadygan.errors import ConfigError
from steadygan.nn.lanes import Lanes
from steadygan.train import Trainer
from steadygan.train.lanes import LaneDraws, SeedLanes, current_generator


def mlp_with_batch_norm(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 8, bias=False), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 2))


def test_lanes_run_each_network_on_its_own_block_with_its_own_batch_statistics():
    networks = [mlp_with_batch_norm(seed) for seed in range(3)]
    lanes = Lanes(networks)
    x = torch.randn(3 * 16, 3)
    out = lanes(x)
    for k, network in enumerate(networks):
        block = slice(16 * k, 16 * (k + 1))
        torch.testing.assert_close(out[block], network(x[block]), rtol=1e-5, atol=1e-6)  # batch stats per block
        torch.testing.assert_close(lanes.lane(k)[1].running_mean, network[1].running_mean)  # updated per lane
    with pytest.raises(ValueError, match="do not split into 3 equal lanes"):
        lanes(torch.randn(10, 3))


def test_a_lane_is_a_copy_that_training_the_lanes_leaves_alone():
    lanes = Lanes([mlp_with_batch_norm(seed) for seed in range(2)])
    first = lanes.lane(0)
    before = first[0].weight.clone()
    torch.testing.assert_close(before, lanes.stacked[0][0])
    with torch.no_grad():
        lanes.stacked[0].add_(1.0)
    torch.testing.assert_close(first[0].weight, before)
    assert sum(p.numel() for p in lanes.parameters()) == 2 * sum(p.numel() for p in first.parameters())


def test_lane_draws_give_each_block_its_own_generators_numbers():
    torch.manual_seed(5)
    first = current_generator(torch.device("cpu"))
    expected_first = torch.rand(4, 1)
    second = torch.Generator().manual_seed(9)
    expected_second = torch.rand(4, 1, generator=torch.Generator().manual_seed(9))
    drawn = LaneDraws([first, second]).uniform(torch.zeros(8, 2), 1)
    torch.testing.assert_close(drawn, torch.cat([expected_first, expected_second]), rtol=0, atol=0)


def sequential_ema(recipe, overrides, seed, steps, out):
    trainer = Trainer(load_config(recipe, [f"train.steps={steps}", f"train.seed={seed}", f"train.out_dir={out}",
                                           *overrides]), progress=False, tensorboard=False)
    for _ in range(steps):
        trainer.train_step()
    return trainer.ema.model


@pytest.mark.parametrize("recipe, overrides", [
    ("toy2d-stable", ["data.source=ring8"]),  # batch norm in G, gradient penalty (random draws), lr decay, EMA
    ("toy2d", ["data.source=grid25", "loss.name=rpgan", "regularize.r1=1.0", "regularize.r2=1.0",
               "model.packing=2", "optim.batch_size=256"]),  # relativistic pairing with R1 and R2, packing
    ("unrolled", ["loss.unrolled_steps=2", "model.minibatch_stddev=true"]),  # look-ahead with D's Adam state
])
def test_each_lane_follows_the_run_of_its_own_seed(tmp_path, recipe, overrides):
    steps, seeds = 12, [3, 0, 7]
    lanes = SeedLanes(load_config(recipe, [f"train.steps={steps}", *overrides]), seeds, tmp_path / "lanes")
    for _ in range(steps):
        lanes.train_step()
    z = torch.randn(64, lanes.G.z_dim, generator=torch.Generator().manual_seed(1))
    for k, seed in enumerate(seeds):
        alone = sequential_ema(recipe, overrides, seed, steps, tmp_path / f"seed-{seed}")
        lane = lanes.generator(k)
        for (name, value), expected in zip(lane.state_dict().items(), alone.state_dict().values(), strict=True):
            torch.testing.assert_close(value, expected, rtol=1e-4, atol=1e-5, msg=f"seed {seed}: {name}")
        with torch.no_grad():  # the same samples, and not those of another seed
            torch.testing.assert_close(lane(z), alone(z), rtol=1e-4, atol=1e-5)
    with torch.no_grad():
        assert (lanes.generator(0)(z) - lanes.generator(1)(z)).abs().max() > 1e-2


@pytest.mark.parametrize("override, unit", [("loss.g_objective=feature_matching", "feature_matching"),
                                            ("regularize.ortho_d=1e-4", "ortho_d"),
                                            ("loss.name=ragan", "ragan")])
def test_techniques_over_the_whole_batch_are_refused_by_name(tmp_path, override, unit):
    config = load_config("toy2d", ["train.steps=2", override])
    with pytest.raises(ConfigError, match=rf"^{unit} cannot train seeds as lanes"):
        SeedLanes(config, [0, 1], tmp_path)
