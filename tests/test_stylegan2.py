"""StyleGAN2 and StyleGAN against independent values: demodulation's unit variance, the two ways of running a
modulated convolution against per-sample convolutions, AdaIN's statistics, FIR resampling of constant and of
band-limited images, the mapping network's normalization, learning-rate multiplier and truncation, which
style reaches which layer under style mixing, the path-length penalty against finite differences, lazy R1's
weighting, the EMA's half-life, and the recipe's settings per resolution."""

import math

import pytest
import torch
import torch.nn.functional as F

from steadygan.config import ModelConfig, load_config
from steadygan.errors import ConfigError
from steadygan.models import build_models
from steadygan.models.stylegan2 import channel_widths
from steadygan.nn.stylegan import (
    AdaptiveInstanceNorm,
    MappingNetwork,
    ModulatedConv2d,
    NoiseInput,
    ScaledLinear,
    downsample2d,
    fir_filter,
    upsample2d,
)
from steadygan.regularizers import R1Penalty
from steadygan.styles import PathLengthPenalty, StyleMixing, path_lengths
from steadygan.technique import DiscriminatorBatch, GeneratorBatch
from steadygan.train.ema import EMA
from steadygan.train.step import lazy


def style_models(arch="stylegan2", resolution=16, channels=1, classes=0, width=8, z_dim=8):
    cfg = ModelConfig(arch=arch, z_dim=z_dim, g_width=width, d_width=width, mapping_layers=2,
                      conditional=bool(classes))
    return build_models(cfg, resolution=resolution, channels=channels, num_classes=classes)


@pytest.mark.parametrize("training", [True, False])
def test_demodulated_outputs_have_unit_variance_for_unit_variance_inputs(training):
    torch.manual_seed(0)
    conv = ModulatedConv2d(128, 64, 3, w_dim=32).train(training)
    x, w = torch.randn(6, 128, 24, 24), torch.randn(6, 32) * 3  # styles far from 1
    with torch.no_grad():
        out = conv(x, w)[:, :, 1:-1, 1:-1]  # inside the zero padding
    std = out.std(dim=(1, 2, 3))
    assert torch.all((std > 0.9) & (std < 1.1)), std


def test_both_ways_of_running_a_modulated_convolution_are_each_samples_own_convolution():
    torch.manual_seed(1)
    for demodulate in (True, False):
        conv = ModulatedConv2d(5, 7, 3, w_dim=4, demodulate=demodulate)
        x, w = torch.randn(3, 5, 6, 6), torch.randn(3, 4)
        with torch.no_grad():
            weights = conv.modulated_weights(w)
            grouped, separate = conv.eval()(x, w), conv.train()(x, w)
            for i in range(3):
                own = F.conv2d(x[i:i + 1], weights[i], padding=1)
                assert torch.allclose(grouped[i:i + 1], own, atol=1e-5)
                assert torch.allclose(separate[i:i + 1], own, atol=1e-5)


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


def test_adain_gives_every_feature_map_the_mean_and_deviation_of_its_style():
    torch.manual_seed(3)
    norm = AdaptiveInstanceNorm(4, w_dim=3)
    x, w = torch.randn(2, 4, 8, 8) * 5 + 3, torch.randn(2, 3)
    with torch.no_grad():
        style = norm.affine(w)
        out = norm(x, w)
    scale, shift = 1 + style[:, :4], style[:, 4:]
    assert torch.allclose(out.mean(dim=(2, 3)), shift, atol=1e-5)
    assert torch.allclose(out.std(dim=(2, 3), unbiased=False), scale.abs(), atol=1e-4)


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


def test_the_mapping_network_normalizes_z_broadcasts_w_and_truncates_towards_its_average():
    torch.manual_seed(3)
    mapping = MappingNetwork(8, 16, num_ws=3, layers=3).eval()
    z = torch.randn(4, 8)
    with torch.no_grad():
        ws = mapping(z)
        assert ws.shape == (4, 3, 16) and torch.equal(ws[:, 0], ws[:, 2])
        assert torch.allclose(ws, mapping(5 * z), atol=1e-5)  # only z's direction counts
        mapping.w_avg.copy_(torch.randn(16))
        assert torch.allclose(mapping(z, truncation=0.0), mapping.w_avg.expand(4, 3, 16))
        assert torch.allclose(mapping(z, truncation=0.5), (ws + mapping.w_avg) / 2, atol=1e-6)
        assert torch.equal(mapping(z, truncation=1.0), ws)


def test_the_average_w_is_tracked_in_training_only_and_not_for_a_mixing_latent():
    mapping = MappingNetwork(8, 16, num_ws=2, layers=2, w_avg_beta=0.5)
    z = torch.randn(32, 8)
    mapping(z, update_average=False)
    assert torch.equal(mapping.w_avg, torch.zeros(16))
    w = mapping(z).detach()[:, 0]
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


def test_noise_starts_off_is_shared_over_channels_and_fixed_in_eval_mode():
    noise = NoiseInput(4)
    x = torch.zeros(2, 3, 4, 4)
    assert torch.equal(noise(x), x)
    with torch.no_grad():
        noise.strength.fill_(1.0)
    out = noise(x)
    assert torch.equal(out[:, 0], out[:, 1]) and out.std() > 0.5 and not torch.equal(out, noise(x))
    assert math.isclose(float(noise(x, torch.ones(2, 1, 4, 4)).detach().mean()), 1.0)
    noise.eval()
    assert torch.equal(noise(x), noise(x)) and torch.equal(noise(x)[0, 0], noise.noise_const[0, 0])


@pytest.mark.parametrize("arch", ["stylegan2", "stylegan"])
@pytest.mark.parametrize("resolution, channels, classes", [(16, 1, 0), (32, 3, 10), (64, 3, 0)])
def test_the_style_based_networks_have_the_shapes_of_the_data(arch, resolution, channels, classes):
    torch.manual_seed(5)
    G, D = style_models(arch, resolution, channels, classes)
    labels = torch.randint(classes, (4,)) if classes else None
    images = G(torch.randn(4, 8), labels)
    assert images.shape == (4, channels, resolution, resolution) and D(images, labels).shape == (4,)
    assert G.num_ws == 2 * int(math.log2(resolution)) - 2
    assert G.mapping(torch.randn(4, 8), labels).shape == (4, G.num_ws, 8)


@pytest.mark.parametrize("arch", ["stylegan2", "stylegan"])
def test_truncation_to_zero_gives_the_average_image_and_one_changes_nothing(arch):
    torch.manual_seed(3)
    G, _ = style_models(arch)
    G.eval()
    with torch.no_grad():
        G.mapping.w_avg.copy_(torch.randn(8))
        for layer in G.modules():
            if isinstance(layer, NoiseInput):
                layer.strength.fill_(0.3)  # fixed noise in eval mode: still one image per w
        images = G(torch.randn(3, 8), truncation=0.0)
        # the same batch size as the images: a different one changes the kernels' summation order
        average = G.synthesis(G.mapping.w_avg.expand(3, G.num_ws, 8))
        assert all(torch.allclose(image, average[0], atol=1e-6) for image in images)
        z = torch.randn(3, 8)
        assert torch.equal(G(z, truncation=1.0), G(z))


def test_channel_widths_follow_the_official_rule():
    auto = channel_widths(512, 16384)  # stylegan2-ada's --cfg=auto below 512 px
    assert [auto(r) for r in (4, 32, 64, 128, 256)] == [512, 512, 256, 128, 64]
    full = channel_widths(512)  # channel_base 0: 64 x the width
    assert [full(r) for r in (64, 128, 1024)] == [512, 256, 32]


def style_inputs(G):
    """Hooks recording the w every styled layer receives, in the order the layers run."""
    seen = []
    for module in G.synthesis.modules():
        if isinstance(module, (ModulatedConv2d, AdaptiveInstanceNorm)):
            module.affine.register_forward_pre_hook(lambda _, args: seen.append(args[0].detach().clone()))
    return seen


# The ws index of every styled layer of a 16x16 G in the order they run: the 4x4 convolution and toRGB,
# then per block two convolutions and a toRGB, each toRGB sharing the next block's first w.
STYLEGAN2_ORDER = [0, 1, 1, 2, 3, 3, 4, 5]
STYLEGAN_ORDER = [0, 1, 2, 3, 4]  # AdaIN after every convolution; one unstyled toRGB at the end


@pytest.mark.parametrize("arch, order", [("stylegan2", STYLEGAN2_ORDER), ("stylegan", STYLEGAN_ORDER)])
@pytest.mark.parametrize("crossover", [1, 3, 5])
def test_style_mixing_gives_the_layers_before_the_crossover_w1_and_the_rest_w2(arch, order, crossover, monkeypatch):
    torch.manual_seed(6)
    G, _ = style_models(arch)
    z1, z2 = torch.randn(2, 8), torch.randn(2, 8)
    w1, w2 = G.mapping(z1)[:, 0].detach(), G.mapping(z2, update_average=False)[:, 0].detach()
    mixing = StyleMixing(1.0)
    monkeypatch.setattr(mixing, "crossover", lambda num_ws, device: crossover)
    ws = mixing.styles(G.mapping(z1), lambda: G.mapping(z2, update_average=False))
    seen = style_inputs(G)
    G.synthesis(ws)
    assert len(seen) == len(order)
    for index, w in zip(order, seen, strict=True):
        assert torch.allclose(w, w1 if index < crossover else w2, atol=1e-6), (index, crossover)


def test_style_mixing_mixes_at_its_probability_and_draws_every_crossover():
    torch.manual_seed(7)
    ws, other = torch.zeros(2, 6, 3), torch.ones(2, 6, 3)
    never, always = StyleMixing(0.0), StyleMixing(1.0)
    assert torch.equal(never.styles(ws, lambda: other), ws)
    cutoffs = {int((always.styles(ws, lambda: other)[0, :, 0] == 0).sum()) for _ in range(200)}
    assert cutoffs == {1, 2, 3, 4, 5}  # at least one layer of each latent
    mixed = sum(bool(StyleMixing(0.9).styles(ws, lambda: other).any()) for _ in range(1000))
    assert 860 <= mixed <= 940  # 0.9 of 1,000 batches, about 9.5 standard deviations wide


def finite_difference_path_lengths(G, ws, noise, eps=1e-6):
    """|J^T y| per sample from central differences: entry k of J^T y is the derivative of sum(g(w) * y)
    along coordinate k of w, which perturbs each sample's own image only."""
    grads = torch.zeros_like(ws)
    with torch.no_grad():
        for i in range(ws.shape[1]):
            for j in range(ws.shape[2]):
                step = torch.zeros_like(ws)
                step[:, i, j] = eps
                up, down = G.synthesis(ws + step), G.synthesis(ws - step)
                grads[:, i, j] = ((up - down) * noise).flatten(1).sum(dim=1) / (2 * eps)
    return grads.square().sum(dim=2).mean(dim=1).sqrt()


def test_the_path_length_penalty_against_finite_differences():
    torch.manual_seed(8)
    G, D = style_models(resolution=16, width=4, z_dim=4)
    G = G.double().eval()  # fixed noise; float64 for the finite differences
    with torch.no_grad():
        for layer in G.modules():
            if isinstance(layer, NoiseInput):
                layer.strength.fill_(0.5)
    z = torch.randn(4, 4, dtype=torch.float64)
    ws = G.mapping(z).detach().requires_grad_(True)
    noise = torch.randn(4, 1, 16, 16, dtype=torch.float64) / 16
    expected = finite_difference_path_lengths(G, ws.detach(), noise)
    assert torch.allclose(path_lengths(G.synthesis(ws), ws, noise), expected, rtol=1e-6)

    unit = PathLengthPenalty(weight=2.0, decay=0.01, batch_shrink=2)
    unit.load_state_dict({"mean": 0.25})
    batch = GeneratorBatch(G, D, fake=None, labels=None, loss=None, real_batch=None, d_optimizer=None, z=z,
                           styles=G.mapping)
    torch.manual_seed(9)
    term = unit.g_term(batch)  # two latents (batch_shrink 2), noise drawn as N(0, I) / sqrt(16 * 16)
    torch.manual_seed(9)
    noise = torch.randn(2, 1, 16, 16, dtype=torch.float64) / 16
    lengths = finite_difference_path_lengths(G, G.mapping(z[:2]).detach(), noise)
    mean = 0.25 + 0.01 * (lengths.mean() - 0.25)
    assert float(term.detach()) == pytest.approx(float(2.0 * (lengths - mean).square().mean()), rel=1e-5)
    assert unit.state_dict()["mean"] == pytest.approx(float(mean), rel=1e-6)
    term.backward()  # the penalty trains G
    assert G.synthesis.const.grad is not None and G.synthesis.const.grad.abs().sum() > 0


def r1_batch(D, real, update):
    return DiscriminatorBatch(D, real, real, None, None, D(real, None), D(real, None), update)


def test_lazy_r1_over_k_steps_weighs_what_k_eager_steps_weigh():
    torch.manual_seed(10)
    a = torch.randn(12)

    def linear(x, _):  # the same input gradient everywhere: R1 = gamma/2 |a|^2 at every step
        return x.flatten(1) @ a

    def quadratic(x, _):  # input gradient 2 x: R1 = gamma/2 * 4 |x|^2 varies with the batch
        return x.flatten(1).square().sum(dim=1)

    eager, lazy16 = R1Penalty(2.0), R1Penalty(2.0, interval=16)
    for critic, updates in ((linear, 64), (quadratic, 16 * 400)):
        totals = {}
        for unit in (eager, lazy16):
            torch.manual_seed(11)  # the same batches for both
            batches = [torch.randn(8, 12) for _ in range(updates)]
            totals[unit.interval] = sum(float(lazy(unit, unit.d_term(r1_batch(critic, x, u))).detach())
                                        for u, x in enumerate(batches) if unit.due(u))
        if critic is linear:
            assert totals[16] == pytest.approx(totals[1], rel=1e-5) == updates * float(a.square().sum())
        else:  # E[4 |x|^2] = 4 * 12 per sample: both totals estimate 48 per update
            assert totals[1] / updates == pytest.approx(48, rel=0.01)
            assert totals[16] / updates == pytest.approx(48, rel=0.05)  # 400 draws of 8 samples: 2.4% std


def test_the_ema_half_life_counts_images_and_ramps_up():
    model = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    ema = EMA(model, 0.999, half_life_kimg=1.0, images=lambda step: 100 * step)
    assert ema.decay_at(5) == pytest.approx(0.5 ** 0.1)  # 100 images of a 1,000-image half-life
    ramped = EMA(model, 0.999, half_life_kimg=1.0, rampup=0.05, images=lambda step: 100 * step)
    assert ramped.decay_at(10) == pytest.approx(0.5 ** (100 / 50))  # the half-life capped at 5% of 1,000 images
    assert ramped.decay_at(400) == pytest.approx(0.5 ** 0.1)
    with torch.no_grad():
        model.weight.fill_(1.0)
    for step in range(1, 11):
        ema.update(model, step)  # ten steps of 100 images: one half-life
    assert float(ema.model.weight) == pytest.approx(0.5)


def test_the_stylegan2_recipe_takes_the_official_auto_settings_of_its_resolution():
    at_256 = load_config("stylegan2", ["data.resolution=256"])
    assert (at_256.optim.batch_size, at_256.regularize.r1, at_256.train.ema_kimg) == (16, 0.8192, 5.0)
    assert at_256.model.channel_base == 16384 and at_256.train.steps == 25_000_000 // 16
    for resolution in (32, 64, 128, 256, 512, 1024):
        cfg = load_config("stylegan2", [f"data.resolution={resolution}"])
        batch = min(4096 // resolution, 32)
        assert cfg.optim.batch_size == batch
        assert cfg.regularize.r1 == pytest.approx(0.0002 * resolution ** 2 / batch)
        assert cfg.train.ema_kimg == pytest.approx(batch * 10 / 32)
        assert cfg.model.channel_base == (32768 if resolution >= 512 else 16384)
        lr = 0.002 if resolution == 1024 else 0.0025
        assert cfg.optim.d_lr == pytest.approx(lr * 16 / 17) and cfg.optim.g_lr == pytest.approx(lr * 4 / 5)
        assert cfg.optim.d_betas[1] == pytest.approx(0.99 ** (16 / 17))
    mine = load_config("stylegan2", ["data.resolution=256", "optim.batch_size=8"])
    assert mine.optim.batch_size == 8 and mine.regularize.r1 == 0.8192  # an override wins over the table
    with pytest.raises(ConfigError, match=r"data.resolution 16, 32, .*not 8"):
        load_config("stylegan2", ["data.resolution=8"])


@pytest.mark.parametrize("key", ["regularize.style_mixing=0.9", "regularize.path_length=2"])
def test_style_techniques_refuse_a_generator_without_styles(key):
    from steadygan.validation import validate

    with pytest.raises(ConfigError, match="style-based"):
        validate(load_config("dcgan", [key]))


@pytest.fixture(scope="module")
def style_run(tmp_path_factory):
    from steadygan import cli

    out = tmp_path_factory.mktemp("stylegan2")
    assert cli.main(["train", "--recipe", "stylegan2", "--steps", "2", "--out", str(out), "--no-progress",
                     "--resolution", "16", "model.z_dim=8", "model.g_width=8", "model.d_width=8",
                     "optim.batch_size=4", "train.num_samples=4", "regularize.pl_interval=1"]) == 0
    return out


def png(path):
    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def test_sample_truncates_a_style_based_g_in_w(style_run, tmp_path):
    import numpy as np

    from steadygan import cli

    for psi in ("0", "0.5", "1"):
        assert cli.main(["sample", str(style_run), "-n", "4", "--nrow", "4", "--truncation", psi,
                         "--out", str(tmp_path / f"{psi}.png")]) == 0
    average, half, plain = (png(tmp_path / f"{psi}.png") for psi in ("0", "0.5", "1"))
    tiles = [average[2:18, 2 + 18 * i:18 + 18 * i] for i in range(4)]  # 16 px tiles, 2 px padding
    assert all(np.array_equal(tile, tiles[0]) for tile in tiles)  # psi 0: every latent gives the average image
    assert not np.array_equal(half, plain) and not np.array_equal(half, average)
    assert cli.main(["sample", str(style_run), "-n", "4", "--nrow", "4", "--out", str(tmp_path / "none.png")]) == 0
    assert np.array_equal(png(tmp_path / "none.png"), plain)  # psi 1 is no truncation


def test_interpolate_walks_in_w_and_mix_crosses_styles(style_run, tmp_path):
    from steadygan import cli
    from steadygan.generate import load_generator
    from steadygan.images import make_grid
    from steadygan.sampling import styles_of, synthesize

    assert cli.main(["interpolate", str(style_run), "--rows", "2", "--steps", "3", "--keys", "2",
                     "--out", str(tmp_path / "walk")]) == 0
    assert png(tmp_path / "walk.png").shape == (2 + 2 * 18, 2 + 3 * 18, 3)
    assert cli.main(["mix", str(style_run), "--rows", "2", "--cols", "3", "--crossover", "2",
                     "--out", str(tmp_path / "mix.png")]) == 0
    grid = png(tmp_path / "mix.png")
    assert grid.shape == (2 + 3 * 18, 2 + 4 * 18, 3) and (grid[2:18, 2:18] == 255).all()  # a white corner
    # Cell (row 1, column 2) against its own rendering: styles 0-1 of row latent 1, the rest of column latent 2.
    loaded = load_generator(style_run)
    z, labels = loaded.latents(5)
    ws = styles_of(loaded.generator, z, labels)
    cell = synthesize(loaded.generator, torch.cat([ws[1:2, :2], ws[4:5, 2:]], dim=1))
    rendered = make_grid(cell, padding=0)
    assert (abs(grid[2 + 2 * 18:18 + 2 * 18, 2 + 3 * 18:18 + 3 * 18] - rendered.astype(int)) <= 1).all()


def test_mix_refuses_a_model_without_styles(tmp_path, capsys):
    from steadygan import cli

    out = tmp_path / "dcgan"
    assert cli.main(["train", "--steps", "1", "--out", str(out), "--no-progress", "model.g_width=8",
                     "model.d_width=8", "optim.batch_size=8", "train.num_samples=4"]) == 0
    capsys.readouterr()
    assert cli.main(["mix", str(out), "--out", str(tmp_path / "m.png")]) == 2
    err = capsys.readouterr().err
    assert "mixes the styles of a style-based G" in err and err.count("\n") == 1
