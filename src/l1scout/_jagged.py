"""Flat batches of events: one entry per object plus per-event offsets.

Every batch in l1scout (particles, tracks, candidates, jets) is a set of flat
arrays with ``offsets`` of length n_events + 1: event k owns the entries
``offsets[k]:offsets[k + 1]``. These are the helpers every module shares.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from l1scout._types import F64, I64
from l1scout.errors import ConfigError

__all__ = [
    "ETA_AT_ZERO_PT",
    "Jagged",
    "PtEtaPhiBatch",
    "check_offsets",
    "delta_r",
    "eta_phi_pt",
    "event_index",
    "first_per_event",
    "offsets_from_counts",
    "wrap_phi",
]

#: one jagged column: (offsets, flat values)
Jagged = tuple[npt.NDArray[np.int64], npt.NDArray[Any]]

#: Delphes' pseudorapidity for particles along the beam (pT = 0).
ETA_AT_ZERO_PT = 999.9

_S = TypeVar("_S", bound=np.generic)


def event_index(offsets: npt.ArrayLike) -> I64:
    """The event of every entry.

    >>> event_index(np.array([0, 2, 2, 5])).tolist()
    [0, 0, 2, 2, 2]
    """
    off: I64 = np.asarray(offsets, dtype=np.int64)
    counts: I64 = off[1:] - off[:-1]
    return np.repeat(np.arange(len(counts), dtype=np.int64), counts)


def offsets_from_counts(counts: npt.ArrayLike) -> I64:
    """Offsets of a batch from its per-event counts.

    >>> offsets_from_counts(np.array([2, 0, 3])).tolist()
    [0, 2, 2, 5]
    """
    c = np.asarray(counts)
    out = np.zeros(len(c) + 1, dtype=np.int64)
    np.cumsum(c, out=out[1:])
    return out


def eta_phi_pt(
    px: npt.NDArray[Any], py: npt.NDArray[Any], pz: npt.NDArray[Any]
) -> tuple[F64, F64, F64]:
    """Pseudorapidity, azimuth (rad, in [-pi, pi]) and pT (GeV) of momenta.

    >>> [round(float(v[0]), 4) for v in eta_phi_pt(np.array([1.0]), np.array([0.0]), np.array([1.0]))]
    [0.8814, 0.0, 1.0]
    """
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.where(
            pt > 0, np.arcsinh(pz / np.where(pt > 0, pt, 1.0)), np.sign(pz) * ETA_AT_ZERO_PT
        )
    return eta, np.arctan2(py, px), pt


def wrap_phi(dphi: npt.ArrayLike) -> npt.NDArray[np.floating]:
    """An azimuth difference wrapped to [-pi, pi) (rad); float32 stays float32.

    >>> wrap_phi(np.array([3 * np.pi / 2, -3 * np.pi / 2, 0.5])).round(4).tolist()
    [-1.5708, 1.5708, 0.5]
    """
    d = np.asarray(dphi)
    if not np.issubdtype(d.dtype, np.floating):
        d = d.astype(np.float64)
    return np.asarray((d + np.pi) % (2 * np.pi) - np.pi)


def delta_r(
    eta1: npt.ArrayLike, phi1: npt.ArrayLike, eta2: npt.ArrayLike, phi2: npt.ArrayLike
) -> F64:
    """``sqrt(deta^2 + dphi^2)`` in float64, the azimuth difference wrapped to [-pi, pi).

    Azimuths may be given in [0, 2 pi) on one side and [-pi, pi) on the other;
    the arguments broadcast against each other.

    >>> delta_r(0.0, 3.0, 0.0, -3.0).round(4).tolist()  # across phi = pi
    0.2832
    >>> delta_r([0.0, 1.0], [6.2, 0.5], 0.0, [-0.05, 0.5]).round(4).tolist()
    [0.0332, 1.0]
    """
    deta = np.asarray(eta1, dtype=np.float64) - np.asarray(eta2, dtype=np.float64)
    dphi = wrap_phi(np.asarray(phi1, dtype=np.float64) - np.asarray(phi2, dtype=np.float64))
    out: F64 = np.sqrt(deta * deta + dphi * dphi)
    return out


def first_per_event(
    offsets: npt.ArrayLike, values: npt.ArrayLike, *, fill: float, dtype: type[_S]
) -> npt.NDArray[_S]:
    """The first value of every event as *dtype*, *fill* for an empty event.

    The offsets are not checked (see :func:`check_offsets`); the values are
    cast to *dtype* like an assignment (``float64 -> float32`` rounds).

    >>> first_per_event([0, 2, 2, 3], [1.0, 2.0, 3.0], fill=np.nan, dtype=np.float64).tolist()
    [1.0, nan, 3.0]
    >>> first_per_event([0, 1, 1, 3], [5.0, 7.0, 8.0], fill=0.0, dtype=np.float32).tolist()
    [5.0, 0.0, 7.0]
    """
    off = np.asarray(offsets, dtype=np.int64)
    v = np.asarray(values)
    counts = off[1:] - off[:-1]
    out = np.full(len(counts), fill, dtype=dtype)
    has = counts > 0
    out[has] = v[off[:-1][has]]
    return out


def check_offsets(
    offsets: npt.ArrayLike, name: str = "offsets", n_entries: int | None = None
) -> I64:
    """*offsets* as contiguous int64 after checking they describe a batch.

    Raises:
        ConfigError: not a 1-D integer array, not starting at 0, decreasing, or
            (with *n_entries*) not ending at the number of entries; the message
            starts with *name*.

    >>> check_offsets([0, 2, 5], n_entries=5).tolist()
    [0, 2, 5]
    """
    arr = np.asarray(offsets)
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        msg = (
            f"{name}: expected a 1-D integer array of length n_events + 1, "
            f"got shape {arr.shape} and dtype {arr.dtype}"
        )
        raise ConfigError(msg)
    out = np.ascontiguousarray(arr, dtype=np.int64)
    if out[0] != 0 or np.any(np.diff(out) < 0):
        msg = f"{name}: expected non-decreasing offsets starting at 0"
        raise ConfigError(msg)
    if n_entries is not None and out[-1] != n_entries:
        msg = f"{name}: expected the last offset to be the number of entries ({n_entries}), got {int(out[-1])}"
        raise ConfigError(msg)
    return out


class PtEtaPhiBatch:
    """Derived quantities of a batch of objects given by ``offsets``, ``pt``, ``eta``, ``phi``.

    A base for the frozen dataclasses of batches (generated particles,
    particle-flow candidates); values are computed once, on first use.
    """

    offsets: I64
    pt: F64
    eta: F64
    phi: F64

    @property
    def n_events(self) -> int:
        """Events in the batch."""
        return len(self.offsets) - 1

    @cached_property
    def event(self) -> I64:
        """Event of every entry."""
        return event_index(self.offsets)

    @cached_property
    def px(self) -> F64:
        """X momentum (GeV)."""
        return self.pt * np.cos(self.phi)

    @cached_property
    def py(self) -> F64:
        """Y momentum (GeV)."""
        return self.pt * np.sin(self.phi)

    @cached_property
    def pz(self) -> F64:
        """Z momentum (GeV); zero for the +-999.9 pseudorapidity of pT = 0 particles."""
        return np.where(
            np.abs(self.eta) < 100.0, self.pt * np.sinh(np.clip(self.eta, -50, 50)), 0.0
        )
