"""The standard sample-quality scores, computed from features (any extractor's).

- FID (Heusel et al. 2017): Frechet distance of Gaussians fitted to real and generated features.
- KID (Binkowski et al. 2018): unbiased MMD^2 with the cubic polynomial kernel, over random subsets.
- IS (Salimans et al. 2016): exp E_x KL(p(y|x) || p(y)), over splits.
- Precision and recall (Kynkaanniemi et al. 2019) from k-nearest-neighbour balls, k = 3.
- Density and coverage (Naeem et al. 2020), k = 5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class GaussianStats:
    """Mean and covariance of features, accumulated from float64 sums so that batches can stream in."""

    count: int
    total: np.ndarray  # (D,) sum of features
    outer: np.ndarray  # (D, D) sum of x x^T

    @classmethod
    def empty(cls, dim: int) -> GaussianStats:
        return cls(0, np.zeros(dim), np.zeros((dim, dim)))

    def add(self, features: torch.Tensor | np.ndarray) -> None:
        x = torch.as_tensor(features).detach().to("cpu", torch.float64)
        self.count += len(x)
        self.total += x.sum(dim=0).numpy()
        self.outer += (x.T @ x).numpy()

    @property
    def mean(self) -> np.ndarray:
        return self.total / self.count

    @property
    def cov(self) -> np.ndarray:
        """The unbiased sample covariance (numpy.cov's), from the sums."""
        if self.count < 2:
            raise ValueError("a covariance needs at least 2 samples")
        mean = self.mean
        return (self.outer - self.count * np.outer(mean, mean)) / (self.count - 1)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"count": np.array(self.count), "total": self.total, "outer": self.outer}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> GaussianStats:
        return cls(int(arrays["count"]), np.asarray(arrays["total"], np.float64),
                   np.asarray(arrays["outer"], np.float64))


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)).

    The eigenvalues of S1 S2 are the squared singular values of S1^(1/2) S2^(1/2), so tr (S1 S2)^(1/2)
    is the nuclear norm of that product. Each root comes from a symmetric eigensolver, with round-off
    negatives clipped: no complex arithmetic, no small-offset retries, and for rank-deficient
    covariances (many dead features) the error stays at round-off instead of the square root of it,
    as with a general matrix square root of S1 S2.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    trace_sqrt = np.linalg.svd(_psd_sqrt(sigma1) @ _psd_sqrt(sigma2), compute_uv=False).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt)


def fid_from_stats(real: GaussianStats, fake: GaussianStats) -> float:
    return frechet_distance(real.mean, real.cov, fake.mean, fake.cov)


def kernel_inception_distance(real: np.ndarray, fake: np.ndarray, subsets: int = 100, subset_size: int = 1000,
                              seed: int = 0) -> tuple[float, float]:
    """Mean and std over random subsets of the unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    m = min(subset_size, len(real), len(fake))
    if m < 2:
        raise ValueError("KID needs at least 2 samples of each set")
    dim = real.shape[1]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(subsets):
        x = real[rng.choice(len(real), m, replace=False)]
        y = fake[rng.choice(len(fake), m, replace=False)]
        kxx, kyy, kxy = ((a @ b.T / dim + 1) ** 3 for a, b in ((x, x), (y, y), (x, y)))
        off_diagonal = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        values.append(off_diagonal - 2 * kxy.mean())
    return float(np.mean(values)), float(np.std(values))


def inception_score(logits: torch.Tensor | np.ndarray, splits: int = 10) -> tuple[float, float]:
    """Mean and std over splits of exp(E_x KL(p(y|x) || p(y))), p(y) being the split's mean prediction."""
    probs = torch.softmax(torch.as_tensor(logits, dtype=torch.float64), dim=1)
    scores = []
    for part in probs.chunk(splits):
        marginal = part.mean(dim=0, keepdim=True)
        kl = (part * (torch.log(part.clamp_min(1e-30)) - torch.log(marginal.clamp_min(1e-30)))).sum(dim=1)
        scores.append(torch.exp(kl.mean()).item())
    return float(np.mean(scores)), float(np.std(scores))


def knn_radii(features: torch.Tensor, k: int, batch: int = 1024) -> torch.Tensor:
    """Distance of each sample to its k-th nearest neighbour in its own set (itself excluded)."""
    if len(features) <= k:
        raise ValueError(f"k-nearest-neighbour balls with k = {k} need more than {k} samples")
    # the smallest distance is the sample's own 0
    return torch.cat([torch.cdist(features[i:i + batch], features).kthvalue(k + 1, dim=1).values
                      for i in range(0, len(features), batch)])


def ball_membership(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor,
                    batch: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """For balls B(centre_i, radius_i): how many balls each point lies in, and whether each ball holds
    a point; computed in blocks of points so that memory stays O(batch x centres)."""
    counts, hit = [], torch.zeros(len(centres), dtype=torch.bool)
    for i in range(0, len(points), batch):
        inside = torch.cdist(points[i:i + batch], centres) <= radii[None]
        counts.append(inside.sum(dim=1))
        hit |= inside.any(dim=0)
    return torch.cat(counts), hit


def _as_float(x: torch.Tensor | np.ndarray) -> torch.Tensor:
    return torch.as_tensor(x, dtype=torch.float32)


def precision_recall(real: torch.Tensor | np.ndarray, fake: torch.Tensor | np.ndarray,
                     k: int = 3) -> tuple[float, float]:
    """Precision: the share of fakes inside some real sample's k-NN ball; recall: the share of reals
    inside some fake sample's k-NN ball (Kynkaanniemi et al. 2019)."""
    real, fake = _as_float(real), _as_float(fake)
    in_real_balls, _ = ball_membership(fake, real, knn_radii(real, k))
    in_fake_balls, _ = ball_membership(real, fake, knn_radii(fake, k))
    return (in_real_balls > 0).float().mean().item(), (in_fake_balls > 0).float().mean().item()


def density_coverage(real: torch.Tensor | np.ndarray, fake: torch.Tensor | np.ndarray,
                     k: int = 5) -> tuple[float, float]:
    """Density: the mean number of real k-NN balls a fake falls in, over k; coverage: the share of real
    balls that hold at least one fake (Naeem et al. 2020)."""
    real, fake = _as_float(real), _as_float(fake)
    counts, covered = ball_membership(fake, real, knn_radii(real, k))
    return counts.sum().item() / (k * len(fake)), covered.float().mean().item()
