"""Mode counts, high-quality fraction and KL on hand-made samples."""

import math

import numpy as np
import pytest

from steadygan.data import toy_centres
from steadygan.metrics import mode_coverage


def test_mode_coverage_by_hand():
    centres = toy_centres("ring8")
    samples = np.array([
        centres[0] + [0.02, 0.0],  # 2 std away: high quality, mode 0
        centres[0] + [0.0, -0.029],  # 2.9 std: still high quality
        centres[3],  # exactly on mode 3
        centres[3] + [0.04, 0.0],  # 4 std: nearest to mode 3 but not high quality
        [0.0, 0.0],  # the centre of the ring, far from every mode
    ])
    result = mode_coverage(samples, centres, std=0.01)
    assert result.modes == 2 and result.total_modes == 8
    assert result.high_quality == pytest.approx(3 / 5)
    # histogram over the 3 good samples: 2/3 on mode 0, 1/3 on mode 3
    assert result.kl == pytest.approx(2 / 3 * math.log(2 / 3 * 8) + 1 / 3 * math.log(1 / 3 * 8))


def test_perfect_uniform_samples_score_everything_and_zero_kl():
    centres = toy_centres("grid25")
    result = mode_coverage(np.repeat(centres, 4, axis=0), centres, std=0.05)
    assert (result.modes, result.high_quality) == (25, 1.0) and result.kl == pytest.approx(0.0, abs=1e-12)


def test_no_good_sample_has_infinite_kl():
    result = mode_coverage(np.zeros((3, 2)) + 10, toy_centres("ring8"), std=0.01)
    assert result.modes == 0 and result.high_quality == 0 and math.isinf(result.kl)
