"""Mode coverage on the 2-D Gaussian mixtures, by the rule of VEEGAN (Srivastava et al. 2017) and
PacGAN (Lin et al. 2018): a sample is high quality within 3 standard deviations of its nearest mode
centre; a mode is captured when at least one high-quality sample is nearest to it; the mode histogram
of the high-quality samples is compared with the uniform one by KL divergence (PacGAN's reverse KL).

Stacked digits (Metz et al. 2017) count the same way over the 1,000 triples of digits that a digit
classifier reads from the three channels of each sample."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class ModeCoverage:
    modes: int  # modes captured
    total_modes: int
    high_quality: float  # fraction of samples within 3 std of their nearest centre
    kl: float  # KL(histogram of high-quality samples over modes || uniform); inf when there are none

    def as_dict(self) -> dict[str, float]:
        return {"modes": self.modes, "total_modes": self.total_modes, "high_quality": self.high_quality,
                "kl": self.kl}


def mode_coverage(samples: torch.Tensor | np.ndarray, centres: np.ndarray, std: float,
                  threshold: float = 3.0) -> ModeCoverage:
    points = samples.detach().cpu().numpy() if isinstance(samples, torch.Tensor) else np.asarray(samples)
    distances = np.linalg.norm(points[:, None, :] - centres[None], axis=2)  # (N, K)
    nearest = distances.argmin(axis=1)
    good = distances[np.arange(len(points)), nearest] <= threshold * std
    counts = np.bincount(nearest[good], minlength=len(centres))
    return ModeCoverage(int((counts > 0).sum()), len(centres), float(good.mean()), kl_from_uniform(counts))


def kl_from_uniform(counts: np.ndarray) -> float:
    """KL(counts / total || uniform over len(counts)); inf for an empty histogram."""
    if counts.sum() == 0:
        return float("inf")
    p = counts / counts.sum()
    nonzero = p > 0
    return float(np.sum(p[nonzero] * np.log(p[nonzero] * len(counts))))


@dataclass
class StackedModes:
    """Modes of stacked digits (Metz et al. 2017): each channel's digit read by a classifier."""

    modes: int  # distinct digit triples among the samples
    kl: float  # KL(histogram of triples || uniform over 1,000)


STACKED_MODES = 1000


def triple_histogram(channel_digits: torch.Tensor) -> np.ndarray:
    """(N, 3) digits -> counts of the 1,000 triples 100 a + 10 b + c."""
    digits = channel_digits.long().cpu()
    codes = digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2]
    return np.bincount(codes.numpy(), minlength=STACKED_MODES)


def stacked_modes(histogram: np.ndarray) -> StackedModes:
    return StackedModes(int((histogram > 0).sum()), kl_from_uniform(histogram))
