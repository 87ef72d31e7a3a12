"""The samples of the MLPF task: one fast-mode production, read file by file into elements and targets.

The model reads, per event, the detector elements of one view (its tracks
``<view>_Track`` and towers ``<view>_Tower``) and learns the targets of
:mod:`l1scout.tasks.mlpf.targets`, which need the truth of the towers
(``<view>_TowerContrib``) and the generator record ``Gen_Part``; the
evaluation compares it with the rule-based particle flow of the same view,
``<view>_PFPart`` (PF+CHS) and ``<view>_PUPPIPart`` (PUPPI). So one production
in the fast mode of ``docs/production.md`` (only the view simulated, only the
named collections written) makes :func:`mlpf_collections` into
``<data_dir>/samples`` with its manifest; a rerun verifies what is there and
makes only the missing or broken shards, and a folder made with another
configuration is refused (use another data folder).

:func:`load_mlpf_data` then reads the files one at a time (memory holds one
file's columns plus the features and targets of the events read so far, not
every event's ``Gen_Part``), splits the events by a stable hash of (file
identity, ``Event_Number``) (:func:`l1scout.io.torchdata.split_of`), and keeps
per split the elements (:func:`~l1scout.tasks.mlpf.features.element_features`)
and the targets (:func:`~l1scout.tasks.mlpf.targets.mlpf_targets_from_columns`);
for the **test** events it also keeps the columns the evaluation reads
(:func:`evaluation_columns`: ``Gen_Part`` and both particle-flow collections).

Example:
    >>> from l1scout.tasks.mlpf.config import MLPFConfig
    >>> plan = production_plan(MLPFConfig())
    >>> plan.views, plan.collections[:3]
    (('FullReco',), ('Event', 'FullReco_PFPart', 'FullReco_PUPPIPart'))
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from l1scout._jagged import Jagged, offsets_from_counts
from l1scout._types import I64, B
from l1scout.errors import ConfigError, DataFormatError
from l1scout.io.dataset import Dataset, open_dataset
from l1scout.io.footer import DataFile
from l1scout.io.ragged import jagged
from l1scout.io.torchdata import split_of
from l1scout.production.driver import Progress
from l1scout.production.plan import ProductionPlan
from l1scout.production.samples import (
    ensure_fast_samples,
    fast_plan_of,
    files_by_process,
)
from l1scout.tasks.mlpf.config import MLPFConfig
from l1scout.tasks.mlpf.features import TOWER_COLUMNS, TRACK_COLUMNS, Elements, element_features
from l1scout.tasks.mlpf.targets import (
    ElementTargets,
    MLPFTargets,
    TargetBookkeeping,
    mlpf_targets_from_columns,
)

__all__ = [
    "GEN_FIELDS",
    "PARTICLE_FIELDS",
    "SPLIT_NAMES",
    "MLPFData",
    "MLPFSplit",
    "ensure_mlpf_samples",
    "evaluation_columns",
    "load_mlpf_data",
    "mlpf_collections",
    "mlpf_sample_files",
    "production_plan",
]

_log = logging.getLogger(__name__)

#: The splits, in the order of :func:`~l1scout.io.torchdata.split_of`'s codes 0, 1, 2.
SPLIT_NAMES: tuple[str, ...] = ("train", "validation", "test")
#: ``Gen_Part`` fields read (the targets' and the generator reference's).
GEN_FIELDS: tuple[str, ...] = ("PID", "Status", "Charge", "PT", "Eta", "Phi", "Mass", "IsPU")
#: ``<view>_PFPart`` / ``<view>_PUPPIPart`` fields kept for the evaluation.
PARTICLE_FIELDS: tuple[str, ...] = (
    "PT",
    "Eta",
    "Phi",
    "E",
    "PID",
    "Charge",
    "IsPU",
    "IsRecoPU",
    "PuppiW",
)
_EVENT_NUMBER = "Event_Number"
_TRACK_TRUTH = ("GenIndex",)
_CONTRIB_FIELDS = ("Tower", "GenIndex", "E")
_SAMPLES = "samples"

#: Files of the samples: process -> its files, and the dataset hash.
MLPFSampleFiles = tuple[dict[str, list[Path]], str]


def mlpf_collections(view: str) -> tuple[str, ...]:
    """The collections the production writes for *view* (module docstring), sorted.

    >>> mlpf_collections("L1T")  # doctest: +NORMALIZE_WHITESPACE
    ('Event', 'Gen_Part', 'L1T_PFPart', 'L1T_PUPPIPart', 'L1T_Tower', 'L1T_TowerContrib',
     'L1T_Track')
    """
    names = ("PFPart", "PUPPIPart", "Track", "Tower", "TowerContrib")
    return tuple(sorted(("Event", "Gen_Part", *(f"{view}_{c}" for c in names))))


def evaluation_columns(view: str) -> tuple[str, ...]:
    """The columns kept for the test events: ``Gen_Part`` and both PF collections of *view*."""
    gen = tuple(f"Gen_Part_{f}" for f in GEN_FIELDS)
    parts = tuple(f"{view}_{c}_{f}" for c in ("PFPart", "PUPPIPart") for f in PARTICLE_FIELDS)
    return gen + parts


def _read_columns(view: str) -> tuple[str, ...]:
    """Every column :func:`load_mlpf_data` reads."""
    elements = (
        *(f"{view}_Track_{c}" for c in (*TRACK_COLUMNS, *_TRACK_TRUTH)),
        *(f"{view}_Tower_{c}" for c in TOWER_COLUMNS),
        *(f"{view}_TowerContrib_{c}" for c in _CONTRIB_FIELDS),
    )
    return tuple(dict.fromkeys((*elements, *evaluation_columns(view))))


def production_plan(cfg: MLPFConfig) -> ProductionPlan:
    """The fast-mode plan of the samples (module docstring).

    Raises:
        ConfigError: the plan does not validate (naming the plan's fields).
    """
    data = cfg.data
    return fast_plan_of(
        data,
        data.samples,
        views=(data.view,),
        collections=mlpf_collections(data.view_name),
        source="the MLPF production plan",
    )


def mlpf_sample_files(cfg: MLPFConfig, data_dir: Path | str) -> dict[str, list[Path]]:
    """The files of every sample in *data_dir*, process by process (they need not exist)."""
    return files_by_process(production_plan(cfg), Path(data_dir) / _SAMPLES)


def ensure_mlpf_samples(
    cfg: MLPFConfig, data_dir: Path | str, *, progress: Progress | None = None
) -> MLPFSampleFiles:
    """Make what is missing of the samples in ``<data_dir>/samples``; return the files and the hash.

    Args:
        cfg: the task's configuration (its ``data`` table).
        data_dir: the data folder (created if needed).
        progress: ``progress(stage, done, total)`` as ``produce`` calls it.

    Returns:
        (process -> its files; SHA-256 hex identifying the data: the plan's
        hash and every file's SHA-256 from the manifest).

    Raises:
        ProductionError: the folder holds samples of another configuration
            (nothing is touched), cannot be written, or shards failed on every
            attempt (listed; the others are kept, rerun to retry).
    """
    plan = production_plan(cfg)
    return ensure_fast_samples(
        plan, Path(data_dir) / _SAMPLES, what="MLPF samples", progress=progress
    )


# -- the events of one split ------------------------------------------------------------


@dataclass(frozen=True)
class MLPFSplit:
    """The events of one split: elements, targets and, for the test split, the evaluation columns.

    Attributes:
        elements: the events' elements (tracks then towers per event).
        targets: the targets of the same elements (``targets.elements`` aligned
            with ``elements`` row by row).
        sample: per event, the index of its sample in :attr:`MLPFData.samples`.
        event_number: per event, its ``Event_Number``.
        columns: the :func:`evaluation_columns` of the events (name ->
            (offsets, flat values)), or None (kept for the test split only).
    """

    elements: Elements
    targets: MLPFTargets
    sample: I64
    event_number: I64
    columns: dict[str, Jagged] | None = None

    @property
    def n_events(self) -> int:
        """Number of events."""
        return self.elements.n_events

    @property
    def n_elements(self) -> int:
        """Number of elements over all events."""
        return len(self.elements.kind)

    def element_counts(self) -> I64:
        """Elements per event."""
        return np.diff(self.elements.offsets)


@dataclass(frozen=True)
class MLPFData:
    """The three splits of the samples (train, validation, test) and the sample names."""

    samples: tuple[str, ...]
    train: MLPFSplit
    validation: MLPFSplit
    test: MLPFSplit

    def splits(self) -> dict[str, MLPFSplit]:
        """The splits by name (:data:`SPLIT_NAMES`)."""
        return {"train": self.train, "validation": self.validation, "test": self.test}


def _take_events(col: Jagged, keep: B) -> Jagged:
    """The events *keep* of one jagged column."""
    off, values = col
    counts = np.diff(off)
    return offsets_from_counts(counts[keep]), values[np.repeat(keep, counts)]


def _concat_jagged(parts: Sequence[Jagged]) -> Jagged:
    counts = np.concatenate([np.diff(p[0]) for p in parts])
    return offsets_from_counts(counts), np.concatenate([p[1] for p in parts])


def _elements(columns: Mapping[str, Jagged], view: str) -> Elements:
    trk_off = columns[f"{view}_Track_PT"][0]
    twr_off = columns[f"{view}_Tower_E"][0]
    tracks = {c: columns[f"{view}_Track_{c}"][1] for c in TRACK_COLUMNS}
    towers = {c: columns[f"{view}_Tower_{c}"][1] for c in TOWER_COLUMNS}
    for name in (*(f"{view}_Track_{c}" for c in TRACK_COLUMNS),):
        if not np.array_equal(columns[name][0], trk_off):
            raise DataFormatError(f"{name}: expected the same offsets as {view}_Track_PT")
    for name in (*(f"{view}_Tower_{c}" for c in TOWER_COLUMNS),):
        if not np.array_equal(columns[name][0], twr_off):
            raise DataFormatError(f"{name}: expected the same offsets as {view}_Tower_E")
    return element_features(tracks, trk_off, towers, twr_off)


def _split_of_events(
    columns: Mapping[str, Jagged],
    view: str,
    sample: int,
    numbers: I64,
    keep_columns: bool,
) -> MLPFSplit:
    """Elements and targets of the events of one chunk of one split."""
    elements = _elements(columns, view)
    targets = mlpf_targets_from_columns(columns, view)
    if not np.array_equal(elements.offsets, targets.elements.offsets):  # pragma: no cover
        raise DataFormatError("elements and targets: expected the same elements per event")
    kept = (
        {name: columns[name] for name in evaluation_columns(view) if name in columns}
        if keep_columns
        else None
    )
    return MLPFSplit(
        elements=elements,
        targets=targets,
        sample=np.full(len(numbers), sample, dtype=np.int64),
        event_number=numbers,
        columns=kept,
    )


def _concat_dataclass(
    cls: type[Any], parts: Sequence[Any], skip: tuple[str, ...] = ()
) -> dict[str, Any]:
    return {
        f.name: np.concatenate([getattr(p, f.name) for p in parts])
        for f in fields(cls)
        if f.name not in skip
    }


def _concat_splits(parts: Sequence[MLPFSplit]) -> MLPFSplit:
    """The events of *parts* one after the other."""
    counts = np.concatenate([np.diff(p.elements.offsets) for p in parts])
    offsets = offsets_from_counts(counts)
    elements = Elements(
        offsets=offsets,
        **_concat_dataclass(Elements, [p.elements for p in parts], skip=("offsets",)),
    )
    el_targets = ElementTargets(
        offsets=offsets,
        **_concat_dataclass(ElementTargets, [p.targets.elements for p in parts], ("offsets",)),
    )
    targets = MLPFTargets(
        elements=el_targets,
        gen_element=np.concatenate([p.targets.gen_element for p in parts]),
        bookkeeping=TargetBookkeeping(
            **_concat_dataclass(TargetBookkeeping, [p.targets.bookkeeping for p in parts])
        ),
    )
    columns = None
    with_columns = [p.columns for p in parts if p.columns is not None]
    if with_columns:
        columns = {
            name: _concat_jagged([c[name] for c in with_columns]) for name in with_columns[0]
        }
    return MLPFSplit(
        elements=elements,
        targets=targets,
        sample=np.concatenate([p.sample for p in parts]),
        event_number=np.concatenate([p.event_number for p in parts]),
        columns=columns,
    )


def _read(chunk: Any, name: str) -> Jagged:
    """One jagged column of a chunk, float16 widened to float32."""
    off, values = jagged(chunk, name)
    if values.dtype == np.float16:
        values = values.astype(np.float32)
    return off, values


def _open(source: Sequence[Path], columns: Sequence[str], what: str) -> Dataset:
    try:
        ds = open_dataset(list(source), columns=list(columns), hub=False)
    except ConfigError as exc:  # a column no file has
        msg = (
            f"{what}: {exc} (the files need the collections of mlpf_collections(view), "
            "produced with the detector elements)"
        )
        raise DataFormatError(msg) from None
    if not isinstance(ds, Dataset):  # hub=False: never a HubDataset
        msg = f"{what}: expected local files, got {source!r}"
        raise ConfigError(msg)
    for f in ds.files:
        lacking = [c for c in (*columns, _EVENT_NUMBER) if c not in f.physical]
        if lacking:
            more = f" and {len(lacking) - 3} more" if len(lacking) > 3 else ""
            msg = (
                f"{f.path}: lacks {', '.join(lacking[:3])}{more}; expected the collections "
                "of l1scout.tasks.mlpf.data.mlpf_collections (produce them with the elements)"
            )
            raise DataFormatError(msg)
    return ds.with_columns([*ds.columns, _EVENT_NUMBER])


def _file_splits(
    ds: Dataset,
    file: DataFile,
    view: str,
    sample: int,
    fractions: tuple[float, float, float],
) -> Iterator[tuple[int, MLPFSplit]]:
    """(split code, its events) of every chunk of one file."""
    wanted = _read_columns(view)
    for chunk in ds.iter_file(file):
        n = len(chunk)
        numbers = np.asarray(chunk[_EVENT_NUMBER], dtype=np.int64).reshape(n, -1)[:, 0]
        split = split_of(file.identity, numbers, fractions)
        cols = {name: _read(chunk, name) for name in wanted}
        for code in range(len(SPLIT_NAMES)):
            keep: B = split == code
            if not np.any(keep):
                continue
            sub = {name: _take_events(col, keep) for name, col in cols.items()}
            yield code, _split_of_events(sub, view, sample, numbers[keep], code == 2)


def load_mlpf_data(
    files: Mapping[str, Sequence[Path]],
    *,
    view: str = "FullReco",
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
) -> MLPFData:
    """Read the samples into elements, targets and the test events' columns (module docstring).

    Args:
        files: sample name -> its files (as :func:`ensure_mlpf_samples` returns them).
        view: the view of the elements and of the particle-flow collections.
        fractions: train, validation and test fractions of the split hash.

    Raises:
        ConfigError: a sample without files.
        DataFormatError: a file lacks a column (named), columns disagree, or a
            split has no event (more events, or other fractions).
    """
    names = tuple(files)
    parts: dict[int, list[MLPFSplit]] = {code: [] for code in range(len(SPLIT_NAMES))}
    wanted = _read_columns(view)
    for sample, name in enumerate(names):
        paths = list(files[name])
        if not paths:
            raise ConfigError(f"sample {name!r}: no files")
        ds = _open(paths, wanted, f"sample {name!r}")
        for file in ds.files:
            for code, part in _file_splits(ds, file, view, sample, fractions):
                parts[code].append(part)
    empty = [SPLIT_NAMES[c] for c, p in parts.items() if not p]
    if empty:
        msg = (
            f"no events in the {', '.join(empty)} split(s): more events, or other splits.fractions"
        )
        raise DataFormatError(msg)
    splits = {SPLIT_NAMES[c]: _concat_splits(p) for c, p in parts.items()}
    for split_name, s in splits.items():
        _log.info(
            "MLPF %s: %d events, %d elements (%.0f per event), %d targets",
            split_name,
            s.n_events,
            s.n_elements,
            s.n_elements / max(s.n_events, 1),
            int(s.targets.elements.is_particle.sum()),
        )
    return MLPFData(samples=names, **splits)
