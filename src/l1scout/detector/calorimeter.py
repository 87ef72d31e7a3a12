"""Calorimeters: towers, energy deposits, smearing and the energy-flow neutrals.

Each calorimeter (ECAL, HCAL, each with its forward part) is a grid of towers
in (eta, phi) made of the card's segments. Every visible particle that reaches
the calorimeter surface leaves the card's fraction of its energy (by PDG id,
Delphes ``EnergyFraction``) in the tower at its impact point; the tower's sum is
smeared log-normally with the card's resolution (Delphes ``SimpleCalorimeter``).
Tracks pointing to a tower carry the same fraction of their measured energy.
A tower whose measured energy exceeds the track energy by more than
``energy_min`` and ``significance_min`` times the combined resolution makes a
neutral candidate with the excess (a photon from ECAL, a neutral hadron from
HCAL) at the tower centre, smeared uniformly inside the tower when the card
says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numba
import numpy as np
import numpy.typing as npt

from l1scout._jagged import event_index, offsets_from_counts
from l1scout._types import F64, I64
from l1scout.detector.particles import GenParticles
from l1scout.detector.propagation import SurfaceHits
from l1scout.detector.tracking import Tracks, lognormal
from l1scout.detector.view_card import CalorimeterSpec, ParticleFlowSpec

__all__ = [
    "CaloTowers",
    "Deposits",
    "NeutralCandidates",
    "TowerGrid",
    "energy_fractions",
    "particle_deposits",
    "run_calorimeter",
]


@numba.njit(cache=True)
def _locate_kernel(
    row_lo: F64, row_hi: F64, n_phi: I64, row_start: I64, eta: F64, phi: F64
) -> I64:  # pragma: no cover - compiled
    out = np.empty(len(eta), dtype=np.int64)
    last = len(row_lo) - 1
    for i in range(len(eta)):
        row = np.searchsorted(row_lo, eta[i], side="right") - 1
        rowc = min(max(row, 0), last)
        if row < 0 or not eta[i] < row_hi[rowc]:
            out[i] = -1
            continue
        frac = (phi[i] + np.pi) / (2 * np.pi)
        col = min(max(np.int64(np.floor(frac * n_phi[rowc])), 0), n_phi[rowc] - 1)
        out[i] = row_start[rowc] + col
    return out


@dataclass(frozen=True)
class TowerGrid:
    """Tower geometry: rows in eta, each with its own number of towers in phi.

    >>> from l1scout.detector.view_card import CaloSegment
    >>> grid = TowerGrid.from_segments([CaloSegment(eta_min=-1.0, eta_max=1.0, deta=0.5, n_phi=4)])
    >>> grid.n_towers, grid.locate(np.array([0.1, 2.0]), np.array([0.1, 0.0])).tolist()
    (16, [10, -1])
    """

    row_lo: F64
    row_hi: F64
    n_phi: I64
    row_start: I64

    @classmethod
    def from_segments(cls, segments: list[object]) -> TowerGrid:
        """Rows of every segment (``eta_min``, ``eta_max``, ``deta``, ``n_phi``), sorted in eta."""
        lo: list[F64] = []
        hi: list[F64] = []
        nphi: list[I64] = []
        for seg in sorted(segments, key=lambda s: s.eta_min):  # type: ignore[attr-defined]
            n = max(1, round((seg.eta_max - seg.eta_min) / seg.deta))  # type: ignore[attr-defined]
            edges = np.linspace(seg.eta_min, seg.eta_max, n + 1)  # type: ignore[attr-defined]
            lo.append(edges[:-1])
            hi.append(edges[1:])
            nphi.append(np.full(n, seg.n_phi, dtype=np.int64))  # type: ignore[attr-defined]
        n_phi = np.concatenate(nphi)
        return cls(np.concatenate(lo), np.concatenate(hi), n_phi, offsets_from_counts(n_phi))

    @property
    def n_towers(self) -> int:
        """Number of towers."""
        return int(self.row_start[-1])

    @cached_property
    def _tower_row(self) -> I64:
        return event_index(self.row_start)

    def locate(self, eta: F64, phi: F64) -> I64:
        """Tower id at (eta, phi), -1 outside the calorimeter."""
        return _locate_kernel(
            self.row_lo,
            self.row_hi,
            self.n_phi,
            self.row_start,
            np.ascontiguousarray(eta, dtype=np.float64),
            np.ascontiguousarray(phi, dtype=np.float64),
        )

    def bounds(self, tower: I64) -> tuple[F64, F64, F64, F64]:
        """eta_lo, eta_hi, phi_lo, phi_hi of each tower."""
        row = self._tower_row[tower]
        col = tower - self.row_start[row]
        dphi = 2 * np.pi / self.n_phi[row]
        phi_lo = -np.pi + col * dphi
        return self.row_lo[row], self.row_hi[row], phi_lo, phi_lo + dphi


_TABLE_PIDS = 10_000  # |PDG id| below this are looked up in a table


def energy_fractions(pid: npt.NDArray[np.integer], spec: ParticleFlowSpec) -> tuple[F64, F64]:
    """ECAL and HCAL fractions of each particle's energy, by |PDG id|, from the card."""
    apid = np.abs(np.asarray(pid, dtype=np.int64))
    if len(apid) and apid.max() < _TABLE_PIDS:  # hadrons and leptons: a lookup table
        t_ecal = np.full(_TABLE_PIDS, spec.default_fraction_ecal)
        t_hcal = np.full(_TABLE_PIDS, spec.default_fraction_hcal)
        for entry in spec.energy_fractions:
            ids = np.asarray(entry.pids, dtype=np.int64)
            ids = ids[(ids >= 0) & (ids < _TABLE_PIDS)]  # as isin on |PDG id| would match
            t_ecal[ids] = entry.ecal
            t_hcal[ids] = entry.hcal
        return t_ecal[apid], t_hcal[apid]
    f_ecal = np.full(len(apid), spec.default_fraction_ecal)
    f_hcal = np.full(len(apid), spec.default_fraction_hcal)
    for entry in spec.energy_fractions:
        sel = np.isin(apid, np.asarray(entry.pids, dtype=np.int64))
        f_ecal[sel] = entry.ecal
        f_hcal[sel] = entry.hcal
    return f_ecal, f_hcal


@dataclass(frozen=True)
class CaloTowers:
    """The filled towers of one calorimeter over a batch, sorted by (event, tower).

    ``energy`` is the measured (smeared) energy in GeV, 0 when below threshold.
    """

    grid: TowerGrid
    key: I64
    energy: F64
    true_energy: F64
    pu_energy: F64
    track_energy: F64
    sigma: F64

    def energy_at(self, event: I64, eta: F64, phi: F64) -> F64:
        """Measured energy of the tower at (eta, phi) in each given event (0 if empty)."""
        tower = self.grid.locate(eta, phi)
        key = np.asarray(event, dtype=np.int64) * self.grid.n_towers + tower
        pos = np.clip(np.searchsorted(self.key, key), 0, max(len(self.key) - 1, 0))
        if len(self.key) == 0:
            return np.zeros(len(key))
        found = (self.key[pos] == key) & (tower >= 0)
        return np.where(found, self.energy[pos], 0.0)


@dataclass(frozen=True)
class NeutralCandidates:
    """Neutral energy-flow candidates of one calorimeter (flat over the batch, by event)."""

    event: I64
    energy: F64
    eta: F64
    phi: F64
    is_pu: npt.NDArray[np.int8]


@numba.njit(cache=True)
def _compact_kernel(
    keys: I64, n_tow: int, n_events: int
) -> tuple[I64, I64]:  # pragma: no cover - compiled
    n = len(keys)
    # group the entries by event (counting sort, stable)
    start = np.zeros(n_events + 1, dtype=np.int64)
    for i in range(n):
        start[keys[i] // n_tow + 1] += 1
    for e in range(n_events):
        start[e + 1] += start[e]
    fill = start[:-1].copy()
    order = np.empty(n, dtype=np.int64)
    for i in range(n):
        e = keys[i] // n_tow
        order[fill[e]] = i
        fill[e] += 1
    slot = np.full(n_tow, -1, dtype=np.int64)
    distinct = np.empty(n, dtype=np.int64)
    inverse = np.empty(n, dtype=np.int64)
    n_out = 0
    for e in range(n_events):
        lo, hi = start[e], start[e + 1]
        first = n_out
        for j in range(lo, hi):
            tower = keys[order[j]] - e * n_tow
            if slot[tower] < 0:
                slot[tower] = 0
                distinct[n_out] = tower
                n_out += 1
        distinct[first:n_out].sort()
        for r in range(first, n_out):
            slot[distinct[r]] = r
        for j in range(lo, hi):
            i = order[j]
            inverse[i] = slot[keys[i] - e * n_tow]
        for r in range(first, n_out):
            slot[distinct[r]] = -1
            distinct[r] += e * n_tow
    return distinct[:n_out].copy(), inverse


def _compact(keys: I64, n_tow: int, n_events: int) -> tuple[I64, I64]:
    """The distinct keys (sorted) and, for every entry, the position of its key among them.

    Keys are ``event * n_tow + tower``. Same result as ``np.unique(keys,
    return_inverse=True)``, one event at a time through a table of *n_tow* slots.

    >>> [a.tolist() for a in _compact(np.array([7, 2, 7, 5]), 5, 2)]
    [[2, 5, 7], [2, 0, 2, 1]]
    """
    return _compact_kernel(np.ascontiguousarray(keys, dtype=np.int64), int(n_tow), int(n_events))


@dataclass(frozen=True)
class Deposits:
    """Where the generated particles leave energy in one calorimeter (before smearing).

    ``particle`` indexes the :class:`GenParticles` batch, ``key`` is
    ``event * n_towers + tower`` and ``energy`` the deposited energy (GeV).
    Views with the same propagation, towers and energy fractions share them.
    """

    grid: TowerGrid
    particle: I64
    key: I64
    energy: F64


def particle_deposits(
    gen: GenParticles, hits: SurfaceHits, spec: CalorimeterSpec, fraction: F64
) -> Deposits:
    """The energy every visible particle that reaches the surface leaves in its tower."""
    grid = TowerGrid.from_segments(list(spec.segments))
    pidx = np.flatnonzero(gen.visible & hits.reached & (fraction > 0))
    ptower = grid.locate(hits.eta[pidx], hits.phi[pidx])
    pin = ptower >= 0
    pidx, ptower = pidx[pin], ptower[pin]
    return Deposits(
        grid, pidx, gen.event[pidx] * grid.n_towers + ptower, gen.energy[pidx] * fraction[pidx]
    )


def run_calorimeter(
    gen: GenParticles,
    hits: SurfaceHits,
    tracks: Tracks,
    spec: CalorimeterSpec,
    fraction: F64,
    track_fraction: F64,
    rng: np.random.Generator,
    deposits: Deposits | None = None,
) -> tuple[CaloTowers, NeutralCandidates]:
    """Deposit, smear and subtract tracks in one calorimeter.

    Args:
        gen: the generated particles.
        hits: their impact points on the calorimeter surface.
        tracks: the reconstructed tracks.
        spec: the calorimeter's card section.
        fraction: for every generated particle, the share of its energy left here.
        track_fraction: the same share for every track.
        rng: the view's random stream.
        deposits: :func:`particle_deposits` of the same inputs, if already made.

    Returns:
        The filled towers and the neutral candidates made from their excess energy.
    """
    if deposits is None:
        deposits = particle_deposits(gen, hits, spec, fraction)
    grid = deposits.grid
    n_tow = grid.n_towers
    pidx, pkey, pe = deposits.particle, deposits.key, deposits.energy

    tsel = np.flatnonzero(track_fraction > 0)
    ttower = grid.locate(tracks.surface_eta[tsel], tracks.surface_phi[tsel])
    tin = ttower >= 0
    tsel, ttower = tsel[tin], ttower[tin]
    tevent = gen.event[tracks.gen[tsel]]
    tkey = tevent * n_tow + ttower
    te = tracks.energy[tsel] * track_fraction[tsel]
    tsig = te * tracks.sigma_pt[tsel] / np.maximum(tracks.pt[tsel], 1e-9)

    keys, inverse = _compact(np.concatenate([pkey, tkey]), n_tow, gen.n_events)
    n_p = len(pkey)
    nk = len(keys)
    true_e = np.bincount(inverse[:n_p], weights=pe, minlength=nk).astype(np.float64)
    pu_e = np.bincount(inverse[:n_p], weights=pe * gen.is_pu[pidx], minlength=nk).astype(np.float64)
    track_e = np.bincount(inverse[n_p:], weights=te, minlength=nk).astype(np.float64)
    track_var = np.bincount(inverse[n_p:], weights=tsig**2, minlength=nk).astype(np.float64)

    tower = keys % n_tow if nk else np.zeros(0, np.int64)
    eta_lo, eta_hi, phi_lo, phi_hi = grid.bounds(tower)
    eta_c = 0.5 * (eta_lo + eta_hi)
    sigma = spec.resolution(true_e, eta_c)
    measured = lognormal(true_e, sigma, rng)
    measured = np.where(
        (measured < spec.energy_min) | (measured < spec.significance_min * sigma), 0.0, measured
    )
    excess = measured - track_e
    sigma_tot = np.sqrt(sigma**2 + track_var)
    neutral = (excess > spec.energy_min) & (excess > spec.significance_min * sigma_tot)
    n_sel = np.flatnonzero(neutral)
    if spec.smear_tower_center:
        u, v = rng.random(len(n_sel)), rng.random(len(n_sel))
        n_eta = eta_lo[n_sel] + u * (eta_hi[n_sel] - eta_lo[n_sel])
        n_phi = phi_lo[n_sel] + v * (phi_hi[n_sel] - phi_lo[n_sel])
    else:
        n_eta = eta_c[n_sel]
        n_phi = 0.5 * (phi_lo[n_sel] + phi_hi[n_sel])
    with np.errstate(invalid="ignore", divide="ignore"):
        pu_share = np.where(true_e > 0, pu_e / np.where(true_e > 0, true_e, 1.0), 1.0)
    towers = CaloTowers(grid, keys, measured, true_e, pu_e, track_e, sigma)
    neutrals = NeutralCandidates(
        event=keys[n_sel] // n_tow,
        energy=excess[n_sel],
        eta=n_eta,
        phi=n_phi,
        is_pu=(pu_share[n_sel] > 0.5).astype(np.int8),
    )
    return towers, neutrals
