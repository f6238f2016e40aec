"""The EMA of G measures its own batch-norm statistics (standing statistics) instead of copying G's."""

import torch

from steadygan.models.dcgan import DCGANGenerator
from steadygan.train.ema import EMA

BATCHES, BATCH = 3, 16


def generator(seed: int) -> DCGANGenerator:
    torch.manual_seed(seed)
    return DCGANGenerator(z_dim=8, resolution=16, channels=1, width=8)


def first_norm_inputs(model: torch.nn.Module, z: torch.Tensor) -> torch.Tensor:
    """What the first batch norm of `model` reads for latents z, per channel (N*H*W, C)."""
    norm = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    seen = []
    handle = norm.register_forward_hook(lambda _, inputs, __: seen.append(inputs[0].detach()))
    model.eval()
    with torch.no_grad():
        model(z)
    handle.remove()
    return seen[0].transpose(0, 1).flatten(1).T


def averaged(standing_batches: int) -> tuple[EMA, DCGANGenerator]:
    G = generator(0)
    ema = EMA(G, decay=0.5, standing_batches=standing_batches, batch_size=BATCH)
    moved = generator(1)  # G after a step: other weights, and running statistics of its own batches
    moved.train()
    with torch.no_grad():
        moved(torch.randn(32, 8))
    ema.update(moved, step=1)
    return ema, moved


def test_the_average_measures_its_own_statistics_over_fixed_latents():
    ema, _ = averaged(BATCHES)
    model = ema.model
    norm = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    # by hand: the latents are draws of a generator seeded 0; each batch's mean and unbiased variance of
    # the first norm's inputs (which no earlier norm changes), averaged over the batches
    z = torch.randn(BATCHES * BATCH, 8, generator=torch.Generator().manual_seed(0))
    means, variances = [], []
    for chunk in z.split(BATCH):
        inputs = first_norm_inputs(model, chunk)
        means.append(inputs.mean(0))
        variances.append(inputs.var(0, unbiased=True))
    torch.testing.assert_close(norm.running_mean, torch.stack(means).mean(0), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(norm.running_var, torch.stack(variances).mean(0), rtol=1e-5, atol=1e-6)
    assert not model.training and norm.momentum == 0.1  # ready to sample, its momentum as before


def test_statistics_are_measured_once_per_update_and_disturb_no_other_draw():
    ema, moved = averaged(BATCHES)
    state = torch.get_rng_state()
    first = {k: v.clone() for k, v in ema.model.state_dict().items()}
    assert torch.equal(torch.get_rng_state(), state)
    assert not ema.stale
    again = ema.model.state_dict()
    assert all(torch.equal(first[k], again[k]) for k in first)
    ema.update(moved, step=2)
    assert ema.stale


def test_without_standing_statistics_the_average_copies_g_statistics():
    ema, moved = averaged(0)
    for (name, buffer), expected in zip(ema.model.named_buffers(), moved.buffers(), strict=True):
        assert torch.equal(buffer, expected), name


def test_g_own_statistics_misread_the_average_and_its_own_do_not():
    """The averaged weights' activations differ from G's: with G's statistics the first norm's outputs are
    far from zero mean, unit variance; with its own they are close."""
    own, _ = averaged(16)
    copied, _ = averaged(0)
    z = torch.randn(BATCHES * BATCH, 8, generator=torch.Generator().manual_seed(0))

    def normalised(model: torch.nn.Module) -> torch.Tensor:
        norm = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
        inputs = first_norm_inputs(model, z)
        return (inputs - norm.running_mean) / (norm.running_var + norm.eps).sqrt()

    assert normalised(own.model).mean(0).abs().max() < 0.2
    assert (normalised(own.model).std(0) - 1).abs().max() < 0.2
    assert (normalised(copied.model).std(0) - 1).abs().max() > 0.5
