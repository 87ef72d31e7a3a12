"""The validation's input files, read through :mod:`l1scout.io`: views, columns, batches as numpy.

:func:`open_inputs` opens every file's footer with :func:`l1scout.io.footer.open_file`
(so the validation reads what io reads: l1scout, COLLIDE-2V and, through the
alias table, COLLIDE-1m files, with canonical column names), finds the views
of the first file and checks that every file holds the columns the
validation needs. :meth:`Inputs.batches` then reads one file through an
:class:`l1scout.io.dataset.Dataset` and hands out :class:`Batch` objects of
``batch_size`` consecutive events, each column as numpy (offsets, values).

io reads large chunks (bounded by :data:`l1scout.io.dataset.CHUNK_BYTES` of
the selected columns and cut at a multiple of ``batch_size``) and each column
is converted to numpy once per chunk; the batches are views into it. So the
per-column cost of the awkward conversion is paid once per chunk while the
batches, and with them every number of the page, are the same as when each
batch was read on its own.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import numpy.typing as npt

from l1scout._jagged import Jagged, offsets_from_counts
from l1scout._types import F64, I64
from l1scout.detector.validation.definitions import JETS, STANDALONE_FIELDS, JetStudy
from l1scout.detector.view_card import VIEW_NAMES, ViewCard, load_view_card
from l1scout.errors import ConfigError, DataFormatError
from l1scout.io.dataset import CHUNK_BYTES, Dataset
from l1scout.io.footer import DataFile, open_file

__all__ = ["Batch", "Inputs", "detect_views", "open_inputs", "standalone_columns", "view_card"]

_log = logging.getLogger(__name__)

#: Events io is asked for at a time (fewer for wide events: ``CHUNK_BYTES``).
_READ_EVENTS = 10_000

_GEN = ("PID", "Status", "PT", "Eta", "Phi", "Charge", "IsPU", "Mass", "X", "Y", "Z")
_TRUTH_COLUMNS = (
    *(f"Gen_Part_{f}" for f in _GEN),
    "Vertex_Index",
    "Vertex_X",
    "Vertex_Y",
    "Vertex_Z",
    "Gen_MissingET_MET",
    "Gen_MissingET_Phi",
)
_CAND = ("fUniqueID", "Charge", "PT", "Eta", "DZ", "ErrorDZ", "IsPU", "PuppiW")
_GEN_JETS = ("Gen_JetAK4", "Gen_JetAK8")


def _view_required(view: str) -> tuple[str, ...]:
    return (
        *(f"{view}_PUPPIPart_{f}" for f in _CAND),
        f"{view}_PFPart_PT",
        f"{view}_Electron_PT",
        f"{view}_MuonTight_PT",
        f"{view}_PhotonTight_PT",
        f"{view}_Vertex_Z",
        f"{view}_MET_MET",
        f"{view}_MET_Phi",
        f"{view}_PUPPIMET_MET",
        f"{view}_PUPPIMET_Phi",
    )


def detect_views(names: Sequence[str]) -> list[str]:
    """The detector views of a file, from its column names (prefix of ``<View>_PFPart_PT``).

    >>> detect_views(["Gen_Part_PT", "L1T_PFPart_PT", "FullReco_PFPart_PT"])
    ['FullReco', 'L1T']
    """
    suffix = "_PFPart_PT"
    found = [n[: -len(suffix)] for n in names if n.endswith(suffix) and len(n) > len(suffix)]
    known = [v for v in VIEW_NAMES if v in found]
    return known + sorted(v for v in found if v not in VIEW_NAMES)


def view_card(view: str, metadata: Mapping[str, str]) -> ViewCard | None:
    """The view card a file was made with (from its ``settings`` metadata), else the shipped one."""
    try:
        settings = json.loads(metadata.get("settings", "{}"))
        for dump in settings.get("views", []) if isinstance(settings, dict) else []:
            if isinstance(dump, dict) and dump.get("name") == view:
                return ViewCard.model_validate(dump)
    except (ValueError, TypeError) as exc:
        _log.debug("view %s: card in the file metadata unreadable (%s)", view, exc)
    if view in VIEW_NAMES:
        return load_view_card(view)
    _log.warning("view %s: no view card found; the card curves are left out", view)
    return None


def standalone_columns(view: str, card: ViewCard | None) -> tuple[str, ...]:
    """The standalone Level-1 muon columns the validation reads of a view (none without ``[muon_system]``).

    >>> from l1scout.detector.view_card import load_view_card
    >>> standalone_columns("L1T", load_view_card("L1T"))[:2]
    ('L1T_MuonStandalone_PT', 'L1T_MuonStandalone_Eta')
    >>> standalone_columns("FullReco", load_view_card("FullReco"))
    ()
    """
    if card is None or card.muon_system is None:
        return ()
    return tuple(f"{view}_{card.muon_system.collection}_{f}" for f in STANDALONE_FIELDS)


def _columns(
    file: DataFile, views: Sequence[str], cards: Mapping[str, ViewCard | None]
) -> list[str]:
    """The columns to read from a file (checks that the required ones are there)."""
    names = set(file.columns)
    if not detect_views(list(names)):
        msg = (
            f"{file.path}: no detector view in the file (no column <View>_PFPart_PT, e.g. "
            f"FullReco_PFPart_PT); write it with `l1scout generate` and its views"
        )
        raise DataFormatError(msg)
    needed = list(_TRUTH_COLUMNS)
    for view in views:
        needed += _view_required(view)
    for name in needed:
        if name not in names:
            msg = f"{file.path}: missing column {name}, which the validation needs"
            raise DataFormatError(msg)
    gen_jets = [g for g in _GEN_JETS if f"{g}_PT" in names]
    needed += [f"{g}_{f}" for g in gen_jets for f in ("PT", "Eta", "Phi")]
    needed += [f"{view}_Rho_Rho" for view in views if f"{view}_Rho_Rho" in names]
    for view in views:  # standalone Level-1 muons: where the file has them (older files do not)
        muons = standalone_columns(view, cards.get(view))
        if muons and all(c in names for c in muons):
            needed += muons
    for view in views:
        for jet in JETS:
            if jet.gen in gen_jets and f"{view}_{jet.reco}_PT" in names:
                needed += [f"{view}_{jet.reco}_{f}" for f in ("PT", "Eta", "Phi")]
    return needed


def _to_numpy(events: ak.Array, name: str) -> Jagged:
    """(offsets from 0, flat values) of a list column of an io chunk (zero-copy where it can)."""
    layout = events.layout.content(name)
    if isinstance(layout, ak.contents.ListOffsetArray) and isinstance(
        layout.content, ak.contents.NumpyArray
    ):
        offsets: I64 = np.asarray(layout.offsets.data, dtype=np.int64)
        values: npt.NDArray[Any] = np.asarray(layout.content.data)[offsets[0] : offsets[-1]]
        return offsets - offsets[0], values
    # lists or values with nulls: a null list is empty, a null value NaN
    column = events[name]
    counts = ak.to_numpy(ak.fill_none(ak.num(column, axis=1), 0))
    flat: Any = ak.to_numpy(ak.flatten(column, axis=1), allow_missing=True)
    if np.ma.isMaskedArray(flat):
        flat = np.ma.filled(flat.astype(np.float64), np.nan)
    return offsets_from_counts(counts), np.asarray(flat)


class Batch:
    """Events ``start:stop`` of a chunk read through io, each column as numpy.

    Columns are (offsets from 0, flat values) as :data:`l1scout._jagged.Jagged`;
    a column not read is a :class:`KeyError`.
    """

    __slots__ = ("_cache", "_columns", "_start", "_stop")

    def __init__(self, columns: Mapping[str, Jagged], start: int, stop: int) -> None:
        self._columns = columns
        self._start = start
        self._stop = stop
        self._cache: dict[str, Jagged] = {}

    @property
    def n_events(self) -> int:
        """Events in the batch."""
        return self._stop - self._start

    def has(self, name: str) -> bool:
        """Whether the column *name* was read (optional columns such as ``<View>_Rho_Rho``)."""
        return name in self._columns

    def jagged(self, name: str) -> Jagged:
        """(offsets, flat values) of a column over the batch's events."""
        if name not in self._cache:
            offsets, values = self._columns[name]
            if self._start == 0 and self._stop == len(offsets) - 1:
                self._cache[name] = (offsets, values)
            else:
                off = offsets[self._start : self._stop + 1]
                self._cache[name] = (off - off[0], values[off[0] : off[-1]])
        return self._cache[name]

    def offsets(self, name: str) -> I64:
        """The per-event offsets of a column."""
        return np.asarray(self.jagged(name)[0], dtype=np.int64)

    def floats(self, name: str) -> F64:
        """The flat values of a column as float64."""
        return np.asarray(self.jagged(name)[1], dtype=np.float64)

    def ints(self, name: str) -> I64:
        """The flat values of a column as int64."""
        return np.asarray(self.jagged(name)[1], dtype=np.int64)


class Inputs:
    """The opened input files: their views, the columns read, and their batches.

    Made by :func:`open_inputs`.

    Attributes:
        files: the files (io's footers), in the order given.
        views: the detector views of the first file.
        columns: the columns read: those every file has of the ones needed.
        cards: the view card of each view (:func:`view_card` of the first
            file's metadata; None where there is none).
    """

    def __init__(
        self,
        files: Sequence[DataFile],
        views: Sequence[str],
        columns: Sequence[str],
        cards: Mapping[str, ViewCard | None] | None = None,
    ) -> None:
        self.files: tuple[DataFile, ...] = tuple(files)
        self.views: list[str] = list(views)
        self.columns: tuple[str, ...] = tuple(columns)
        self.cards: dict[str, ViewCard | None] = dict(cards or {})
        self._dataset = Dataset(self.files, self.columns, _READ_EVENTS, chunk_bytes=CHUNK_BYTES)
        self._unbounded: Dataset | None = None

    def jet_studies(self, view: str) -> list[JetStudy]:
        """The jet studies of a view that every file holds both collections of."""
        have = set(self.columns)
        return [j for j in JETS if f"{view}_{j.reco}_PT" in have and f"{j.gen}_PT" in have]

    def batches(self, index: int, batch_size: int) -> Iterator[Batch]:
        """Batches of ``batch_size`` consecutive events of file *index* (the last may be short).

        Raises:
            DataFormatError: the file's data is corrupt; the message names it.
        """
        # io's chunks: as many events as its byte budget allows, cut at a multiple
        # of batch_size, so that every batch lies within one chunk
        fit = self._dataset.chunk_events(index)
        reader = self._dataset
        if fit < batch_size:  # wide events: chunks of one batch, beyond the budget
            if self._unbounded is None:
                self._unbounded = Dataset(self.files, self.columns, batch_size, chunk_bytes=None)
            reader, fit = self._unbounded, batch_size
        for events in reader.iter_file(index, chunk_size=fit // batch_size * batch_size):
            columns = {name: _to_numpy(events, name) for name in self.columns}
            n = len(events)
            for start in range(0, n, batch_size):
                yield Batch(columns, start, min(start + batch_size, n))


def open_inputs(files: Sequence[Path | str], views: Sequence[str] | None = None) -> Inputs:
    """Open the files' footers (no event data is read) and check their columns.

    Args:
        files: the Parquet files.
        views: the views to measure (None: those of the first file).

    Raises:
        ConfigError: no file given.
        DataFormatError: a file is missing, unreadable, follows no known schema,
            has no view or lacks a column; the message names the file and the column.
    """
    if not files:
        msg = "files: give at least one Parquet file"
        raise ConfigError(msg)
    opened = [open_file(Path(f)) for f in files]
    if views is None:
        views = detect_views(opened[0].columns)
    cards = {view: view_card(view, opened[0].metadata) for view in views}
    needed = [_columns(f, views, cards) for f in opened]
    # jet collections and standalone muons measured: those every file has
    common = set.intersection(*(set(cols) for cols in needed))
    columns = list(dict.fromkeys(c for c in needed[0] if c in common))
    return Inputs(opened, views, columns, cards)
