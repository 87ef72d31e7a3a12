"""One sample's events as the scouting stream carries them: physical values, cut to what a crossing holds.

:func:`read_stream_events` reads one sample's files (made by
:func:`~l1scout.tasks.scouting.samples.ensure_scouting_samples`, or any files
with the same ``L1T`` collections) into :class:`StreamEvents`: per stream
the objects the stream carries, in physical units and sorted by decreasing
pT, each collection cut to what one crossing of the stream holds:

* PUPPI: the ``candidates`` highest-pT candidates of ``L1T_PUPPIPart128``
  (or ``L1T_PUPPIPart``), unweighted pT, with PID, charge, DZ, D0 and the
  PUPPI weight (:func:`~l1scout.tasks.scouting.words.puppi_to_hardware` reads them);
* muons: ``L1T_MuonTight`` (at most 8), quality :data:`MUON_QUALITY`;
* e/gamma: ``L1T_Electron`` and ``L1T_PhotonTight`` merged with the overlap
  removal of the anomaly trigger's inputs
  (:func:`~l1scout.io.trigger_inputs.egamma_objects`; at most 12);
* jets: ``L1T_JetPuppiAK4`` (at most 12);
* sums: MET and its azimuth of ``L1T_PUPPIMET``; HT, the scalar sum of the
  jets with pT > 30 GeV and abs(eta) < 2.4 (every jet, before the cut to 12),
  the Phase-2 Level-1 menu's definition (CMS-TDR-021).

The sample's cross section is the generator's (each file's final running
estimate ``Event_CrossSection``, averaged weighted by events) times the
catalog's ``parameters.branching_fraction`` where it has one (:func:`branching_fraction`):
``WTo3Pi`` is generated with every W forced to three pions, its rate needs the
measured limit on the branching fraction.

Example:
    >>> branching_fraction("WTo3Pi"), branching_fraction("minbias")
    (1.01e-06, 1.0)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from l1scout._jagged import event_index, first_per_event, offsets_from_counts
from l1scout._types import F32, F64, I64, B
from l1scout.errors import ConfigError, DataFormatError
from l1scout.io.ragged import EventsLike, field_like, jagged, top_k
from l1scout.io.trigger_inputs import egamma_objects
from l1scout.processes.catalog import load_catalog
from l1scout.tasks.scouting.words import MAX_OBJECTS

__all__ = [
    "HT_ETA_MAX",
    "HT_JET_PT_MIN",
    "MUON_QUALITY",
    "StreamEvents",
    "branching_fraction",
    "read_stream_events",
]

_VIEW = "L1T"
#: HT sums the jets above this pT (GeV) ...
HT_JET_PT_MIN = 30.0
#: ... and inside this abs(eta) (the Phase-2 Level-1 menu's HT, CMS-TDR-021).
HT_ETA_MAX = 2.4
#: The quality word of every muon: the views' tight muons carry no quality, and
#: 12 is the lowest of the Run-3 global muon trigger's single-muon qualities (12-15).
MUON_QUALITY = 12


def branching_fraction(process: str) -> float:
    """The catalog's ``parameters.branching_fraction`` of *process* (1.0 when it has none).

    Raises:
        UnknownProcessError: not a catalog process.
        DataFormatError: a branching fraction outside (0, 1].
    """
    value = load_catalog().get(process).parameters.get("branching_fraction", 1.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        msg = f"catalog {process}: parameters.branching_fraction must be in (0, 1], got {value!r}"
        raise DataFormatError(msg)
    return float(value)


# --------------------------------------------------------------------------- reading

#: The jagged streams of :class:`StreamEvents`: stream -> the attribute of its columns.
_COLUMNS = {"puppi": "puppi", "muon": "muons", "egamma": "egamma", "jet": "jets"}


@dataclass(frozen=True)
class _Jagged:
    """Offsets and flat columns of one collection."""

    offsets: I64
    columns: dict[str, np.ndarray]

    def take(self, keep: B) -> _Jagged:
        counts = np.diff(self.offsets)
        sel = np.repeat(keep, counts)
        return _Jagged(
            offsets_from_counts(counts[keep]), {k: v[sel] for k, v in self.columns.items()}
        )

    @staticmethod
    def join(parts: Sequence[_Jagged]) -> _Jagged:
        counts = np.concatenate([np.diff(p.offsets) for p in parts])
        names = parts[0].columns
        return _Jagged(
            offsets_from_counts(counts),
            {k: np.concatenate([p.columns[k] for p in parts]) for k in names},
        )


@dataclass(frozen=True)
class _Part:
    """The stream's view of some events (a chunk of a file, or a whole sample)."""

    event_number: I64
    file_index: npt.NDArray[np.int32]
    streams: dict[str, _Jagged]
    sums: dict[str, F32]

    def take(self, keep: B) -> _Part:
        return _Part(
            self.event_number[keep],
            self.file_index[keep],
            {k: v.take(keep) for k, v in self.streams.items()},
            {k: v[keep] for k, v in self.sums.items()},
        )

    @staticmethod
    def join(parts: Sequence[_Part]) -> _Part:
        return _Part(
            np.concatenate([p.event_number for p in parts]).astype(np.int64),
            np.concatenate([p.file_index for p in parts]).astype(np.int32),
            {k: _Jagged.join([p.streams[k] for p in parts]) for k in _COLUMNS},
            {k: np.concatenate([p.sums[k] for p in parts]) for k in parts[0].sums},
        )


@dataclass(frozen=True, eq=False)
class StreamEvents:
    """One sample's events as the stream carries them (physical units, each collection by decreasing pT).

    Attributes:
        process: the catalog process.
        event_number: ``Event_Number`` of each event (int64, n).
        file_index: the file (index into *files*) of each event (int32, n).
        files: the files read, in order.
        puppi_offsets, puppi: int64 offsets (n + 1) and flat PUPPI columns
            ``pt`` (GeV, unweighted), ``eta``, ``phi`` (rad), ``pid`` (int32),
            ``charge`` (int8), ``dz``, ``d0`` (mm), ``puppi_w``: the
            ``candidates`` highest-pT candidates.
        muon_offsets, muons: ``pt``, ``eta``, ``phi``, ``charge`` (int8),
            ``quality`` (uint8, :data:`MUON_QUALITY`): at most 8.
        egamma_offsets, egamma: ``pt``, ``eta``, ``phi`` of electrons and tight
            photons merged (:func:`~l1scout.io.trigger_inputs.egamma_objects`): at most 12.
        jet_offsets, jets: ``pt``, ``eta``, ``phi`` of the PUPPI AK4 jets: at most 12.
        sums: per event ``met``, ``met_phi`` (``L1T_PUPPIMET``) and ``ht``
            (jets above :data:`HT_JET_PT_MIN` inside :data:`HT_ETA_MAX`, all of
            them, not only the 12 kept), float32.
        cross_section_pb: the generator's cross section (events-weighted mean of
            each file's final running estimate, ``Event_CrossSection``) times
            :attr:`branching_fraction`, pb.
        branching_fraction: the catalog's, 1.0 where it has none.
    """

    process: str
    event_number: I64
    file_index: npt.NDArray[np.int32]
    files: tuple[Path, ...]
    puppi_offsets: I64
    puppi: dict[str, np.ndarray]
    muon_offsets: I64
    muons: dict[str, np.ndarray]
    egamma_offsets: I64
    egamma: dict[str, np.ndarray]
    jet_offsets: I64
    jets: dict[str, np.ndarray]
    sums: dict[str, F32]
    cross_section_pb: float
    branching_fraction: float = 1.0

    @property
    def n_events(self) -> int:
        """Events of the sample."""
        return len(self.event_number)

    def subset(self, keep: B) -> StreamEvents:
        """The events where *keep* (bool, n) is True, in order (the cross section is the sample's).

        Raises:
            DataFormatError: *keep* is not a bool array of one entry per event.
        """
        keep = np.asarray(keep)
        if keep.dtype != np.bool_ or keep.shape != (self.n_events,):
            msg = (
                f"subset of {self.process}: expected {self.n_events} booleans, "
                f"got {keep.dtype} {keep.shape}"
            )
            raise DataFormatError(msg)
        return _events(
            self.process,
            self.files,
            self._part().take(keep),
            self.branching_fraction,
            self.cross_section_pb,
        )

    def _part(self) -> _Part:
        streams = {
            s: _Jagged(getattr(self, f"{s}_offsets"), getattr(self, attr))
            for s, attr in _COLUMNS.items()
        }
        return _Part(self.event_number, self.file_index, streams, self.sums)


def _events(
    process: str, files: tuple[Path, ...], part: _Part, bf: float, sigma_pb: float
) -> StreamEvents:
    s = part.streams
    return StreamEvents(
        process=process,
        event_number=part.event_number,
        file_index=part.file_index,
        files=files,
        puppi_offsets=s["puppi"].offsets,
        puppi=s["puppi"].columns,
        muon_offsets=s["muon"].offsets,
        muons=s["muon"].columns,
        egamma_offsets=s["egamma"].offsets,
        egamma=s["egamma"].columns,
        jet_offsets=s["jet"].offsets,
        jets=s["jet"].columns,
        sums=part.sums,
        cross_section_pb=sigma_pb,
        branching_fraction=bf,
    )


_PUPPI_FIELDS = {
    "pt": ("PT", np.float32),
    "eta": ("Eta", np.float32),
    "phi": ("Phi", np.float32),
    "pid": ("PID", np.int32),
    "charge": ("Charge", np.int8),
    "dz": ("DZ", np.float32),
    "d0": ("D0", np.float32),
    "puppi_w": ("PuppiW", np.float32),
}
_TRIPLE = (("pt", "PT"), ("eta", "Eta"), ("phi", "Phi"))


def _top(offsets: I64, cols: dict[str, np.ndarray], k: int) -> _Jagged:
    """The *k* highest-pT entries of every event, by decreasing pT (ties: input order)."""
    idx, mask = top_k(offsets, cols["pt"], k)
    flat = idx[mask]
    return _Jagged(
        offsets_from_counts(mask.sum(axis=1)), {name: v[flat] for name, v in cols.items()}
    )


def _puppi_collection(physical: Mapping[str, str] | Sequence[str], path: Path) -> str:
    """The PUPPI collection a file holds: the pre-cut ``L1T_PUPPIPart128``, else ``L1T_PUPPIPart``."""
    for name in (f"{_VIEW}_PUPPIPart128", f"{_VIEW}_PUPPIPart"):
        if f"{name}_PT" in physical:
            return name
    msg = f"{path}: no {_VIEW}_PUPPIPart128 or {_VIEW}_PUPPIPart columns (the PUPPI candidates)"
    raise DataFormatError(msg)


def _columns(puppi: str) -> list[str]:
    cols = [f"{puppi}_{name}" for name, _ in _PUPPI_FIELDS.values()]
    for coll in ("MuonTight", "Electron", "PhotonTight", "JetPuppiAK4"):
        cols += [f"{_VIEW}_{coll}_{q}" for _, q in _TRIPLE]
    cols += [f"{_VIEW}_MuonTight_Charge", f"{_VIEW}_PUPPIMET_MET", f"{_VIEW}_PUPPIMET_Phi"]
    return [*cols, "Event_Number", "Event_CrossSection"]


def _triple(chunk: EventsLike, prefix: str) -> tuple[I64, dict[str, np.ndarray]]:
    off, pt = jagged(chunk, f"{prefix}_PT", np.float32)
    return off, {
        "pt": pt,
        **{n: field_like(chunk, prefix, q, off, np.float32) for n, q in _TRIPLE[1:]},
    }


def _first(chunk: EventsLike, name: str, fill: float, dtype: type[np.generic]) -> np.ndarray:
    off, values = jagged(chunk, name, dtype)
    return first_per_event(off, values, fill=fill, dtype=dtype)


def _chunk_events(
    chunk: EventsLike, puppi: str, candidates: int, file_index: int
) -> tuple[_Part, F64]:
    """The stream's view of one chunk of events, and each event's running cross section (pb)."""
    off, pt = jagged(chunk, f"{puppi}_PT", np.float32)
    cols: dict[str, np.ndarray] = {"pt": pt}
    for name, (col, dtype) in list(_PUPPI_FIELDS.items())[1:]:
        cols[name] = field_like(chunk, puppi, col, off, dtype)
    m_off, muons = _triple(chunk, f"{_VIEW}_MuonTight")
    muons["charge"] = field_like(chunk, f"{_VIEW}_MuonTight", "Charge", m_off, np.int8)
    muons["quality"] = np.full(len(muons["pt"]), MUON_QUALITY, dtype=np.uint8)
    e_off, e = egamma_objects(chunk, _VIEW)
    j_off, jets = _triple(chunk, f"{_VIEW}_JetPuppiAK4")
    n = len(j_off) - 1
    central = (jets["pt"] > HT_JET_PT_MIN) & (np.abs(jets["eta"]) < HT_ETA_MAX)
    jet_event = event_index(j_off)
    ht = np.bincount(jet_event[central], jets["pt"][central], minlength=n)
    numbers = _first(chunk, "Event_Number", -1, np.int64)
    part = _Part(
        event_number=numbers.astype(np.int64),
        file_index=np.full(n, file_index, dtype=np.int32),
        streams={
            "puppi": _top(off, cols, candidates),
            "muon": _top(m_off, muons, MAX_OBJECTS["muon"]),
            "egamma": _top(
                e_off, dict(zip(("pt", "eta", "phi"), e, strict=True)), MAX_OBJECTS["egamma"]
            ),
            "jet": _top(j_off, jets, MAX_OBJECTS["jet"]),
        },
        sums={
            "met": _first(chunk, f"{_VIEW}_PUPPIMET_MET", 0.0, np.float32),
            "met_phi": _first(chunk, f"{_VIEW}_PUPPIMET_Phi", 0.0, np.float32),
            "ht": ht.astype(np.float32),
        },
    )
    return part, _first(chunk, "Event_CrossSection", np.nan, np.float64).astype(np.float64)


def read_stream_events(
    files: Sequence[Path | str],
    candidates: int = 128,
    *,
    keep: Callable[[str, I64], B] | None = None,
) -> StreamEvents:
    """Read one sample's files as the stream sees their events (module docstring).

    Args:
        files: the sample's files (one process), in order.
        candidates: PUPPI candidates kept per event, the highest pT (1 ... 128;
            the files' ``L1T_PUPPIPart128`` is read, or ``L1T_PUPPIPart`` when
            they lack it).
        keep: ``keep(file_identity, event_numbers) -> bool mask`` selects
            events (e.g. the orbit part of a split,
            :func:`l1scout.io.torchdata.split_of`); default every event. The
            cross section is the sample's, whatever is kept.

    Raises:
        DataFormatError: no files, files of several processes, a column
            missing or malformed, no cross section.
        ConfigError: *candidates* outside 1 ... 128.
    """
    from l1scout.io.dataset import open_dataset

    if not 1 <= candidates <= 128:
        msg = f"candidates: expected 1 ... 128 PUPPI candidates per crossing, got {candidates}"
        raise ConfigError(msg)
    paths = tuple(Path(f) for f in files)
    if not paths:
        msg = "read_stream_events: no files given"
        raise DataFormatError(msg)
    parts: list[_Part] = []
    process = ""
    sigmas: list[tuple[float, int]] = []  # each file's final running estimate, and its events
    for i, path in enumerate(paths):
        probe = open_dataset(path, hub=False).files[0]
        if i and probe.process != process:
            msg = f"{path}: process {probe.process!r}, expected one sample ({process!r})"
            raise DataFormatError(msg)
        process = probe.process
        puppi = _puppi_collection(probe.physical, path)
        ds = open_dataset(path, columns=_columns(puppi), hub=False)
        n_file, last = 0, float("nan")
        for chunk in ds.iter_file(ds.files[0]):
            part, sigma = _chunk_events(chunk, puppi, candidates, i)
            if len(sigma):
                n_file, last = n_file + len(sigma), float(sigma[-1])
            if keep is not None:
                part = part.take(np.asarray(keep(probe.identity, part.event_number), dtype=bool))
            parts.append(part)
        if n_file:
            sigmas.append((last, n_file))
    if not sigmas or not all(np.isfinite(s) and s > 0 for s, _ in sigmas):
        msg = f"{paths[0]}: no positive Event_CrossSection (the generator's cross section)"
        raise DataFormatError(msg)
    bf = branching_fraction(process)
    sigma_pb = sum(s * n for s, n in sigmas) / sum(n for _, n in sigmas)
    return _events(process, paths, _Part.join(parts), bf, float(sigma_pb) * bf)
