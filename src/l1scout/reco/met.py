"""Missing transverse momentum and scalar HT (Delphes ``Merger`` modules).

MET is minus the vector sum of the input momenta; its ``Eta`` is that of the
three-vector minus the sum, as Delphes writes it. ``ScalarHT`` is the scalar
sum of the input pT.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from l1scout._types import F64

__all__ = ["missing_momentum", "scalar_ht"]


def _sum(event: npt.NDArray[np.int64], values: F64, n_events: int) -> F64:
    return np.bincount(event, weights=values, minlength=n_events).astype(np.float64)


def missing_momentum(
    event: npt.NDArray[np.int64], px: F64, py: F64, pz: F64, n_events: int
) -> tuple[F64, F64, F64]:
    """MET (GeV), its eta and phi per event from the objects' momenta.

    >>> met, eta, phi = missing_momentum(np.array([0, 0]), np.array([3.0, 1.0]),
    ...     np.array([0.0, 0.0]), np.array([0.0, 0.0]), 1)
    >>> float(met[0]), round(abs(float(phi[0])), 4)
    (4.0, 3.1416)
    """
    mx = -_sum(event, px, n_events)
    my = -_sum(event, py, n_events)
    mz = -_sum(event, pz, n_events)
    met = np.hypot(mx, my)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.where(met > 0, np.arcsinh(mz / np.where(met > 0, met, 1.0)), 0.0)
    return met, eta, np.arctan2(my, mx)


def scalar_ht(event: npt.NDArray[np.int64], pt: F64, n_events: int) -> F64:
    """Scalar sum of pT per event (GeV)."""
    return _sum(event, pt, n_events)
