"""Vertex positions of collisions: truncated Gaussians in z and t.

Delphes' ``PileUpMerger`` draws each collision's vertex from
``exp(-t^2 / (2 sigma_t^2)) * exp(-z^2 / (2 sigma_z^2))`` restricted to
``|z| < z_max`` and ``|t| < t_max`` (``CMS_PhaseII_200PU_v04.tcl``). The two
factors are independent, so each is sampled by inverting the truncated normal
CDF: one uniform number per value, no rejection loop.

What a "pileup collision" is, is the card's ``definition``
(:data:`PileupDefinition`): ``collide2v`` draws the collisions from Pythia's
``SoftQCD:all`` (elastic scattering included, as COLLIDE-2V did), ``inelastic``
from the inelastic processes only (CMS's definition of pileup). Which Pythia
processes make each pool is :data:`l1scout.generate.pileup.POOL_PROCESSES`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy.special import ndtr, ndtri

__all__ = [
    "DEFAULT_PILEUP_DEFINITION",
    "PILEUP_DEFINITIONS",
    "PileupDefinition",
    "PileupSpec",
    "sample_truncated_normal",
    "sample_vertices",
]

#: What one pileup collision is. ``collide2v``: any pp interaction of Pythia's
#: ``SoftQCD:all`` (sigma_tot = 100.3 mb with CP5, elastic 21.89 mb included),
#: as COLLIDE-2V's pool; ``inelastic``: inelastic interactions only
#: (non-, single-, double- and central-diffractive, 78.4 mb), as CMS counts
#: pileup. See docs/physics/detector-views.md, "What pileup 200 counts".
PileupDefinition = Literal["collide2v", "inelastic"]
#: The pileup definitions, default first.
PILEUP_DEFINITIONS: tuple[PileupDefinition, ...] = ("collide2v", "inelastic")
#: The definition of a card that names none: COLLIDE-2V's, so old cards and files keep theirs.
DEFAULT_PILEUP_DEFINITION: PileupDefinition = "collide2v"


class PileupSpec(BaseModel):
    """The pileup merger: how many collisions per crossing and where they sit.

    Vertices follow independent Gaussians in z (mm) and t (ps), truncated at
    ``z_max_mm`` and ``t_max_ps`` (Delphes ``PileUpMerger``). ``definition``
    says what one of the ``mean`` collisions is (:data:`PileupDefinition`;
    left out: ``collide2v``).

    >>> PileupSpec(mean=200, distribution="poisson", sigma_z_mm=53, sigma_t_ps=160,
    ...     z_max_mm=250, t_max_ps=800, beamspot_x_mm=0, beamspot_y_mm=0,
    ...     random_azimuth=True).definition
    'collide2v'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    definition: PileupDefinition = DEFAULT_PILEUP_DEFINITION

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
