"""G's objectives: unrolling (K = 0 is the plain loss; K steps equal real optimizer steps) and feature
matching by hand."""

import copy

import pytest
import torch
from torch import nn

from helpers import tiny_config
from steadygan.losses import build_loss
from steadygan.objectives import FeatureMatching, lookahead_critic
from steadygan.optimizers import OPTIMIZERS
from steadygan.technique import GeneratorBatch
from steadygan.train import Trainer

OPTIMIZER_CLASSES = {"adam": lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.5, 0.999)),
                     "rmsprop": lambda p: torch.optim.RMSprop(p, lr=0.01)}


def rule(name, D, optimizer):
    return OPTIMIZERS.get(name).lookahead(optimizer, list(D.parameters()))


def small_d():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1), nn.Flatten(0))


class Wrapped(nn.Module):
    """The (x, y) call signature of our discriminators."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x, y=None):
        return self.net(x)


def batches(k, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(8, 2, generator=g), None, torch.randn(8, 2, generator=g), None) for _ in range(k)]


def test_zero_unrolled_steps_is_the_plain_critic():
    D = Wrapped(small_d())
    x = torch.randn(4, 2)
    critic = lookahead_critic(D, build_loss("ns"), rule("adam", D, torch.optim.Adam(D.parameters())), [])
    assert torch.equal(critic(x, None), D(x))


@pytest.mark.parametrize("warm", [False, True])
@pytest.mark.parametrize("optimizer", ["adam", "rmsprop"])
def test_unrolled_critic_equals_d_after_real_optimizer_steps(optimizer, warm):
    """Every registered optimizer's look-ahead rule against torch's own optimizer."""
    assert sorted(OPTIMIZER_CLASSES) == OPTIMIZERS.names()
    D = Wrapped(small_d())
    make = OPTIMIZER_CLASSES[optimizer]
    opt = make(D.parameters())
    loss = build_loss("ns")
    if warm:  # optimizer moments from earlier steps carry into the look-ahead
        for real, _, fake, _ in batches(2, seed=7):
            opt.zero_grad()
            loss.d_loss(D(real), D(fake)).backward()
            opt.step()
    unrolled_batches = batches(3)
    critic = lookahead_critic(D, loss, rule(optimizer, D, opt), unrolled_batches)

    twin = copy.deepcopy(D)
    twin_opt = make(twin.parameters())
    twin_opt.load_state_dict(opt.state_dict())
    for real, _, fake, _ in unrolled_batches:
        twin_opt.zero_grad()
        loss.d_loss(twin(real), twin(fake)).backward()
        twin_opt.step()
    x = torch.randn(5, 2)
    assert torch.allclose(critic(x, None), twin(x), atol=1e-5)
    assert not torch.allclose(D(x), twin(x), atol=1e-5)  # D itself is untouched


def test_g_gradient_flows_through_the_unrolled_updates():
    D = Wrapped(small_d())
    opt = torch.optim.Adam(D.parameters(), lr=0.5)
    loss = build_loss("ns")
    fake = torch.randn(8, 2, requires_grad=True)
    real = torch.randn(8, 2)
    critic = lookahead_critic(D, loss, rule("adam", D, opt), [(real, None, fake, None)])
    (through,) = torch.autograd.grad(loss.g_loss(critic(fake, None)), fake)
    frozen = lookahead_critic(D, loss, rule("adam", D, opt), [(real, None, fake.detach(), None)])
    (around,) = torch.autograd.grad(loss.g_loss(frozen(fake, None)), fake)
    assert not torch.allclose(through, around)  # the look-ahead's dependence on G counts


def test_feature_matching_by_hand(tmp_path):
    trainer = Trainer(tiny_config(tmp_path, "dcgan", **{"loss.g_objective": "feature_matching"}),
                      progress=False, tensorboard=False)
    fake = torch.rand(8, 1, 16, 16) * 2 - 1
    state = trainer.stream.state_dict()
    batch = GeneratorBatch(trainer.G, trainer.D, fake, None, trainer.techniques.loss, trainer.batches.real,
                           trainer.opt_D)
    value = FeatureMatching().g_term(batch)
    trainer.stream.load_state_dict(state)
    real, _ = trainer.batches.real()
    with torch.no_grad():
        expected = (trainer.D.features(fake).mean(0) - trainer.D.features(real).mean(0)).pow(2).sum()
    assert value.item() == pytest.approx(expected.item(), rel=1e-5)


def test_an_unrolled_trainer_step_changes_g_differently_from_a_plain_one(tmp_path):
    def g_after_one_step(k):
        trainer = Trainer(tiny_config(tmp_path / str(k), "unrolled", **{"loss.unrolled_steps": k}),
                          progress=False, tensorboard=False)
        trainer.train_step()
        return torch.cat([p.flatten() for p in trainer.G.parameters()])

    assert not torch.allclose(g_after_one_step(0), g_after_one_step(3))
