from __future__ import annotations

import numpy as np
import pytest

from l1scout.errors import DataFormatError
from l1scout.tasks.anomaly.parity import decision_agreement, max_lsb_difference


def _slow_agreement(ref: list[float], oth: list[float], cut: float) -> float:
    same = 0
    for a, b in zip(ref, oth, strict=True):
        same += (a > cut) == (b > cut)
    return same / len(ref)


def test_agreement_matches_a_loop() -> None:
    rng = np.random.default_rng(4)
    ref = rng.exponential(size=500)
    oth = ref + rng.normal(scale=0.05, size=500)
    cuts = [0.1, 0.5, 1.0, 3.0]
    got = decision_agreement(ref, oth, cuts)
    want = [_slow_agreement(ref.tolist(), oth.tolist(), c) for c in cuts]
    np.testing.assert_allclose(got, want)
    assert np.all(got < 1.0)


def test_identical_scores_agree_everywhere_and_differ_by_zero_lsb() -> None:
    x = np.linspace(0, 4, 101)
    assert decision_agreement(x, x, x).tolist() == [1.0] * 101
    assert max_lsb_difference(x, x, lsb=2**-6) == 0.0


def test_equal_to_threshold_is_not_accepted() -> None:
    # score > threshold fires; a score equal to the threshold does not
    assert decision_agreement([1.0], [1.0 + 1e-12], [1.0]).tolist() == [0.0]


def test_lsb_counts() -> None:
    ref = np.array([[0.0, 1.0], [2.0, 3.0]])
    oth = ref + np.array([[0.0, 0.25], [-0.5, 0.0]])
    assert max_lsb_difference(ref, oth, lsb=0.25) == 2.0


def test_bad_input_is_named() -> None:
    with pytest.raises(DataFormatError, match="shapes"):
        decision_agreement([1.0, 2.0], [1.0], [0.5])
    with pytest.raises(DataFormatError, match="lsb"):
        max_lsb_difference([1.0], [1.0], lsb=0.0)
