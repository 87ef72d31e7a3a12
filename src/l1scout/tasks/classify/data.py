"""The events of the classification task: produced (or read from COLLIDE-2V), both views, one split.

Every class is the events of one process (:mod:`l1scout.tasks.classify.classes`).
Without ``[data] source`` one fast-mode production (``docs/production.md``)
makes ``events_per_class`` events of every class's process into
``<data_dir>/samples`` with its manifest, both views simulated in every file and
only :func:`classify_collections` written (the objects of the public inputs and
the pre-cut 128 highest-pT PUPPI candidates); a rerun verifies what is there
and makes only the missing or broken shards, and a folder made with another
configuration is refused. With ``source`` nothing is produced: each class's
process folder of a COLLIDE-2V tree (``<source>/<process>/*.parquet``, the hub
layout) is read, or the process is streamed from a hub dataset id
(:func:`l1scout.io.dataset.open_dataset`), up to ``events_per_class`` events.

:func:`load_classify_data` reads each file once: per chunk, for every view,
the object inputs (:func:`~l1scout.tasks.classify.inputs.event_objects`) and the
particle inputs (:func:`~l1scout.tasks.classify.inputs.event_particles`) of the
same rows, the label (the class's position in ``[data] classes``) and the split
of each event, :func:`l1scout.io.torchdata.split_of` on (file identity,
``Event_Number``): both views share the split, so the FullReco and L1T models
are trained and tested on the same events.

Example:
    >>> from l1scout.tasks.classify.config import ClassifyConfig
    >>> plan = production_plan(ClassifyConfig())
    >>> plan.views, len(plan.processes), plan.collections[:3]
    (('FullReco', 'L1T'), 18, ('Event', 'FullReco_Electron', 'FullReco_JetPuppiAK4'))
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import awkward as ak
import numpy as np

from l1scout._types import I64, B
from l1scout.errors import ConfigError, DataFormatError
from l1scout.io.dataset import open_dataset
from l1scout.io.hub import HubDataset
from l1scout.io.paths import goes_to_hub
from l1scout.io.torchdata import split_of
from l1scout.production.driver import Progress
from l1scout.production.plan import ProductionPlan
from l1scout.production.samples import (
    ensure_fast_samples,
    fast_plan_of,
)
from l1scout.tasks.classify.config import ClassifyConfig
from l1scout.tasks.classify.inputs import (
    ObjectInputs,
    ParticleInputs,
    event_objects,
    event_particles,
    object_input_columns,
    particle_input_columns,
)

__all__ = [
    "SPLIT_NAMES",
    "ClassifyData",
    "ClassifySplit",
    "ViewInputs",
    "classify_collections",
    "ensure_classify_samples",
    "load_classify_data",
    "production_plan",
    "read_columns",
]

_log = logging.getLogger(__name__)

#: The splits, in the order of :func:`~l1scout.io.torchdata.split_of`'s codes 0, 1, 2.
SPLIT_NAMES: tuple[str, ...] = ("train", "validation", "test")
_EVENT_NUMBER = "Event_Number"
_SAMPLES = "samples"
#: The pre-cut particle collection (the 128 highest-pT entries of ``PUPPIPart``).
_PRECUT = "PUPPIPart128"
#: The collections of the object inputs (the public 18-class inputs).
_OBJECT_COLLECTIONS = ("Electron", "JetPuppiAK4", "MuonTight", "PUPPIMET", "PhotonTight")

T = TypeVar("T")


def classify_collections(views: Sequence[str]) -> tuple[str, ...]:
    """The collections the production writes for *views*, sorted.

    ``Event`` and, per view, the objects of the public inputs and the pre-cut
    ``PUPPIPart128`` of the particle-level model.

    >>> classify_collections(["L1T"])  # doctest: +NORMALIZE_WHITESPACE
    ('Event', 'L1T_Electron', 'L1T_JetPuppiAK4', 'L1T_MuonTight', 'L1T_PUPPIMET',
     'L1T_PUPPIPart128', 'L1T_PhotonTight')
    """
    names = {f"{v}_{c}" for v in views for c in (*_OBJECT_COLLECTIONS, _PRECUT)}
    return tuple(sorted({"Event", *names}))


def read_columns(view: str, available: Sequence[str], n_particles: int) -> tuple[str, ...]:
    """The columns of *view* the inputs read, the particles from the pre-cut collection if there.

    ``<view>_PUPPIPart128`` when *available* holds it and ``n_particles`` <=
    128 (the same candidates, eight times fewer values), else ``<view>_PUPPIPart``.

    >>> full = read_columns("L1T", [], 128)
    >>> precut = [c.replace("PUPPIPart", "PUPPIPart128") for c in full if "PUPPIPart" in c]
    >>> cols = read_columns("L1T", precut, 128)
    >>> "L1T_PUPPIPart128_PT" in cols, "L1T_PUPPIPart_PT" in cols, "L1T_JetPuppiAK4_PT" in cols
    (True, False, True)
    """
    particles = particle_input_columns(view, n_particles, available=available)
    return tuple(dict.fromkeys((*object_input_columns(view), *particles)))


def production_plan(cfg: ClassifyConfig) -> ProductionPlan:
    """The fast-mode plan of the classes' processes (module docstring).

    Raises:
        ConfigError: the plan does not validate (naming the plan's fields).
    """
    data = cfg.data
    return fast_plan_of(
        data,
        data.samples,
        views=data.views,
        collections=classify_collections(data.views),
        source="the classification production plan",
    )


def _source_hash(source: str, processes: Sequence[str], events: int) -> str:
    """SHA-256 naming a read of *source*: the source, the processes and the events per class."""
    payload = {"source": source, "processes": list(processes), "events_per_class": events}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def ensure_classify_samples(
    cfg: ClassifyConfig, data_dir: Path | str, *, progress: Progress | None = None
) -> tuple[dict[str, list[Path]], str]:
    """Make what is missing of the classes' events in ``<data_dir>/samples``; the files and a hash.

    With ``[data] source`` nothing is made: the result is empty files per
    process and a hash of the source (:func:`load_classify_data` reads the source).

    Returns:
        (process -> its files; SHA-256 hex identifying the data: the plan's hash
        and every file's SHA-256 from the manifest, or the source's).

    Raises:
        ProductionError: the folder holds samples of another configuration, or
            shards failed on every attempt.
    """
    data = cfg.data
    if data.source is not None:
        return {p: [] for p in data.processes}, _source_hash(
            data.source, data.processes, data.events_per_class
        )
    plan = production_plan(cfg)
    return ensure_fast_samples(
        plan, Path(data_dir) / _SAMPLES, what="classification samples", progress=progress
    )


# -- the events of one split ------------------------------------------------------------


@dataclass(frozen=True)
class ViewInputs:
    """The inputs of one view for a set of events (row i is the same event in every view).

    Attributes:
        objects: the object inputs (tokens and mask of the transformer, the
            flat vector of the MLP).
        particles: the particle inputs of the particle-level model.
    """

    objects: ObjectInputs
    particles: ParticleInputs


@dataclass(frozen=True)
class ClassifySplit:
    """The events of one split, in every view.

    Attributes:
        views: view name -> its inputs of the events.
        label: int64 ``(n,)`` the class of each event (its position in
            :attr:`ClassifyData.classes`).
        event_number: int64 ``(n,)`` each event's ``Event_Number`` (its row in
            the stream where the source has none).
    """

    views: dict[str, ViewInputs]
    label: I64
    event_number: I64

    @property
    def n_events(self) -> int:
        """Number of events."""
        return int(self.label.shape[0])

    def class_counts(self, n_classes: int) -> I64:
        """Events per class."""
        return np.bincount(self.label, minlength=n_classes).astype(np.int64)


@dataclass(frozen=True)
class ClassifyData:
    """The three splits of the classes' events.

    Attributes:
        classes: the class names, in label order.
        processes: each class's process.
        views: the views read.
        train: the training events.
        validation: the validation events (early stopping).
        test: the test events (every figure of merit).
    """

    classes: tuple[str, ...]
    processes: tuple[str, ...]
    views: tuple[str, ...]
    train: ClassifySplit
    validation: ClassifySplit
    test: ClassifySplit

    def splits(self) -> dict[str, ClassifySplit]:
        """The splits by name (:data:`SPLIT_NAMES`)."""
        return {"train": self.train, "validation": self.validation, "test": self.test}


def _rows(obj: T, keep: I64 | B, n: int) -> T:
    """The rows *keep* of every array field of the dataclass *obj* whose first axis is *n*."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        if isinstance(value, np.ndarray) and value.ndim >= 1 and value.shape[0] == n:
            value = value[keep]
        out[f.name] = value
    return type(obj)(**out)


def _concat(parts: Sequence[T]) -> T:
    """The rows of *parts* one after the other (array fields joined; the others of the first)."""
    first = parts[0]
    out: dict[str, Any] = {}
    for f in dataclasses.fields(first):  # type: ignore[arg-type]
        value = getattr(first, f.name)
        if isinstance(value, np.ndarray) and value.ndim >= 1:
            value = np.concatenate([getattr(p, f.name) for p in parts])
        out[f.name] = value
    return type(first)(**out)


def _concat_splits(parts: Sequence[ClassifySplit]) -> ClassifySplit:
    views = {
        v: ViewInputs(
            objects=_concat([p.views[v].objects for p in parts]),
            particles=_concat([p.views[v].particles for p in parts]),
        )
        for v in parts[0].views
    }
    return ClassifySplit(
        views=views,
        label=np.concatenate([p.label for p in parts]),
        event_number=np.concatenate([p.event_number for p in parts]),
    )


def _chunk_splits(
    chunk: ak.Array,
    identity: str,
    numbers: I64,
    label: int,
    views: Sequence[str],
    n_particles: int,
    fractions: tuple[float, float, float],
) -> Iterator[tuple[int, ClassifySplit]]:
    """(split code, its events) of one chunk: the inputs of every view of the same rows."""
    n = len(chunk)
    split = split_of(identity, numbers, fractions)
    inputs = {
        v: ViewInputs(
            objects=event_objects(chunk, v), particles=event_particles(chunk, v, n_particles)
        )
        for v in views
    }
    for code in range(len(SPLIT_NAMES)):
        keep = np.flatnonzero(split == code)
        if keep.size == 0:
            continue
        sub = {
            v: ViewInputs(objects=_rows(x.objects, keep, n), particles=_rows(x.particles, keep, n))
            for v, x in inputs.items()
        }
        yield (
            code,
            ClassifySplit(
                views=sub,
                label=np.full(keep.size, label, dtype=np.int64),
                event_number=numbers[keep],
            ),
        )


def _numbers(chunk: ak.Array, start: int) -> I64:
    """``Event_Number`` of each event of *chunk*, else the rows' positions from *start*."""
    n = len(chunk)
    if _EVENT_NUMBER in chunk.fields:
        return np.asarray(ak.to_numpy(ak.flatten(chunk[_EVENT_NUMBER], axis=None)), dtype=np.int64)[
            :n
        ]
    return np.arange(start, start + n, dtype=np.int64)


def _columns(
    available: Sequence[str], views: Sequence[str], n_particles: int, what: str
) -> list[str]:
    """The columns to read (every view's inputs and ``Event_Number`` if there); refuse a missing one."""
    wanted = [c for v in views for c in read_columns(v, available, n_particles)]
    have = set(available)
    lacking = [c for c in wanted if c not in have]
    if lacking:
        more = f" and {len(lacking) - 3} more" if len(lacking) > 3 else ""
        msg = (
            f"{what}: lacks the column {', '.join(lacking[:3])}{more}; expected the objects and "
            "PUPPI candidates of every view (l1scout.tasks.classify.data.classify_collections)"
        )
        raise DataFormatError(msg)
    return [*wanted, *([_EVENT_NUMBER] if _EVENT_NUMBER in have else [])]


def _local_chunks(
    paths: Sequence[Path], views: Sequence[str], n_particles: int, what: str
) -> Iterator[tuple[str, int, ak.Array]]:
    """(file identity, first row, chunk) of local files, each file read once."""
    try:
        ds = open_dataset(list(paths), hub=False)
    except ConfigError as exc:
        raise DataFormatError(f"{what}: {exc}") from None
    ds = ds.with_columns(_columns(ds.columns, views, n_particles, what))
    for f in ds.files:
        start = 0
        for chunk in ds.iter_file(f):
            yield f.identity, start, chunk
            start += len(chunk)


def _hub_chunks(
    source: str, process: str, views: Sequence[str], n_particles: int, what: str
) -> Iterator[tuple[str, int, ak.Array]]:
    """(stream identity, first row, chunk) of one process streamed from the hub."""
    ds: HubDataset = open_dataset(source, processes=[process], hub=True)
    ds = ds.with_columns(_columns(ds.columns, views, n_particles, what))
    start = 0
    for chunk in ds.iter_process(process):
        yield f"{source}/{process}", start, chunk
        start += len(chunk)


def _class_chunks(
    cfg: ClassifyConfig, process: str, paths: Sequence[Path], what: str
) -> Iterator[tuple[str, int, ak.Array]]:
    """The chunks of one class: its produced files, or its folder / stream of ``source``."""
    data = cfg.data
    if data.source is None:
        if not paths:
            raise ConfigError(f"{what}: no files")
        return _local_chunks(paths, data.views, data.n_particles, what)
    if goes_to_hub(data.source, None):
        return _hub_chunks(data.source, process, data.views, data.n_particles, what)
    folder = Path(data.source) / process
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    if not files:
        msg = f"{what}: no {folder}/*.parquet (source: a COLLIDE-2V folder <root>/<process>/*.parquet)"
        raise DataFormatError(msg)
    return _local_chunks(files, data.views, data.n_particles, what)


def load_classify_data(cfg: ClassifyConfig, files: Mapping[str, Sequence[Path]]) -> ClassifyData:
    """Read the classes' events into the inputs of every view, labels and splits (module docstring).

    Args:
        cfg: the task's configuration (classes, views, ``n_particles``, ``source``, splits).
        files: process -> its files (:func:`ensure_classify_samples`; ignored with ``source``).

    Raises:
        ConfigError: a class without files.
        DataFormatError: a file or stream lacks a column (named), a source
            lacks a class's folder, or a split has no event.
    """
    data = cfg.data
    parts: dict[int, list[ClassifySplit]] = {c: [] for c in range(len(SPLIT_NAMES))}
    for label, (name, process) in enumerate(zip(data.classes, data.processes, strict=True)):
        what = f"class {name!r} ({process})"
        left = data.events_per_class
        for identity, start, whole in _class_chunks(cfg, process, files.get(process, []), what):
            if left <= 0:
                break
            chunk = whole[:left] if len(whole) > left else whole
            left -= len(chunk)
            numbers = _numbers(chunk, start)
            for code, part in _chunk_splits(
                chunk, identity, numbers, label, data.views, data.n_particles, cfg.splits.fractions
            ):
                parts[code].append(part)
        read = data.events_per_class - left
        if read == 0:
            raise DataFormatError(f"{what}: no events")
        if read < data.events_per_class:
            _log.warning("%s: %d events, fewer than events_per_class %d", what, read, read + left)
    empty = [SPLIT_NAMES[c] for c, p in parts.items() if not p]
    if empty:
        msg = (
            f"no events in the {', '.join(empty)} split(s): more events, or other splits.fractions"
        )
        raise DataFormatError(msg)
    splits = {SPLIT_NAMES[c]: _concat_splits(p) for c, p in parts.items()}
    for split_name, s in splits.items():
        _log.info("classification %s: %d events", split_name, s.n_events)
    return ClassifyData(classes=data.classes, processes=data.processes, views=data.views, **splits)
