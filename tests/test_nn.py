"""Spectral norm against svdvals, conditional batch norm, the projection head, minibatch layers, and
PGGAN's equalized learning rate and pixel norm."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from steadygan.nn import (
    ConditionalBatchNorm2d,
    EqualizedConv2d,
    EqualizedLinear,
    MinibatchDiscrimination,
    MinibatchStdDev,
    PixelNorm,
    ProjectionHead,
    apply_spectral_norm,
    make_norm,
    spectral_norm,
    spectral_norm_of,
)


@pytest.mark.parametrize("make", [lambda: nn.Linear(20, 30), lambda: nn.Conv2d(3, 16, 3),
                                  lambda: nn.ConvTranspose2d(8, 4, 4)])
def test_spectral_norm_converges_to_the_largest_singular_value(make):
    torch.manual_seed(0)
    layer = spectral_norm(make(), n_power_iterations=1)
    raw = layer.parametrizations.weight.original.detach()
    for _ in range(200):  # each training-mode access refines u by one power iteration
        _ = layer.weight
    sigma = torch.linalg.svdvals(raw.flatten(1))
    assert spectral_norm_of(layer).sigma(raw).item() == pytest.approx(sigma[0].item(), rel=1e-4)
    assert torch.linalg.svdvals(layer.weight.detach().flatten(1))[0].item() == pytest.approx(1.0, abs=1e-4)


def test_n_power_iterations_equals_that_many_hand_written_iterations():
    torch.manual_seed(1)
    layer = spectral_norm(nn.Linear(6, 5), n_power_iterations=3)
    sn = spectral_norm_of(layer)
    W = layer.parametrizations.weight.original.detach()
    u = sn.u.clone()
    for _ in range(3):
        v = F.normalize(W.t() @ u, dim=0)
        u = F.normalize(W @ v, dim=0)
    expected = W / (u @ W @ F.normalize(W.t() @ u, dim=0))
    assert torch.allclose(layer.weight, expected, atol=1e-6)
    assert torch.allclose(sn.u, u, atol=1e-6)


def test_u_is_persistent_unchanged_in_eval_and_restored_from_a_state_dict():
    torch.manual_seed(2)
    layer = spectral_norm(nn.Linear(8, 8))
    key = "parametrizations.weight.0.u"
    assert key in layer.state_dict()
    layer.eval()
    before = layer.state_dict()[key].clone()
    first, second = layer.weight.detach().clone(), layer.weight.detach().clone()
    assert torch.equal(before, layer.state_dict()[key]) and torch.equal(first, second)
    copy = spectral_norm(nn.Linear(8, 8))
    copy.load_state_dict(layer.state_dict())
    assert torch.equal(copy.parametrizations.weight[0].u, before)
    copy.eval()
    assert torch.equal(copy.weight, layer.weight)


def test_gradient_flows_to_the_original_weight_and_matches_autograd_of_w_over_sigma():
    torch.manual_seed(3)
    layer = spectral_norm(nn.Linear(4, 3))
    layer.eval()  # fixed u: W_sn = W / (u^T W v) with u, v constants
    x = torch.randn(5, 4)
    layer(x).square().sum().backward()
    W = layer.parametrizations.weight.original.detach().clone().requires_grad_(True)
    u = layer.parametrizations.weight[0].u
    v = F.normalize(W.detach().t() @ u, dim=0)
    F.linear(x, W / (u @ W @ v), layer.bias.detach()).square().sum().backward()
    assert torch.allclose(layer.parametrizations.weight.original.grad, W.grad, atol=1e-6)


def test_apply_spectral_norm_wraps_every_chosen_layer_once():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Linear(4, 2), nn.Embedding(3, 2), nn.BatchNorm2d(4))
    apply_spectral_norm(net)
    apply_spectral_norm(net)
    assert [parametrize.is_parametrized(m) for m in net] == [True, False, True, True, False]
    assert len(net[0].parametrizations.weight) == 1


def test_conditional_batch_norm_starts_as_plain_batch_norm_and_depends_on_the_class():
    torch.manual_seed(4)
    x, y = torch.randn(6, 5, 4, 4), torch.tensor([0, 1, 2, 0, 1, 2])
    cbn = ConditionalBatchNorm2d(5, num_classes=4)
    assert torch.allclose(cbn(x, y), nn.BatchNorm2d(5, affine=False)(x), atol=1e-6)
    with torch.no_grad():
        cbn.gain.weight[1] = 2.0
        cbn.bias.weight[2] = -1.0
    out = cbn(x, y)
    normed = nn.BatchNorm2d(5, affine=False)(x)
    assert torch.allclose(out[y == 1], 2 * normed[y == 1], atol=1e-5)
    assert torch.allclose(out[y == 2], normed[y == 2] - 1, atol=1e-5)
    out.square().sum().backward()
    used = cbn.gain.weight.grad.abs().sum(dim=1) > 0
    assert used.tolist() == [True, True, True, False]  # class 3 is not in the batch
    assert isinstance(make_norm(5, 0), nn.BatchNorm2d) and make_norm(5, 0)(x, None).shape == x.shape


def test_projection_head_is_linear_plus_inner_product_with_the_class_embedding():
    torch.manual_seed(5)
    head = ProjectionHead(7, num_classes=5)
    phi, y = torch.randn(4, 7), torch.tensor([4, 0, 4, 2])
    out = head(phi, y)
    by_hand = phi @ head.linear.weight[0] + head.linear.bias + (head.embed.weight[y] * phi).sum(dim=1)
    assert out.shape == (4,) and torch.allclose(out, by_hand, atol=1e-6)
    out.sum().backward()
    assert (head.embed.weight.grad.abs().sum(dim=1) > 0).tolist() == [True, False, True, False, True]
    assert ProjectionHead(7)(phi).shape == (4,)


def test_minibatch_discrimination_by_hand_and_only_through_the_batch():
    torch.manual_seed(6)
    layer = MinibatchDiscrimination(4, kernels=3, kernel_dim=2)
    f = torch.randn(5, 4)
    out = layer(f)
    M = (f @ layer.T).view(5, 3, 2)
    by_hand = torch.stack([sum(torch.exp(-(M[i] - M[j]).abs().sum(dim=1)) for j in range(5) if j != i)
                           for i in range(5)])
    assert out.shape == (5, 7) and torch.equal(out[:, :4], f) and torch.allclose(out[:, 4:], by_hand, atol=1e-6)
    changed = f.clone()
    changed[3] += 1.0
    new = layer(changed)
    assert torch.equal(layer(f), out)  # same batch, same output
    assert not torch.allclose(new[0, 4:], out[0, 4:])  # sample 0 sees that sample 3 moved
    assert torch.equal(new[0, :4], out[0, :4])


def test_grouped_minibatch_discrimination_compares_samples_only_within_their_group():
    torch.manual_seed(7)
    layer = MinibatchDiscrimination(4, kernels=3, kernel_dim=2, group_size=3)
    f = torch.randn(6, 4)  # groups of 3: sample i is in group i % 2, so {0, 2, 4} and {1, 3, 5}
    out = layer(f)
    M = (f @ layer.T).view(6, 3, 2)
    by_hand = torch.stack([sum(torch.exp(-(M[i] - M[j]).abs().sum(dim=1)) for j in range(i % 2, 6, 2) if j != i)
                           for i in range(6)])
    assert torch.allclose(out[:, 4:], by_hand, atol=1e-6)
    changed = f.clone()
    changed[3] += 1.0
    new = layer(changed)
    assert torch.equal(new[[0, 2, 4]], out[[0, 2, 4]])  # the other group does not see sample 3
    assert not torch.allclose(new[1, 4:], out[1, 4:]) and not torch.allclose(new[5, 4:], out[5, 4:])
    whole, six = (MinibatchDiscrimination(4, kernels=3, kernel_dim=2, group_size=g) for g in (0, 6))
    whole.T, six.T = layer.T, layer.T
    assert torch.allclose(whole(f), six(f)) and not torch.allclose(whole(f), out)  # 0: the whole batch


def test_minibatch_stddev_appends_the_group_statistic():
    x = torch.randn(8, 3, 4, 4)
    out = MinibatchStdDev(group_size=4)(x)
    assert out.shape == (8, 4, 4, 4) and torch.equal(out[:, :3], x)
    members = x[[1, 3, 5, 7]]  # sample i is in group i % 2
    expected = members.std(dim=0, unbiased=False).mean()
    assert torch.allclose(out[1, 3], expected.expand(4, 4), atol=1e-4) and torch.allclose(out[5, 3], out[1, 3])
    flat = MinibatchStdDev(group_size=4)(torch.randn(6, 10))  # 6 samples: groups of 3
    assert flat.shape == (6, 11)
    same = MinibatchStdDev()(torch.ones(4, 5))
    assert torch.allclose(same[:, 5], torch.full((4,), 1e-4), atol=1e-5)  # a collapsed batch scores ~0


def test_minibatch_stddev_variance_form_by_hand():
    x = torch.randn(8, 3, 4, 4)
    out = MinibatchStdDev(group_size=4, statistic="variance")(x)
    expected = x[[0, 2, 4, 6]].var(dim=0, unbiased=False).mean()
    assert out.shape == (8, 4, 4, 4) and torch.allclose(out[0, 3], expected.expand(4, 4), atol=1e-5)
    with pytest.raises(ValueError, match=r"std.*variance"):
        MinibatchStdDev(statistic="range")


@pytest.mark.parametrize("make, fan_in", [(lambda: EqualizedLinear(512, 256), 512),
                                          (lambda: EqualizedConv2d(64, 128, 3, padding=1), 64 * 9)])
def test_equalized_layers_store_unit_variance_weights_and_apply_the_he_constant(make, fan_in):
    torch.manual_seed(0)
    layer = make()
    w = layer.weight.detach()
    assert abs(w.mean().item()) < 0.01 and abs(w.std().item() - 1.0) < 0.01  # N(0, 1) as stored
    assert layer.scale == pytest.approx(math.sqrt(2) / math.sqrt(fan_in))
    x = torch.randn(4, 512) if isinstance(layer, EqualizedLinear) else torch.randn(2, 64, 8, 8)
    plain = (torch.nn.functional.linear(x, w * layer.scale, layer.bias) if isinstance(layer, EqualizedLinear)
             else torch.nn.functional.conv2d(x, w * layer.scale, layer.bias, padding=1))
    assert torch.allclose(layer(x), plain, atol=1e-5)
    # He init preserves the second moment of a ReLU'd input: E[y^2] = 2 E[relu(x)^2] * fan_in * scale^2 / 2
    y = layer(torch.relu(torch.randn(256, 512)) if isinstance(layer, EqualizedLinear)
              else torch.relu(torch.randn(16, 64, 8, 8)))
    assert 0.8 < y.pow(2).mean().item() < 1.25


def test_equalized_gradient_reaches_the_stored_weight_scaled_by_the_constant():
    torch.manual_seed(1)
    layer = EqualizedLinear(10, 3)
    x = torch.randn(5, 10)
    layer(x).sum().backward()
    effective = (layer.weight.detach() * layer.scale).requires_grad_()
    torch.nn.functional.linear(x, effective, layer.bias.detach()).sum().backward()
    assert torch.allclose(layer.weight.grad, effective.grad * layer.scale)


def test_pixel_norm_gives_unit_mean_square_per_pixel():
    x = torch.randn(3, 16, 5, 5) * torch.rand(3, 1, 5, 5) * 10
    y = PixelNorm()(x)
    assert torch.allclose(y.pow(2).mean(dim=1), torch.ones(3, 5, 5), atol=1e-5)
    assert torch.allclose(y / y.norm(dim=1, keepdim=True), x / x.norm(dim=1, keepdim=True), atol=1e-6)  # direction kept
