"""Streaming COLLIDE (or l1scout) data from the Hugging Face hub, as COLLIDE users do.

:class:`HubDataset` calls
``datasets.load_dataset(repo_or_dir, data_dir=<process>, split="train",
streaming=True, columns=[...])``, the call of the published COLLIDE
tutorials (the hub dataset declares no configs: default config, split
``train``, one folder per process), and yields the same chunks as
:class:`l1scout.io.dataset.Dataset`: awkward record arrays with canonical
names through the same alias table, float16 upcast, legacy PID unwrapped
(the same conversion, :mod:`l1scout.io.convert`, and selection,
:mod:`l1scout.io.selection`; this module does not import
:mod:`l1scout.io.dataset`, whose :func:`~l1scout.io.dataset.open_dataset`
dispatches here).

The same code reads a local folder laid out like the hub repository,
``<root>/<process>/*.parquet``, through the same ``datasets`` parquet builder
(``open_dataset(root, hub=True)``); that is how it is tested here, with no
network.

Each process is opened twice: once without ``columns`` (only the file list
and the first file's schema are read) to find the schema and map the
selection to the file's own names, then with ``columns`` so that only those
columns are ever downloaded. A local root also gives the ``dataset_version``
metadata and the event count from the Parquet footers; a remote one does not
(the schema is then told from the column names, and :attr:`HubDataset.n_events`
is None unless the hub declares it).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import pyarrow as pa
import pyarrow.parquet as pq

from l1scout.errors import ConfigError, DataFormatError
from l1scout.io.aliases import SchemaKind, closest_names, detect_schema
from l1scout.io.convert import events_from_batches, join_chunks
from l1scout.io.footer import decode_metadata
from l1scout.io.paths import parquet_files
from l1scout.io.selection import common_columns, did_you_mean, name_list, select_columns

__all__ = ["ALL_PROCESSES", "HubDataset"]

_log = logging.getLogger(__name__)

#: The process label of a remote stream opened without ``processes`` (the whole repository).
ALL_PROCESSES = "*"


@dataclass(frozen=True)
class _Stream:
    process: str
    schema: SchemaKind
    physical: dict[str, str]
    unwrap: frozenset[str]
    n_events: int | None


def _load(source: str, process: str, columns: Sequence[str] | None = None) -> Any:
    """``datasets.load_dataset`` as COLLIDE's users call it (streaming, split train)."""
    import datasets

    kwargs: dict[str, Any] = {}
    if process != ALL_PROCESSES:
        kwargs["data_dir"] = process
    if columns is not None:
        kwargs["columns"] = list(columns)
    try:
        return datasets.load_dataset(source, split="train", streaming=True, **kwargs)
    except (FileNotFoundError, ValueError, ConnectionError, OSError) as exc:
        where = "" if process == ALL_PROCESSES else f" (data_dir {process!r})"
        msg = f"{source}{where}: cannot open the dataset ({type(exc).__name__}: {exc})"
        raise ConfigError(msg) from exc


def _local_files(root: Path, process: str) -> list[Path]:
    return parquet_files(root if process == ALL_PROCESSES else root / process)


class HubDataset:
    """Events streamed with ``datasets`` from the hub (or a local folder laid out like it).

    Same iteration interface as :class:`~l1scout.io.dataset.Dataset`: iterate
    for chunks of at most ``chunk_size`` events, :meth:`read`, :meth:`with_columns`.

    Args:
        source: a hub dataset id (``fastmachinelearning/collide-1m``) or a local root folder.
        processes: process folders (``data_dir``) to stream, in order; None: a
            local root's every process folder, or the whole remote repository
            as one stream labelled :data:`ALL_PROCESSES`.
        views: the selection, as for :func:`~l1scout.io.dataset.open_dataset`.
        collections: the selection, as for :func:`~l1scout.io.dataset.open_dataset`.
        columns: the selection, as for :func:`~l1scout.io.dataset.open_dataset`.
        chunk_size: events per chunk at most.
    """

    def __init__(
        self,
        source: str | os.PathLike[str],
        *,
        processes: Sequence[str] | None = None,
        views: Sequence[str] | None = None,
        collections: Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
        chunk_size: int = 10_000,
    ) -> None:
        if chunk_size < 1:
            msg = f"chunk_size must be at least 1, got {chunk_size}"
            raise ConfigError(msg)
        self.source = os.fspath(source)
        self.chunk_size = int(chunk_size)
        root = Path(self.source)
        self._root = root if root.is_dir() else None
        self.processes: tuple[str, ...] = tuple(processes or self._default_processes())
        if not self.processes:
            msg = f"{self.source}: no process folder with .parquet files"
            raise ConfigError(msg)
        self._streams = tuple(self._inspect(p) for p in self.processes)
        common, partial = self._common()
        self.columns: tuple[str, ...] = select_columns(
            common, views=views, collections=collections, columns=columns, partial=partial
        )
        self._data: dict[str, Any] = {}

    def _default_processes(self) -> list[str]:
        if self._root is None:
            return [ALL_PROCESSES]
        return sorted(
            d.name
            for d in self._root.iterdir()
            if d.is_dir() and not d.name.startswith(".") and _local_files(self._root, d.name)
        )

    def _inspect(self, process: str) -> _Stream:
        metadata: dict[str, str] = {}
        n_events: int | None = None
        if self._root is not None:
            files = _local_files(self._root, process)
            if not files:
                hint = did_you_mean(closest_names(process, self._default_processes()))
                msg = f"{self.source}: no process folder {process!r} with .parquet files{hint}"
                raise ConfigError(msg)
            try:
                metas = [pq.read_metadata(f) for f in files]
            except (pa.ArrowException, OSError) as exc:
                msg = f"{self.source}/{process}: a file is not readable Parquet ({exc})"
                raise DataFormatError(msg) from exc
            metadata = decode_metadata(metas[0].metadata)
            n_events = sum(m.num_rows for m in metas)
        ds = _load(self.source, process)
        if ds.features is None:
            msg = f"{self.source} ({process}): the hub gives no column list"
            raise DataFormatError(msg)
        arrow = ds.features.arrow_schema
        types = {f.name: f.type for f in arrow}
        label = self.source if process == ALL_PROCESSES else f"{self.source} ({process})"
        match = detect_schema(types, metadata, label)
        if n_events is None:
            splits = getattr(ds.info, "splits", None) or {}
            info = splits.get("train") if hasattr(splits, "get") else None
            n_events = getattr(info, "num_examples", None) or None
        return _Stream(process, match.kind, dict(match.physical), match.unwrap, n_events)

    def _common(self) -> tuple[list[str], dict[str, list[str]]]:
        return common_columns([(s.process, s.physical) for s in self._streams])

    def __repr__(self) -> str:
        return (
            f"HubDataset({self.source!r}, {len(self.processes)} processes, "
            f"{len(self.columns)} columns, schema {sorted(self.schemas)})"
        )

    @property
    def schema(self) -> SchemaKind:
        """The schema kind of the first process's files."""
        return self._streams[0].schema

    @property
    def schemas(self) -> frozenset[SchemaKind]:
        """The schema kinds of all processes."""
        return frozenset(s.schema for s in self._streams)

    @property
    def n_events(self) -> int | None:
        """Events in all processes, None when the hub does not say."""
        counts = [s.n_events for s in self._streams]
        if any(n is None for n in counts):
            return None
        return sum(n for n in counts if n is not None)

    def with_columns(self, columns: str | Iterable[str]) -> HubDataset:
        """The same processes with other columns (canonical names or globs)."""
        out = object.__new__(HubDataset)
        out.__dict__.update(self.__dict__)
        common, partial = self._common()
        out.columns = select_columns(common, columns=name_list(columns, "columns"), partial=partial)
        out._data = {}
        return out

    def _stream(self, process: str) -> _Stream:
        for stream in self._streams:
            if stream.process == process:
                return stream
        msg = f"unknown process {process!r}; this dataset streams {list(self.processes)}"
        raise ConfigError(msg)

    def _dataset(self, process: str) -> Any:
        if process not in self._data:
            stream = self._stream(process)
            physical = [stream.physical[c] for c in self.columns]
            self._data[process] = _load(self.source, process, physical).with_format("arrow")
        return self._data[process]

    def n_shards(self, process: str) -> int:
        """How many shards (files) the process's stream has."""
        return int(self._dataset(process).num_shards)

    def iter_process(
        self, process: str, *, shard: int | None = None, chunk_size: int | None = None
    ) -> Iterator[ak.Array]:
        """Chunks of one process (or of one of its shards, as :meth:`n_shards` counts them)."""
        stream = self._stream(process)
        ds = self._dataset(process)
        if shard is not None:
            ds = ds.shard(num_shards=ds.num_shards, index=shard, contiguous=True)
        size = self.chunk_size if chunk_size is None else int(chunk_size)
        pairs = [(c, stream.physical[c]) for c in self.columns]
        unwrap = stream.unwrap & set(self.columns)
        yield from events_from_batches(
            iter(ds.iter(batch_size=size)), pairs, unwrap, f"{self.source} ({process})"
        )

    def __iter__(self) -> Iterator[ak.Array]:
        for process in self.processes:
            yield from self.iter_process(process)

    def read(self, max_events: int | None = None) -> ak.Array:
        """All events (or the first *max_events*) in one array; mind the memory."""
        out = join_chunks(self, max_events)
        if out is None:
            msg = f"{self.source}: the stream holds no event"
            raise DataFormatError(msg)
        return out
