"""Vertex positions of collisions: truncated Gaussians in z and t.

Delphes' ``PileUpMerger`` draws each collision's vertex from
``exp(-t^2 / (2 sigma_t^2)) * exp(-z^2 / (2 sigma_z^2))`` restricted to
``|z| < z_max`` and ``|t| < t_max`` (``CMS_PhaseII_200PU_v04.tcl``). The two
factors are independent, so each is sampled by inverting the truncated normal
CDF: one uniform number per value, no rejection loop.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy.special import ndtr, ndtri

__all__ = ["PileupSpec", "sample_truncated_normal", "sample_vertices"]


class PileupSpec(BaseModel):
    """The pileup merger: how many collisions per crossing and where they sit.

    Vertices follow independent Gaussians in z (mm) and t (ps), truncated at
    ``z_max_mm`` and ``t_max_ps`` (Delphes ``PileUpMerger``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    mean: float = Field(ge=0)
    distribution: Literal["poisson", "fixed"]
    sigma_z_mm: float = Field(gt=0)
    sigma_t_ps: float = Field(gt=0)
    z_max_mm: float = Field(gt=0)
    t_max_ps: float = Field(gt=0)
    beamspot_x_mm: float
    beamspot_y_mm: float
    random_azimuth: bool

    @model_validator(mode="after")
    def _window_holds_core(self) -> PileupSpec:
        if self.z_max_mm < 0.5 * self.sigma_z_mm or self.t_max_ps < 0.5 * self.sigma_t_ps:
            msg = "z_max_mm / t_max_ps must be at least half of sigma_z_mm / sigma_t_ps"
            raise ValueError(msg)
        return self


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
