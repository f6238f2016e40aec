"""Consistency regularization (CR, bCR, zCR), LeCam's start, PacGAN's packing and R3GAN's networks and
ramps, against hand computations."""

import math

import pytest
import torch

from steadygan.config import Config, ModelConfig, OptimConfig, load_config
from steadygan.consistency import ConsistencyRegularization, LatentConsistencyRegularization
from steadygan.errors import ConfigError
from steadygan.models import build_models
from steadygan.nn import pack
from steadygan.ramps import CosineRamps, cosine_progress
from steadygan.regularizers import LeCamRegularization, R1Penalty
from steadygan.technique import DiscriminatorBatch, GeneratorBatch
from steadygan.validation import validate


def linear_critic(x, labels=None):
    return x.flatten(1).sum(dim=1)  # D(x) = sum of the pixels


def test_balanced_cr_by_hand_with_a_fixed_augmentation():
    real = torch.tensor([[[[1.0, 2.0]]], [[[0.0, -1.0]]]])  # D(real) = [3, -1]
    fake = torch.tensor([[[[0.5, 0.5]]], [[[2.0, 0.0]]]])  # D(fake) = [1, 2]
    batch = DiscriminatorBatch(linear_critic, real, fake, None, None, linear_critic(real), linear_critic(fake))

    def double_first_pixel(x):
        out = x.clone()
        out[..., 0] *= 2
        return out  # D(T(x)) - D(x) = the first pixel

    cr = ConsistencyRegularization(10.0, 0.0, augment=double_first_pixel)
    assert cr.d_term(batch).item() == pytest.approx(10 * (1 + 0) / 2)
    bcr = ConsistencyRegularization(10.0, 4.0, augment=double_first_pixel)
    assert bcr.d_term(batch).item() == pytest.approx(10 * (1 + 0) / 2 + 4 * (0.25 + 4) / 2)


def test_cr_augmentation_is_a_flip_and_a_shift():
    torch.manual_seed(0)
    from steadygan.consistency import flip_and_translate

    x = torch.arange(64.0).view(1, 1, 8, 8).repeat(64, 1, 1, 1)
    out = flip_and_translate(x)
    assert out.shape == x.shape and not torch.equal(out, x)
    changed = (out != x).flatten(1).any(dim=1)
    assert 0 < changed.float().mean() < 1  # some images are left as they were (no flip, no shift)


def test_zcr_by_hand():
    z = torch.zeros(2, 3)
    zcr = LatentConsistencyRegularization(20.0, 0.5, noise=0.05)
    torch.manual_seed(0)
    dz = 0.05 * torch.randn(2, 3)

    def generate(latents, labels):
        return latents.view(2, 1, 1, 3) * 2  # G(z) = 2z, as D sees it

    fake = generate(z, None)
    batch = DiscriminatorBatch(linear_critic, fake, fake, None, None, linear_critic(fake), linear_critic(fake),
                               z=z, generate=generate)
    torch.manual_seed(0)
    # D(G(z + dz)) - D(G(z)) = 2 sum(dz) per sample
    assert zcr.d_term(batch).item() == pytest.approx(20 * (2 * dz.sum(1)).pow(2).mean().item(), rel=1e-5)
    g_batch = GeneratorBatch(None, None, fake, None, None, None, None, z=z, generated=fake, generate=generate)
    torch.manual_seed(0)
    # -0.5 * mean over pixels of (2 dz)^2
    assert zcr.g_term(g_batch).item() == pytest.approx(-0.5 * (2 * dz).pow(2).mean().item(), rel=1e-5)


def test_lecam_averages_follow_the_latest_batch_until_its_start():
    lecam = LeCamRegularization(0.3, decay=0.9, start=2)
    for update, (real, fake) in enumerate([(1.0, 0.0), (3.0, 2.0), (5.0, 4.0)]):
        lecam.after_d_step(DiscriminatorBatch(None, None, None, None, None, torch.tensor([real]),
                                              torch.tensor([fake]), update))
        if update < 2:
            assert (lecam.real_average, lecam.fake_average) == (real, fake)
    assert lecam.real_average == pytest.approx(0.9 * 3 + 0.1 * 5) and lecam.fake_average == pytest.approx(2.2)


def test_a_packed_discriminator_sees_exactly_its_m_samples_joined_on_channels():
    x = torch.arange(6 * 2 * 1 * 1.0).view(6, 2, 1, 1)
    packed = pack(x, 3)
    assert packed.shape == (2, 6, 1, 1)
    assert torch.equal(packed[0].flatten(), torch.cat([x[0], x[1], x[2]]).flatten())
    swapped = x[[1, 0, 2, 3, 4, 5]]  # a permutation within the first pack moves its channels, nothing else
    assert torch.equal(pack(swapped, 3)[0], torch.cat([x[1], x[0], x[2]])) and torch.equal(pack(swapped, 3)[1],
                                                                                          packed[1])
    _, D = build_models(ModelConfig(arch="dcgan", g_width=8, d_width=8, packing=2), resolution=16, channels=3)
    assert D.packing == 2 and next(D.parameters()).shape[1] == 6  # D's first layer reads 2 x RGB
    images = torch.randn(4, 3, 16, 16)
    D.eval()
    out = D(images)
    assert out.shape == (2,)
    assert torch.equal(D(images[[0, 1]]), out[:1])  # the first logit depends on samples 0 and 1 only
    changed = images.clone()
    changed[2] += 1
    assert torch.equal(D(changed)[0], out[0]) and not torch.equal(D(changed)[1], out[1])
    _, points = build_models(ModelConfig(arch="mlp", packing=4), resolution=0, channels=2, data_kind="points")
    assert points(torch.randn(8, 2)).shape == (2,)


def test_packing_needs_whole_packs_and_an_unconditional_d():
    with pytest.raises(ConfigError, match=r"optim\.batch_size=10 is not a multiple of 4; set it to 8"):
        validate(Config(model=ModelConfig(packing=4), optim=OptimConfig(batch_size=10)))
    with pytest.raises(ConfigError, match="packs samples of one unconditional D"):
        build_models(ModelConfig(arch="dcgan", packing=2, conditional=True), resolution=16, channels=3,
                     num_classes=10)


def test_r3gan_blocks_start_as_the_identity_and_the_networks_have_their_shapes():
    torch.manual_seed(0)
    cfg = load_config("r3gan-small", ["model.g_width=32", "model.d_width=32"]).model
    G, D = build_models(cfg, resolution=32, channels=3, num_classes=10)
    y = torch.arange(4)
    assert G(torch.randn(4, 64), y).shape == (4, 3, 32, 32) and D(torch.randn(4, 3, 32, 32), y).shape == (4,)
    block = G.stages[1][0]
    assert block.grouped.groups == 64 // 16  # expanded width 2 x 32 in groups of 16
    x = torch.randn(2, 32, 8, 8)
    assert torch.equal(block(x), x)  # the last 1x1 convolution starts at zero
    assert not any(isinstance(m, (torch.nn.BatchNorm2d, torch.nn.GroupNorm)) for m in G.modules())
    with pytest.raises(ConfigError, match=r"model\.group_width=24 must divide the expanded width 64"):
        build_models(load_config("r3gan-small", ["model.g_width=32", "model.group_width=24",
                                                "model.conditional=false"]).model,
                     resolution=32, channels=3)


def test_cosine_ramps_by_hand():
    config = load_config("r3gan-small", ["optim.ramp_kimg=1", "optim.batch_size=100"])
    G = torch.nn.Linear(2, 2)
    optimizer = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.0, 0.9))
    r1, r2 = R1Penalty(0.05), R1Penalty(0.05)
    ramps = CosineRamps.from_config(config, [optimizer], [r1, r2], lambda step: 100 * step)
    assert cosine_progress(0, 1000) == 0 and cosine_progress(500, 1000) == pytest.approx(0.5)
    for step, share in ((0, 0.0), (5, 0.5), (10, 1.0), (20, 1.0)):
        optimizer.param_groups[0]["lr"] = 2e-4  # as the step sets it before the step-start units
        ramps.begin_step(step)
        assert optimizer.param_groups[0]["lr"] == pytest.approx(2e-4 + share * (5e-5 - 2e-4))
        assert optimizer.param_groups[0]["betas"][1] == pytest.approx(0.9 + share * (0.99 - 0.9))
        assert r1.gamma == pytest.approx(0.05 + share * (0.005 - 0.05)) and r2.gamma == r1.gamma
    quarter = 0.5 * (1 - math.cos(math.pi / 4))
    ramps.begin_step(2.5)
    assert r1.gamma == pytest.approx(0.05 * (1 - 0.9 * quarter))
