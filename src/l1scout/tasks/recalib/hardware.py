"""The Level-1 objects as the trigger stores them: integers on fixed bins (re-calibration study).

The CMS Level-1 trigger does not store floating-point kinematics: every
quantity is an integer index on a fixed bin (``docs/physics/l1-algorithms.md``,
"Hardware object encodings", from Tables 2 and 4 of the re-calibration
study):

======  ==========  =====================  ==============  ==========================
object  quantity    bin width (LSB)        hardware range  physical range
======  ==========  =====================  ==============  ==========================
muon    ``hwPt``    0.5 GeV                [0, 511]        [0, 255.5] GeV
muon    ``hwEta``   0.0870 / 8 = 0.010875  [-256, 255]     [-2.784, 2.773]
muon    ``hwPhi``   2 pi / 576             [0, 575]        [0, 2 pi), periodic
muon    ``hwSign``  -                      {0, 1}          0: charge +1, 1: charge -1
jet     ``hwPt``    0.5 GeV                [0, 2047]       [0, 1023.5] GeV
jet     ``hwEta``   0.0870 / 2 = 0.0435    [-128, 127]     [-5.568, 5.525]
jet     ``hwPhi``   2 pi / 144             [0, 143]        [0, 2 pi), periodic
======  ==========  =====================  ==============  ==========================

Conventions (one for every quantity, :class:`HardwareScale`):

* physical -> hardware **rounds to the nearest integer** (``floor(x / lsb + 0.5)``,
  halves up), then **saturates** at the ends of the range (pT, eta) or **wraps**
  modulo the number of bins (muon phi: 2 pi and -0.005 rad are bin 0, -0.006 rad
  is bin 575). The phi words have room for more values (10 bits for muons, 8 for
  jets, ``detector-views.md``), but 576 and 144 bins make the full turn, so the
  largest phi values are 575 and 143;
* hardware -> physical is ``hw * lsb``, the seed's rule ("each integer number has
  to be multiplied by the corresponding bin width"). With rounding this is the
  **centre** of the bin ``[(hw - 1/2) lsb, (hw + 1/2) lsb)``, so the round trip
  is unbiased and exact to half an LSB inside the range. (The CMSSW Run-3 unpacker
  of the Global Muon Trigger, ``MuonRawDigiTranslator``, reads the muon pT as
  ``(hwPt - 1) * 0.5`` because ``hwPt = 0`` marks an empty slot; the seed and we
  use ``hwPt * 0.5``.)
* the charge is the sign bit ``hwSign``: 0 for a positive and 1 for a negative
  muon. This is the convention of the CMSSW unpacker, in which the bending
  ``hwPhiAtVtx - hwPhi`` is >= 0 for ``hwCharge == 0`` and <= 0 for
  ``hwCharge == 1``, consistent with :func:`phi_at_station` below.

**Muon phi at the station.** The Global Muon Trigger measures the azimuth in the
muon chambers, not at the vertex. In the uniform axial field ``B`` of the
solenoid a track of transverse momentum ``pT`` (GeV) and charge ``q`` is a
circle of radius ``R = pT / (0.3 B)`` (m, T) in the transverse plane, turning
clockwise for ``q > 0`` (``F = q v x B`` with ``B`` along +z), so its azimuth
decreases. :func:`phi_at_station` follows the circle to the edge of the field
region and a straight line beyond it; see :class:`MuonBending` for the formula,
the geometry and its limits. The Level-1 muons of the l1scout ``L1T`` view
(``L1T_MuonTight``) are tracks: ``PT`` smeared with the L1 resolution, ``Eta``
and ``Phi`` the generated direction at the vertex, ``Charge`` the true charge
(``l1scout.detector.tracking``, ``detector/cards/L1T.toml``). Their hardware view
(:func:`l1_muons`) is therefore: phi bent to the station with the L1 pT, then
all four quantities digitised. Eta is not bent (an axial field does not change
the polar angle; the vertex z offset, a few cm at 5 m, is ignored).

**Jets.** The Level-1 jets are ``L1T_JetPuppiAK4``, the PUPPI anti-kT R = 0.4
jets of the ``L1T`` view card (the Phase-2 Level-1 correlator builds PUPPI
jets); their pT, eta and phi (at the vertex: calorimeter deposits are not bent
here) are digitised on the jet scales (:func:`l1_jets`).

Example:
    >>> MUON_PHI.to_hardware(np.array([0.0, 2 * np.pi - 1e-4, -0.0109])).tolist()
    [0, 0, 575]
    >>> MUON_PT.to_hardware(np.array([7.26, 300.0])).tolist(), MUON_PT.to_physical(np.array([15]))
    ([15, 511], array([7.5]))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from l1scout._types import F64, I64
from l1scout.errors import ConfigError, DataFormatError
from l1scout.io.ragged import EventsLike, field_like, jagged

__all__ = [
    "JET_ETA",
    "JET_PHI",
    "JET_PT",
    "MUON_ETA",
    "MUON_PHI",
    "MUON_PT",
    "HardwareJets",
    "HardwareMuons",
    "HardwareScale",
    "MuonBending",
    "charge_from_sign",
    "jets_to_hardware",
    "l1_jets",
    "l1_muons",
    "l1_standalone_muons",
    "muons_to_hardware",
    "phi_at_station",
    "sign_from_charge",
]


@dataclass(frozen=True)
class HardwareScale:
    """One hardware quantity: an integer bin index ``hw`` with ``physical = hw * lsb``.

    Attributes:
        name: the hardware name (``hwPt``, ``hwEta``, ``hwPhi``).
        lsb: the bin width in physical units (GeV, 1, rad).
        lo: the smallest hardware value.
        hi: the largest hardware value.
        periodic: phi: the value is taken modulo ``hi - lo + 1`` bins instead of
            saturating (``(hi - lo + 1) * lsb`` must be the full turn, 2 pi).
    """

    name: str
    lsb: float
    lo: int
    hi: int
    periodic: bool = False

    def __post_init__(self) -> None:
        if not self.lsb > 0 or self.hi < self.lo:
            msg = f"{self.name}: expected lsb > 0 and hi >= lo, got lsb={self.lsb}, [{self.lo}, {self.hi}]"
            raise ConfigError(msg)
        if self.periodic and not math.isclose(self.n_bins * self.lsb, 2 * math.pi, rel_tol=1e-9):
            msg = f"{self.name}: a periodic scale must cover 2 pi, got {self.n_bins} x {self.lsb}"
            raise ConfigError(msg)

    @property
    def n_bins(self) -> int:
        """Number of hardware values."""
        return self.hi - self.lo + 1

    def to_hardware(self, x: npt.ArrayLike) -> I64:
        """Physical values -> hardware integers: round to nearest (halves up), then saturate or wrap.

        Non-finite values are refused rather than silently mapped to a bin.

        Raises:
            DataFormatError: a value is NaN or infinite.

        >>> MUON_ETA.to_hardware(np.array([-0.0054, -0.0055, 10.0, -10.0])).tolist()
        [0, -1, 255, -256]
        """
        v = np.asarray(x, dtype=np.float64)
        if not np.all(np.isfinite(v)):
            msg = f"{self.name}: expected finite physical values, got {int(np.sum(~np.isfinite(v)))} NaN/inf"
            raise DataFormatError(msg)
        hw = np.floor(v / self.lsb + 0.5)
        if self.periodic:
            out: I64 = (np.mod(hw - self.lo, self.n_bins) + self.lo).astype(np.int64)
            return out
        return np.clip(hw, self.lo, self.hi).astype(np.int64)

    def to_physical(self, hw: npt.ArrayLike) -> F64:
        """Hardware integers -> physical values, ``hw * lsb`` (the bin centre under rounding).

        Raises:
            DataFormatError: a value lies outside ``[lo, hi]``.

        >>> JET_PHI.to_physical(np.array([0, 72])).round(6).tolist()
        [0.0, 3.141593]
        """
        h = np.asarray(hw)
        if h.size and (h.min() < self.lo or h.max() > self.hi):
            msg = f"{self.name}: hardware values must lie in [{self.lo}, {self.hi}], got [{h.min()}, {h.max()}]"
            raise DataFormatError(msg)
        out: F64 = h.astype(np.float64) * self.lsb
        return out


#: Global Muon Trigger pT: 0.5 GeV bins, 9 bits.
MUON_PT = HardwareScale("hwPt", 0.5, 0, 2**9 - 1)
#: Global Muon Trigger eta: 0.0870 / 8 bins, 9 bits signed.
MUON_ETA = HardwareScale("hwEta", 0.010875, -(2**8), 2**8 - 1)
#: Global Muon Trigger phi: 576 bins of 2 pi / 576 over [0, 2 pi).
MUON_PHI = HardwareScale("hwPhi", 2 * math.pi / 576, 0, 575, periodic=True)
#: Level-1 jet pT: 0.5 GeV bins, 11 bits.
JET_PT = HardwareScale("hwPt", 0.5, 0, 2**11 - 1)
#: Level-1 jet eta: 0.0870 / 2 bins, 8 bits signed.
JET_ETA = HardwareScale("hwEta", 0.0435, -(2**7), 2**7 - 1)
#: Level-1 jet phi: 144 bins of 2 pi / 144 over [0, 2 pi).
JET_PHI = HardwareScale("hwPhi", 2 * math.pi / 144, 0, 143, periodic=True)


def sign_from_charge(charge: npt.ArrayLike) -> I64:
    """The hardware sign bit of a charge: 0 for positive, 1 for negative.

    Raises:
        DataFormatError: a charge is 0 (a muon has charge +-1).

    >>> sign_from_charge(np.array([1, -1])).tolist()
    [0, 1]
    """
    q = np.asarray(charge)
    if np.any(q == 0):
        msg = f"muon charge: expected +1 or -1, got {int(np.sum(q == 0))} zero charge(s)"
        raise DataFormatError(msg)
    return (q < 0).astype(np.int64)


def charge_from_sign(hw_sign: npt.ArrayLike) -> I64:
    """The charge (+1 or -1) of a hardware sign bit (0 or 1).

    >>> charge_from_sign(np.array([0, 1])).tolist()
    [1, -1]
    """
    s = np.asarray(hw_sign).astype(np.int64)
    if s.size and (s.min() < 0 or s.max() > 1):
        msg = f"hwSign: expected 0 or 1, got values in [{s.min()}, {s.max()}]"
        raise DataFormatError(msg)
    out: I64 = 1 - 2 * s
    return out


@dataclass(frozen=True)
class MuonBending:
    """Geometry of the bending of a muon between the vertex and the second muon station.

    The field region is a cylinder of radius ``solenoid_radius_m`` and half
    length ``solenoid_half_length_m`` with a uniform axial field ``bz_tesla``;
    outside it the track is taken as straight. The reference station is the
    second one, a cylinder of radius ``station_radius_m`` in the barrel (MB2) or
    a disk at ``|z| = station_z_m`` in the endcaps (ME2), whichever the track
    reaches first. With ``theta`` the polar angle (``tan theta = 1 / sinh eta``):

    * ``r_exit = min(solenoid_radius_m, solenoid_half_length_m * tan theta)``:
      transverse radius where the track leaves the field;
    * ``r_st = min(station_radius_m, station_z_m * tan theta)``: transverse
      radius of the station hit (at least ``r_exit``);
    * ``R = pT / (0.3 B)``: radius of curvature (m; pT in GeV, B in T);
    * inside the field the track's position angle turns by
      ``a = asin(r_exit / (2 R))`` and its direction by ``2 a``; the straight
      line from the exit point then reaches ``r_st`` at a position angle a further
      ``a - asin(r_exit sin(a) / r_st)`` away (sine rule in the triangle of the
      origin, the exit point and the station hit), so

      ``dphi = 2 a - asin(r_exit sin(a) / r_st)`` and
      ``phi_station = phi_vertex - q dphi``.

    For small angles ``dphi ~ 0.3 B r_exit (1 - r_exit / (2 r_st)) / pT``: with the
    defaults, in the barrel, ``k = 2.37 rad GeV`` (0.43 rad at 5.5 GeV, 0.05 rad at
    45 GeV), a quarter less than the naive ``0.3 B r_st / (2 pT)`` of a field
    filling the whole radius.

    Defaults: 3.8 T, field radius 3.0 m and half length 6.0 m (the CMS solenoid:
    6 m free bore, 12.5 m long; CMS Collaboration, JINST 3 (2008) S08004), MB2 at
    a radius of about 4.9 m and ME2 at ``|z|`` about 8.3 m (the same paper's muon
    system layout; approximate: the real chambers are staggered over tens of cm).

    Limits: the return field of the iron yoke (about -2 T between the stations,
    which bends the track back and lowers the barrel deflection further), the
    field's fall-off at the ends of the solenoid, energy loss in the
    calorimeters and the iron, and multiple scattering are ignored. A track with
    ``2 R < r_exit`` (pT below ``0.15 B r_exit``, 1.7 GeV in the barrel) curls up
    inside the solenoid and never reaches the station; for it ``asin`` is
    clipped at pi/2 (the value at that threshold), so the function stays finite.
    The L1T muons of l1scout have pT > 2 GeV (the L1 tracking threshold).
    """

    bz_tesla: float = 3.8
    solenoid_radius_m: float = 3.0
    solenoid_half_length_m: float = 6.0
    station_radius_m: float = 4.9
    station_z_m: float = 8.3

    def __post_init__(self) -> None:
        for name in ("bz_tesla", "solenoid_radius_m", "solenoid_half_length_m"):
            if not getattr(self, name) > 0:
                msg = f"MuonBending.{name}: expected a positive value, got {getattr(self, name)}"
                raise ConfigError(msg)
        if not self.station_radius_m >= self.solenoid_radius_m:
            msg = (
                f"MuonBending.station_radius_m: expected at least the solenoid radius "
                f"({self.solenoid_radius_m} m), got {self.station_radius_m}"
            )
            raise ConfigError(msg)
        if not self.station_z_m >= self.solenoid_half_length_m:
            msg = (
                f"MuonBending.station_z_m: expected at least the solenoid half length "
                f"({self.solenoid_half_length_m} m), got {self.station_z_m}"
            )
            raise ConfigError(msg)

    def small_angle_k(self) -> float:
        """``k`` (rad GeV) of the barrel small-angle limit ``dphi = k / pT``.

        >>> round(MuonBending().small_angle_k(), 3)
        2.373
        """
        r_s, r_st = self.solenoid_radius_m, self.station_radius_m
        return 0.3 * self.bz_tesla * r_s * (1.0 - r_s / (2.0 * r_st))

    def deflection(self, pt: npt.ArrayLike, eta: npt.ArrayLike) -> F64:
        """``dphi`` (rad, >= 0) for a positive charge of transverse momentum *pt* (GeV) at *eta*.

        >>> bend = MuonBending()
        >>> d = bend.deflection(np.array([5.0, 10.0, 1000.0]), np.zeros(3))
        >>> (d.round(4).tolist(), round(float(d[0] / d[1]), 2))
        ([0.4871, 0.2388, 0.0024], 2.04)
        """
        p = np.asarray(pt, dtype=np.float64)
        if np.any(~(p > 0)):
            msg = "muon pT: expected positive values for the bending (GeV)"
            raise DataFormatError(msg)
        tan_theta = 1.0 / np.maximum(np.abs(np.sinh(np.asarray(eta, dtype=np.float64))), 1e-12)
        r_exit = np.minimum(self.solenoid_radius_m, self.solenoid_half_length_m * tan_theta)
        r_st = np.maximum(np.minimum(self.station_radius_m, self.station_z_m * tan_theta), r_exit)
        radius = p / (0.3 * self.bz_tesla)
        a = np.arcsin(np.minimum(r_exit / (2.0 * radius), 1.0))
        out: F64 = 2.0 * a - np.arcsin(np.minimum(r_exit * np.sin(a) / r_st, 1.0))
        return out


def phi_at_station(
    phi_vertex: npt.ArrayLike,
    pt: npt.ArrayLike,
    eta: npt.ArrayLike,
    charge: npt.ArrayLike,
    bending: MuonBending | None = None,
) -> F64:
    """Azimuth (rad, in [0, 2 pi)) of a muon at the second muon station: ``phi_vertex - q dphi(pT, eta)``.

    Args:
        phi_vertex: azimuth of the momentum at the vertex (rad, any range).
        pt: transverse momentum (GeV).
        eta: pseudorapidity.
        charge: +1 or -1.
        bending: the geometry (default :class:`MuonBending`).

    >>> phi_at_station(np.array([1.0, 1.0]), np.array([10.0, 10.0]), np.zeros(2),
    ...                np.array([1, -1])).round(4).tolist()
    [0.7612, 1.2388]
    """
    geo = MuonBending() if bending is None else bending
    q = np.asarray(charge).astype(np.float64)
    phi = np.asarray(phi_vertex, dtype=np.float64) - q * geo.deflection(pt, eta)
    out: F64 = np.mod(phi, 2 * np.pi)
    return out


@dataclass(frozen=True)
class HardwareMuons:
    """Level-1 muons of a batch of events in hardware units (flat arrays + per-event offsets).

    Attributes:
        offsets: int64, length n_events + 1 (event k owns ``offsets[k]:offsets[k+1]``).
        hw_pt, hw_eta, hw_phi, hw_sign: int64 hardware values (scales
            :data:`MUON_PT`, :data:`MUON_ETA`, :data:`MUON_PHI`; sign 0 = positive).
    """

    offsets: I64
    hw_pt: I64
    hw_eta: I64
    hw_phi: I64
    hw_sign: I64

    @property
    def pt(self) -> F64:
        """Transverse momentum (GeV), ``hwPt * 0.5``."""
        return MUON_PT.to_physical(self.hw_pt)

    @property
    def eta(self) -> F64:
        """Pseudorapidity, ``hwEta * 0.010875``."""
        return MUON_ETA.to_physical(self.hw_eta)

    @property
    def phi(self) -> F64:
        """Azimuth at the muon station (rad, in [0, 2 pi)), ``hwPhi * 2 pi / 576``."""
        return MUON_PHI.to_physical(self.hw_phi)

    @property
    def charge(self) -> I64:
        """Charge, +1 or -1."""
        return charge_from_sign(self.hw_sign)

    def hardware(self) -> I64:
        """The (n, 4) hardware tuples ``(hwPt, hwEta, hwPhi, hwSign)``."""
        return np.stack([self.hw_pt, self.hw_eta, self.hw_phi, self.hw_sign], axis=1)


@dataclass(frozen=True)
class HardwareJets:
    """Level-1 jets of a batch of events in hardware units (flat arrays + per-event offsets).

    Attributes:
        offsets: int64, length n_events + 1.
        hw_pt, hw_eta, hw_phi: int64 hardware values (:data:`JET_PT`, :data:`JET_ETA`, :data:`JET_PHI`).
    """

    offsets: I64
    hw_pt: I64
    hw_eta: I64
    hw_phi: I64

    @property
    def pt(self) -> F64:
        """Transverse momentum (GeV), ``hwPt * 0.5``."""
        return JET_PT.to_physical(self.hw_pt)

    @property
    def eta(self) -> F64:
        """Pseudorapidity, ``hwEta * 0.0435``."""
        return JET_ETA.to_physical(self.hw_eta)

    @property
    def phi(self) -> F64:
        """Azimuth (rad, in [0, 2 pi)), ``hwPhi * 2 pi / 144``."""
        return JET_PHI.to_physical(self.hw_phi)

    def hardware(self) -> I64:
        """The (n, 3) hardware tuples ``(hwPt, hwEta, hwPhi)``."""
        return np.stack([self.hw_pt, self.hw_eta, self.hw_phi], axis=1)


def _check_lengths(offsets: I64, **arrays: np.ndarray) -> None:
    n = int(offsets[-1])
    for name, arr in arrays.items():
        if len(arr) != n:
            msg = f"{name}: expected {n} entries (the last offset), got {len(arr)}"
            raise DataFormatError(msg)


def muons_to_hardware(
    offsets: npt.ArrayLike,
    pt: npt.ArrayLike,
    eta: npt.ArrayLike,
    phi_vertex: npt.ArrayLike,
    charge: npt.ArrayLike,
    bending: MuonBending | None = None,
) -> HardwareMuons:
    """Digitise muons given at the vertex: phi bent to the station (with *pt*), then the GMT scales.

    Args:
        offsets: per-event offsets (length n_events + 1).
        pt: transverse momentum (GeV); also the pT that bends phi.
        eta: pseudorapidity.
        phi_vertex: azimuth at the vertex (rad, any range).
        charge: +1 or -1.
        bending: the bending geometry (default :class:`MuonBending`).

    >>> mu = muons_to_hardware([0, 1], [10.0], [0.5], [1.0], [1])
    >>> mu.hardware().tolist(), round(float(mu.phi[0]), 4)
    ([[20, 46, 70, 0]], 0.7636)
    """
    off = np.asarray(offsets, dtype=np.int64)
    p = np.asarray(pt, dtype=np.float64)
    e = np.asarray(eta, dtype=np.float64)
    ph = np.asarray(phi_vertex, dtype=np.float64)
    q = np.asarray(charge)
    _check_lengths(off, pt=p, eta=e, phi=ph, charge=q)
    station = phi_at_station(ph, p, e, q, bending)
    return HardwareMuons(
        offsets=off,
        hw_pt=MUON_PT.to_hardware(p),
        hw_eta=MUON_ETA.to_hardware(e),
        hw_phi=MUON_PHI.to_hardware(station),
        hw_sign=sign_from_charge(q),
    )


def jets_to_hardware(
    offsets: npt.ArrayLike, pt: npt.ArrayLike, eta: npt.ArrayLike, phi: npt.ArrayLike
) -> HardwareJets:
    """Digitise jets on the Level-1 jet scales.

    >>> jets_to_hardware([0, 1], [40.2], [-1.0], [-np.pi / 2]).hardware().tolist()
    [[80, -23, 108]]
    """
    off = np.asarray(offsets, dtype=np.int64)
    p = np.asarray(pt, dtype=np.float64)
    e = np.asarray(eta, dtype=np.float64)
    ph = np.asarray(phi, dtype=np.float64)
    _check_lengths(off, pt=p, eta=e, phi=ph)
    return HardwareJets(
        offsets=off,
        hw_pt=JET_PT.to_hardware(p),
        hw_eta=JET_ETA.to_hardware(e),
        hw_phi=JET_PHI.to_hardware(ph),
    )


def l1_muons(
    events: EventsLike,
    *,
    view: str = "L1T",
    collection: str = "MuonTight",
    bending: MuonBending | None = None,
) -> HardwareMuons:
    """The hardware Level-1 muons of a chunk of events (columns ``<view>_<collection>_PT/Eta/Phi/Charge``).

    Raises:
        DataFormatError: a column is missing, lists differ between columns, or a charge is 0.
    """
    prefix = f"{view}_{collection}"
    off, pt = jagged(events, f"{prefix}_PT", np.float64)
    eta = field_like(events, prefix, "Eta", off, np.float64)
    phi = field_like(events, prefix, "Phi", off, np.float64)
    charge = field_like(events, prefix, "Charge", off, np.int64)
    return muons_to_hardware(off, pt, eta, phi, charge, bending)


def l1_standalone_muons(
    events: EventsLike, *, view: str = "L1T", collection: str = "MuonStandalone"
) -> HardwareMuons:
    """The standalone Level-1 muons as the file stores them (``<view>_<collection>_HwPt/HwEta/HwPhi/Charge``).

    These come from the muon system (:mod:`l1scout.detector.muon_system`):
    already on the hardware bins, with eta and phi at the second station, so
    nothing is bent or digitised here.

    Raises:
        DataFormatError: a column is missing, lists differ between columns, a
            value lies outside its hardware range or a charge is not +-1.
    """
    prefix = f"{view}_{collection}"
    off, hw_pt = jagged(events, f"{prefix}_HwPt", np.int64)
    hw_eta = field_like(events, prefix, "HwEta", off, np.int64)
    hw_phi = field_like(events, prefix, "HwPhi", off, np.int64)
    charge = field_like(events, prefix, "Charge", off, np.int64)
    for name, values, scale in (
        ("HwPt", hw_pt, MUON_PT),
        ("HwEta", hw_eta, MUON_ETA),
        ("HwPhi", hw_phi, MUON_PHI),
    ):
        if len(values) and (values.min() < scale.lo or values.max() > scale.hi):
            msg = f"{prefix}_{name}: expected hardware values in [{scale.lo}, {scale.hi}], got [{values.min()}, {values.max()}]"
            raise DataFormatError(msg)
    return HardwareMuons(off, hw_pt, hw_eta, hw_phi, sign_from_charge(charge))


def l1_jets(
    events: EventsLike, *, view: str = "L1T", collection: str = "JetPuppiAK4"
) -> HardwareJets:
    """The hardware Level-1 jets of a chunk of events (columns ``<view>_<collection>_PT/Eta/Phi``).

    Raises:
        DataFormatError: a column is missing or lists differ between columns.
    """
    prefix = f"{view}_{collection}"
    off, pt = jagged(events, f"{prefix}_PT", np.float64)
    eta = field_like(events, prefix, "Eta", off, np.float64)
    phi = field_like(events, prefix, "Phi", off, np.float64)
    return jets_to_hardware(off, pt, eta, phi)
