"""Lossy baseline: each PUPPI field quantized to a few bits, bit-packed or byte-planed, zstd.

:class:`QuantizedCodec` stores ``parts(particle=columns(count, pt, phi_rise
| pt_delta, phi, eta, code, then for charged candidates pv, z0, for neutral
ones w, settings), object=encode_objects(...))`` (``parts`` is
:func:`~l1scout.tasks.compress.entropy.join_parts`, ``columns``
:func:`~l1scout.tasks.compress.entropy.pack_columns`, the objects
:func:`~l1scout.tasks.compress.objects.encode_objects`, lossless on their
hardware bins): uniform mid-rise codes
(:func:`~l1scout.tasks.compress.entropy.quantize`) of ln pT on ``[ln pt_min,
ln pt_max]`` (GeV), eta on ``[-eta_max, eta_max]``, phi on ``[-pi, pi]``,
z0 on ``[-z0_max, z0_max]`` (mm, charged candidates), the PUPPI weight of
neutral candidates on a grid whose first and last bins are centred on 0 and
1 (most neutral weights are exactly 0); the 3-bit particle code (PID and
charge, :func:`~l1scout.tasks.scouting.words.puppi_code`) and, for charged
candidates, the primary-vertex flag (weight >= 0.5, the hardware's quality
bit) are kept exactly; ``settings`` holds the five bit widths, so a payload
of another setting is refused. D0 is not stored (decoded 0). The candidates
are stored in phi order (``order="phi"``, the default): each event's
candidates by increasing phi code, ``pt`` codes plain and ``phi_rise`` (the
first phi code then the rises) instead of ``phi``; the decoder sorts them
back by decreasing pT. With ``order="pt"`` the candidates keep their order
and the pT codes are each event's first then the drops (``pt_delta``, with
``delta``).

Example:
    >>> from l1scout.tasks.scouting.encode import _example_events
    >>> events = _example_events()
    >>> codec = QuantizedCodec(pt_bits=12, eta_bits=8)
    >>> back = codec.decode(codec.encode(events), events)
    >>> [round(float(x), 2) for x in back.puppi["pt"]], back.puppi["pid"].tolist()
    ([19.99, 3.0], [211, 22])
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from l1scout._jagged import offsets_from_counts
from l1scout._types import F32, I64
from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.compress._columns import (
    CHARGE_OF_CODE,
    check_level,
    column,
    counts_of,
    event_sort,
    pt_drops,
    rises,
    split_particle_object,
    undo_drops,
    undo_rises,
)
from l1scout.tasks.compress.entropy import (
    ZSTD_LEVEL,
    dequantize,
    join_parts,
    pack_columns,
    quantize,
    unpack_columns,
)
from l1scout.tasks.compress.objects import decode_objects, encode_objects
from l1scout.tasks.scouting.events import StreamEvents
from l1scout.tasks.scouting.words import PDG_CODES, puppi_code

__all__ = ["QUANTIZED_FIELDS", "QuantizedCodec", "quantized_scan"]

#: The fields :class:`QuantizedCodec` quantizes, in the order of its ``settings`` column.
QUANTIZED_FIELDS = ("pt", "eta", "phi", "z0", "puppi_w")


def _weight_range(bits: int) -> tuple[float, float]:
    """The range whose first and last of 2**bits mid-rise bins are centred on 0 and 1 (step 1 / (2**bits - 1))."""
    half = 0.5 / ((1 << bits) - 1)
    return -half, 1.0 + half


class QuantizedCodec:
    """Lossy: each PUPPI field quantized to a few bits (module docstring); objects as :func:`encode_objects`.

    Inside its range each field is off by at most half a step: ln pT by
    ``ln(pt_max / pt_min) / 2**(pt_bits + 1)``, eta by ``eta_max / 2**eta_bits``,
    phi by ``pi / 2**phi_bits``, z0 by ``z0_max / 2**z0_bits`` mm, the neutral
    PUPPI weight by ``1 / (2 (2**w_bits - 1))``; values outside clip to the
    first or last bin. Particle code and the charged PV flag are exact; D0 is 0.

    Args:
        pt_bits: bits of ln pT (1 ... 24).
        eta_bits: bits of eta (1 ... 24).
        phi_bits: bits of phi (1 ... 24).
        z0_bits: bits of the charged z0 (1 ... 24).
        w_bits: bits of the neutral PUPPI weight (1 ... 24).
        pt_min: the low end of the log-pT range (GeV; default the hardware's 0.25).
        pt_max: the high end (GeV; default the hardware's 4096).
        eta_max: the eta range (default 5, the L1T PUPPI acceptance).
        z0_max: the z0 range (mm; default 256, the hardware's).
        delta: store the pT codes as each event's first then the drops (order ``"pt"``).
        order: ``"phi"`` (default) stores each event's candidates by increasing
            phi code, the phi codes as the first then the rises, and decodes
            them sorted by decreasing pT (ties by phi): the set of candidates is
            what counts, its order carries ~log2(n!) bits a set need not store;
            ``"pt"`` keeps the candidates' order.
        level: zstd level.

    Raises:
        ConfigError: a width or range out of bounds.
    """

    family = "quantized"
    lossless = False

    def __init__(
        self,
        pt_bits: int = 10,
        eta_bits: int = 10,
        phi_bits: int = 10,
        z0_bits: int = 8,
        w_bits: int = 6,
        *,
        pt_min: float = 0.25,
        pt_max: float = 4096.0,
        eta_max: float = 5.0,
        z0_max: float = 256.0,
        delta: bool = True,
        order: str = "phi",
        level: int = ZSTD_LEVEL,
    ) -> None:
        check_level(level)
        if order not in ("pt", "phi"):
            msg = f"candidate order {order!r}: expected one of pt, phi"
            raise ConfigError(msg)
        self.order = order
        self.bits = dict(
            zip(QUANTIZED_FIELDS, (pt_bits, eta_bits, phi_bits, z0_bits, w_bits), strict=True)
        )
        for name, b in self.bits.items():
            if isinstance(b, bool) or not isinstance(b, int) or not 1 <= b <= 24:
                msg = f"quantized {name} bits: expected an integer in 1 ... 24, got {b!r}"
                raise ConfigError(msg)
        if not (0 < pt_min < pt_max and math.isfinite(pt_max)) or not (eta_max > 0 and z0_max > 0):
            msg = f"quantized ranges: expected 0 < pt_min < pt_max, eta_max > 0, z0_max > 0, got {pt_min}, {pt_max}, {eta_max}, {z0_max}"
            raise ConfigError(msg)
        self.ranges = {
            "pt": (math.log(pt_min), math.log(pt_max)),
            "eta": (-eta_max, eta_max),
            "phi": (-math.pi, math.pi),
            "z0": (-z0_max, z0_max),
            "puppi_w": _weight_range(w_bits),
        }
        self.delta, self.level = bool(delta), level
        self.label = "quantized-pt{}-eta{}-phi{}-z{}-w{}".format(*self.bits.values()) + (
            "-ptorder" if order == "pt" else ""
        )
        self.params: dict[str, int | float | str] = {
            **{f"{k}_bits": v for k, v in self.bits.items()},
            "pt_min": pt_min,
            "pt_max": pt_max,
            "eta_max": eta_max,
            "z0_max": z0_max,
            "delta": int(self.delta),
            "order": order,
            "zstd_level": level,
        }

    def step(self, field: str) -> float:
        """The quantization step of *field* (ln pT for ``pt``; mm for ``z0``)."""
        lo, hi = self.ranges[field]
        return (hi - lo) / (1 << self.bits[field])

    def _q(self, field: str, x: npt.ArrayLike) -> I64:
        return quantize(x, self.bits[field], *self.ranges[field])

    def _dq(self, field: str, codes: I64) -> F32:
        return dequantize(codes, self.bits[field], *self.ranges[field]).astype(np.float32)

    def encode(self, events: StreamEvents) -> bytes:
        """``parts(particle=columns(...), object=encode_objects(...))`` (module docstring).

        Raises:
            DataFormatError: NaN or infinite values.
        """
        p = events.puppi
        off = np.asarray(events.puppi_offsets, dtype=np.int64)
        lo, hi = np.exp(self.ranges["pt"])
        w = np.asarray(p["puppi_w"], dtype=np.float64)
        codes = {
            "pt": self._q("pt", np.log(np.clip(np.asarray(p["pt"], np.float64), lo, hi))),
            "eta": self._q("eta", p["eta"]),
            "phi": self._q("phi", p["phi"]),
            "code": puppi_code(p["pid"], p["charge"]).astype(np.int64),
            "pv": (w >= 0.5).astype(np.int64),
            "z0": self._q("z0", p["dz"]),
            "w": self._q("puppi_w", w),
        }
        if self.order == "phi":
            perm = event_sort(off, codes["phi"], -codes["pt"])
            codes = {k: v[perm] for k, v in codes.items()}
            pt_phi = {"pt": codes["pt"], "phi_rise": rises(codes["phi"], off)}
        elif self.delta:
            pt_phi = {"pt_delta": pt_drops(codes["pt"], off), "phi": codes["phi"]}
        else:
            pt_phi = {"pt": codes["pt"], "phi": codes["phi"]}
        charged = codes["code"] >= 2
        cols: dict[str, npt.ArrayLike] = {
            "count": counts_of(off),
            **pt_phi,
            "eta": codes["eta"],
            "code": codes["code"],
            "pv": codes["pv"][charged],
            "z0": codes["z0"][charged],
            "w": codes["w"][~charged],
            "settings": list(self.bits.values()),
        }
        particle = pack_columns(cols, self.level)
        objects = encode_objects(events, delta=self.delta, level=self.level)
        return join_parts({"particle": particle, "object": objects})

    def decode(self, payload: bytes, like: StreamEvents) -> StreamEvents:
        """The dequantized events of a payload (objects on their hardware bins; metadata from *like*).

        Raises:
            DataFormatError: not such a payload, made with other bit widths, truncated,
                or not the events of *like*.
        """
        what = "quantized"
        particle, objects = split_particle_object(payload, what)
        cols = unpack_columns(particle)
        settings = column(cols, "settings", len(self.bits), what).tolist()
        if settings != list(self.bits.values()):
            msg = f"{what} payload: bit widths {settings}, expected {list(self.bits.values())} ({self.label})"
            raise DataFormatError(msg)
        off = offsets_from_counts(column(cols, "count", like.n_events, what))
        k = int(off[-1])
        if "pt_delta" in cols:
            pt = undo_drops(column(cols, "pt_delta", k, what), off)
        else:
            pt = column(cols, "pt", k, what)
        if "phi_rise" in cols:
            phi = undo_rises(column(cols, "phi_rise", k, what), off)
        else:
            phi = column(cols, "phi", k, what)
        code = column(cols, "code", k, what)
        if k and (code.min() < 0 or code.max() > 7):
            msg = f"{what} payload: particle codes outside 0 ... 7"
            raise DataFormatError(msg)
        charged = code >= 2
        n_ch = int(charged.sum())
        dz = np.zeros(k, dtype=np.float32)
        dz[charged] = self._dq("z0", column(cols, "z0", n_ch, what))
        weight = np.zeros(k, dtype=np.float32)
        weight[charged] = column(cols, "pv", n_ch, what).astype(np.float32)
        weight[~charged] = self._dq("puppi_w", column(cols, "w", k - n_ch, what))
        puppi: dict[str, np.ndarray] = {
            "pt": np.exp(self._dq("pt", pt)).astype(np.float32),
            "eta": self._dq("eta", column(cols, "eta", k, what)),
            "phi": self._dq("phi", phi),
            "pid": np.asarray(PDG_CODES, dtype=np.int32)[code],
            "charge": CHARGE_OF_CODE[code],
            "dz": dz,
            "d0": np.zeros(k, dtype=np.float32),
            "puppi_w": weight,
        }
        if "phi_rise" in cols:
            perm = event_sort(off, -pt, phi)
            puppi = {key: v[perm] for key, v in puppi.items()}
        return dataclasses.replace(decode_objects(objects, like), puppi_offsets=off, puppi=puppi)


def quantized_scan(
    widths: Sequence[int | Mapping[str, int]], **common: float | bool | int
) -> list[QuantizedCodec]:
    """One :class:`QuantizedCodec` per entry of *widths* (the scan of bit widths).

    An int gives every field that many bits, a mapping gives some fields theirs
    (``pt``, ``eta``, ``phi``, ``z0``, ``puppi_w``; the others keep their
    defaults); *common* are the other arguments (ranges, delta, level).

    Raises:
        ConfigError: an unknown field, or a width or argument out of bounds.

    >>> [c.label for c in quantized_scan([6, {"pt": 8, "z0": 4}])]
    ['quantized-pt6-eta6-phi6-z6-w6', 'quantized-pt8-eta10-phi10-z4-w6']
    """
    out = []
    for entry in widths:
        given = dict.fromkeys(QUANTIZED_FIELDS, entry) if isinstance(entry, int) else dict(entry)
        unknown = sorted(set(given) - set(QUANTIZED_FIELDS))
        if unknown:
            msg = f"quantized scan fields {unknown}: expected some of {list(QUANTIZED_FIELDS)}"
            raise ConfigError(msg)
        kwargs = {("w_bits" if k == "puppi_w" else f"{k}_bits"): v for k, v in given.items()}
        out.append(QuantizedCodec(**kwargs, **common))  # type: ignore[arg-type]
    return out
