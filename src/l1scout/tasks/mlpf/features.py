"""MLPF inputs: tracks and towers of an event as one set of typed, padded elements.

An event's **elements** are its tracks (``<View>_Track``) then its towers
(``<View>_Tower``), in the collections' order (the order the targets of
:mod:`l1scout.tasks.mlpf.targets` are aligned with). Each element has a type
(:data:`TRACK` = 1, :data:`TOWER` = 2; 0 is padding) and a feature vector of its
type, zero-filled to :data:`N_FEATURES`. As in the MLPF model of Pata et al.
(Commun. Phys. 7 (2024) 124; arXiv:2101.08578 for the first version), the
element types share one width but not one meaning per column, except that the
first four columns mean the same for both (the model's regression adds to them):

=====  ==========================  ===================================
 col    track (type 1)              tower (type 2)
=====  ==========================  ===================================
  0     ln(PT / GeV)                ln(E / GeV)
  1     Eta (at the vertex)         Eta
  2     sin Phi                     sin Phi
  3     cos Phi                     cos Phi
  4     Charge (e)                  ln(ET / GeV)
  5     ln(P / GeV)                 Eem / E
  6     asinh(D0 / 1 mm)            Ehad / E
  7     DZ / 100 mm                 Ehf / E
  8     ErrorPT / PT                X / 1000 mm
  9     ln(1 + ErrorD0 / 0.01 mm)   Y / 1000 mm
 10     ln(1 + ErrorDZ / 0.01 mm)   Z / 1000 mm
 11     EtaOuter                    0
 12     sin PhiOuter                0
 13     cos PhiOuter                0
=====  ==========================  ===================================

Logarithms keep momenta and energies O(1); the impact parameters are scaled to
O(1) (``DZ`` spreads over the luminous region, +-100 mm and more at pileup);
``asinh`` keeps the sign of ``D0`` and compresses displaced tracks. The tower
column ``NParticles`` (the number of generator particles behind a tower) is
read but **not** an input: it counts truth particles, which a detector does not
measure, and would tell the model how many particles to emit.

Each element also has a **sort position** (eta, phi): a track's at the
calorimeter surface (``EtaOuter``, ``PhiOuter``), where it meets the towers,
and a tower's own. :func:`pad_events` sorts every event's elements by it (eta,
then phi; stable) because the model attends within windows of consecutive
elements (:mod:`l1scout.tasks.mlpf.model`), and pads the events to one length,
a multiple of the window size. The model's input row is ``[type, sort eta,
sort phi (rad), 14 features]`` (:data:`INPUT_WIDTH` = 17 columns).

Example:
    >>> import numpy as np
    >>> tracks = {c: np.array([1.0]) for c in TRACK_COLUMNS}
    >>> towers = {c: np.array([2.0, 4.0]) for c in TOWER_COLUMNS}
    >>> towers["Eta"] = np.array([0.5, -0.5])
    >>> el = element_features(tracks, [0, 1], towers, [0, 2])
    >>> el.kind.tolist(), el.offsets.tolist(), el.pt.tolist()
    ([1, 2, 2], [0, 3], [1.0, 2.0, 4.0])
    >>> batch = pad_events(el, multiple=4)
    >>> batch.x.shape, batch.index.tolist()  # by eta: tower (-0.5), tower (0.5), track (1.0)
    ((1, 4, 17), [[2, 1, 0, -1]])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from l1scout._arrays import flat_array
from l1scout._jagged import check_offsets, event_index, offsets_from_counts
from l1scout._types import F32, F64, I64, B
from l1scout.errors import ConfigError, DataFormatError

__all__ = [
    "INPUT_WIDTH",
    "N_FEATURES",
    "PADDING",
    "TOWER",
    "TOWER_COLUMNS",
    "TOWER_FEATURES",
    "TRACK",
    "TRACK_COLUMNS",
    "TRACK_FEATURES",
    "ElementBatch",
    "Elements",
    "element_features",
    "pad_events",
]

#: Element type of padding slots.
PADDING = 0
#: Element type of a track.
TRACK = 1
#: Element type of a calorimeter tower.
TOWER = 2

#: Columns read from ``<View>_Track`` (prefix stripped).
TRACK_COLUMNS: tuple[str, ...] = (
    "PT",
    "Eta",
    "Phi",
    "Charge",
    "P",
    "D0",
    "DZ",
    "ErrorPT",
    "ErrorD0",
    "ErrorDZ",
    "EtaOuter",
    "PhiOuter",
)
#: Columns read from ``<View>_Tower`` (prefix stripped); ``NParticles`` is checked, not used.
TOWER_COLUMNS: tuple[str, ...] = (
    "E",
    "ET",
    "Eem",
    "Ehad",
    "Ehf",
    "Eta",
    "Phi",
    "X",
    "Y",
    "Z",
    "NParticles",
)
#: Track features, in column order (module docstring).
TRACK_FEATURES: tuple[str, ...] = (
    "log_pt",
    "eta",
    "sin_phi",
    "cos_phi",
    "charge",
    "log_p",
    "asinh_d0",
    "dz_100mm",
    "rel_error_pt",
    "log_error_d0",
    "log_error_dz",
    "eta_outer",
    "sin_phi_outer",
    "cos_phi_outer",
)
#: Tower features, in column order (module docstring).
TOWER_FEATURES: tuple[str, ...] = (
    "log_e",
    "eta",
    "sin_phi",
    "cos_phi",
    "log_et",
    "em_fraction",
    "had_fraction",
    "hf_fraction",
    "x_m",
    "y_m",
    "z_m",
)
#: Feature columns per element (the wider type's count; the other is zero-filled).
N_FEATURES = max(len(TRACK_FEATURES), len(TOWER_FEATURES))
#: Columns of the model's input row: type, sort eta, sort phi, then the features.
INPUT_WIDTH = 3 + N_FEATURES

_ERROR_SCALE_MM = 0.01
_DZ_SCALE_MM = 100.0
_POSITION_SCALE_MM = 1000.0


@dataclass(frozen=True)
class Elements:
    """The elements of a batch of events, flat with per-event offsets.

    Attributes:
        offsets: int64, length n_events + 1; event k owns ``offsets[k]:offsets[k + 1]``
            (its tracks, then its towers).
        kind: int8 element type (:data:`TRACK`, :data:`TOWER`).
        features: float32 ``(n, N_FEATURES)`` (module docstring table).
        sort_eta: float32 pseudorapidity the elements are sorted by.
        sort_phi: float32 azimuth (rad) the elements are sorted by.
        pt: float64 element pT (GeV): a track's ``PT``, a tower's ``ET``.
        energy: float64 element energy (GeV): a track's ``P``, a tower's ``E``.
    """

    offsets: I64
    kind: npt.NDArray[np.int8]
    features: F32
    sort_eta: F32
    sort_phi: F32
    pt: F64
    energy: F64

    @property
    def n_events(self) -> int:
        """Number of events."""
        return len(self.offsets) - 1


@dataclass(frozen=True)
class ElementBatch:
    """Events padded to one length, elements sorted by (eta, phi) within each event.

    Attributes:
        x: float32 ``(n_events, n_slots, INPUT_WIDTH)``, the model's input; all
            zero in padding slots (type 0).
        mask: bool ``(n_events, n_slots)``, True for real elements.
        index: int64 ``(n_events, n_slots)``, the flat element (row of
            :class:`Elements`) in each slot, -1 in padding slots.
    """

    x: F32
    mask: B
    index: I64

    def gather(self, values: npt.ArrayLike, fill: float = 0.0) -> npt.NDArray[np.generic]:
        """A flat per-element array (e.g. a target) laid out like :attr:`x`.

        Args:
            values: one value (or row) per flat element.
            fill: the value of padding slots.

        >>> b = ElementBatch(np.zeros((1, 3, INPUT_WIDTH), np.float32),
        ...                  np.array([[True, True, False]]), np.array([[1, 0, -1]]))
        >>> b.gather([10.0, 20.0], fill=-1.0).tolist()
        [[20.0, 10.0, -1.0]]
        """
        arr = np.asarray(values)
        n_flat = int(self.index.max(initial=-1)) + 1
        if arr.ndim == 0 or arr.shape[0] < n_flat:
            msg = (
                f"values: expected at least {n_flat} rows (one per element), got shape {arr.shape}"
            )
            raise DataFormatError(msg)
        out = np.full(self.index.shape + arr.shape[1:], fill, dtype=arr.dtype)
        out[self.mask] = arr[self.index[self.mask]]
        return out


def _columns(
    table: Mapping[str, npt.ArrayLike],
    names: tuple[str, ...],
    collection: str,
    n: int,
) -> dict[str, F64]:
    missing = [c for c in names if c not in table]
    if missing:
        msg = f"{collection}: missing column(s) {', '.join(missing)}; expected {', '.join(names)}"
        raise DataFormatError(msg)
    return {c: flat_array(table[c], f"{collection}.{c}", n) for c in names}


def _positive(values: F64, name: str) -> F64:
    bad = values <= 0
    if np.any(bad):
        first = int(np.flatnonzero(bad)[0])
        msg = f"{name}: expected positive values, got {values[first]} at index {first}"
        raise DataFormatError(msg)
    return values


def _track_features(t: Mapping[str, F64], n: int) -> F64:
    pt = _positive(t["PT"], "tracks.PT")
    p = _positive(t["P"], "tracks.P")
    for c in ("ErrorPT", "ErrorD0", "ErrorDZ"):
        if np.any(t[c] < 0):
            raise DataFormatError(f"tracks.{c}: expected non-negative resolutions")
    out = np.zeros((n, N_FEATURES))
    cols = (
        np.log(pt),
        t["Eta"],
        np.sin(t["Phi"]),
        np.cos(t["Phi"]),
        t["Charge"],
        np.log(p),
        np.arcsinh(t["D0"]),
        t["DZ"] / _DZ_SCALE_MM,
        t["ErrorPT"] / pt,
        np.log1p(t["ErrorD0"] / _ERROR_SCALE_MM),
        np.log1p(t["ErrorDZ"] / _ERROR_SCALE_MM),
        t["EtaOuter"],
        np.sin(t["PhiOuter"]),
        np.cos(t["PhiOuter"]),
    )
    for j, col in enumerate(cols):
        out[:, j] = col
    return out


def _tower_features(t: Mapping[str, F64], n: int) -> F64:
    e = _positive(t["E"], "towers.E")
    et = _positive(t["ET"], "towers.ET")
    out = np.zeros((n, N_FEATURES))
    cols = (
        np.log(e),
        t["Eta"],
        np.sin(t["Phi"]),
        np.cos(t["Phi"]),
        np.log(et),
        t["Eem"] / e,
        t["Ehad"] / e,
        t["Ehf"] / e,
        t["X"] / _POSITION_SCALE_MM,
        t["Y"] / _POSITION_SCALE_MM,
        t["Z"] / _POSITION_SCALE_MM,
    )
    for j, col in enumerate(cols):
        out[:, j] = col
    return out


def element_features(
    tracks: Mapping[str, npt.ArrayLike],
    track_offsets: npt.ArrayLike,
    towers: Mapping[str, npt.ArrayLike],
    tower_offsets: npt.ArrayLike,
) -> Elements:
    """The elements (tracks then towers, per event) of a batch of events.

    Args:
        tracks: flat track columns by name, at least :data:`TRACK_COLUMNS`
            (``PT``, ``P`` > 0 GeV; ``D0``, ``DZ`` and their errors in mm; angles in rad).
        track_offsets: per-event offsets of the tracks (length n_events + 1).
        towers: flat tower columns by name, at least :data:`TOWER_COLUMNS`
            (``E``, ``ET`` > 0 GeV; positions in mm).
        tower_offsets: per-event offsets of the towers (same number of events).

    Raises:
        DataFormatError: a missing column, a wrong length, a NaN or infinite
            value, a non-positive momentum or energy, or offsets that disagree;
            one line naming the collection and column (e.g. ``towers.E: ...``).
    """
    try:
        trk_off = check_offsets(track_offsets, "track_offsets")
        twr_off = check_offsets(tower_offsets, "tower_offsets")
    except ConfigError as exc:
        raise DataFormatError(str(exc)) from exc
    if len(trk_off) != len(twr_off):
        msg = (
            f"tower_offsets: expected {len(trk_off) - 1} events (as track_offsets), "
            f"got {len(twr_off) - 1}"
        )
        raise DataFormatError(msg)
    n_trk, n_twr = int(trk_off[-1]), int(twr_off[-1])
    trk = _columns(tracks, TRACK_COLUMNS, "tracks", n_trk)
    twr = _columns(towers, TOWER_COLUMNS, "towers", n_twr)
    feats = np.concatenate([_track_features(trk, n_trk), _tower_features(twr, n_twr)])
    kind = np.concatenate(
        [np.full(n_trk, TRACK, dtype=np.int8), np.full(n_twr, TOWER, dtype=np.int8)]
    )
    sort_eta = np.concatenate([trk["EtaOuter"], twr["Eta"]])
    sort_phi = np.concatenate([trk["PhiOuter"], twr["Phi"]])
    pt = np.concatenate([trk["PT"], twr["ET"]])
    energy = np.concatenate([trk["P"], twr["E"]])
    # per event: its tracks, then its towers (lexsort is stable; the last key is the primary)
    offsets = offsets_from_counts(np.diff(trk_off) + np.diff(twr_off))
    order = np.lexsort((kind, np.concatenate([event_index(trk_off), event_index(twr_off)])))
    with np.errstate(over="ignore"):  # float32 overflow is refused below
        out = Elements(
            offsets=offsets,
            kind=kind[order],
            features=feats[order].astype(np.float32),
            sort_eta=sort_eta[order].astype(np.float32),
            sort_phi=sort_phi[order].astype(np.float32),
            pt=pt[order],
            energy=energy[order],
        )
    for name, arr in (("features", out.features), ("sort_eta", out.sort_eta)):
        if not np.all(np.isfinite(arr)):
            first = int(np.flatnonzero(~np.all(np.isfinite(arr.reshape(len(arr), -1)), axis=1))[0])
            msg = f"{name}: value beyond float32 range at element {first}; expected finite float32"
            raise DataFormatError(msg)
    return out


def pad_events(
    elements: Elements,
    events: npt.ArrayLike | None = None,
    *,
    multiple: int = 1,
    min_slots: int = 0,
) -> ElementBatch:
    """Events' elements sorted by (sort eta, sort phi) and padded to one length.

    Args:
        elements: the batch of :func:`element_features`.
        events: the events to take, in order (None: all).
        multiple: the length is rounded up to a multiple of this (the model's
            window size; padding elements never change a real element's output).
        min_slots: at least this many slots.

    Returns:
        The padded batch; ``index`` maps slots back to flat elements.
    """
    if isinstance(multiple, bool) or not isinstance(multiple, int) or multiple < 1:
        raise ConfigError(f"multiple: expected a positive integer, got {multiple!r}")
    if isinstance(min_slots, bool) or not isinstance(min_slots, int) or min_slots < 0:
        raise ConfigError(f"min_slots: expected a non-negative integer, got {min_slots!r}")
    off = elements.offsets
    ev = (
        np.arange(elements.n_events, dtype=np.int64)
        if events is None
        else flat_array(events, "events", dtype=np.int64)
    )
    if ev.size and (ev.min() < 0 or ev.max() >= elements.n_events):
        msg = f"events: expected indices in [0, {elements.n_events}), got {ev.min()}..{ev.max()}"
        raise DataFormatError(msg)
    counts = off[ev + 1] - off[ev]
    n_max = max(int(counts.max(initial=0)), min_slots, 1)
    n_slots = -(-n_max // multiple) * multiple
    index = np.full((len(ev), n_slots), -1, dtype=np.int64)
    for row, k in enumerate(ev):
        lo, hi = int(off[k]), int(off[k + 1])
        # lexsort: the last key is the primary one; stable for equal keys
        order = np.lexsort((elements.sort_phi[lo:hi], elements.sort_eta[lo:hi]))
        index[row, : hi - lo] = lo + order
    mask = index >= 0
    x = np.zeros((len(ev), n_slots, INPUT_WIDTH), dtype=np.float32)
    idx = index[mask]
    x[mask, 0] = elements.kind[idx]
    x[mask, 1] = elements.sort_eta[idx]
    x[mask, 2] = elements.sort_phi[idx]
    x[mask, 3:] = elements.features[idx]
    return ElementBatch(x=x, mask=mask, index=index)
