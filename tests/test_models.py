"""Every architecture: shapes, ranges, gradients, conditioning, spectral norm and config errors."""

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from steadygan.config import ModelConfig
from steadygan.errors import ConfigError
from steadygan.models import ARCHITECTURES, build_models

# PGGAN's, R3GAN's and the style-based architectures' own tests are in test_pggan.py, test_consistency_packing.py
# and test_stylegan2.py: their G's output is not squashed by tanh, and the equalized-LR ones take no spectral norm.
IMAGE_ARCHS = [name for name in ARCHITECTURES.names()
               if ARCHITECTURES.get(name).data_kind == "image" and ARCHITECTURES.get(name).output == "logits"
               and ARCHITECTURES.get(name).tanh_output]


@pytest.mark.parametrize("arch", IMAGE_ARCHS)
@pytest.mark.parametrize("resolution, channels, num_classes",
                         [(16, 1, 0), (16, 3, 4), (32, 1, 10), (32, 3, 0), (64, 3, 0), (128, 1, 0)])
def test_image_models_shapes_ranges_and_gradients(arch, resolution, channels, num_classes):
    torch.manual_seed(0)
    cfg = ModelConfig(arch=arch, z_dim=8, g_width=4, d_width=4, conditional=num_classes > 0)
    G, D = build_models(cfg, resolution=resolution, channels=channels, num_classes=num_classes)
    assert G.z_dim == 8 and G.num_classes == num_classes
    y = torch.tensor([0, num_classes - 1]) if num_classes else None
    images = G(torch.randn(2, 8), y)  # batch of 2 in train mode: batch norm must cope
    assert images.shape == (2, channels, resolution, resolution)
    assert images.min() >= -1 and images.max() <= 1
    logits = D(images, y)
    assert logits.shape == (2,) and D.features(images).ndim == 2
    logits.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in D.parameters())
    assert all(p.grad is not None for p in G.parameters())


@pytest.mark.parametrize("arch", IMAGE_ARCHS)
def test_conditional_models_depend_on_the_label(arch):
    torch.manual_seed(1)
    cfg = ModelConfig(arch=arch, z_dim=8, g_width=4, d_width=4, conditional=True)
    G, D = build_models(cfg, resolution=16, channels=3, num_classes=3)
    for module in G.modules():  # make class gains differ from their all-ones init
        if isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, 1.0, 0.5)
    G.eval()
    z = torch.randn(1, 8).repeat(2, 1)
    images = G(z, torch.tensor([0, 1]))
    assert not torch.allclose(images[0], images[1])
    logits = D(images[:1].repeat(2, 1, 1, 1), torch.tensor([0, 2]))
    assert logits[0] != logits[1]  # projection: same image, different class, different score


@pytest.mark.parametrize("arch", IMAGE_ARCHS)
def test_spectral_norm_wraps_every_d_layer_and_g_layers_on_request(arch):
    cfg = ModelConfig(arch=arch, z_dim=8, g_width=4, d_width=4, conditional=True, spectral_norm=True,
                      g_spectral_norm=True, sn_power_iterations=2)
    G, D = build_models(cfg, resolution=16, channels=3, num_classes=4)
    weighted = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)
    assert all(parametrize.is_parametrized(m, "weight") for m in D.modules() if isinstance(m, weighted))
    for m in G.modules():
        if isinstance(m, weighted):  # class gains of conditional BN stay free
            assert parametrize.is_parametrized(m, "weight") == (not isinstance(m, nn.Embedding))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())


@pytest.mark.parametrize("resolution", [16, 32, 64])
def test_began_discriminator_outputs_reconstruction_errors(resolution):
    G, D = build_models(ModelConfig(arch="began", z_dim=8, g_width=4, d_width=4), resolution=resolution, channels=3)
    images = G(torch.randn(3, 8))
    assert images.shape == (3, 3, resolution, resolution)
    errors = D(images)
    by_hand = (D.reconstruct(images) - images).abs().mean(dim=(1, 2, 3))
    assert errors.shape == (3,) and torch.allclose(errors, by_hand) and D.features(images).shape == (3, 8)
    with pytest.raises(ConfigError, match=r"auto-encoder D: it supports neither model.conditional"):
        build_models(ModelConfig(arch="began", minibatch_stddev=True), resolution=16, channels=3)


@pytest.mark.parametrize("layers, extra", [({"minibatch_discrimination": True}, 100), ({"minibatch_stddev": True}, 1),
                                           ({"minibatch_discrimination": True, "minibatch_stddev": True}, 101)])
def test_batch_layers_sit_between_features_and_head(layers, extra):
    cfg = ModelConfig(arch="sngan_cnn", z_dim=8, g_width=4, d_width=4, conditional=True, spectral_norm=True, **layers)
    _, D = build_models(cfg, resolution=16, channels=3, num_classes=3)
    x = torch.randn(4, 3, 16, 16)
    features = D.features(x)
    assert D.head.linear.in_features == features.shape[1] + extra and D.head.embed.num_embeddings == 3
    assert D(x, torch.tensor([0, 1, 2, 0])).shape == (4,)
    assert parametrize.is_parametrized(D.head.linear, "weight")  # the new head is spectrally normalized too


def test_sngan_cnn_has_the_published_channels_and_init_at_32px():
    torch.manual_seed(0)
    G, D = build_models(ModelConfig(arch="sngan_cnn", z_dim=128), resolution=32, channels=3)
    d_convs = [m.out_channels for m in D.modules() if isinstance(m, nn.Conv2d)]
    g_convs = [m.out_channels for m in G.modules() if isinstance(m, (nn.ConvTranspose2d, nn.Conv2d))]
    assert d_convs == [64, 64, 128, 128, 256, 256, 512]
    assert G.input.out_features == 512 * 16 and g_convs == [256, 128, 64, 3]
    assert D.body[-3].weight.std().item() == pytest.approx(0.02, rel=0.05)  # N(0, 0.02), as published


@pytest.mark.parametrize("resolution, g_blocks, d_blocks, features", [
    (32, [(256, 256)] * 3, [(3, 128), (128, 128), (128, 128), (128, 128)], 128),  # the CIFAR model
    (64, [(1024, 512), (512, 256), (256, 128), (128, 64)],
     [(3, 64), (64, 128), (128, 256), (256, 512), (512, 1024)], 1024),  # the ImageNet models
    (128, [(1024, 1024), (1024, 512), (512, 256), (256, 128), (128, 64)],
     [(3, 64), (64, 128), (128, 256), (256, 512), (512, 1024), (1024, 1024)], 1024),
])
def test_sngan_resnet_widths_follow_the_published_models(resolution, g_blocks, d_blocks, features):
    cfg = ModelConfig(arch="sngan_resnet", z_dim=128, g_width=64, d_width=64)
    with torch.device("meta"):  # shapes only: no memory, no init cost
        G, D = build_models(cfg, resolution=resolution, channels=3)
    assert [(b.conv1.in_channels, b.conv2.out_channels) for b in G.blocks] == g_blocks
    assert [(b.conv1.in_channels, b.conv2.out_channels) for b in D.blocks] == d_blocks
    assert D.head.linear.in_features == features


def test_mlp_pair_for_points():
    G, D = build_models(ModelConfig(arch="mlp", z_dim=16, g_width=32, d_width=32, hidden_layers=3),
                        resolution=0, channels=2, data_kind="points")
    points = G(torch.randn(5, 16))
    assert points.shape == (5, 2) and D(points).shape == (5,) and D.features(points).shape == (5, 32)
    assert sum(isinstance(m, nn.Linear) for m in G.modules()) == 4


@pytest.mark.parametrize("cfg, kwargs, message", [
    (ModelConfig(arch="dcgan", conditional=True), {"resolution": 16, "channels": 3},
     "model.conditional=true needs labelled data"),
    (ModelConfig(arch="sngan_cnn"), {"resolution": 48, "channels": 3},
     "supports data.resolution 16, 32, 64, 128; got 48"),
    (ModelConfig(arch="mlp"), {"resolution": 16, "channels": 3}, "model.arch=mlp is for 2-D point data"),
    (ModelConfig(arch="dcgan"), {"resolution": 16, "channels": 2, "data_kind": "points"},
     "model.arch=dcgan is for images but the data are 2-D points; use model.arch=mlp"),
    (ModelConfig(arch="mlp", conditional=True), {"resolution": 0, "channels": 2, "data_kind": "points"},
     "model.conditional=true needs labelled data"),
    (ModelConfig(arch="mlp", conditional=True),
     {"resolution": 0, "channels": 2, "num_classes": 8, "data_kind": "points"},
     "model.arch=mlp has no class-conditional variant; set model.conditional=false"),
    (ModelConfig(arch="biggan9"), {"resolution": 16, "channels": 3},
     "unknown architecture 'biggan9' in model.arch; choose one of"),
])
def test_model_config_errors(cfg, kwargs, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        build_models(cfg, **kwargs)


def test_mlp_activation_and_generator_batch_norm():
    cfg = ModelConfig(arch="mlp", z_dim=16, g_width=32, d_width=32, activation="tanh", g_batchnorm=True)
    G, D = build_models(cfg, resolution=16, channels=2, data_kind="points")
    kinds = [type(m).__name__ for m in G.net]
    assert kinds == ["Linear", "BatchNorm1d", "Tanh", "Linear", "BatchNorm1d", "Tanh", "Linear"]
    assert [type(m).__name__ for m in D.body] == ["Linear", "Tanh", "Linear", "Tanh"]  # no batch norm in D
    plain, _ = build_models(ModelConfig(arch="mlp", z_dim=16), resolution=16, channels=2, data_kind="points")
    assert [type(m).__name__ for m in plain.net] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]


def test_minibatch_layer_settings_reach_the_layers():
    cfg = ModelConfig(arch="mlp", z_dim=8, minibatch_discrimination=True, mbd_kernels=7, mbd_kernel_dim=3,
                      mbd_group=16, minibatch_stddev=True, mbstd_group=2)
    _, D = build_models(cfg, resolution=16, channels=2, data_kind="points")
    mbd, mbstd = D.batch_layers
    assert (mbd.kernels, mbd.kernel_dim, mbd.group_size, mbstd.group_size) == (7, 3, 16, 2)
    assert D.head.linear.in_features == 64 + 7 + 1


def test_generate_uses_running_statistics_and_leaves_them_and_the_mode_alone():
    from steadygan.sampling import generate

    G, _ = build_models(ModelConfig(arch="mlp", z_dim=8, g_batchnorm=True), resolution=16, channels=2,
                        data_kind="points")
    G(torch.randn(64, 8) * 3 + 1)  # a training-mode pass moves the running statistics away from (0, 1)
    stats = [b.clone() for b in G.buffers()]
    z = torch.randn(10, 8)
    out = generate(G, z, batch_size=4)
    assert G.training and all(torch.equal(a, b) for a, b in zip(stats, G.buffers(), strict=True))
    with torch.no_grad():
        expected = G.eval()(z)
    assert torch.allclose(out, expected)  # batches of 4 give what one eval-mode pass gives
