"""StyleGAN2 against independent values: demodulation's unit variance, the grouped convolution
against per-sample convolutions, FIR resampling of constant and of band-limited images, the mapping
network's normalization, learning-rate multiplier and truncation; the networks' shapes, and truncation to the
average image."""

import math

import pytest
import torch
import torch.nn.functional as F

from steadygan.nn.stylegan import (
    MappingNetwork,
    ModulatedConv2d,
    NoiseInput,
    ScaledLinear,
    downsample2d,
    fir_filter,
    upsample2d,
)


def test_demodulated_outputs_have_unit_variance_for_unit_variance_inputs():
    torch.manual_seed(0)
    conv = ModulatedConv2d(128, 64, 3, w_dim=32)
    x, w = torch.randn(6, 128, 24, 24), torch.randn(6, 32) * 3  # styles far from 1
    with torch.no_grad():
        out = conv(x, w)[:, :, 1:-1, 1:-1]  # inside the zero padding
    std = out.std(dim=(1, 2, 3))
    assert torch.all((std > 0.9) & (std < 1.1)), std


def test_the_grouped_convolution_is_each_samples_own_convolution():
    torch.manual_seed(1)
    for demodulate in (True, False):
        conv = ModulatedConv2d(5, 7, 3, w_dim=4, demodulate=demodulate)
        x, w = torch.randn(3, 5, 6, 6), torch.randn(3, 4)
        with torch.no_grad():
            out, weights = conv(x, w), conv.modulated_weights(w)
            for i in range(3):
                assert torch.allclose(out[i:i + 1], F.conv2d(x[i:i + 1], weights[i], padding=1), atol=1e-5)


def test_demodulation_removes_the_style_scale():
    torch.manual_seed(2)
    x, w = torch.randn(2, 4, 5, 5), torch.randn(2, 3)
    for demodulate, factor in ((True, 1.0), (False, 2.0)):
        conv = ModulatedConv2d(4, 4, 3, w_dim=3, demodulate=demodulate)
        with torch.no_grad():
            doubled = conv.weight.clone()
            base = conv(x, w)
            conv.affine.weight.mul_(2)
            conv.affine.bias.mul_(2)  # styles x 2
            assert torch.allclose(conv(x, w), base * factor, atol=1e-5)
            assert torch.equal(conv.weight, doubled)


def test_fir_resampling_keeps_constants_and_low_frequencies():
    kernel = fir_filter()
    assert kernel.sum().item() == pytest.approx(1.0) and kernel[1, 1] == pytest.approx(9 / 64)
    constant = torch.full((1, 2, 8, 8), 0.7)
    assert torch.allclose(upsample2d(constant, kernel)[..., 2:-2, 2:-2], torch.full((1, 2, 12, 12), 0.7))
    assert torch.allclose(downsample2d(constant, kernel)[..., 1:-1, 1:-1], torch.full((1, 2, 2, 2), 0.7))
    assert upsample2d(constant, kernel).shape[-1] == 16 and downsample2d(constant, kernel).shape[-1] == 4
    # A slow ramp survives a round trip inside the borders: the filter is a low-pass of unit DC gain.
    ramp = torch.linspace(-1, 1, 32).expand(1, 1, 32, 32)
    trip = downsample2d(upsample2d(ramp, kernel), kernel)
    assert torch.allclose(trip[..., 3:-3, 3:-3], ramp[..., 3:-3, 3:-3], atol=1e-5)


def test_the_mapping_network_normalizes_z_and_truncates_towards_its_average():
    torch.manual_seed(3)
    mapping = MappingNetwork(8, 16, layers=3).eval()
    z = torch.randn(4, 8)
    with torch.no_grad():
        assert torch.allclose(mapping(z), mapping(5 * z), atol=1e-5)  # only z's direction counts
        mapping.w_avg.copy_(torch.randn(16))
        assert torch.allclose(mapping(z, truncation=0.0), mapping.w_avg.expand(4, 16))
        assert torch.equal(mapping(z, truncation=1.0), mapping(z))


def test_the_average_w_is_tracked_in_training_only():
    mapping = MappingNetwork(8, 16, layers=2, w_avg_beta=0.5)
    z = torch.randn(32, 8)
    w = mapping(z).detach()
    assert torch.allclose(mapping.w_avg, 0.5 * w.mean(dim=0), atol=1e-6)
    mapping.eval()
    before = mapping.w_avg.clone()
    mapping(z)
    assert torch.equal(mapping.w_avg, before)


def test_the_learning_rate_multiplier_scales_the_effective_step():
    torch.manual_seed(4)
    slow, fast = ScaledLinear(4, 3, lr_multiplier=0.01), ScaledLinear(4, 3)
    with torch.no_grad():
        fast.weight.copy_(slow.weight * 0.01)  # the same function
    x = torch.randn(5, 4)
    assert torch.allclose(slow(x), fast(x), atol=1e-6)
    for layer in (slow, fast):
        layer(x).sum().backward()
    # Plain gradient descent moves the slow layer's effective weights 0.01^2 as far (Adam, blind to the
    # gradient's scale, 0.01 as far).
    ratio = (slow.weight.grad * slow.weight_gain) / (fast.weight.grad * fast.weight_gain)
    assert torch.allclose(ratio, torch.full_like(ratio, 0.01 ** 2), rtol=1e-4)


def test_noise_starts_off_and_is_shared_over_channels():
    noise = NoiseInput()
    x = torch.zeros(2, 3, 4, 4)
    assert torch.equal(noise(x), x)
    with torch.no_grad():
        noise.strength.fill_(1.0)
    out = noise(x)
    assert torch.equal(out[:, 0], out[:, 1]) and out.std() > 0.5
    assert math.isclose(float(noise(x, torch.ones(2, 1, 4, 4)).detach().mean()), 1.0)


@pytest.mark.parametrize("resolution, channels, classes", [(16, 1, 0), (32, 3, 10), (64, 3, 0)])
def test_the_stylegan2_networks_have_the_shapes_of_the_data(resolution, channels, classes):
    from steadygan.config import ModelConfig
    from steadygan.models import build_models

    torch.manual_seed(5)
    cfg = ModelConfig(arch="stylegan2", z_dim=16, g_width=16, d_width=16, conditional=bool(classes))
    G, D = build_models(cfg, resolution=resolution, channels=channels, num_classes=classes)
    labels = torch.randint(classes, (4,)) if classes else None
    images = G(torch.randn(4, 16), labels)
    assert images.shape == (4, channels, resolution, resolution) and D(images, labels).shape == (4,)


def test_stylegan2_truncation_to_zero_gives_every_latent_the_average_image():
    from steadygan.config import ModelConfig
    from steadygan.models import build_models

    G, _ = build_models(ModelConfig(arch="stylegan2", z_dim=16, g_width=16, d_width=16), resolution=16, channels=1)
    G.eval()
    with torch.no_grad():
        G.mapping.w_avg.copy_(torch.randn(16))
        images = G(torch.randn(3, 16), truncation=0.0)  # noise strengths start at 0: nothing else varies
        assert torch.allclose(images[0], images[1]) and torch.allclose(images[0], images[2])
        z = torch.randn(3, 16)
        assert torch.equal(G(z, truncation=1.0), G(z))
