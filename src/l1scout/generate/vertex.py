"""Vertex positions of collisions: truncated Gaussians in z and t.

Delphes' ``PileUpMerger`` draws each collision's vertex from
``exp(-t^2 / (2 sigma_t^2)) * exp(-z^2 / (2 sigma_z^2))`` restricted to
``|z| < z_max`` and ``|t| < t_max`` (``CMS_PhaseII_200PU_v04.tcl``). The two
factors are independent, so each is sampled by inverting the truncated normal
CDF: one uniform number per value, no rejection loop.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr, ndtri

from l1scout.detector.card import PileupSpec

__all__ = ["sample_truncated_normal", "sample_vertices"]


def sample_truncated_normal(
    rng: np.random.Generator, sigma: float, limit: float, size: int
) -> npt.NDArray[np.float64]:
    """Draw *size* values of a normal(0, sigma) truncated to [-limit, limit].

    >>> x = sample_truncated_normal(np.random.default_rng(1), 1.0, 0.5, 10000)
    >>> bool(np.all(np.abs(x) <= 0.5))
    True
    """
    lo = ndtr(-limit / sigma)
    u = rng.uniform(lo, 1.0 - lo, size)
    return np.asarray(sigma * ndtri(u), dtype=np.float64)


def sample_vertices(
    rng: np.random.Generator, spec: PileupSpec, size: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Vertex z (mm) and t (ps) of *size* collisions, z drawn first, then t."""
    z = sample_truncated_normal(rng, spec.sigma_z_mm, spec.z_max_mm, size)
    t = sample_truncated_normal(rng, spec.sigma_t_ps, spec.t_max_ps, size)
    return z, t
