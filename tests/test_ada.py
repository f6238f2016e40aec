"""ADA: each transform against an exact reference, p's adjustment by hand, p under a D that memorises and
one that cannot, and the pipeline's limits."""

import math

import numpy as np
import pytest
import torch

from steadygan.ada import COLOR, GEOMETRIC, AdaptiveAugment, apply_color, hue_rotation
from steadygan.technique import DiscriminatorBatch


def pattern(n=64, channels=3, size=8):
    torch.manual_seed(0)
    return torch.rand(n, channels, size, size) * 2 - 1  # distinct values: resampling shows as new ones


def only(*names, p=1.0):
    return AdaptiveAugment(p, adaptive=False, transforms=names)


def test_quarter_turns_are_exact_and_all_four_occur():
    x = pattern()
    out = only("rotate90").augment(x)
    turns = set()
    for image, result in zip(x, out, strict=True):
        matches = [k for k in range(4) if torch.allclose(torch.rot90(image, k, dims=(1, 2)), result, atol=1e-5)]
        assert len(matches) == 1
        turns.add(matches[0])
    assert turns == {0, 1, 2, 3}


@pytest.mark.parametrize("name", ["xflip", "rotate90", "xint"])
def test_integer_transforms_only_move_pixels(name):
    x = pattern()
    out = only(name).augment(x)
    assert not torch.allclose(out, x)
    for image, result in zip(x, out, strict=True):  # every output value is an input pixel of that image
        assert (result.reshape(-1, 1) - image.reshape(1, -1)).abs().min(dim=1).values.max() < 1e-5


def test_flips_mirror_or_keep_each_image():
    x = pattern()
    out = only("xflip").augment(x)
    flipped = [torch.allclose(r, i.flip(-1), atol=1e-5) for i, r in zip(x, out, strict=True)]
    kept = [torch.allclose(r, i, atol=1e-5) for i, r in zip(x, out, strict=True)]
    assert all(f or k for f, k in zip(flipped, kept, strict=True)) and any(flipped) and any(kept)


def test_a_third_of_a_hue_turn_cycles_the_channels():
    x = pattern(4)
    out = apply_color(x, hue_rotation(torch.full((4,), 2 * math.pi / 3)))
    assert torch.allclose(out, x.roll(1, dims=1), atol=1e-5)  # r -> g -> b -> r


def test_luma_flip_negates_grey_and_keeps_chroma():
    grey = torch.full((1, 3, 1, 1), 0.3)
    chroma = torch.tensor([1.0, -1.0, 0.0]).reshape(1, 3, 1, 1)
    flip = COLOR.get("lumaflip").transform
    torch.manual_seed(3)
    matrices = torch.stack([flip(torch.ones(1), (1, 1))[0] for _ in range(20)])
    flipped = next(m for m in matrices if not torch.allclose(m, torch.eye(4)))[None]
    assert torch.allclose(apply_color(grey, flipped), -grey, atol=1e-6)
    assert torch.allclose(apply_color(chroma, flipped), chroma, atol=1e-6)


def test_zero_probability_is_the_identity_and_the_pipeline_is_differentiable():
    x = pattern(8).requires_grad_(True)
    assert torch.equal(AdaptiveAugment(0.0).augment(x), x)
    AdaptiveAugment(1.0).augment(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert {n for n, _ in GEOMETRIC.items()} >= {"xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac"}
    assert {n for n, _ in COLOR.items()} == {"brightness", "contrast", "lumaflip", "hue", "saturation"}


def test_grey_images_stay_grey():
    x = pattern(16, channels=1)
    out = AdaptiveAugment(1.0).augment(x)
    assert out.shape == x.shape and torch.isfinite(out).all()


def outputs(real):
    return DiscriminatorBatch(None, None, None, None, None, real, None, update=3)


def test_p_moves_towards_the_target_by_images_over_kimg():
    ada = AdaptiveAugment(0.0, target=0.6, kimg=1, interval=4)  # 1,000 images from 0 to 1
    ada.after_d_step(outputs(-torch.ones(100)))  # r_t = -1 < 0.6: p would fall, and stays at 0
    assert ada.p == 0.0 and ada.count == 0
    ada.after_d_step(outputs(torch.ones(100)))  # r_t = 1 > 0.6 (D is sure of every real): p rises
    assert ada.p == pytest.approx(100 / 1000)
    fixed = AdaptiveAugment(0.3, adaptive=False)
    fixed.after_d_step(outputs(torch.ones(100)))
    assert fixed.p == 0.3


def test_a_damaged_p_is_refused():
    with pytest.raises(ValueError, match="outside"):
        AdaptiveAugment().load_state_dict({"p": 1.5})


def test_p_rises_while_d_tells_reals_from_fakes_in_training(tmp_path):
    from helpers import tiny_trainer
    from steadygan.train.metrics_log import read_records

    trainer = tiny_trainer(tmp_path, "dcgan", **{"regularize.ada": "adaptive", "regularize.ada_kimg": 1,
                                                  "regularize.ada_interval": 1, "train.steps": 8})
    trainer.fit()
    p = [record["ada_p"] for record in read_records(tmp_path / "metrics.jsonl")]  # means over each log's D steps
    assert trainer.techniques.state_dict()["ada"]["p"] >= p[-1] > p[0] >= 0


def test_p_rises_when_d_memorises_a_tiny_data_set_and_stays_near_zero_on_a_large_one():
    """ADA's premise on the digits with a perfect G: the 'fakes' are held-out real digits, so a D that tells
    them from its training reals has memorised those. 16 training images are memorised within a few
    hundred steps and p rises; on 1,197 D cannot tell training reals from other reals and p stays at 0."""
    import torch.nn.functional as F

    from steadygan.config import DataConfig, ModelConfig
    from steadygan.data import build_dataset
    from steadygan.models import build_models

    digits = build_dataset(DataConfig(source="digits", resolution=16), progress=False)
    images = digits.batch(np.arange(len(digits)))[0]  # in [-1, 1]
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    held_out, pool = images[order[:600]], images[order[600:]]
    final = {}
    for count in (16, len(pool)):
        torch.manual_seed(0)
        _, D = build_models(ModelConfig(z_dim=16, g_width=16, d_width=16), resolution=16, channels=1)
        optimizer = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
        ada = AdaptiveAugment(0.0, target=0.6, kimg=2, interval=1)  # p moves 32 / 2,000 per D step
        history = []
        for step in range(300):
            real = ada.augment(pool[:count][torch.randint(count, (32,))])
            fake = ada.augment(held_out[torch.randint(len(held_out), (32,))])
            real_out, fake_out = D(real), D(fake)
            loss = F.softplus(-real_out).mean() + F.softplus(fake_out).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            ada.after_d_step(DiscriminatorBatch(D, real, fake, None, None, real_out.detach(), fake_out.detach(), step))
            history.append(ada.p)
        final[count] = (max(history), history[-1])
    assert final[16][1] >= 0.1  # about 0.2: p holds D near the target on its 16 memorised images
    assert final[len(pool)][0] <= 0.05 and final[len(pool)][1] <= final[16][1] / 4  # a few adjustments at most
