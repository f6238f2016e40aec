"""Each loss against values worked out by hand for D outputs real = [2, -1], fake = [0.5, -3]."""

import math

import pytest
import torch

from steadygan.config import LossConfig
from steadygan.errors import ConfigError
from steadygan.losses import LOSSES, build_loss
from steadygan.technique import DiscriminatorBatch

REAL = torch.tensor([2.0, -1.0])
FAKE = torch.tensor([0.5, -3.0])


def log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x))


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def mean(*values: float) -> float:
    return sum(values) / len(values)


# -log sigmoid(r) for real, -log(1 - sigmoid(f)) = -log sigmoid(-f) for fake.
BCE_D = mean(-log_sigmoid(2.0), -log_sigmoid(-1.0)) + mean(-log_sigmoid(-0.5), -log_sigmoid(3.0))

EXPECTED = {
    # name: (d_loss, g_loss)
    "ns": (BCE_D, mean(-log_sigmoid(0.5), -log_sigmoid(-3.0))),
    "minimax": (BCE_D, mean(log_sigmoid(-0.5), log_sigmoid(3.0))),
    # relu(1 - r): [0, 2]; relu(1 + f): [1.5, 0]
    "hinge": (mean(0.0, 2.0) + mean(1.5, 0.0), -mean(0.5, -3.0)),
    # mean(fake) - mean(real) = -1.25 - 0.5
    "wasserstein": (-1.75, 1.25),
    # 0.5 * mean((r - 1)^2) = 0.5 * mean(1, 4); 0.5 * mean(f^2) = 0.5 * mean(0.25, 9)
    "lsgan": (0.5 * 2.5 + 0.5 * 4.625, 0.5 * mean(0.25, 16.0)),
    # (a, b, c) = (-1, 1, 0): 0.5 * mean((r - 1)^2) + 0.5 * mean((f + 1)^2) = 0.5 * 2.5 + 0.5 * mean(2.25, 4)
    "lsgan_chi2": (0.5 * 2.5 + 0.5 * 3.125, 0.5 * mean(0.25, 9.0)),
    # k starts at 0: D's loss is mean L(real), G's is mean L(fake) (outputs are reconstruction errors)
    "began": (0.5, -1.25),
    # softplus(-(r - mean f)) = softplus(-(r + 1.25)) over r = [2, -1], plus softplus(f - mean r) = softplus(f - 0.5)
    # over f = [0.5, -3]; G swaps the roles of reals and fakes
    "ragan": (mean(softplus(-3.25), softplus(-0.25)) + mean(softplus(0.0), softplus(-3.5)),
              mean(softplus(-0.0), softplus(3.5)) + mean(softplus(3.25), softplus(0.25))),
    # pairs (2, 0.5) and (-1, -3): softplus(-(r - f)) = softplus([-1.5, -2]); G: softplus(-(f - r)) = softplus([1.5, 2])
    "rpgan": (mean(softplus(-1.5), softplus(-2.0)), mean(softplus(1.5), softplus(2.0))),
}


def test_every_registered_loss_has_a_hand_computed_case():
    assert set(LOSSES.names()) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_loss_matches_hand_computed_value(name):
    loss = build_loss(name)
    d_expected, g_expected = EXPECTED[name]
    assert loss.d_loss(REAL, FAKE).item() == pytest.approx(d_expected, rel=1e-6)
    assert loss.g_loss(FAKE, REAL).item() == pytest.approx(g_expected, rel=1e-6)


def test_minimax_gradient_vanishes_where_non_saturating_does_not():
    # D confidently rejects the fake (logit -10): the minimax G gradient is tiny, NS's is about -1.
    fake = torch.tensor([-10.0], requires_grad=True)
    (minimax_grad,) = torch.autograd.grad(build_loss("minimax").g_loss(fake), fake)
    (ns_grad,) = torch.autograd.grad(build_loss("ns").g_loss(fake), fake)
    assert abs(minimax_grad.item()) < 1e-4
    assert ns_grad.item() == pytest.approx(-1.0, abs=1e-4)


def test_unknown_loss_lists_the_choices():
    with pytest.raises(ConfigError, match=r"unknown loss .hinj. in loss\.name; choose one of: began, hinge, lsgan"):
        build_loss("hinj")


@pytest.mark.parametrize("smoothing, real_target, fake_target", [("one_sided", 0.9, 0.0), ("two_sided", 0.9, 0.1)])
def test_label_smoothing_targets(smoothing, real_target, fake_target):
    def bce(logit, target):  # -[t log s(x) + (1 - t) log(1 - s(x))]
        return -(target * log_sigmoid(logit) + (1 - target) * log_sigmoid(-logit))

    expected = mean(bce(2.0, real_target), bce(-1.0, real_target)) + mean(bce(0.5, fake_target), bce(-3.0, fake_target))
    loss = build_loss(LossConfig(name="ns", label_smoothing=smoothing))
    assert loss.d_loss(REAL, FAKE).item() == pytest.approx(expected, rel=1e-6)
    assert loss.g_loss(FAKE).item() == pytest.approx(EXPECTED["ns"][1], rel=1e-6)  # G's side is never smoothed


def outputs(real, fake):
    return DiscriminatorBatch(None, None, None, None, None, real, fake)


def test_began_equilibrium_term_and_convergence_measure():
    loss = build_loss(LossConfig(name="began", began_gamma=0.5, began_lambda_k=0.1))
    real, fake = torch.tensor([0.4, 0.6]), torch.tensor([0.1, 0.1])  # L(x) = 0.5, L(G(z)) = 0.1
    logs = loss.after_d_step(outputs(real, fake))
    assert loss.k == pytest.approx(0.1 * (0.5 * 0.5 - 0.1))  # k += lambda_k (gamma L(x) - L(G(z)))
    assert logs["m_global"].item() == pytest.approx(0.5 + abs(0.25 - 0.1))
    assert loss.d_loss(real, fake).item() == pytest.approx(0.5 - loss.k * 0.1)
    for _ in range(1000):
        loss.after_d_step(outputs(real, torch.tensor([5.0])))
    assert loss.k == 0.0  # clipped to [0, 1]
    restored = build_loss("began")
    restored.load_state_dict({"k": 0.3})
    assert restored.state_dict() == {"k": 0.3}


def test_relativistic_losses_need_reals_in_g_step_and_pair_one_to_one():
    assert build_loss("rpgan").relativistic and not build_loss("ns").relativistic
    with pytest.raises(ValueError, match="needs D's outputs on reals"):
        build_loss("rpgan").g_loss(FAKE)
    with pytest.raises(ValueError, match="one to one"):
        build_loss("rpgan").d_loss(REAL, FAKE[:1])


def test_rpgan_with_r1_and_r2_against_autograd():
    """R3GAN's D loss: softplus(-(D(x_r) - D(x_f))) + gamma/2 (|grad D(x_r)|^2 + |grad D(x_f)|^2), each squared
    gradient summed over the sample's pixels, for D(x) = sum(w * x^2) whose input gradient is 2 w x."""
    from steadygan.regularizers import R1Penalty, R2Penalty

    w = torch.tensor([[0.5, -1.0], [2.0, 0.25]])

    def D(x, labels=None):
        return (w * x.pow(2)).flatten(1).sum(dim=1)

    real = torch.tensor([[[[1.0, 2.0], [0.0, -1.0]]], [[[0.5, 0.5], [1.0, 1.0]]]])
    fake = torch.tensor([[[[-1.0, 0.0], [2.0, 1.0]]], [[[0.0, 1.0], [-0.5, 3.0]]]])
    gamma = 0.05
    batch = DiscriminatorBatch(D, real, fake, None, None, D(real), D(fake))
    total = (build_loss("rpgan").d_term(batch) + R1Penalty(gamma).d_term(batch) + R2Penalty(gamma).d_term(batch))
    grad_real, grad_fake = (2 * w * real).flatten(1), (2 * w * fake).flatten(1)
    by_hand = (torch.nn.functional.softplus(-(D(real) - D(fake))).mean()
               + gamma / 2 * (grad_real.pow(2).sum(1).mean() + grad_fake.pow(2).sum(1).mean()))
    assert total.item() == pytest.approx(by_hand.item(), rel=1e-6)
