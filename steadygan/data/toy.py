"""The 2-D Gaussian mixtures of the mode-collapse literature (VEEGAN, PacGAN, Unrolled GAN).

Geometry and standard deviations follow VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018):
a ring of 8 modes on the unit circle with std 0.01, and a 5x5 grid of modes at {-4, -2, 0, 2, 4}^2
with std 0.05.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import DataError

MIXTURES = {
    "ring8": 0.01,
    "grid25": 0.05,
}


def toy_centres(name: str) -> np.ndarray:
    """The (K, 2) mode centres of a built-in mixture."""
    if name == "ring8":
        angles = 2 * math.pi * np.arange(8) / 8
        return np.stack([np.cos(angles), np.sin(angles)], axis=1)
    if name == "grid25":
        axis = np.arange(-4, 5, 2, dtype=np.float64)
        return np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2)
    raise DataError(f"unknown 2-D mixture '{name}'; choose one of: {', '.join(MIXTURES)}")


def sample_mixture(name: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n points drawn uniformly over the modes, and the index of the mode each came from."""
    centres = toy_centres(name)
    rng = np.random.default_rng(seed)
    modes = rng.integers(len(centres), size=n)
    points = centres[modes] + MIXTURES[name] * rng.standard_normal((n, 2))
    return points.astype(np.float32), modes
