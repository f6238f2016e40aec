"""Progressive growing: the fade-in's exact hand-over between depths, in G and in D."""

import pytest
import torch
import torch.nn.functional as F

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
    grown, previous = G(z, depth, alpha=0.0), G(z, depth - 1)
    assert grown.shape == (4, 3, 4 * 2 ** depth, 4 * 2 ** depth)
    assert torch.equal(grown, F.interpolate(previous, scale_factor=2, mode="nearest"))
    assert not torch.allclose(G(z, depth, alpha=0.5), grown)  # the new block does take part


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_grown_discriminator_at_alpha_zero_is_the_previous_one_on_pooled_images(depth):
    _, D = small()
    images = torch.randn(4, 3, 4 * 2 ** depth, 4 * 2 ** depth)
    assert torch.equal(D(images, depth, alpha=0.0), D(F.avg_pool2d(images, 2), depth - 1))
    assert D(images, depth).shape == (4,)


def test_fade_in_is_linear_in_alpha():
    G, _ = small()
    z = torch.randn(2, 16)
    low, high, mid = G(z, 2, 0.0), G(z, 2, 1.0), G(z, 2, 0.25)
    assert torch.allclose(mid, 0.75 * low + 0.25 * high, atol=1e-5)
