"""How closely a deployed model (ONNX, firmware emulation) follows the trained one.

The anomaly trigger fires when its score passes a threshold, so the number that
matters for the firmware is not an average error but the fraction of events
whose *decision* changes, at every threshold the trigger would run with; the
second number is the largest output difference counted in least significant
bits (LSB) of the firmware's output precision (issue 6: at least 99.9% equal
decisions and outputs within one LSB).

Example:
    >>> ref = np.array([0.1, 0.5, 0.9, 1.3])
    >>> emu = np.array([0.1, 0.6, 0.9, 1.3])
    >>> decision_agreement(ref, emu, thresholds=[0.55, 1.0]).tolist()
    [0.75, 1.0]
    >>> max_lsb_difference(np.array([[0.25, 0.5]]), np.array([[0.25, 0.625]]), lsb=0.125)
    1.0
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from l1scout.errors import DataFormatError

__all__ = ["decision_agreement", "max_lsb_difference"]


def _pair(
    reference: npt.ArrayLike, other: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    ref = np.asarray(reference, dtype=np.float64)
    oth = np.asarray(other, dtype=np.float64)
    if ref.shape != oth.shape:
        raise DataFormatError(
            f"cannot compare outputs of shapes {ref.shape} and {oth.shape}: expected the same shape"
        )
    return ref, oth


def decision_agreement(
    reference: npt.ArrayLike, other: npt.ArrayLike, thresholds: Sequence[float] | npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Fraction of events with the same trigger decision (score > threshold), per threshold.

    Args:
        reference: scores of the trained model, shape (n,).
        other: scores of the deployed model for the same events, shape (n,).
        thresholds: the thresholds to compare at.

    Returns:
        One fraction in [0, 1] per threshold (1.0 for an empty sample).
    """
    ref, oth = _pair(reference, other)
    cuts = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    if ref.size == 0:
        return np.ones(cuts.size)
    same = (ref[:, None] > cuts[None, :]) == (oth[:, None] > cuts[None, :])
    return np.asarray(same.mean(axis=0), dtype=np.float64)


def max_lsb_difference(reference: npt.ArrayLike, other: npt.ArrayLike, lsb: float) -> float:
    """The largest ``|reference - other|`` over all outputs, in units of *lsb*.

    Raises:
        DataFormatError: the shapes differ or *lsb* is not positive.
    """
    if not lsb > 0:
        raise DataFormatError(f"lsb must be a positive number, got {lsb!r}")
    ref, oth = _pair(reference, other)
    if ref.size == 0:
        return 0.0
    return float(np.max(np.abs(ref - oth)) / lsb)
