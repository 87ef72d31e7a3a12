"""Tracking: which charged particles become tracks, and how well they are measured.

For every visible charged particle that reaches the calorimeter surface (or
the end caps, for loopers) inside the tracker acceptance, the track is
reconstructed with the card's efficiency for its type (electron, muon or
charged hadron), its pT is smeared log-normally with the card's relative
resolution (Delphes ``MomentumSmearing``), and its impact parameters d0 and dz
are smeared with the card's resolutions, which are also stored as the errors
(Delphes ``TrackSmearing``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from l1scout._jagged import offsets_from_counts
from l1scout._types import F64, I64
from l1scout.detector.param import BinnedFunction
from l1scout.detector.particles import GenParticles
from l1scout.detector.propagation import SurfaceHits, impact_parameters
from l1scout.detector.view_card import TrackingSpec

__all__ = ["Tracks", "lognormal", "particle_class", "reconstruct_tracks"]


#: Particle classes of the tracking and calorimeter tables.
ELECTRON, MUON, HADRON = 0, 1, 2


def particle_class(pid: npt.NDArray[np.integer]) -> npt.NDArray[np.int8]:
    """0 for electrons, 1 for muons, 2 for everything else (charged hadrons).

    >>> particle_class(np.array([11, -13, 211, -2212])).tolist()
    [0, 1, 2, 2]
    """
    apid = np.abs(pid)
    return np.where(apid == 11, ELECTRON, np.where(apid == 13, MUON, HADRON)).astype(np.int8)


def lognormal(mean: F64, sigma: F64, rng: np.random.Generator) -> F64:
    """Log-normal draws with the given mean and standard deviation (Delphes ``LogNormal``).

    Entries with ``mean <= 0`` give 0; ``sigma = 0`` gives ``mean``.
    """
    mean = np.asarray(mean, dtype=np.float64)
    ok = mean > 0
    m = np.where(ok, mean, 1.0)
    s2 = np.log1p((np.asarray(sigma, dtype=np.float64) / m) ** 2)
    draw = np.exp(np.log(m) - 0.5 * s2 + np.sqrt(s2) * rng.standard_normal(len(m)))
    return np.where(ok, draw, 0.0)


@dataclass(frozen=True)
class Tracks:
    """Reconstructed tracks of a batch (flat, grouped by event, in generator order).

    ``gen`` is the global index of the particle in the :class:`GenParticles`
    batch; d0 and dz in mm, measured at the point of closest approach to the
    beam line.
    """

    offsets: I64
    gen: I64
    pt: F64
    eta: F64
    phi: F64
    mass: F64
    charge: npt.NDArray[np.int8]
    pid: npt.NDArray[np.int32]
    is_pu: npt.NDArray[np.int8]
    kind: npt.NDArray[np.int8]
    sigma_pt: F64
    d0: F64
    dz: F64
    err_d0: F64
    err_dz: F64
    surface_eta: F64
    surface_phi: F64

    @property
    def energy(self) -> F64:
        """Energy from the measured momentum and the true mass (GeV)."""
        return np.sqrt((self.pt * np.cosh(self.eta)) ** 2 + self.mass**2)


def _by_kind(
    tables: tuple[BinnedFunction, ...], kind: npt.NDArray[np.int8], pt: F64, eta: F64
) -> F64:
    out = np.zeros(len(pt))
    for k, table in enumerate(tables):
        sel = kind == k
        if sel.any():
            out[sel] = table(pt[sel], eta[sel])
    return out


def reconstruct_tracks(
    gen: GenParticles,
    hits: SurfaceHits,
    spec: TrackingSpec,
    bz_tesla: float,
    rng: np.random.Generator,
) -> Tracks:
    """Tracks of a batch: efficiency, pT smearing and impact parameters from *spec*.

    Args:
        gen: the generated particles.
        hits: where each of them reaches the calorimeter surface.
        spec: the card's tracking section.
        bz_tesla: the solenoid field (for the helix of the impact parameters).
        rng: the view's random stream.
    """
    cand = gen.visible & (gen.charge != 0) & hits.reached
    cand &= (np.abs(gen.eta) <= spec.eta_max) & (gen.pt > spec.pt_min)
    idx = np.flatnonzero(cand)
    kind = particle_class(gen.pid[idx])
    pt, eta = gen.pt[idx], gen.eta[idx]
    eff = (spec.efficiency.electron, spec.efficiency.muon, spec.efficiency.charged_hadron)
    keep = rng.random(len(idx)) < _by_kind(eff, kind, pt, eta)
    idx, kind, pt, eta = idx[keep], kind[keep], pt[keep], eta[keep]

    res = (
        spec.momentum_resolution.electron,
        spec.momentum_resolution.muon,
        spec.momentum_resolution.charged_hadron,
    )
    sigma_pt = _by_kind(res, kind, pt, eta) * pt
    pt_meas = lognormal(pt, sigma_pt, rng)

    d0, dz = impact_parameters(
        gen.px[idx],
        gen.py[idx],
        gen.pz[idx],
        gen.charge[idx],
        gen.x[idx],
        gen.y[idx],
        gen.z[idx],
        bz_tesla=bz_tesla,
    )
    err_d0 = spec.d0_resolution(pt, eta)
    err_dz = spec.dz_resolution(pt, eta)
    d0 = d0 + err_d0 * rng.standard_normal(len(idx))
    dz = dz + err_dz * rng.standard_normal(len(idx))

    return Tracks(
        offsets=offsets_from_counts(np.bincount(gen.event[idx], minlength=gen.n_events)),
        gen=idx,
        pt=pt_meas,
        eta=eta,
        phi=gen.phi[idx],
        mass=gen.mass[idx],
        charge=gen.charge[idx],
        pid=gen.pid[idx],
        is_pu=gen.is_pu[idx],
        kind=kind,
        sigma_pt=sigma_pt,
        d0=d0,
        dz=dz,
        err_d0=err_d0,
        err_dz=err_dz,
        surface_eta=hits.eta[idx],
        surface_phi=hits.phi[idx],
    )
