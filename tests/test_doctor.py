"""The stability doctor: each failure mode induced on a tiny model and named, rules on logged records,
and the rollback that survives divergence."""

import json
import math

import numpy as np
import pytest
import torch

from helpers import tiny_config
from steadygan.cli import main
from steadygan.config import load_config
from steadygan.data import toy_centres
from steadygan.data.stream import BatchStream
from steadygan.errors import TrainingDiverged
from steadygan.losses import build_loss
from steadygan.train import Trainer
from steadygan.train.doctor import RULES, CoverageProbe, diagnose, lipschitz_estimate, pairwise_diversity


def doctor_run(out_dir, **overrides):
    values = {"optim.n_dis": 1, "train.steps": 60, "train.log_every": 5, "train.sample_every": 1000,
              "train.checkpoint_every": 1000}
    values.update(overrides)
    return Trainer(tiny_config(out_dir, "dcgan", **values), progress=False, tensorboard=False)


def frozen_g(trainer):
    """G never moves, as with a learning rate of 0 (which the config refuses: learning rates are positive)."""
    trainer.opt_G.step = lambda closure=None: None
    return trainer


def fired(trainer):
    return set(trainer.doctor.findings)


def test_monitors_are_logged(tmp_path):
    trainer = doctor_run(tmp_path, **{"train.steps": 10})
    trainer.fit()
    record = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    for key in ("d_acc_real", "d_acc_fake", "d_acc_seen", "d_acc_heldout", "d_loss_gap", "g_grad_norm", "d_grad_norm",
                "d_lipschitz", "diversity", "near_duplicates"):
        assert key in record and math.isfinite(record[key]), key
    assert len(trainer.monitors.heldout) == 35  # 2% of the 1,797 digits, never trained on
    assert not set(trainer.monitors.heldout) & set(trainer.stream.indices)


def test_d_overpowering_when_g_cannot_learn(tmp_path):
    trainer = frozen_g(doctor_run(tmp_path, **{"optim.d_lr": 1e-3}))
    trainer.fit()
    assert "d_overpowering" in fired(trainer)
    assert "optim.d_lr=0.00025" in trainer.doctor.findings["d_overpowering"].remedy


def test_mode_collapse_when_g_gives_one_output(tmp_path):
    trainer = doctor_run(tmp_path, **{"train.steps": 150})
    forward = trainer.G.forward

    def collapse(trainer):  # after G has learnt some variety, it gives one output for every latent
        if trainer.step == 100:
            trainer.G.forward = lambda z, y=None: forward(z[:1], None).expand(len(z), -1, -1, -1)

    trainer.callbacks.append(collapse)
    trainer.fit()
    assert "mode_collapse" in fired(trainer) and trainer.doctor.findings["mode_collapse"].step > 100
    last = trainer.doctor.records[-1]
    assert last["diversity"] < 1e-6 and last["near_duplicates"] == 1.0


def test_d_overfitting_on_a_tiny_training_split(tmp_path):
    """D sees 16 training images and a G that outputs other real digits: it can only memorize the 16,
    and then calls the held-out reals fake."""
    trainer = frozen_g(doctor_run(tmp_path, **{"optim.d_lr": 2e-3, "train.steps": 150, "optim.n_dis": 2}))
    pool = trainer.stream.indices[16:]
    trainer.batches.stream = trainer.state.stream = BatchStream(trainer.dataset, 8, seed=0,
                                                               indices=trainer.stream.indices[:16])
    rng = np.random.default_rng(0)
    forward = trainer.G.forward
    trainer.G.forward = lambda z, y=None: forward(z, y) * 0 + trainer.dataset.batch(rng.choice(pool, len(z)))[0]
    trainer.fit()
    assert "d_overfitting" in fired(trainer)
    records = trainer.doctor.records
    assert records[-1]["d_acc_seen"] - records[-1]["d_acc_heldout"] > 0.25


def test_divergence_rolls_back_and_the_run_still_finishes(tmp_path):
    trainer = doctor_run(tmp_path, **{"optim.g_lr": 1e30, "optim.d_lr": 1e30, "doctor.rollback_lr_factor": 1e-33,
                                      "train.steps": 30, "train.log_every": 2, "train.checkpoint_every": 10})
    result = trainer.fit()
    assert result.completed and result.step == 30
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    rollbacks = [r for r in records if "rollback" in r]
    assert rollbacks and rollbacks[0]["step"] == 0 and rollbacks[0]["lr_scale"] == 1e-33
    assert trainer.lr_scale <= 1e-33 and "divergence" in fired(trainer)
    assert all(torch.isfinite(p).all() for p in trainer.G.parameters())
    assert math.isfinite(records[-1]["d_loss"]) and trainer.opt_G.param_groups[0]["lr"] == pytest.approx(1e-3)


def test_divergence_beyond_the_rollbacks_allowed_stops_with_a_clear_error(tmp_path):
    trainer = doctor_run(tmp_path, **{"optim.g_lr": 1e30, "optim.d_lr": 1e30, "doctor.max_rollbacks": 1,
                                      "train.log_every": 2})
    with pytest.raises(TrainingDiverged, match=r"after 1 rollback\(s\); lower optim.g_lr and optim.d_lr"):
        trainer.fit()
    assert (tmp_path / "checkpoints" / "last.safetensors").is_file()  # the last good state is kept


def test_doctor_command_diagnoses_a_run(tmp_path, capsys):
    frozen_g(doctor_run(tmp_path, **{"optim.d_lr": 1e-3})).fit()
    assert main(["doctor", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "d_overpowering (step" in out and "Try: optim.d_lr=" in out and "last monitors: d_acc_real=" in out
    assert main(["doctor", str(tmp_path / "nothing")]) == 2


def records(**columns):
    n = len(next(iter(columns.values())))
    return [{"step": 10 * (i + 1), **{k: v[i] for k, v in columns.items()}} for i in range(n)]


@pytest.mark.parametrize("rule, history", [
    ("divergence", records(d_loss=[1.0] * 8 + [float("nan")])),
    ("divergence", records(d_loss=[1.0] * 8 + [500.0])),
    ("divergence", records(d_loss=[-2.0 * 2.0 ** i for i in range(14)])),  # an unbounded critic's steady growth
    ("d_overpowering", records(d_acc_real=[0.99] * 8, d_acc_fake=[1.0] * 8)),
    ("mode_collapse", records(diversity=[0.1, 0.4, 0.6, 0.6, 0.05, 0.04, 0.04, 0.03], near_duplicates=[0.9] * 8)),
    ("mode_collapse", records(sample_coverage=[0.1, 0.4, 0.6, 0.6, 0.25, 0.2, 0.2, 0.2], sample_density=[0.8] * 8)),
    ("mode_collapse", records(sample_cells=[0.2, 0.9, 1.0, 1.0, 0.6, 0.6, 0.5, 0.5], sample_coverage=[0.5] * 8,
                              sample_density=[0.8] * 8)),
    ("d_overfitting", records(d_acc_seen=[0.95] * 8, d_acc_heldout=[0.5] * 8, d_loss_gap=[0.8] * 8)),
    ("vanishing_g_gradients", records(g_grad_norm=[5.0] * 4 + [1e-5] * 4)),
    ("oscillation", records(g_loss=[2.0, -1.0] * 6)),
])
def test_each_rule_fires_on_its_pattern_and_not_on_a_steady_run(rule, history):
    config = load_config("dcgan", ["train.steps=100"])  # the patterns' 8 logs reach step 80
    assert RULES.get(rule)(history, config) is not None
    steady = records(d_loss=[1.0] * 12, g_loss=[1.0 + 0.01 * i for i in range(12)], d_acc_real=[0.7] * 12,
                     d_acc_fake=[0.7] * 12, diversity=[0.9] * 12, near_duplicates=[0.0] * 12,
                     d_acc_seen=[0.7] * 12, d_acc_heldout=[0.68] * 12, g_grad_norm=[3.0] * 12,
                     sample_coverage=[0.7] * 12, sample_density=[0.9] * 12, sample_cells=[0.95] * 12)
    assert RULES.get(rule)(steady, config) is None
    assert [f.rule for f in diagnose(history, config)].count(rule) == 1  # reported once, when it first fires


def test_accuracy_and_monitor_maths():
    real, fake = torch.tensor([2.0, -1.0, 3.0, 0.5]), torch.tensor([-2.0, 1.0, -3.0, -0.5])
    assert [float(a) for a in build_loss("ns").accuracy(real, fake)] == [0.75, 0.75]
    assert [float(a) for a in build_loss("lsgan").accuracy(torch.tensor([0.6, 0.4]), torch.tensor([0.1, 0.7]))] == [
        0.5, 0.5]
    x = torch.randn(6, 3, 4, 4)
    assert pairwise_diversity(x, x) == pytest.approx((1.0, 0.0))
    assert pairwise_diversity(x[:1].expand(6, -1, -1, -1), x) == (0.0, 1.0)
    linear = torch.nn.Linear(3, 1, bias=False)
    critic = lambda v, y=None: linear(v).squeeze(1)  # noqa: E731  (a D with gradient |w| everywhere)
    assert lipschitz_estimate(critic, torch.randn(5, 3), torch.randn(5, 3), None) == pytest.approx(
        float(linear.weight.detach().norm()), rel=1e-6)


def test_low_coverage_is_collapse_and_low_density_not_fitting_once_a_quarter_of_the_run_is_done():
    under_way, early = load_config("toy2d", ["train.steps=100"]), load_config("toy2d", ["train.steps=1000"])
    some_modes = records(sample_coverage=[0.1] * 8, sample_density=[0.6] * 8, g_loss=[0.7] * 8)  # steps 10 to 80
    assert [f.rule for f in diagnose(some_modes, under_way)] == ["mode_collapse"]
    assert "cover only 10%" in diagnose(some_modes, under_way)[0].evidence
    assert diagnose(some_modes, early) == []  # 80 of 1,000 steps: a run on its way, not a finding
    far = records(sample_coverage=[0.01] * 8, sample_density=[0.01] * 8, g_loss=[0.7] * 8)
    assert [f.rule for f in diagnose(far, under_way)] == ["not_fitting"]
    moving = records(sample_coverage=[0.01] * 8, sample_density=[0.01] * 8, g_loss=[0.7, 1.5] * 4)
    assert diagnose(moving, under_way) == []  # the losses have not settled: G is still on its way


def test_points_are_judged_by_the_cells_their_samples_reach_not_by_coverage():
    config = load_config("toy2d", ["train.steps=100"])
    # All modes, every sample a little off its mode's reals: coverage is low, but no mode is missing.
    off_centre = records(sample_cells=[0.95] * 8, sample_coverage=[0.05] * 8, sample_density=[0.3] * 8)
    assert diagnose(off_centre, config) == []
    missing = records(sample_cells=[0.7] * 8, sample_coverage=[0.6] * 8, sample_density=[0.9] * 8)
    [finding] = diagnose(missing, config)
    assert finding.rule == "mode_collapse" and "reach 70% of the cells" in finding.evidence
    early = records(sample_coverage=[0.9, 0.95, 0.9, 0.9, 0.1, 0.1, 0.1, 0.1], sample_density=[0.9] * 8)
    assert diagnose(early, load_config("toy2d", ["train.steps=1000"])) == []  # a swing in the first quarter
    rising = records(sample_cells=[0.1, 0.2, 0.2, 0.3, 0.3, 0.4, 0.5, 0.6], sample_coverage=[0.1] * 8,
                     sample_density=[0.9] * 8)
    assert diagnose(rising, config) == []  # still finding modes: an EMA of G that lags, say
    stuck = rising + [{"step": 80 + 10 * i, "sample_cells": 0.55, "sample_coverage": 0.1, "sample_density": 0.9}
                      for i in range(1, 5)]
    assert [f.rule for f in diagnose(stuck, config)] == ["mode_collapse"]  # then no new high for 4 logs


class PointsGenerator(torch.nn.Module):
    """A stand-in G whose samples are the given points, one per latent, whatever the latent."""

    def __init__(self, points):
        super().__init__()
        self.z_dim = 4
        self.points = torch.nn.Parameter(torch.as_tensor(points, dtype=torch.float32), requires_grad=False)

    def forward(self, z, labels=None):
        return self.points[: len(z)]


def brute_force_density_coverage(real, fake, k):
    distances = np.linalg.norm(real[:, None] - real[None], axis=-1)
    radii = np.sort(distances, axis=1)[:, k]  # the k-th neighbour, the point itself being the 0-th
    inside = np.linalg.norm(fake[:, None] - real[None], axis=-1) <= radii[None]
    return inside.sum() / (k * len(fake)), inside.any(axis=0).mean()


def test_coverage_probe_counts_the_real_balls_the_samples_reach():
    rng = np.random.default_rng(0)
    centres = centres_of_grid = toy_centres("grid25")
    reals = (centres[rng.integers(0, 25, 300)] + 0.05 * rng.standard_normal((300, 2))).astype(np.float32)
    real_images = lambda indices: (torch.from_numpy(reals[indices]), None)  # noqa: E731
    probe = CoverageProbe.build(200, np.arange(100), np.arange(100, 300), 4, 0, real_images, seed=0)
    assert list(probe.reals) == list(range(200))  # held-out reals first
    four_modes = (centres[rng.integers(0, 4, 200)] + 0.05 * rng.standard_normal((200, 2))).astype(np.float32)
    for samples in (reals[200:] + 0.0, four_modes):
        measured = probe.measure(PointsGenerator(samples))
        density, coverage = brute_force_density_coverage(reals[:200], samples, CoverageProbe.K)
        assert measured["sample_density"] == pytest.approx(density, abs=1e-6)
        assert measured["sample_coverage"] == pytest.approx(coverage, abs=1e-6)
    healthy = probe.measure(PointsGenerator(reals[100:300]))
    assert measured["sample_coverage"] < 0.3 < healthy["sample_coverage"]

    # The cells: k-means of the reals, each within one mode here; the four-mode samples reach exactly the
    # cells of their four modes.
    centres, _ = probe.cells(torch.from_numpy(reals[:200]))
    mode_of_real = np.linalg.norm(reals[:200, None] - centres_of_grid[None], axis=-1).argmin(axis=1)
    cell_of_real = torch.cdist(torch.from_numpy(reals[:200]), centres).argmin(dim=1).numpy()
    modes_of_cell = [set(mode_of_real[cell_of_real == j]) for j in range(len(centres))]
    assert all(len(modes) == 1 for modes in modes_of_cell)
    expected = np.mean([modes <= {0, 1, 2, 3} for modes in modes_of_cell])
    assert measured["sample_cells"] == pytest.approx(expected) and expected < 0.3
    assert healthy["sample_cells"] == 1.0
    assert CoverageProbe.build(0, np.arange(9), np.arange(9), 4, 0, real_images, seed=0) is None


def test_images_are_projected_at_random_once_keeping_their_distances_roughly():
    probe = CoverageProbe(np.arange(4), torch.zeros(4, 2), None, lambda i: (None, None), seed=0)
    images = torch.randn(40, 3, 16, 16)
    projected = probe.features(images)
    assert projected.shape == (40, CoverageProbe.PROJECTED) and torch.equal(projected, probe.features(images))
    ratio = torch.pdist(projected) / torch.pdist(images.flatten(1))
    assert 0.8 < float(ratio.median()) < 1.2 and float(ratio.min()) > 0.5  # Johnson-Lindenstrauss at 64 dims


def test_a_grid_run_whose_samples_reach_four_of_the_25_modes_is_named_mode_collapse(tmp_path):
    trainer = Trainer(load_config("toy2d", ["data.source=grid25", "train.steps=40", "train.log_every=2",
                                            f"train.out_dir={tmp_path}", "train.sample_every=1000",
                                            "train.checkpoint_every=1000"]), progress=False, tensorboard=False)
    forward, centres = trainer.G.forward, torch.as_tensor(toy_centres("grid25")[:4], dtype=torch.float32)

    def four_modes(z, y=None):  # every sample at one of four centres, G's output added at a thousandth
        return centres[torch.arange(len(z)) % 4] + 0.001 * forward(z, y)

    trainer.G.forward = trainer.ema.model.forward = four_modes  # the probe samples from the EMA of G
    trainer.fit()
    finding = trainer.doctor.findings["mode_collapse"]
    assert "of the cells" in finding.evidence and finding.remedy.startswith("model.packing=2")
    last = trainer.doctor.records[-1]
    assert last["sample_cells"] < 0.3 and last["sample_density"] > 0.05
