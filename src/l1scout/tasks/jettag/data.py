"""The samples of the jet-tagging task: produced (or read from COLLIDE-2V), read into jets of both views.

Each sample is either produced in the fast mode of ``docs/production.md``
(both views simulated, only the collections the tagger reads written:
:func:`jettag_collections`) into ``<data_dir>/samples`` with its manifest (a
rerun makes only what is missing; a folder of another configuration is
refused), or, when ``data.source`` is set, read from a COLLIDE-2V folder laid
out as the hub (``<root>/<process>/*.parquet``) or from a hub dataset id,
up to ``events`` events of each process: nothing is produced.

:func:`load_jettag_data` reads every file once. Each event gets a split from
a stable hash of (file identity, ``Event_Number``)
(:func:`l1scout.io.torchdata.split_of`), the same for both views. Per view it
keeps every jet that passes the cuts
(:func:`~l1scout.tasks.jettag.features.jet_tag_inputs`: constituents, jet
pT / eta, the card's ``BTag`` bits, the truth label and generator pT), with
the jet's event as a row of :class:`JetTagData` (``event``), and per event
the view's HT (:func:`~l1scout.tasks.jettag.hh4b.ht`) for the seed study.

Example:
    >>> jettag_collections(("L1T",), "JetPuppiAK4")[:3]
    ('Event', 'Gen_JetAK4', 'Gen_PartHS')
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from l1scout._types import F64, I64
from l1scout.errors import ConfigError, DataFormatError
from l1scout.io.dataset import Dataset, open_dataset
from l1scout.io.paths import parquet_files
from l1scout.io.ragged import jagged
from l1scout.io.torchdata import split_of
from l1scout.production.driver import Progress
from l1scout.production.plan import ProductionPlan
from l1scout.production.samples import (
    ensure_fast_samples,
    fast_plan_of,
)
from l1scout.tasks.jettag.config import JetTagConfig
from l1scout.tasks.jettag.features import JetTagInputs, jet_tag_columns, jet_tag_inputs
from l1scout.tasks.jettag.hh4b import ht

__all__ = [
    "SPLIT_NAMES",
    "JetTagData",
    "JetTagViewData",
    "ensure_jettag_samples",
    "jettag_collections",
    "jettag_read_columns",
    "load_jettag_data",
    "production_plan",
    "take_jets",
]

_log = logging.getLogger(__name__)

#: The splits, in the order of :func:`~l1scout.io.torchdata.split_of`'s codes 0, 1, 2.
SPLIT_NAMES: tuple[str, ...] = ("train", "validation", "test")
_EVENT_NUMBER = "Event_Number"
_SAMPLES = "samples"


def jettag_read_columns(
    views: Sequence[str], jets: str, available: Iterable[str] | None = None
) -> tuple[str, ...]:
    """Every column :func:`load_jettag_data` reads: the tagger's of each view and ``Event_Number``.

    The generator record is ``Gen_PartHS`` (the hard collision only) when
    *available* holds it, else ``Gen_Part`` (COLLIDE-2V files).
    """
    cols: list[str] = []
    have = None if available is None else tuple(available)
    for view in views:
        cols.extend(jet_tag_columns(view, jets, labels=True, available=have))
        cols.extend((f"{view}_{jets}_PT", f"{view}_{jets}_Eta"))
    cols.append(_EVENT_NUMBER)
    return tuple(dict.fromkeys(cols))


def jettag_collections(views: Sequence[str], jets: str) -> tuple[str, ...]:
    """The collections the production writes (those of :func:`jettag_read_columns`), sorted.

    The generator record is written as ``Gen_PartHS``: the hard collision's
    particles only, about 60 times smaller than ``Gen_Part`` at pileup 200,
    and all that labels a jet.
    """
    cols = jettag_read_columns(views, jets, available=("Gen_PartHS_PT",))
    return tuple(sorted({c.rsplit("_", 1)[0] for c in cols}))


def production_plan(cfg: JetTagConfig) -> ProductionPlan:
    """The fast-mode plan of the samples, both views (module docstring).

    Raises:
        ConfigError: the plan does not validate.
    """
    data = cfg.data
    return fast_plan_of(
        data,
        data.samples,
        views=data.views,
        collections=jettag_collections(data.views, data.jets),
        source="the jet-tagging production plan",
    )


def _source_files(cfg: JetTagConfig) -> tuple[dict[str, list[Path]], str]:
    """The files of each process in a local COLLIDE-2V folder, and a hash of their names and sizes."""
    root = Path(cfg.data.source or "")
    files: dict[str, list[Path]] = {}
    rows: list[list[object]] = []
    for process in cfg.data.processes:
        folder = root / process
        found = parquet_files(folder) if folder.is_dir() else []
        if not found:
            msg = f"{folder}: no .parquet files of {process!r} (data.source is laid out <root>/<process>/*.parquet)"
            raise ConfigError(msg)
        files[process] = list(found)
        rows.extend([str(p.relative_to(root)), p.stat().st_size] for p in found)
    digest = hashlib.sha256(json.dumps(rows).encode()).hexdigest()
    return files, digest


def ensure_jettag_samples(
    cfg: JetTagConfig, data_dir: Path | str, *, progress: Progress | None = None
) -> tuple[dict[str, list[Path]], str]:
    """The files of every sample (produced where missing, or found in ``data.source``) and their hash.

    Returns:
        (process -> its files; a SHA-256 hex identifying the data). A hub id
        as ``data.source`` gives no files (the events are streamed) and the id's hash.

    Raises:
        ProductionError: the folder holds samples of another configuration,
            or shards failed (listed).
        ConfigError: a process without files in a local ``data.source``.
    """
    source = cfg.data.source
    if source is not None:
        if Path(source).is_dir():
            return _source_files(cfg)
        return {p: [] for p in cfg.data.processes}, hashlib.sha256(source.encode()).hexdigest()
    plan = production_plan(cfg)
    return ensure_fast_samples(
        plan, Path(data_dir) / _SAMPLES, what="jet-tagging samples", progress=progress
    )


@dataclass(frozen=True)
class JetTagViewData:
    """The jets of one view, every split (rows of :class:`JetTagData` events in ``inputs.event``).

    Attributes:
        view: the view.
        inputs: the jets (``inputs.event`` is the jet's event row in :class:`JetTagData`).
        ht: per event, the view's HT (GeV) as ``[hh4b]`` defines it.
    """

    view: str
    inputs: JetTagInputs
    ht: F64

    @property
    def n_jets(self) -> int:
        """Jets of the view."""
        return int(self.inputs.jet_pt.size)


@dataclass(frozen=True)
class JetTagData:
    """Every event read and, per view, its jets.

    Attributes:
        samples: the sample names (processes), in order.
        sample: per event, the index of its sample.
        split: per event, 0 train, 1 validation, 2 test.
        event_number: per event, its ``Event_Number``.
        views: view name -> its jets and HT.
        source: where the events came from (a folder or a hub id).
    """

    samples: tuple[str, ...]
    sample: I64
    split: I64
    event_number: I64
    views: dict[str, JetTagViewData]
    source: str

    @property
    def n_events(self) -> int:
        """Events read."""
        return int(self.sample.size)

    def jets(
        self,
        view: str,
        split: int | None = None,
        *,
        labelled: bool = False,
        samples: Sequence[int] | None = None,
    ) -> JetTagInputs:
        """The jets of *view* whose events are in *split* (None: all) and among *samples* (None: all).

        *labelled*: only jets with a truth label.
        """
        data = self.views[view].inputs
        keep = np.ones(data.event.size, dtype=bool)
        if split is not None:
            keep &= self.split[data.event] == split
        if samples is not None:
            keep &= np.isin(self.sample[data.event], np.asarray(list(samples), dtype=np.int64))
        if labelled:
            keep &= data.label >= 0
        return take_jets(data, keep)

    def events_per_split(self) -> dict[str, int]:
        """Events per split name."""
        return {name: int(np.sum(self.split == c)) for c, name in enumerate(SPLIT_NAMES)}


def take_jets(inputs: JetTagInputs, keep: np.ndarray) -> JetTagInputs:
    """The jets *keep* (a mask or indices) of *inputs*, every field."""
    return type(inputs)(**{f.name: getattr(inputs, f.name)[keep] for f in fields(inputs)})


def _concat_jets(parts: Sequence[JetTagInputs]) -> JetTagInputs:
    first = parts[0]
    return type(first)(
        **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(first)}
    )


def _open(paths: Sequence[Path], cfg: JetTagConfig, what: str) -> Dataset:
    everything = open_dataset(list(paths), hub=False)
    columns = jettag_read_columns(cfg.data.views, cfg.data.jets, everything.columns)
    try:
        ds = everything.with_columns(columns)
    except ConfigError as exc:
        msg = f"{what}: {exc} (expected the collections of jettag_collections)"
        raise DataFormatError(msg) from None
    for f in ds.files:
        lacking = [c for c in columns if c not in f.physical]
        if lacking:
            more = f" and {len(lacking) - 3} more" if len(lacking) > 3 else ""
            msg = f"{f.path}: lacks {', '.join(lacking[:3])}{more}; expected the collections of jettag_collections"
            raise DataFormatError(msg)
    return ds


def _chunks(cfg: JetTagConfig, process: str, paths: Sequence[Path]) -> Iterator[tuple[str, Any]]:
    """(file identity, chunk) of one sample, at most its configured events from a source."""
    limit = next(s.events for s in cfg.data.samples if s.process == process)
    budget = limit if cfg.data.source is not None else None

    def cut(chunk: Any) -> Any:
        nonlocal budget
        if budget is None:
            return chunk
        chunk = chunk[:budget]
        budget -= len(chunk)
        return chunk

    if paths:
        ds = _open(paths, cfg, f"sample {process!r}")
        for file in ds.files:
            for chunk in ds.iter_file(file):
                if budget is not None and budget <= 0:
                    return
                yield file.identity, cut(chunk)
        return
    stream = open_dataset(str(cfg.data.source), processes=[process], hub=True)
    columns = jettag_read_columns(cfg.data.views, cfg.data.jets, stream.columns)
    hub = stream.with_columns(columns)
    for chunk in hub.iter_process(process):
        if budget is not None and budget <= 0:
            return
        yield f"{cfg.data.source}:{process}", cut(chunk)


def _view_ht(chunk: Any, view: str, cfg: JetTagConfig) -> F64:
    jets = cfg.data.jets
    off, pt = jagged(chunk, f"{view}_{jets}_PT")
    _, eta = jagged(chunk, f"{view}_{jets}_Eta")
    return ht(
        pt.astype(np.float64),
        eta.astype(np.float64),
        off,
        pt_min=cfg.hh4b.ht_pt_min,
        eta_max=cfg.hh4b.ht_eta_max,
    )


def load_jettag_data(
    cfg: JetTagConfig, files: dict[str, list[Path]], *, source: str = ""
) -> JetTagData:
    """Read the samples into the jets of every view and the events' splits (module docstring).

    Args:
        cfg: the task's configuration (``data``, ``splits``, ``hh4b``).
        files: process -> its files (:func:`ensure_jettag_samples`; empty
            lists stream ``data.source`` from the hub).
        source: where the files are, for the report.

    Raises:
        DataFormatError: a file lacks a column (named), or a split has no event.
    """
    d = cfg.data
    per_view: dict[str, list[JetTagInputs]] = {v: [] for v in d.views}
    hts: dict[str, list[F64]] = {v: [] for v in d.views}
    samples: list[I64] = []
    splits: list[I64] = []
    numbers: list[I64] = []
    n_seen = 0
    for index, process in enumerate(d.processes):
        n_before = n_seen
        for identity, chunk in _chunks(cfg, process, files.get(process, [])):
            n = len(chunk)
            if n == 0:
                continue
            number = np.asarray(chunk[_EVENT_NUMBER], dtype=np.int64).reshape(n, -1)[:, 0]
            numbers.append(number)
            splits.append(split_of(identity, number, cfg.splits.fractions).astype(np.int64))
            samples.append(np.full(n, index, dtype=np.int64))
            for view in d.views:
                inputs = jet_tag_inputs(
                    chunk,
                    view,
                    d.jets,
                    n_constituents=d.n_constituents,
                    pt_min=d.pt_min,
                    eta_max=d.eta_max,
                    labels=True,
                )
                per_view[view].append(replace(inputs, event=inputs.event + n_seen))
                hts[view].append(_view_ht(chunk, view, cfg))
            n_seen += n
        if n_seen == n_before:
            msg = f"sample {process!r}: no events read"
            raise DataFormatError(msg)
    split = np.concatenate(splits)
    empty = [SPLIT_NAMES[c] for c in range(3) if not np.any(split == c)]
    if empty:
        msg = (
            f"no events in the {', '.join(empty)} split(s): more events, or other splits.fractions"
        )
        raise DataFormatError(msg)
    views = {
        v: JetTagViewData(v, _concat_jets(per_view[v]), np.concatenate(hts[v])) for v in d.views
    }
    for v, vd in views.items():
        _log.info("jet tagging %s: %d jets in %d events", v, vd.n_jets, n_seen)
    return JetTagData(
        samples=d.processes,
        sample=np.concatenate(samples),
        split=split,
        event_number=np.concatenate(numbers),
        views=views,
        source=source,
    )
