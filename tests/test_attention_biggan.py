"""SAGAN's self-attention and BigGAN: attention against a loop over positions, the hierarchical latent's
chunks by gradient, BigGAN's orthogonal regularization against its closed-form gradient."""

import pytest
import torch
import torch.nn.functional as F

from steadygan.config import ModelConfig
from steadygan.errors import ConfigError
from steadygan.models import build_models
from steadygan.models.biggan import BigGANGenerator
from steadygan.nn import SelfAttention
from steadygan.regularizers import orthogonality


def test_attention_with_gain_zero_is_the_identity_and_its_rows_sum_to_one():
    torch.manual_seed(0)
    block, x = SelfAttention(16), torch.randn(2, 16, 8, 8)
    assert torch.equal(block(x), x)
    attention = block.attention(x)
    assert attention.shape == (2, 64, 16)  # every position attends to the 4x4 pooled ones
    assert torch.allclose(attention.sum(dim=-1), torch.ones(2, 64))


def test_attention_against_a_loop_over_positions():
    torch.manual_seed(1)
    block, x = SelfAttention(8), torch.randn(1, 8, 4, 4)
    with torch.no_grad():
        block.gain.fill_(0.7)
        out = block(x)
    q = F.conv2d(x, block.query.weight)[0]  # (1, 4, 4): C/8 = 1 channel
    k = F.max_pool2d(F.conv2d(x, block.key.weight), 2)[0].flatten(1)  # (1, 4)
    v = F.max_pool2d(F.conv2d(x, block.value.weight), 2)[0].flatten(1)  # (4, 4): C/2 channels at 4 places
    expected = x.clone()
    for i in range(4):
        for j in range(4):
            weights = torch.softmax(q[:, i, j] @ k, dim=0)  # over the 4 pooled keys
            attended = v @ weights  # (C/2,)
            expected[0, :, i, j] += 0.7 * block.output.weight[:, :, 0, 0] @ attended
    assert torch.allclose(out, expected, atol=1e-5)


def test_attention_sits_where_model_attention_says_and_gets_spectral_norm():
    cfg = ModelConfig(arch="sngan_resnet", g_width=8, d_width=8, attention=(16,), spectral_norm=True,
                      g_spectral_norm=True)
    G, D = build_models(cfg, resolution=32, channels=3)
    for network in (G, D):
        blocks = [m for m in network.modules() if isinstance(m, SelfAttention)]
        assert len(blocks) == 1 and hasattr(blocks[0].query, "parametrizations")
    seen = []
    G.attention[1].register_forward_hook(lambda module, args, out: seen.append(args[0].shape[-1]))
    G(torch.randn(2, 100))
    assert seen == [16]


def test_hierarchical_latent_chunks_reach_their_blocks():
    torch.manual_seed(0)
    G = BigGANGenerator(z_dim=40, resolution=32, channels=3, width=4, num_classes=5, shared_dim=8)
    assert G.chunks == [10, 10, 10, 10]  # one chunk for the input layer, one per block
    seen = {}
    for i, block in enumerate(G.blocks):  # a hook that returns nothing leaves the output as it is
        block.norm1.register_forward_hook(lambda m, args, out, i=i: seen.update({i: args[1]}))
    z = torch.randn(3, 40, requires_grad=True)
    G(z, torch.tensor([0, 1, 4]))
    for i in range(3):
        (grad,) = torch.autograd.grad(seen[i].sum(), z, retain_graph=True)
        own = torch.zeros(40, dtype=torch.bool)
        own[10 * (i + 1):10 * (i + 2)] = True
        assert grad[:, own].abs().min() > 0 and grad[:, ~own].abs().max() == 0  # its own chunk and no other
        assert seen[i].shape == (3, 8 + 10)  # [shared embedding(y), chunk]


def test_biggan_class_embedding_is_shared_by_every_block_and_the_model_builds_unconditional():
    G, D = build_models(ModelConfig(arch="biggan", g_width=4, d_width=4, z_dim=32, conditional=True),
                        resolution=32, channels=3, num_classes=10)
    assert G.shared.weight.shape == (10, 128)
    y = torch.arange(4)
    assert G(torch.randn(4, 32), y).shape == (4, 3, 32, 32) and D(torch.randn(4, 3, 32, 32), y).shape == (4,)
    G, D = build_models(ModelConfig(arch="biggan", g_width=4, d_width=4, z_dim=32), resolution=64, channels=3)
    assert G.chunks == [7, 7, 6, 6, 6]  # 32 dimensions in five chunks, as equal as they can be
    assert G.shared is None and G(torch.randn(2, 32)).shape == (2, 3, 64, 64)
    assert [b.conv1.out_channels for b in G.blocks] == [64, 32, 16, 8]  # 16ch, 8ch, 4ch, 2ch


def test_orthogonal_regularization_gradient_is_biggans_closed_form():
    torch.manual_seed(0)
    layer = torch.nn.Conv2d(3, 5, 3)
    (grad,) = torch.autograd.grad(orthogonality(layer), layer.weight)
    w = layer.weight.detach().flatten(1)
    closed_form = 2 * ((w @ w.t()) * (1 - torch.eye(5))) @ w  # BigGAN-PyTorch's utils.ortho
    assert torch.allclose(grad.flatten(1), closed_form, atol=1e-6)


def test_architectures_without_attention_or_a_strided_stem_refuse_them():
    with pytest.raises(ConfigError, match="has no self-attention blocks"):
        build_models(ModelConfig(arch="dcgan", attention=(16,)), resolution=32, channels=3)
    with pytest.raises(ConfigError, match=r"takes model\.d_stem_stride 1, not 2"):
        build_models(ModelConfig(arch="dcgan", d_stem_stride=2), resolution=32, channels=3)


@pytest.mark.parametrize("arch", ["sngan_cnn", "sngan_resnet"])
def test_stride_two_stem_halves_the_first_layer_and_keeps_one_logit(arch):
    cfg = ModelConfig(arch=arch, g_width=8, d_width=8)
    _, plain = build_models(cfg, resolution=64, channels=3)
    _, strided = build_models(ModelConfig(arch=arch, g_width=8, d_width=8, d_stem_stride=2), resolution=64,
                              channels=3)
    first = next(m for m in strided.modules() if isinstance(m, torch.nn.Conv2d))
    assert first.stride == (2, 2)
    sizes = []
    second = [m for m in strided.modules() if isinstance(m, torch.nn.Conv2d)][1]
    second.register_forward_hook(lambda m, args, out: sizes.append(args[0].shape[-1]))
    x = torch.randn(2, 3, 64, 64)
    assert strided(x).shape == plain(x).shape == (2,)
    assert sizes == [32]  # the layer after the stem already works at half the size
