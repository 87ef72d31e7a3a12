"""The words of the Level-1 scouting stream: per-BX headers, Phase-2 PUPPI candidates, trigger objects.

One orbit is 3564 bunch crossings (BX 0 ... 3563), of which 2760 collide in
the Phase-2 filling scheme; orbits follow each other at
``ORBIT_RATE_KHZ = 31,038.96 kHz / 2760 = 11.246 kHz``. Each stream of
:data:`STREAMS` sends, in BX order, one **header word** per BX followed by
``count`` payload words (an empty BX: a header with count 0). Every word is a
little-endian ``uint64``; the full tables are in ``docs/physics/scouting-stream.md``.

**Header** (bits): count 0-11, BX 12-23, orbit 24-53, run 54-60, bad flag 61,
bits 62-63 = ``0b10`` (the valid-header marker of the native 64-bit format of
the public Phase-2 scouting clients, github.com/gpetruc/p2-scouting-clients).
Payload words always have bit 63 = 0, so a payload word is never a header.

**PUPPI candidate** (the layout the CMSSW Phase-2 scouting prototype,
``L1TriggerScouting/Phase2``, unpacks): pT 0-13 (0.25 GeV), eta 14-25 (signed,
pi/720), phi 26-36 (signed, pi/720), particle code 37-39 (index into
:data:`PDG_CODES`); charged (code >= 2): z0 40-49 (signed, 0.05 cm), dxy 50-57
(signed, 0.05 cm), quality 58-60; neutral: PUPPI weight 40-49 (1/256), e/gamma
id 50-55. Bits 61-63 are zero.

**Objects** (l1scout's layout on the re-calibration study's hardware bins,
:mod:`l1scout.tasks.recalib.hardware`; the Run-3 calorimeter bins where it has
none), one word per object, the unused high bits zero:

=======  ===========================================================================
stream   bits
=======  ===========================================================================
muon     hwPt 0-8 (0.5 GeV), hwEta 9-17 (signed, 0.010875), hwPhi 18-27 (2 pi/576,
         [0, 575], at the vertex), sign 28 (1 = negative), charge valid 29,
         quality 30-33
egamma   hwPt 0-8 (0.5 GeV), hwEta 9-16 (signed, 0.0435), hwPhi 17-24 (2 pi/144, [0, 143])
jet      hwPt 0-10 (0.5 GeV), hwEta 11-18 (signed, 0.0435), hwPhi 19-26 (2 pi/144)
sums     MET 0-11 (0.5 GeV), MET phi 12-19 (2 pi/144), HT 20-31 (0.5 GeV)
=======  ===========================================================================

**Physical -> hardware** is the re-calibration task's rule
(:class:`~l1scout.tasks.recalib.hardware.HardwareScale`): ``floor(x / lsb +
0.5)`` (halves up), then saturate at the field's range; azimuths wrap instead
(PUPPI phi into [-720, 719]: +pi becomes -720; object phi into [0, n bins)).
Hardware -> physical is ``hw * lsb``; decoded azimuths lie in [-pi, pi).

Example:
    >>> hw = puppi_to_hardware([10.1], [-1.0], [np.pi], [211], [1], [1.2], [-0.3], [1.0])
    >>> w = encode_puppi(hw)
    >>> hex(int(w[0])), decode_puppi(w) == hw
    ('0x7fc0274c3c6c028', True)
    >>> p = puppi_physical(hw)
    >>> float(p["pt"][0]), int(p["pdgid"][0]), int(p["charge"][0]), float(p["z0"][0])
    (10.0, 211, 1, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Final

import numpy as np
import numpy.typing as npt

from l1scout._types import I64, B
from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.rates import crossing_rate_khz
from l1scout.tasks.recalib.hardware import (
    JET_ETA,
    JET_PHI,
    JET_PT,
    MUON_ETA,
    MUON_PHI,
    MUON_PT,
    HardwareScale,
)

__all__ = [
    "EGAMMA_ETA",
    "EGAMMA_PHI",
    "EGAMMA_PT",
    "FILLED_BX",
    "MAX_COUNT",
    "MAX_OBJECTS",
    "MAX_ORBIT",
    "MAX_RUN",
    "OBJECT_FIELDS",
    "ORBIT_BX",
    "ORBIT_RATE_KHZ",
    "PDG_CODES",
    "PHYSICAL_NEEDS",
    "PUPPI_DXY",
    "PUPPI_ETA",
    "PUPPI_FIELDS",
    "PUPPI_PHI",
    "PUPPI_PT",
    "PUPPI_WEIGHT",
    "PUPPI_Z0",
    "STREAMS",
    "SUM_PT",
    "HeaderFields",
    "PuppiHardware",
    "decode_egamma",
    "decode_headers",
    "decode_jets",
    "decode_muons",
    "decode_puppi",
    "decode_sums",
    "encode_egamma",
    "encode_headers",
    "encode_jets",
    "encode_muons",
    "encode_puppi",
    "encode_sums",
    "muon_charge_quality",
    "pack_stream",
    "puppi_code",
    "puppi_physical",
    "puppi_to_hardware",
]

#: Bunch crossings per LHC orbit, numbered 0 ... 3563.
ORBIT_BX: Final = 3564
#: Colliding bunch pairs of the Phase-2 filling scheme.
FILLED_BX: Final = 2760
#: Orbit rate (kHz): the Phase-2 crossing rate over the colliding bunches, 11.246 kHz.
ORBIT_RATE_KHZ: Final = crossing_rate_khz("phase2") / FILLED_BX
#: The streams of one orbit, each from its own board in the real system.
STREAMS: Final = ("puppi", "muon", "egamma", "jet", "sums")
#: At most this many objects (the highest pT) per BX and stream.
MAX_OBJECTS: Final = MappingProxyType({"muon": 8, "egamma": 12, "jet": 12, "sums": 1})
#: The PDG id of each 3-bit PUPPI particle code 0 ... 7.
PDG_CODES: Final = (130, 22, -211, 211, 11, -11, 13, -13)
#: Largest header count (12 bits), orbit number (30 bits) and run number (7 bits).
MAX_COUNT: Final = (1 << 12) - 1
MAX_ORBIT: Final = (1 << 30) - 1
MAX_RUN: Final = (1 << 7) - 1

_PI720 = math.pi / 720
#: PUPPI pT: 0.25 GeV, 14 bits.
PUPPI_PT = HardwareScale("pt", 0.25, 0, (1 << 14) - 1)
#: PUPPI eta: pi/720, 12 bits signed.
PUPPI_ETA = HardwareScale("eta", _PI720, -(1 << 11), (1 << 11) - 1)
#: PUPPI phi: pi/720, periodic over [-720, 719] (11 bits signed).
PUPPI_PHI = HardwareScale("phi", _PI720, -720, 719, periodic=True)
#: PUPPI z0 of a charged candidate: 0.05 cm = 0.5 mm, 10 bits signed.
PUPPI_Z0 = HardwareScale("z0", 0.5, -(1 << 9), (1 << 9) - 1)
#: PUPPI dxy of a charged candidate: 0.05 cm = 0.5 mm, 8 bits signed.
PUPPI_DXY = HardwareScale("dxy", 0.5, -(1 << 7), (1 << 7) - 1)
#: PUPPI weight of a neutral candidate: 1/256, 10 bits.
PUPPI_WEIGHT = HardwareScale("puppi_w", 1 / 256, 0, (1 << 10) - 1)
#: E/gamma ET: 0.5 GeV, 9 bits (Run-3 calorimeter layer 2).
EGAMMA_PT = HardwareScale("hwPt", 0.5, 0, (1 << 9) - 1)
#: E/gamma eta and phi: the calorimeter (jet) bins.
EGAMMA_ETA = JET_ETA
EGAMMA_PHI = JET_PHI
#: Energy sums (MET, HT): 0.5 GeV, 12 bits.
SUM_PT = HardwareScale("hwPt", 0.5, 0, (1 << 12) - 1)

_HEADER_MARKER = 0b10


def _u64(x: npt.ArrayLike) -> npt.NDArray[np.uint64]:
    return np.asarray(x, dtype=np.int64).astype(np.uint64)


def _check_range(name: str, v: I64, lo: int, hi: int) -> None:
    if v.size and (v.min() < lo or v.max() > hi):
        msg = f"{name}: expected integers in [{lo}, {hi}], got [{v.min()}, {v.max()}]"
        raise DataFormatError(msg)


def _field(words: npt.NDArray[np.uint64], shift: int, bits: int) -> I64:
    """Unsigned field of *bits* bits at *shift*, as int64."""
    return ((words >> np.uint64(shift)) & np.uint64((1 << bits) - 1)).astype(np.int64)


def _signed(words: npt.NDArray[np.uint64], shift: int, bits: int) -> I64:
    """Two's-complement field of *bits* bits at *shift*, sign-extended to int64."""
    v = _field(words, shift, bits)
    out: I64 = v - ((v >> (bits - 1)) << bits)
    return out


def _put(v: npt.ArrayLike, shift: int, bits: int) -> npt.NDArray[np.uint64]:
    """Place the low *bits* bits of *v* (two's complement for negatives) at *shift*."""
    return (_u64(v) & np.uint64((1 << bits) - 1)) << np.uint64(shift)


def _words(words: npt.ArrayLike) -> npt.NDArray[np.uint64]:
    w = np.asarray(words)
    if w.dtype != np.uint64 or w.ndim != 1:
        msg = f"words: expected a 1-d uint64 array, got {w.dtype} with shape {w.shape}"
        raise DataFormatError(msg)
    return w


# --------------------------------------------------------------------------- headers


@dataclass(frozen=True)
class HeaderFields:
    """The fields of header words (numpy arrays of one length).

    Attributes:
        count: payload words after the header (uint16, 0 ... 4095).
        bx: bunch crossing (uint16, 0 ... 3563 in a valid stream).
        orbit: orbit number (uint32, 30 bits).
        run: run number (uint8, 7 bits).
        bad: the bad flag (bool).
        valid_marker: bits 62-63 are ``0b10`` (bool): the word is a header.
    """

    count: npt.NDArray[np.uint16]
    bx: npt.NDArray[np.uint16]
    orbit: npt.NDArray[np.uint32]
    run: npt.NDArray[np.uint8]
    bad: B
    valid_marker: B


def encode_headers(
    count: npt.ArrayLike,
    bx: npt.ArrayLike,
    orbit: npt.ArrayLike,
    run: npt.ArrayLike,
    bad: npt.ArrayLike = False,
) -> npt.NDArray[np.uint64]:
    """Header words of the given fields (broadcast against each other).

    Raises:
        DataFormatError: a field outside its bit width.

    >>> hex(int(encode_headers(3, 17, 1, 2)[0]))
    '0x8080000001011003'
    >>> h = decode_headers(encode_headers([4095], [3563], [MAX_ORBIT], [MAX_RUN], [True]))
    >>> [int(x[0]) for x in (h.count, h.bx, h.orbit, h.run, h.bad, h.valid_marker)]
    [4095, 3563, 1073741823, 127, 1, 1]
    """
    c, b, o, r, f = np.broadcast_arrays(
        *(np.atleast_1d(np.asarray(x, dtype=np.int64)) for x in (count, bx, orbit, run, bad))
    )
    _check_range("header count", c, 0, MAX_COUNT)
    _check_range("header bx", b, 0, (1 << 12) - 1)
    _check_range("header orbit", o, 0, MAX_ORBIT)
    _check_range("header run", r, 0, MAX_RUN)
    _check_range("header bad flag", f, 0, 1)
    out: npt.NDArray[np.uint64] = (
        _put(c, 0, 12)
        | _put(b, 12, 12)
        | _put(o, 24, 30)
        | _put(r, 54, 7)
        | _put(f, 61, 1)
        | np.uint64(_HEADER_MARKER << 62)
    )
    return out


def decode_headers(words: npt.ArrayLike) -> HeaderFields:
    """The fields of header words (no check: ``valid_marker`` says which are headers).

    >>> decode_headers(np.array([0x8080000001011003], dtype=np.uint64)).bx.tolist()
    [17]
    """
    w = _words(words)
    return HeaderFields(
        count=_field(w, 0, 12).astype(np.uint16),
        bx=_field(w, 12, 12).astype(np.uint16),
        orbit=_field(w, 24, 30).astype(np.uint32),
        run=_field(w, 54, 7).astype(np.uint8),
        bad=_field(w, 61, 1).astype(bool),
        valid_marker=_field(w, 62, 2) == _HEADER_MARKER,
    )


def pack_stream(
    counts: npt.ArrayLike,
    payload: npt.ArrayLike,
    orbit: int,
    run: int,
    bad: npt.ArrayLike | None = None,
) -> npt.NDArray[np.uint64]:
    """One orbit of a stream: per BX 0 ... 3563 a header, then its ``counts[bx]`` payload words.

    Args:
        counts: payload words per BX (length :data:`ORBIT_BX`, each <= 4095).
        payload: the payload words of all BXs in BX order (uint64, ``sum(counts)``).
        orbit: orbit number (30 bits).
        run: run number (7 bits).
        bad: per-BX bad flags (default none).

    Raises:
        DataFormatError: wrong lengths, counts out of range, payload words with bit 63 set.

    >>> counts = np.zeros(ORBIT_BX, dtype=np.int64); counts[1] = 2
    >>> s = pack_stream(counts, np.array([5, 6], dtype=np.uint64), orbit=1, run=1)
    >>> len(s), s[1:5].tolist()[1:]
    (3566, [5, 6, 9241386435381043200])
    """
    c = np.asarray(counts, dtype=np.int64)
    p = _words(payload)
    if c.shape != (ORBIT_BX,):
        msg = f"pack_stream counts: expected {ORBIT_BX} BXs, got shape {c.shape}"
        raise DataFormatError(msg)
    if int(c.sum()) != len(p):
        msg = f"pack_stream payload: expected sum(counts) = {int(c.sum())} words, got {len(p)}"
        raise DataFormatError(msg)
    if len(p) and int(p.max() >> np.uint64(63)):
        msg = "pack_stream payload: a payload word has bit 63 set (it would read as a header)"
        raise DataFormatError(msg)
    flags = np.zeros(ORBIT_BX, dtype=np.int64) if bad is None else np.asarray(bad, dtype=np.int64)
    headers = encode_headers(c, np.arange(ORBIT_BX), orbit, run, flags)
    out = np.empty(ORBIT_BX + len(p), dtype=np.uint64)
    header_at = np.arange(ORBIT_BX, dtype=np.int64) + np.concatenate(([0], np.cumsum(c)[:-1]))
    is_header = np.zeros(len(out), dtype=bool)
    is_header[header_at] = True
    out[header_at] = headers
    out[~is_header] = p
    return out


# --------------------------------------------------------------------------- PUPPI


@dataclass(frozen=True, eq=False)
class PuppiHardware:
    """PUPPI candidates as hardware integers (flat arrays of one length).

    Attributes:
        pt: uint16, 0.25 GeV.
        eta: int16, pi/720.
        phi: int16, pi/720.
        code: uint8, index into :data:`PDG_CODES`.
        z0: int16, 0.5 mm (charged; 0 for neutrals).
        dxy: int16, 0.5 mm (charged; 0 for neutrals).
        quality: uint8 (charged; bit 0: associated with the primary vertex).
        weight: uint16, 1/256 (neutral PUPPI weight; 0 for charged).
        egid: uint8 (neutral e/gamma id; 0 for charged).

    Two instances compare equal when every field is equal (``==``).
    """

    pt: npt.NDArray[np.uint16]
    eta: npt.NDArray[np.int16]
    phi: npt.NDArray[np.int16]
    code: npt.NDArray[np.uint8]
    z0: npt.NDArray[np.int16]
    dxy: npt.NDArray[np.int16]
    quality: npt.NDArray[np.uint8]
    weight: npt.NDArray[np.uint16]
    egid: npt.NDArray[np.uint8]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PuppiHardware):
            return NotImplemented
        return all(
            np.array_equal(getattr(self, f.name), getattr(other, f.name)) for f in fields(self)
        )

    __hash__ = None  # type: ignore[assignment]

    def __len__(self) -> int:
        return len(self.pt)


#: (name, dtype) of the :class:`PuppiHardware` fields, in word order.
PUPPI_FIELDS: Final = (
    ("pt", np.uint16),
    ("eta", np.int16),
    ("phi", np.int16),
    ("code", np.uint8),
    ("z0", np.int16),
    ("dxy", np.int16),
    ("quality", np.uint8),
    ("weight", np.uint16),
    ("egid", np.uint8),
)


def puppi_code(pid: npt.ArrayLike, charge: npt.ArrayLike) -> npt.NDArray[np.uint8]:
    """The 3-bit particle code of candidates (PDG id and charge of the views).

    Neutral: PID 22 -> 1 (photon), else 0 (neutral hadron). Charged: |PID| 11 ->
    4 (charge -1) or 5 (+1); |PID| 13 -> 6 or 7; anything else -> 2 (pi-) or 3 (pi+).

    >>> puppi_code([22, 130, 2112, 11, -11, 13, -211, 2212], [0, 0, 0, -1, 1, -1, -1, 1]).tolist()
    [1, 0, 0, 4, 5, 6, 2, 3]
    """
    p = np.abs(np.asarray(pid, dtype=np.int64))
    q = np.asarray(charge, dtype=np.int64)
    if p.shape != q.shape:
        msg = f"puppi code: pid and charge must have one shape, got {p.shape} and {q.shape}"
        raise DataFormatError(msg)
    positive = (q > 0).astype(np.int64)
    charged = np.where(p == 11, 4, np.where(p == 13, 6, 2)) + positive
    out = np.where(q == 0, (p == 22).astype(np.int64), charged)
    return out.astype(np.uint8)


def puppi_to_hardware(
    pt: npt.ArrayLike,
    eta: npt.ArrayLike,
    phi: npt.ArrayLike,
    pid: npt.ArrayLike,
    charge: npt.ArrayLike,
    dz_mm: npt.ArrayLike,
    d0_mm: npt.ArrayLike,
    puppi_w: npt.ArrayLike,
) -> PuppiHardware:
    """Digitise PUPPI candidates given in physical units (the views' columns).

    Args:
        pt: transverse momentum (GeV, unweighted).
        eta: pseudorapidity.
        phi: azimuth (rad, any range: wrapped into [-pi, pi)).
        pid: PDG id (:func:`puppi_code`).
        charge: charge (0 for neutrals).
        dz_mm: longitudinal impact parameter (mm; charged only).
        d0_mm: transverse impact parameter (mm; charged only).
        puppi_w: PUPPI weight in [0, 1]: neutral -> weight field; charged -> quality
            bit 0 when >= 0.5 (associated with the primary vertex).

    Raises:
        DataFormatError: a value is NaN or infinite, or the arrays differ in length.

    >>> hw = puppi_to_hardware([5000.0], [-10.0], [-np.pi], [22], [0], [0.0], [0.0], [1.0])
    >>> [int(getattr(hw, k)[0]) for k in ("pt", "eta", "phi", "code", "weight", "z0")]
    [16383, -2048, -720, 1, 256, 0]
    """
    arrays = [np.asarray(x) for x in (pt, eta, phi, pid, charge, dz_mm, d0_mm, puppi_w)]
    if len({a.shape for a in arrays}) != 1 or arrays[0].ndim != 1:
        msg = f"puppi_to_hardware: expected 1-d arrays of one length, got shapes {[a.shape for a in arrays]}"
        raise DataFormatError(msg)
    code = puppi_code(arrays[3], arrays[4])
    charged = code >= 2
    w = np.asarray(puppi_w, dtype=np.float64)
    if not np.all(np.isfinite(w)):
        msg = "puppi_w: expected finite PUPPI weights"
        raise DataFormatError(msg)
    zero16 = np.int16(0)
    return PuppiHardware(
        pt=PUPPI_PT.to_hardware(pt).astype(np.uint16),
        eta=PUPPI_ETA.to_hardware(eta).astype(np.int16),
        phi=PUPPI_PHI.to_hardware(phi).astype(np.int16),
        code=code,
        z0=np.where(charged, PUPPI_Z0.to_hardware(dz_mm), zero16).astype(np.int16),
        dxy=np.where(charged, PUPPI_DXY.to_hardware(d0_mm), zero16).astype(np.int16),
        quality=(charged & (w >= 0.5)).astype(np.uint8),
        weight=np.where(charged, 0, PUPPI_WEIGHT.to_hardware(w)).astype(np.uint16),
        egid=np.zeros(len(code), dtype=np.uint8),
    )


def encode_puppi(hw: PuppiHardware) -> npt.NDArray[np.uint64]:
    """The 64-bit words of PUPPI candidates (charged fields for codes >= 2, neutral ones else).

    Raises:
        DataFormatError: a field outside its bit width, or phi outside [-720, 719].
    """
    for name, scale in (
        ("pt", PUPPI_PT),
        ("eta", PUPPI_ETA),
        ("phi", PUPPI_PHI),
        ("z0", PUPPI_Z0),
        ("dxy", PUPPI_DXY),
        ("weight", PUPPI_WEIGHT),
    ):
        _check_range(f"PUPPI {name}", np.asarray(getattr(hw, name), np.int64), scale.lo, scale.hi)
    for name, bits in (("code", 3), ("quality", 3), ("egid", 6)):
        _check_range(f"PUPPI {name}", np.asarray(getattr(hw, name), np.int64), 0, (1 << bits) - 1)
    charged = np.asarray(hw.code) >= 2
    shared = _put(hw.pt, 0, 14) | _put(hw.eta, 14, 12) | _put(hw.phi, 26, 11) | _put(hw.code, 37, 3)
    specific = np.where(
        charged,
        _put(hw.z0, 40, 10) | _put(hw.dxy, 50, 8) | _put(hw.quality, 58, 3),
        _put(hw.weight, 40, 10) | _put(hw.egid, 50, 6),
    )
    out: npt.NDArray[np.uint64] = shared | specific
    return out


def decode_puppi(words: npt.ArrayLike) -> PuppiHardware:
    """The hardware fields of PUPPI words (plain numpy; the reference of the compiled unpacker).

    >>> decode_puppi(np.array([0x7FC0274C3C6C028], dtype=np.uint64)).phi.tolist()
    [-720]
    """
    w = _words(words)
    code = _field(w, 37, 3)
    charged = code >= 2
    return PuppiHardware(
        pt=_field(w, 0, 14).astype(np.uint16),
        eta=_signed(w, 14, 12).astype(np.int16),
        phi=_signed(w, 26, 11).astype(np.int16),
        code=code.astype(np.uint8),
        z0=np.where(charged, _signed(w, 40, 10), 0).astype(np.int16),
        dxy=np.where(charged, _signed(w, 50, 8), 0).astype(np.int16),
        quality=np.where(charged, _field(w, 58, 3), 0).astype(np.uint8),
        weight=np.where(charged, 0, _field(w, 40, 10)).astype(np.uint16),
        egid=np.where(charged, 0, _field(w, 50, 6)).astype(np.uint8),
    )


_PDG = np.array(PDG_CODES, dtype=np.int16)
_CHARGE = np.array([0, 0, -1, 1, -1, 1, -1, 1], dtype=np.int8)


#: The physical keys of :func:`puppi_physical` and the hardware fields each needs.
PHYSICAL_NEEDS: Final = MappingProxyType(
    {
        "pt": ("pt",),
        "eta": ("eta",),
        "phi": ("phi",),
        "pdgid": ("code",),
        "charge": ("code",),
        "z0": ("z0",),
        "dxy": ("dxy",),
        "quality": ("quality",),
        "puppi_w": ("code", "quality", "weight"),
        "egid": ("egid",),
    }
)


def puppi_physical(hw: PuppiHardware, keys: Collection[str] | None = None) -> dict[str, np.ndarray]:
    """Physical values of hardware PUPPI candidates.

    Args:
        hw: the hardware candidates.
        keys: compute only these keys (default all, :data:`PHYSICAL_NEEDS`).

    Returns:
        ``pt`` (GeV), ``eta``, ``phi`` (rad, in [-pi, pi)), ``z0``, ``dxy`` (mm),
        ``puppi_w`` (neutral ``weight / 256``; charged 1.0 when quality bit 0 is
        set, else 0.0), all float32; ``pdgid`` int16, ``charge`` int8,
        ``quality`` and ``egid`` uint8.
    """
    f32 = np.float32
    compute: dict[str, Callable[[], np.ndarray]] = {
        "pt": lambda: hw.pt * f32(PUPPI_PT.lsb),
        "eta": lambda: hw.eta * f32(_PI720),
        "phi": lambda: hw.phi * f32(_PI720),
        "pdgid": lambda: _PDG[hw.code],
        "charge": lambda: _CHARGE[hw.code],
        "z0": lambda: hw.z0 * f32(PUPPI_Z0.lsb),
        "dxy": lambda: hw.dxy * f32(PUPPI_DXY.lsb),
        "quality": lambda: np.asarray(hw.quality),
        "puppi_w": lambda: np.where(
            hw.code >= 2, (hw.quality & 1).astype(f32), hw.weight * f32(1 / 256)
        ),
        "egid": lambda: np.asarray(hw.egid),
    }
    wanted = tuple(PHYSICAL_NEEDS) if keys is None else tuple(keys)
    unknown = [k for k in wanted if k not in compute]
    if unknown:
        msg = f"puppi_physical keys {unknown}: expected some of {list(PHYSICAL_NEEDS)}"
        raise ConfigError(msg)
    return {k: compute[k]() for k in wanted}


# --------------------------------------------------------------------------- objects


#: The scaled fields of the object words: stream -> key -> (first bit, bits, signed, scale).
#: A periodic scale (phi) decodes into [-pi, pi). The muon charge (sign bit 28,
#: valid bit 29) and quality (bits 30-33) are the other fields.
OBJECT_FIELDS: Final = MappingProxyType(
    {
        "muon": {
            "pt": (0, 9, False, MUON_PT),
            "eta": (9, 9, True, MUON_ETA),
            "phi": (18, 10, False, MUON_PHI),
        },
        "egamma": {
            "pt": (0, 9, False, EGAMMA_PT),
            "eta": (9, 8, True, EGAMMA_ETA),
            "phi": (17, 8, False, EGAMMA_PHI),
        },
        "jet": {
            "pt": (0, 11, False, JET_PT),
            "eta": (11, 8, True, JET_ETA),
            "phi": (19, 8, False, JET_PHI),
        },
        "sums": {
            "met": (0, 12, False, SUM_PT),
            "met_phi": (12, 8, False, JET_PHI),
            "ht": (20, 12, False, SUM_PT),
        },
    }
)
_MUON_SIGN, _MUON_VALID, _MUON_QUALITY = 28, 29, 30


def _encode_fields(stream: str, values: dict[str, npt.ArrayLike]) -> npt.NDArray[np.uint64]:
    out = np.zeros(np.shape(next(iter(values.values()))), dtype=np.uint64)
    for key, (shift, bits, _, scale) in OBJECT_FIELDS[stream].items():
        out |= _put(scale.to_hardware(values[key]), shift, bits)
    return out


def _decode_fields(stream: str, words: npt.ArrayLike) -> dict[str, np.ndarray]:
    """The scaled fields of object words: ``hw * lsb`` as float32; periodic bins at or above n/2 negative."""
    w = _words(words)
    out = {}
    for key, (shift, bits, signed, scale) in OBJECT_FIELDS[stream].items():
        hw = _signed(w, shift, bits) if signed else _field(w, shift, bits)
        if scale.periodic:
            hw = np.where(hw >= scale.n_bins // 2, hw - scale.n_bins, hw)
        out[key] = (hw * scale.lsb).astype(np.float32)
    return out


def encode_muons(
    pt: npt.ArrayLike,
    eta: npt.ArrayLike,
    phi: npt.ArrayLike,
    charge: npt.ArrayLike,
    quality: npt.ArrayLike,
) -> npt.NDArray[np.uint64]:
    """Muon words: hwPt 0-8, hwEta 9-17, hwPhi 18-27 (at the vertex), sign 28, valid 29, quality 30-33.

    Args:
        pt: transverse momentum (GeV).
        eta: pseudorapidity.
        phi: azimuth at the vertex (rad, any range).
        charge: +1, -1, or 0 (unknown: charge-valid bit 0).
        quality: 0 ... 15.

    Raises:
        DataFormatError: NaN/inf, a quality outside 0 ... 15, a charge outside {-1, 0, 1}.

    >>> hex(int(encode_muons([10.0], [-0.5], [np.pi], [-1], [12])[0]))
    '0x33483a414'
    """
    q = np.asarray(charge, dtype=np.int64)
    _check_range("muon charge", q, -1, 1)
    qual = np.asarray(quality, dtype=np.int64)
    _check_range("muon quality", qual, 0, 15)
    out: npt.NDArray[np.uint64] = (
        _encode_fields("muon", {"pt": pt, "eta": eta, "phi": phi})
        | _put(q < 0, _MUON_SIGN, 1)
        | _put(q != 0, _MUON_VALID, 1)
        | _put(qual, _MUON_QUALITY, 4)
    )
    return out


def decode_muons(words: npt.ArrayLike) -> dict[str, np.ndarray]:
    """Physical muons of muon words: ``pt``, ``eta``, ``phi`` (float32), ``charge`` (int8), ``quality`` (uint8).

    >>> m = decode_muons(np.array([0x33483A414], dtype=np.uint64))
    >>> float(m["pt"][0]), round(float(m["phi"][0]), 4), int(m["charge"][0]), int(m["quality"][0])
    (10.0, -3.1416, -1, 12)
    """
    out = _decode_fields("muon", words)
    out.update(muon_charge_quality(_words(words)))
    return out


def muon_charge_quality(words: npt.NDArray[np.uint64]) -> dict[str, np.ndarray]:
    """``charge`` (int8: +1, -1, or 0 when the valid bit is clear) and ``quality`` (uint8) of muon words."""
    valid = _field(words, _MUON_VALID, 1)
    return {
        "charge": (valid * (1 - 2 * _field(words, _MUON_SIGN, 1))).astype(np.int8),
        "quality": _field(words, _MUON_QUALITY, 4).astype(np.uint8),
    }


def encode_egamma(
    pt: npt.ArrayLike, eta: npt.ArrayLike, phi: npt.ArrayLike
) -> npt.NDArray[np.uint64]:
    """E/gamma words: hwPt 0-8 (0.5 GeV), hwEta 9-16 (0.0435), hwPhi 17-24 (2 pi/144).

    >>> hex(int(encode_egamma([300.0], [1.0], [-0.1])[0]))
    '0x11c2fff'
    """
    return _encode_fields("egamma", {"pt": pt, "eta": eta, "phi": phi})


def decode_egamma(words: npt.ArrayLike) -> dict[str, np.ndarray]:
    """Physical e/gamma candidates: ``pt``, ``eta``, ``phi`` (float32, phi in [-pi, pi)).

    >>> e = decode_egamma(np.array([0x11C2FFF], dtype=np.uint64))
    >>> float(e["pt"][0]), round(float(e["eta"][0]), 4), round(float(e["phi"][0]), 4)
    (255.5, 1.0005, -0.0873)
    """
    return _decode_fields("egamma", words)


def encode_jets(
    pt: npt.ArrayLike, eta: npt.ArrayLike, phi: npt.ArrayLike
) -> npt.NDArray[np.uint64]:
    """Jet words: hwPt 0-10 (0.5 GeV), hwEta 11-18 (0.0435), hwPhi 19-26 (2 pi/144).

    >>> hex(int(encode_jets([40.2], [-1.0], [-np.pi / 2])[0]))
    '0x3674850'
    """
    return _encode_fields("jet", {"pt": pt, "eta": eta, "phi": phi})


def decode_jets(words: npt.ArrayLike) -> dict[str, np.ndarray]:
    """Physical jets: ``pt``, ``eta``, ``phi`` (float32, phi in [-pi, pi)).

    >>> j = decode_jets(np.array([0x3674850], dtype=np.uint64))
    >>> float(j["pt"][0]), round(float(j["eta"][0]), 4), round(float(j["phi"][0]), 4)
    (40.0, -1.0005, -1.5708)
    """
    return _decode_fields("jet", words)


def encode_sums(
    met: npt.ArrayLike, met_phi: npt.ArrayLike, ht: npt.ArrayLike
) -> npt.NDArray[np.uint64]:
    """Energy-sum words (one per BX): MET 0-11 (0.5 GeV), MET phi 12-19 (2 pi/144), HT 20-31 (0.5 GeV).

    >>> hex(int(encode_sums([25.0], [np.pi], [3000.0])[0]))
    '0xfff48032'
    """
    return _encode_fields("sums", {"met": met, "met_phi": met_phi, "ht": ht})


def decode_sums(words: npt.ArrayLike) -> dict[str, np.ndarray]:
    """Physical sums: ``met``, ``met_phi`` (rad, [-pi, pi)), ``ht`` (float32).

    >>> s = decode_sums(np.array([0xFFF48032], dtype=np.uint64))
    >>> float(s["met"][0]), round(float(s["met_phi"][0]), 4), float(s["ht"][0])
    (25.0, -3.1416, 2047.5)
    """
    return _decode_fields("sums", words)
