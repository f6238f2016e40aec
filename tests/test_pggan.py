"""Progressive growing: the fade-in's exact hand-over between depths, in G and in D."""

import pytest
import torch
import torch.nn.functional as F

from steadygan.config import ModelConfig
from steadygan.models import build_models
from steadygan.models.pggan import ProgressiveDiscriminator, ProgressiveGenerator, channels_at


def small():
    torch.manual_seed(0)
    return (ProgressiveGenerator(z_dim=16, max_depth=3, base=256, cap=32),
            ProgressiveDiscriminator(max_depth=3, base=256, cap=32))


def test_width_schedule_is_the_papers():
    assert [channels_at(d) for d in range(9)] == [512, 512, 512, 512, 256, 128, 64, 32, 16]


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_grown_generator_at_alpha_zero_is_the_previous_one_upsampled_exactly(depth):
    G, _ = small()
    z = torch.randn(4, 16)
    grown, previous = G(z, depth=depth, alpha=0.0), G(z, depth=depth - 1)
    assert grown.shape == (4, 3, 4 * 2 ** depth, 4 * 2 ** depth)
    assert torch.equal(grown, F.interpolate(previous, scale_factor=2, mode="nearest"))
    assert not torch.allclose(G(z, depth=depth, alpha=0.5), grown)  # the new block does take part


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_grown_discriminator_at_alpha_zero_is_the_previous_one_on_pooled_images(depth):
    _, D = small()
    images = torch.randn(4, 3, 4 * 2 ** depth, 4 * 2 ** depth)
    assert torch.equal(D(images, depth=depth, alpha=0.0), D(F.avg_pool2d(images, 2), depth=depth - 1))
    assert D(images, depth=depth).shape == (4,)


def test_fade_in_is_linear_in_alpha():
    G, _ = small()
    z = torch.randn(2, 16)
    low, high, mid = G(z, depth=2, alpha=0.0), G(z, depth=2, alpha=1.0), G(z, depth=2, alpha=0.25)
    assert torch.allclose(mid, 0.75 * low + 0.25 * high, atol=1e-5)


def test_set_phase_is_the_default_of_every_call():
    G, D = small()
    z = torch.randn(4, 16)
    G.set_phase(2, 0.3)
    D.set_phase(2, 0.3)
    assert torch.equal(G(z), G(z, depth=2, alpha=0.3))
    images = G(z)
    assert images.shape[-1] == 16 and torch.equal(D(images), D(images, depth=2, alpha=0.3))
    with pytest.raises(ValueError, match=r"outside depth 0..3"):
        G.set_phase(4)


@pytest.mark.parametrize("resolution, channels", [(8, 1), (32, 3), (1024, 3)])
def test_registered_pggan_grows_to_any_power_of_two_with_gradients_everywhere(resolution, channels):
    torch.manual_seed(0)
    G, D = build_models(ModelConfig(arch="pggan", z_dim=8, g_width=4, d_width=4), resolution=resolution,
                        channels=channels)
    depth = G.max_depth
    assert depth == D.max_depth == {8: 1, 32: 3, 1024: 8}[resolution]
    size = 64 if resolution == 1024 else resolution  # the full 1024 forward is slow on a CPU; its layers exist
    G.set_phase(min(depth, 4), 0.5)
    D.set_phase(min(depth, 4), 0.5)
    images = G(torch.randn(4, 8))
    assert images.shape == (4, channels, size, size)
    logits = D(images)
    assert logits.shape == (4,) and D.features(images).shape == (4, 4)
    logits.sum().backward()
    used = min(depth, 4)

    def takes_part(name):  # blocks up to the phase's depth; the RGB layers of the two depths being faded
        top, _, rest = name.partition(".")
        if top == "blocks":
            return int(rest.split(".")[0]) < used
        if top in ("to_rgb", "from_rgb"):
            return int(rest.split(".")[0]) in (used - 1, used)
        return True

    for name, p in [*G.named_parameters(), *D.named_parameters()]:
        assert (p.grad is not None and p.grad.abs().sum() > 0) == takes_part(name), name
