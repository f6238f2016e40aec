"""FID, KID, IS, precision/recall and density/coverage against independent computations."""

import numpy as np
import pytest
import scipy.linalg
import torch

from steadygan.metrics.scores import (
    GaussianStats,
    density_coverage,
    fid_from_stats,
    frechet_distance,
    inception_score,
    kernel_inception_distance,
    precision_recall,
)


def random_gaussian(rng, dim):
    mean = rng.normal(size=dim)
    factor = rng.normal(size=(dim, dim + 5))
    return mean, factor @ factor.T / dim


def scipy_frechet(mu1, s1, mu2, s2):
    root = scipy.linalg.sqrtm(s1 @ s2)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(root.real))


@pytest.mark.parametrize("dim", [2, 16, 128])
def test_frechet_distance_matches_scipy_sqrtm(dim):
    rng = np.random.default_rng(dim)
    (mu1, s1), (mu2, s2) = random_gaussian(rng, dim), random_gaussian(rng, dim)
    ours, direct = frechet_distance(mu1, s1, mu2, s2), scipy_frechet(mu1, s1, mu2, s2)
    assert ours == pytest.approx(direct, rel=1e-6)


def test_frechet_distance_of_1d_gaussians_by_hand():
    # W2^2 of N(0, 1) and N(3, 4): (0 - 3)^2 + (1 - 2)^2 = 10
    assert frechet_distance(np.zeros(1), np.eye(1), np.full(1, 3.0), 4 * np.eye(1)) == pytest.approx(10.0, abs=1e-12)


def test_frechet_distance_of_a_rank_deficient_covariance_with_itself_is_zero():
    rng = np.random.default_rng(0)
    factor = rng.normal(size=(64, 10))  # rank 10 of 64: where a general sqrtm of S1 S2 struggles
    sigma = factor @ factor.T
    assert abs(frechet_distance(np.zeros(64), sigma, np.zeros(64), sigma)) < 1e-6


def test_streaming_statistics_equal_numpy_in_one_pass():
    rng = np.random.default_rng(1)
    features = rng.normal(3.0, 2.0, size=(1000, 8)).astype(np.float32)
    stats = GaussianStats.empty(8)
    for part in np.array_split(features, 7):
        stats.add(torch.from_numpy(part))
    assert stats.count == 1000
    np.testing.assert_allclose(stats.mean, features.astype(np.float64).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.cov, np.cov(features.astype(np.float64), rowvar=False), rtol=1e-9, atol=1e-12)
    again = GaussianStats.from_arrays(stats.to_arrays())
    assert fid_from_stats(stats, again) == pytest.approx(0.0, abs=1e-9)


def test_kid_is_unbiased_for_two_samples_of_one_distribution():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(2000, 16)), rng.normal(size=(2000, 16))
    mean, std = kernel_inception_distance(x, y, subsets=100, subset_size=200)
    assert abs(mean) < std
    shifted, _ = kernel_inception_distance(x, y + 0.5, subsets=100, subset_size=200)
    assert shifted > 10 * std


def test_kid_by_hand_on_two_points_each():
    x, y = np.array([[1.0], [0.0]]), np.array([[2.0], [1.0]])
    k = lambda a, b: (a * b + 1) ** 3  # noqa: E731  d = 1
    kxx, kyy = 2 * k(1, 0) / 2, 2 * k(2, 1) / 2
    kxy = (k(1, 2) + k(1, 1) + k(0, 2) + k(0, 1)) / 4
    mean, std = kernel_inception_distance(x, y, subsets=3, subset_size=2)
    assert mean == pytest.approx(kxx + kyy - 2 * kxy) and std == pytest.approx(0.0)


def test_inception_score_of_uniform_and_of_confident_even_predictions():
    assert inception_score(torch.zeros(1000, 10))[0] == pytest.approx(1.0)
    confident = 50.0 * torch.nn.functional.one_hot(torch.arange(1000) % 10, 10).float()
    mean, std = inception_score(confident, splits=10)
    assert mean == pytest.approx(10.0, rel=1e-6) and std == pytest.approx(0.0, abs=1e-6)
    one_class = 50.0 * torch.nn.functional.one_hot(torch.zeros(1000, dtype=torch.long), 10).float()
    assert inception_score(one_class)[0] == pytest.approx(1.0, abs=1e-6)  # confident but not diverse


def test_precision_recall_are_one_for_identical_sets_and_fall_as_they_separate():
    rng = np.random.default_rng(3)
    real = rng.normal(size=(500, 4))
    assert precision_recall(real, real.copy()) == (1.0, 1.0)
    fake = rng.normal(size=(500, 4))
    values = [precision_recall(real, fake + shift) for shift in (0.0, 1.0, 2.0, 4.0, 8.0)]
    precisions, recalls = zip(*values, strict=True)
    assert list(precisions) == sorted(precisions, reverse=True) and precisions[-1] == 0.0
    assert list(recalls) == sorted(recalls, reverse=True) and recalls[-1] == 0.0
    assert precisions[0] > 0.8 and recalls[0] > 0.8


def test_precision_and_recall_tell_collapse_from_noise():
    rng = np.random.default_rng(4)
    real = rng.normal(size=(600, 2))
    collapsed = real[:30].repeat(20, axis=0) + 1e-3 * rng.normal(size=(600, 2))  # 5% of the modes
    precision, recall = precision_recall(real, collapsed)
    assert precision == 1.0 and recall < 0.3


def test_density_and_coverage_by_construction():
    rng = np.random.default_rng(5)
    real = rng.normal(size=(400, 3))
    density, coverage = density_coverage(real, real.copy())
    assert coverage == 1.0 and density == pytest.approx(1.0, abs=0.25)
    far_density, far_coverage = density_coverage(real, real + 20.0)
    assert far_density == 0.0 and far_coverage == 0.0
    half = real[real[:, 0] > 0]  # fakes on one half of the real support: half the balls covered
    _, half_coverage = density_coverage(real, half)
    assert 0.4 < half_coverage < 0.7
