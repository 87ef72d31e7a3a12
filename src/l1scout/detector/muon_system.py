"""Standalone Level-1 muons: the muon system and its track finders, as a card section.

The Level-1 muon track finders (barrel ``BMTF``, overlap ``OMTF``, endcap
``EMTF``) see a muon in the muon chambers only, behind the calorimeters, the
coil and the first iron layer. They measure its curvature between stations
(a pT resolution of tens of percent, with tails and wrong charges) and its
direction **at the second station**, bent by the solenoid field. The
re-calibration study (``docs/recalib.md``) learns to undo exactly these
effects; the tracker muons of the ``L1T`` view (``MuonTight``) have none of them.

This module holds the card section (:class:`MuonSystemSpec`, ``[muon_system]``
of ``cards/L1T.toml``) and the two steps of the simulation:

1. **Transport** (:func:`station_position`): the muon's helix is followed in
   the transverse plane through concentric shells of uniform axial field (the
   solenoid, ``bz_tesla`` inside ``solenoid_radius_m`` and
   ``|z| < solenoid_half_length_m``; return-yoke iron layers with the opposite
   field) until it reaches the second station: the cylinder ``r = station_radius_m``
   (MB2) or the disk ``|z| = station_z_m`` (ME2), whichever comes first. Each step
   of length ``ds`` is an exact arc of the local field (the direction turns by
   ``dpsi = -q 0.3 B ds / pT``; ``F = q v x B`` with B along +z turns a positive
   charge clockwise); ``z`` grows by ``ds sinh(eta)``. The result is the
   position azimuth and pseudorapidity of the hit seen from the nominal
   interaction point. Energy loss before the station is not applied to the
   bending (a documented limit; it matters below ~5 GeV).
2. **Response** (:func:`standalone_muons`): a muon is found if it reaches the
   station with enough momentum to cross the material (``station_p_min_gev``: the
   momentum needed to reach stations 1-4), at least ``min_stations`` of the reached
   stations have a hit (each with ``station_efficiency``) and it is not lost in a
   crack (``acceptance``). Its measured curvature is
   ``q / pT x (1 + sigma z)`` with ``sigma`` from ``curvature_resolution`` and
   ``z`` a standard normal, or ``tail_scale`` times one with probability
   ``tail_fraction``; the sign of the measured curvature is the charge (so
   charge mis-assignment comes from the tails). Eta and phi at the station get
   a detector resolution and multiple scattering (Highland's formula, PDG
   "Passage of particles through matter", ``theta0 = 13.6 MeV / p sqrt(X/X0)
   (1 + 0.038 ln(X/X0))``, times ``scattering_lever``, the fraction of the
   station radius between the material and the station). Values are then put
   on the hardware bins (``[muon_system.hardware]``: the Global Muon Trigger's
   0.5 GeV pT, 0.010875 eta and 2 pi / 576 phi) and the ``max_muons`` best
   (highest ``Quality``, then pT) of each event are kept.

``Quality`` is ``4 n - 1`` for ``n`` stations with a hit (7, 11 or 15): our
convention (the Phase-2 track finders' 4-bit quality also grows with the
number of stations). ``Region`` is 0, 1, 2 for the barrel, overlap and endcap
track finders by the measured ``|eta|``.

Example:
    >>> geo = MuonGeometry()
    >>> eta, phi, ok = station_position(
    ...     np.array([10.0, 10.0]), np.zeros(2), np.ones(2), np.array([1, -1]),
    ...     np.zeros(2), np.zeros(2), np.zeros(2), geo)
    >>> ok.tolist(), (phi - 1.0).round(3).tolist()
    ([True, True], [-0.239, 0.239])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from l1scout._jagged import offsets_from_counts, wrap_phi
from l1scout._types import F64, I64
from l1scout.detector.param import BinnedFunction
from l1scout.detector.particles import GenParticles

__all__ = [
    "FieldShell",
    "MuonGeometry",
    "MuonHardware",
    "MuonSystemSpec",
    "StandaloneMuons",
    "highland_theta0",
    "standalone_muons",
    "station_position",
]

#: GeV per (T m): pT = 0.299792458 B R.
_C_GEV_PER_TM = 0.299792458


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldShell(_Model):
    """A cylindrical shell ``r_min_m <= r < r_max_m``, ``|z| < half_length_m``, of uniform axial field ``bz_tesla``."""

    r_min_m: float = Field(ge=0)
    r_max_m: float = Field(gt=0)
    half_length_m: float = Field(gt=0)
    bz_tesla: float

    @model_validator(mode="after")
    def _order(self) -> FieldShell:
        if self.r_max_m <= self.r_min_m:
            msg = f"r_max_m ({self.r_max_m}) must be above r_min_m ({self.r_min_m})"
            raise ValueError(msg)
        return self


_SOLENOID = FieldShell(r_min_m=0.0, r_max_m=3.0, half_length_m=6.0, bz_tesla=3.8)


class MuonGeometry(_Model):
    """The field between the vertex and the second muon station, and where that station is.

    Defaults: the CMS solenoid (3.8 T, 6 m free bore, 12.5 m long; JINST 3 (2008)
    S08004) and no return field; the L1T card adds the first yoke layer.
    """

    shells: list[FieldShell] = Field(default_factory=lambda: [_SOLENOID], min_length=1)
    station_radius_m: float = Field(default=4.9, gt=0)
    station_z_m: float = Field(default=8.3, gt=0)
    step_m: float = Field(default=0.005, gt=0, le=0.1)
    max_path_m: float = Field(default=12.0, gt=0)


class MuonHardware(_Model):
    """The hardware bins of a Level-1 muon (``physical = hw x lsb``, rounding to nearest)."""

    pt_lsb: float = Field(gt=0)
    pt_max: int = Field(gt=0)
    eta_lsb: float = Field(gt=0)
    eta_min: int
    eta_max: int
    phi_bins: int = Field(gt=0)

    @model_validator(mode="after")
    def _range(self) -> MuonHardware:
        if self.eta_max <= self.eta_min:
            msg = f"eta_max ({self.eta_max}) must be above eta_min ({self.eta_min})"
            raise ValueError(msg)
        return self


class MuonSystemSpec(_Model):
    """The ``[muon_system]`` section of a view card: standalone Level-1 muons.

    Per-region values are lists with one entry per region (``region_names``,
    bounded in measured ``|eta|`` by ``abs_eta_edges``).
    """

    collection: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9]*$")
    max_muons: int = Field(gt=0, le=64)
    min_stations: int = Field(ge=1, le=4)
    station_p_min_gev: list[float] = Field(min_length=1, max_length=4)
    region_names: list[str] = Field(min_length=1)
    abs_eta_edges: list[float] = Field(min_length=2)
    acceptance: list[float]
    station_efficiency: list[float]
    curvature_resolution: BinnedFunction
    tail_fraction: list[float]
    tail_scale: list[float]
    eta_resolution: list[float]
    phi_resolution: list[float]
    material_x0: list[float]
    scattering_lever: list[float]
    geometry: MuonGeometry
    hardware: MuonHardware

    @model_validator(mode="after")
    def _shapes(self) -> MuonSystemSpec:
        n = len(self.region_names)
        if len(self.abs_eta_edges) != n + 1:
            msg = f"abs_eta_edges: expected {n + 1} edges for {n} regions, got {len(self.abs_eta_edges)}"
            raise ValueError(msg)
        if any(b <= a for a, b in zip(self.abs_eta_edges, self.abs_eta_edges[1:], strict=False)):
            msg = f"abs_eta_edges must increase, got {self.abs_eta_edges}"
            raise ValueError(msg)
        if sorted(self.station_p_min_gev) != self.station_p_min_gev:
            msg = f"station_p_min_gev must not decrease, got {self.station_p_min_gev}"
            raise ValueError(msg)
        if self.min_stations > len(self.station_p_min_gev):
            msg = f"min_stations ({self.min_stations}) exceeds the {len(self.station_p_min_gev)} stations"
            raise ValueError(msg)
        for name in (
            "acceptance",
            "station_efficiency",
            "tail_fraction",
            "tail_scale",
            "eta_resolution",
            "phi_resolution",
            "material_x0",
            "scattering_lever",
        ):
            values = getattr(self, name)
            if len(values) != n:
                msg = f"{name}: expected one value per region ({n}), got {len(values)}"
                raise ValueError(msg)
            if any(not (v >= 0 and math.isfinite(v)) for v in values):
                msg = f"{name}: expected finite values >= 0, got {values}"
                raise ValueError(msg)
        for name in ("acceptance", "station_efficiency", "tail_fraction"):
            if any(v > 1 for v in getattr(self, name)):
                msg = f"{name}: expected probabilities in [0, 1], got {getattr(self, name)}"
                raise ValueError(msg)
        return self

    def region_of(self, eta: npt.ArrayLike) -> npt.NDArray[np.int8]:
        """Region index of each ``eta`` (-1 beyond the last edge)."""
        ae = np.abs(np.asarray(eta, dtype=np.float64))
        idx = np.searchsorted(np.asarray(self.abs_eta_edges), ae, side="right") - 1
        idx = np.where(ae >= self.abs_eta_edges[-1], -1, idx)
        return idx.astype(np.int8)


def highland_theta0(p: npt.ArrayLike, x_over_x0: float) -> F64:
    """Multiple-scattering angle (rad, plane projected) of a muon of momentum *p* (GeV, beta = 1).

    Highland's formula as the PDG review "Passage of particles through matter"
    gives it: ``theta0 = 13.6 MeV / p sqrt(x/X0) (1 + 0.038 ln(x/X0))``.

    >>> round(float(highland_theta0(10.0, 100.0)), 5)
    0.01598
    """
    if x_over_x0 <= 0:
        return np.zeros_like(np.asarray(p, dtype=np.float64))
    k = 0.0136 * math.sqrt(x_over_x0) * (1.0 + 0.038 * math.log(x_over_x0))
    return np.asarray(k / np.asarray(p, dtype=np.float64), dtype=np.float64)


@numba.njit(cache=True)
def _transport_kernel(
    x0: F64,
    y0: F64,
    z0: F64,
    pt: F64,
    sinh_eta: F64,
    phi0: F64,
    charge: F64,
    r_min: F64,
    r_max: F64,
    half_z: F64,
    bz: F64,
    r_station: float,
    z_station: float,
    step: float,
    max_steps: int,
) -> tuple[F64, F64, F64, npt.NDArray[np.bool_]]:  # pragma: no cover - compiled
    n = len(pt)
    xo = np.zeros(n)
    yo = np.zeros(n)
    zo = np.zeros(n)
    ok = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        x, y, z, psi = x0[i], y0[i], z0[i], phi0[i]
        k = -charge[i] * 0.299792458 / pt[i]
        dz = step * sinh_eta[i]
        for _ in range(max_steps):
            r = math.hypot(x, y)
            b = 0.0
            for j in range(len(bz)):
                if r_min[j] <= r < r_max[j] and abs(z) < half_z[j]:
                    b = bz[j]
                    break
            dpsi = k * b * step
            half = 0.5 * dpsi
            fac = math.sin(half) / half if abs(half) > 1e-12 else 1.0
            xn = x + step * fac * math.cos(psi + half)
            yn = y + step * fac * math.sin(psi + half)
            zn = z + dz
            rn = math.hypot(xn, yn)
            if rn >= r_station or abs(zn) >= z_station:
                # the crossing inside this step, linear in the variable that crossed
                f = 1.0
                if rn >= r_station and rn > r:
                    f = min(f, (r_station - r) / (rn - r))
                if abs(zn) >= z_station and abs(zn) > abs(z):
                    f = min(f, (z_station - abs(z)) / (abs(zn) - abs(z)))
                f = max(f, 0.0)
                xo[i] = x + f * (xn - x)
                yo[i] = y + f * (yn - y)
                zo[i] = z + f * (zn - z)
                ok[i] = True
                break
            x, y, z, psi = xn, yn, zn, psi + dpsi
    return xo, yo, zo, ok


def station_position(
    pt: npt.ArrayLike,
    eta: npt.ArrayLike,
    phi: npt.ArrayLike,
    charge: npt.ArrayLike,
    x_mm: npt.ArrayLike,
    y_mm: npt.ArrayLike,
    z_mm: npt.ArrayLike,
    geometry: MuonGeometry,
) -> tuple[F64, F64, npt.NDArray[np.bool_]]:
    """Where muons reach the second muon station: eta and phi of the hit seen from the origin.

    Args:
        pt: transverse momentum (GeV, > 0).
        eta: pseudorapidity of the momentum.
        phi: azimuth of the momentum at production (rad).
        charge: +1 or -1.
        x_mm: production point x (mm).
        y_mm: production point y (mm).
        z_mm: production point z (mm).
        geometry: field shells and station positions.

    Returns:
        ``(eta_station, phi_station, reached)``: the hit's pseudorapidity
        ``asinh(z / r)`` and azimuth in [-pi, pi) (0 where not reached), and
        whether the muon reached the station within ``max_path_m`` of
        transverse path (a curling muon does not).
    """
    p = np.asarray(pt, dtype=np.float64)
    shells = geometry.shells
    xs, ys, zs, ok = _transport_kernel(
        np.asarray(x_mm, dtype=np.float64) * 1e-3,
        np.asarray(y_mm, dtype=np.float64) * 1e-3,
        np.asarray(z_mm, dtype=np.float64) * 1e-3,
        p,
        np.sinh(np.asarray(eta, dtype=np.float64)),
        np.asarray(phi, dtype=np.float64),
        np.asarray(charge, dtype=np.float64),
        np.array([s.r_min_m for s in shells]),
        np.array([s.r_max_m for s in shells]),
        np.array([s.half_length_m for s in shells]),
        np.array([s.bz_tesla for s in shells]),
        geometry.station_radius_m,
        geometry.station_z_m,
        geometry.step_m,
        math.ceil(geometry.max_path_m / geometry.step_m),
    )
    r = np.hypot(xs, ys)
    eta_st = np.where(ok, np.arcsinh(zs / np.maximum(r, 1e-9)), 0.0)
    phi_st = np.where(ok, wrap_phi(np.arctan2(ys, xs)), 0.0)
    return eta_st, phi_st, ok


@dataclass(frozen=True)
class StandaloneMuons:
    """Standalone Level-1 muons of a batch: flat arrays plus per-event offsets.

    ``pt`` (GeV), ``eta``, ``phi`` (rad, [-pi, pi)) are the hardware values in
    physical units (``hw x lsb``); ``hw_*`` the integers; ``gen`` the index of
    the generated muon (into the batch's particles) for validation.
    """

    offsets: I64
    pt: F64
    eta: F64
    phi: F64
    charge: npt.NDArray[np.int8]
    quality: npt.NDArray[np.int8]
    region: npt.NDArray[np.int8]
    hw_pt: npt.NDArray[np.int16]
    hw_eta: npt.NDArray[np.int16]
    hw_phi: npt.NDArray[np.int16]
    gen: I64

    def columns(self) -> dict[str, npt.NDArray[np.generic]]:
        """The collection's fields as the schema names them (``l1scout.io.schema``)."""
        return {
            "PT": self.pt,
            "Eta": self.eta,
            "Phi": self.phi,
            "Charge": self.charge,
            "Quality": self.quality,
            "Region": self.region,
            "HwPt": self.hw_pt,
            "HwEta": self.hw_eta,
            "HwPhi": self.hw_phi,
        }


def _per_region(values: list[float], region: npt.NDArray[np.int8]) -> F64:
    return np.asarray(values, dtype=np.float64)[np.maximum(region, 0)]


def standalone_muons(
    gen: GenParticles, spec: MuonSystemSpec, rng: np.random.Generator
) -> StandaloneMuons:
    """The standalone Level-1 muons of a batch of generated events (the module's recipe).

    Every final-state muon of the batch (hard collision and pileup) is
    considered. The random draws come from *rng* in a fixed order over the
    batch's muons, so the result depends on the batch's particles and the
    stream only.
    """
    hw = spec.hardware
    is_mu = (np.abs(gen.pid) == 13) & (gen.status == 1) & (gen.pt > 0)
    idx = np.flatnonzero(is_mu)
    pt, eta, phi = gen.pt[idx], gen.eta[idx], gen.phi[idx]
    q = gen.charge[idx].astype(np.float64)
    n = len(idx)
    # every draw is made for every muon, in this order, whatever is kept
    u_accept = rng.random(n)
    u_hits = rng.random((n, len(spec.station_p_min_gev)))
    u_tail = rng.random(n)
    z_curv = rng.standard_normal(n)
    z_eta = rng.standard_normal(n)
    z_phi = rng.standard_normal(n)

    # only muons that could be found are transported (a slow looper costs ~2,000 steps)
    p = pt * np.cosh(eta)
    could = (p > spec.station_p_min_gev[spec.min_stations - 1]) & (
        np.abs(eta) < spec.abs_eta_edges[-1] + 0.5
    )
    eta_st, phi_st = np.zeros(n), np.zeros(n)
    reached = np.zeros(n, dtype=np.bool_)
    if np.any(could):
        c = np.flatnonzero(could)
        eta_st[c], phi_st[c], reached[c] = station_position(
            pt[c], eta[c], phi[c], q[c], gen.x[idx[c]], gen.y[idx[c]], gen.z[idx[c]], spec.geometry
        )
    region = spec.region_of(eta_st)
    inside = reached & (region >= 0)
    reachable = p[:, None] > np.asarray(spec.station_p_min_gev)[None, :]
    hits = reachable & (u_hits < _per_region(spec.station_efficiency, region)[:, None])
    n_hits = hits.sum(axis=1)
    found = inside & (n_hits >= spec.min_stations)
    found &= u_accept < _per_region(spec.acceptance, region)

    sigma = spec.curvature_resolution(pt, eta_st)
    scale = np.where(u_tail < _per_region(spec.tail_fraction, region), 1.0, 0.0)
    scale = 1.0 + scale * (_per_region(spec.tail_scale, region) - 1.0)
    curvature = q / pt * (1.0 + sigma * scale * z_curv)
    theta0 = np.zeros(n)
    for r, (x0, lever) in enumerate(zip(spec.material_x0, spec.scattering_lever, strict=True)):
        here = region == r
        theta0[here] = highland_theta0(p[here], x0) * lever
    sig_eta = np.hypot(_per_region(spec.eta_resolution, region), theta0 * np.cosh(eta_st))
    sig_phi = np.hypot(_per_region(spec.phi_resolution, region), theta0)
    eta_m = eta_st + sig_eta * z_eta
    phi_m = phi_st + sig_phi * z_phi

    with np.errstate(divide="ignore"):
        pt_m = np.where(curvature != 0, 1.0 / np.abs(curvature), np.inf)
    hw_pt = np.clip(np.floor(pt_m / hw.pt_lsb + 0.5), 0, hw.pt_max).astype(np.int64)
    hw_eta = np.clip(np.floor(eta_m / hw.eta_lsb + 0.5), hw.eta_min, hw.eta_max).astype(np.int64)
    hw_phi = np.mod(
        np.floor(np.mod(phi_m, 2 * np.pi) / (2 * np.pi / hw.phi_bins) + 0.5), hw.phi_bins
    ).astype(np.int64)
    found &= hw_pt > 0  # hwPt 0 marks an empty slot
    charge = np.where(curvature < 0, -1, 1).astype(np.int8)
    quality = (4 * n_hits - 1).astype(np.int8)
    region_m = spec.region_of(hw_eta * hw.eta_lsb)
    region_m = np.where(region_m < 0, len(spec.region_names) - 1, region_m).astype(np.int8)

    keep = np.flatnonzero(found)
    ev = gen.event[idx[keep]]
    order = np.lexsort((-hw_pt[keep], -quality[keep], ev))
    keep, ev = keep[order], ev[order]
    counts = np.bincount(ev, minlength=gen.n_events)
    first = offsets_from_counts(counts)[:-1]
    rank = np.arange(len(keep)) - np.repeat(first, counts)
    best = rank < spec.max_muons
    keep, ev = keep[best], ev[best]
    off = offsets_from_counts(np.bincount(ev, minlength=gen.n_events))
    hp, he, hf = hw_pt[keep], hw_eta[keep], hw_phi[keep]
    return StandaloneMuons(
        offsets=off,
        pt=(hp * hw.pt_lsb).astype(np.float64),
        eta=(he * hw.eta_lsb).astype(np.float64),
        phi=wrap_phi(hf * (2 * np.pi / hw.phi_bins)).astype(np.float64),
        charge=charge[keep],
        quality=quality[keep],
        region=region_m[keep],
        hw_pt=hp.astype(np.int16),
        hw_eta=he.astype(np.int16),
        hw_phi=hf.astype(np.int16),
        gen=idx[keep].astype(np.int64),
    )
