"""DiffAugment: each operation does what it says, is differentiable, and bad policies are named."""

import pytest
import torch

from steadygan.augment import DiffAugment, brightness, contrast, cutout, saturation, translation
from steadygan.errors import ConfigError


def test_translation_is_a_zero_filled_shift_within_an_eighth():
    torch.manual_seed(0)
    x = torch.rand(8, 3, 16, 16) + 1  # no zeros, so the fill is visible
    out = translation(x)
    for original, moved in zip(x, out, strict=True):
        matches = []
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                shifted = torch.zeros_like(original)
                src = original[:, max(0, dy):16 + min(0, dy), max(0, dx):16 + min(0, dx)]
                shifted[:, max(0, -dy):16 + min(0, -dy), max(0, -dx):16 + min(0, -dx)] = src
                matches.append(torch.equal(shifted, moved))
        assert sum(matches) == 1


def test_cutout_zeroes_one_square_of_half_the_size_and_nothing_else():
    torch.manual_seed(1)
    x = torch.rand(16, 2, 16, 16) + 1
    out = cutout(x)
    for original, cut in zip(x, out, strict=True):
        zero = (cut == 0).all(dim=0)
        rows, cols = zero.any(dim=1).nonzero(), zero.any(dim=0).nonzero()
        assert zero.sum() == len(rows) * len(cols) and len(rows) <= 8 and len(cols) <= 8  # a (clipped) square
        assert torch.equal(cut[:, ~zero], original[:, ~zero])


def test_color_operations_by_their_definitions():
    torch.manual_seed(2)
    x = torch.rand(4, 3, 8, 8)
    offset = brightness(x) - x
    assert torch.allclose(offset, offset[:, :1, :1, :1].expand_as(x)) and offset.abs().max() <= 0.5
    assert torch.allclose(saturation(x).mean(dim=1), x.mean(dim=1), atol=1e-6)  # per-pixel mean kept
    assert torch.allclose(contrast(x).mean(dim=(1, 2, 3)), x.mean(dim=(1, 2, 3)), atol=1e-6)


def test_policy_is_differentiable_and_empty_policy_is_identity():
    x = torch.rand(4, 3, 16, 16, requires_grad=True)
    DiffAugment("color,translation,cutout")(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert torch.equal(DiffAugment("")(x), x)


def test_unknown_policy_names_the_choices():
    with pytest.raises(ConfigError, match=r"unknown DiffAugment policy 'flip'.*color, translation, cutout"):
        DiffAugment("color,flip")
