"""Each regularizer against a value worked out independently (by hand or by finite differences)."""

import pytest
import torch
from torch import nn

from steadygan.config import Config, RegularizeConfig
from steadygan.errors import ConfigError
from steadygan.regularizers import (
    DriftPenalty,
    GradientPenalty,
    LeCamRegularization,
    R1Penalty,
    R2Penalty,
    WeightClipping,
    build_regularizers,
    orthogonal_init,
    orthogonality,
)
from steadygan.technique import DiscriminatorBatch
from steadygan.validation import validate


@pytest.fixture(autouse=True, scope="module")
def double_precision():
    """Finite differences need double precision."""
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


class Quadratic(nn.Module):
    """A D with a non-constant gradient: D(x) = sum(tanh(W x)) per sample."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 4)

    def forward(self, x, y=None):
        return torch.tanh(self.linear(x)).sum(dim=1)


def batch_for(D, real, fake):
    return DiscriminatorBatch(D, real, fake, None, None, D(real, None), D(fake, None))


def finite_difference_norms(D, x, h=1e-6):
    grads = torch.zeros_like(x)
    for i in range(x.shape[1]):
        step = torch.zeros_like(x)
        step[:, i] = h
        grads[:, i] = (D(x + step) - D(x - step)) / (2 * h)
    return grads.norm(dim=1)


@pytest.mark.parametrize("one_sided", [False, True])
def test_gradient_penalty_against_finite_differences(one_sided):
    torch.manual_seed(0)
    D = Quadratic()
    with torch.no_grad():
        D.linear.weight.mul_(3)  # some norms above 1, some below
    real, fake = torch.randn(16, 3), torch.randn(16, 3)
    penalty = GradientPenalty(10.0, one_sided=one_sided)
    torch.manual_seed(1)
    value = penalty.d_term(batch_for(D, real, fake))
    torch.manual_seed(1)
    x_hat = penalty.interpolate(real, fake)
    excess = finite_difference_norms(D, x_hat) - 1
    excess = excess.clamp(min=0) if one_sided else excess
    assert value.item() == pytest.approx(10 * excess.pow(2).mean().item(), rel=1e-6)
    value.backward()
    assert D.linear.weight.grad.abs().sum() > 0  # the penalty trains D (double backpropagation)


def test_interpolates_lie_between_real_and_fake():
    real, fake = torch.zeros(100, 2), torch.ones(100, 2)
    x = GradientPenalty().interpolate(real, fake)
    assert torch.all((x >= 0) & (x <= 1)) and torch.allclose(x[:, 0], x[:, 1])


def test_r1_and_r2_on_a_linear_critic_by_hand():
    D = nn.Linear(3, 1)
    with torch.no_grad():
        D.weight.copy_(torch.tensor([[1.0, 2.0, 2.0]]))  # |grad| = 3 everywhere
    def critic(x, y):
        return D(x).squeeze(1)
    batch = batch_for(critic, torch.randn(5, 3), torch.randn(5, 3))
    assert R1Penalty(10.0).d_term(batch).item() == pytest.approx(0.5 * 10 * 9)
    assert R2Penalty(2.0).d_term(batch).item() == pytest.approx(0.5 * 2 * 9)


def test_r2_looks_at_the_fakes_only():
    D = Quadratic()
    real = torch.randn(4, 3)
    a = R2Penalty(1.0).d_term(batch_for(D, real, torch.zeros(4, 3)))
    b = R2Penalty(1.0).d_term(batch_for(D, real + 5, torch.zeros(4, 3)))
    assert a.item() == pytest.approx(b.item())


def test_drift_penalty_by_hand():
    batch = DiscriminatorBatch(None, None, None, None, None, torch.tensor([1.0, -3.0]), torch.tensor([7.0]))
    assert DriftPenalty(0.001).d_term(batch).item() == pytest.approx(0.001 * (1 + 9) / 2)


def test_orthogonal_regularization_by_hand_and_zero_for_orthogonal_filters():
    layer = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 0.0], [1.0, 1.0]]))  # W W^T = [[1, 1], [1, 2]]
    assert orthogonality(layer).item() == pytest.approx(0.5 * 2)
    conv = orthogonal_init(nn.Conv2d(3, 4, 3))  # 4 filters of 27 weights: orthonormal rows
    rows = conv.weight.flatten(1)
    assert torch.allclose(rows @ rows.t(), torch.eye(4), atol=1e-6)
    assert orthogonality(conv).item() == pytest.approx(0.0, abs=1e-10)


def test_weight_clipping_leaves_every_parameter_in_range():
    net = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 1))
    WeightClipping(0.01).after_d_step(DiscriminatorBatch(net, None, None, None, None, None, None))
    values = torch.cat([p.flatten() for p in net.parameters()])
    assert values.abs().max() <= 0.01 and (values.abs() == 0.01).any()


def test_build_regularizers_switches_units_on_by_their_weight():
    assert build_regularizers(Config()) == []
    regs = build_regularizers(Config(regularize=RegularizeConfig(
        gradient_penalty=10, gp_one_sided=True, drift=0.001, r1=1, r1_interval=4, ortho_g=1e-4, weight_clip=0.01)))
    assert [p.name for p in regs] == ["gradient_penalty", "r1", "drift", "ortho_g", "weight_clip"]
    assert regs[0].one_sided and regs[1].interval == 4 and regs[-1].c == 0.01
    assert [p.needs_second_derivative for p in regs] == [True, True, False, False, False]


def test_orthogonal_regularization_sees_the_scaled_weights_of_equalized_layers():
    from steadygan.nn import EqualizedLinear

    layer = EqualizedLinear(4, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]]))
    # W = scale * raw, scale = sqrt(2) / sqrt(4): the off-diagonal of W W^T is 0.5 * 1, twice
    assert orthogonality(layer).item() == pytest.approx(0.5 * 2 * 0.5**2)
    term = orthogonality(nn.Sequential(nn.BatchNorm1d(3)))  # no linear map
    assert torch.is_tensor(term) and term.item() == 0.0


def test_lecam_by_hand_with_its_moving_averages():
    lecam = LeCamRegularization(0.5, decay=0.9)
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([-1.0, 1.0])
    first = DiscriminatorBatch(None, None, None, None, None, real, fake)
    # Before any D step the averages are the batch's own means: 1 for reals, 0 for fakes.
    # relu(real - 0)^2 = [4, 0] -> 2; relu(1 - fake)^2 = [4, 0] -> 2
    assert lecam.d_term(first).item() == pytest.approx(0.5 * (2 + 2))
    lecam.after_d_step(first)
    assert (lecam.real_average, lecam.fake_average) == (1.0, 0.0)
    lecam.after_d_step(DiscriminatorBatch(None, None, None, None, None, torch.tensor([3.0]), torch.tensor([2.0])))
    assert lecam.real_average == pytest.approx(0.9 * 1 + 0.1 * 3) and lecam.fake_average == pytest.approx(0.2)
    # relu([2, 0] - 0.2)^2 = [3.24, 0] -> 1.62; relu(1.2 - [-1, 1])^2 = [4.84, 0.04] -> 2.44
    assert lecam.d_term(first).item() == pytest.approx(0.5 * (1.62 + 2.44))
    restored = LeCamRegularization(0.5, decay=0.9)
    restored.load_state_dict(lecam.state_dict())
    assert restored.d_term(first).item() == lecam.d_term(first).item()


def test_an_interval_without_r1_or_r2_is_refused():
    with pytest.raises(ConfigError, match=r"regularize.r1_interval=16 spaces out R1 and R2, which are off"):
        validate(Config(regularize=RegularizeConfig(r1_interval=16)))
    validate(Config(regularize=RegularizeConfig(r2=1.0, r1_interval=16)))
