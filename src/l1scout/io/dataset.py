"""Reading event files of any known schema, lazily and in chunks: :func:`open_dataset`.

One call reads l1scout files, final COLLIDE-2V files and older COLLIDE-1m
files, from a file, a folder, a glob, a list of files, or a hub dataset id
(:mod:`l1scout.io.hub`). Every file's columns go through the one alias table
of :mod:`l1scout.io.aliases`, so a chunk always has the canonical (final
COLLIDE-2V) names, float16 is upcast to float32 (in Arrow, before the
conversion) and legacy int8 PID values are unwrapped to int32.

Reading is chunked: :meth:`Dataset.__iter__` yields awkward record arrays of
at most ``chunk_size`` events, read with ``ParquetFile.iter_batches`` over the
selected columns only. Wide events come in smaller chunks: a chunk holds at
most about ``chunk_bytes`` (default :data:`CHUNK_BYTES`) of the selected
columns, estimated from the Parquet footer's uncompressed sizes, so 10,000
events of 7,000 ``FullReco_PUPPIPart`` each do not arrive at once (small
chunks of wide data are also faster: the memory of one chunk is reused for
the next). Memory stays bounded by one chunk and by one row group of the
selected columns (Parquet decodes a column chunk of a row group at once),
whatever the number of files.

This module holds :class:`Dataset` and :func:`open_dataset`, which dispatches
a hub source to :class:`~l1scout.io.hub.HubDataset`. The steps live in one
module each, below both readers (neither imports this one):

* :mod:`l1scout.io.paths`: a source to Parquet files (files, folders, globs,
  lists), and a hub id told from a local path.
* :mod:`l1scout.io.footer`: a file's footer as a
  :class:`~l1scout.io.footer.DataFile` (:func:`~l1scout.io.footer.open_file`), and the event sizes that size the chunks.
* :mod:`l1scout.io.selection`: the ``processes``, ``views``,
  ``collections`` and ``columns`` selections (:func:`~l1scout.io.selection.select_columns`).
* :mod:`l1scout.io.convert`: Arrow batches to awkward arrays with canonical
  names (:func:`~l1scout.io.convert.events_from_arrow`,
  :func:`~l1scout.io.convert.target_type`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, overload

import awkward as ak
import pyarrow as pa
import pyarrow.parquet as pq

from l1scout.errors import ConfigError, DataFormatError
from l1scout.io.aliases import SchemaKind
from l1scout.io.convert import events_from_arrow, events_from_batches, join_chunks
from l1scout.io.footer import DataFile, open_file, parquet_file, uncompressed_event_bytes
from l1scout.io.hub import HubDataset
from l1scout.io.paths import LocalSource, Source, goes_to_hub, resolve_paths
from l1scout.io.selection import common_columns, name_list, select_columns, select_processes

__all__ = ["CHUNK_BYTES", "Dataset", "open_dataset"]

_log = logging.getLogger(__name__)

#: Decoded bytes a chunk holds at most (about): 32 MiB.
CHUNK_BYTES = 32 << 20

#: Parquet files a Dataset keeps open (their footers in memory), least recently used dropped.
_OPEN_FILES = 4


class Dataset:
    """Event files read chunk by chunk as awkward arrays with canonical names.

    Made by :func:`open_dataset`. Iterating yields record arrays of at most
    ``chunk_size`` events; ``chunk["L1T_MuonTight_PT"]`` is jagged float32.

    Attributes:
        files: the files, in reading order.
        columns: the canonical columns read.
        chunk_size: events per chunk at most.
        chunk_bytes: decoded bytes per chunk at most, about (None: no limit).
    """

    def __init__(
        self,
        files: Sequence[DataFile],
        columns: Sequence[str],
        chunk_size: int,
        chunk_bytes: int | None = CHUNK_BYTES,
    ) -> None:
        if not files:
            msg = "a dataset needs at least one file"
            raise ConfigError(msg)
        if chunk_size < 1:
            msg = f"chunk_size must be at least 1, got {chunk_size}"
            raise ConfigError(msg)
        self.files: tuple[DataFile, ...] = tuple(files)
        self.columns: tuple[str, ...] = tuple(columns)
        if chunk_bytes is not None and chunk_bytes < 1:
            msg = f"chunk_bytes must be at least 1 or None, got {chunk_bytes}"
            raise ConfigError(msg)
        self.chunk_size = int(chunk_size)
        self.chunk_bytes = chunk_bytes
        self._open: dict[Path, pq.ParquetFile] = {}
        self._widths: dict[tuple[Path, tuple[str, ...]], float] = {}
        self._pid = os.getpid()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_open"] = {}
        return state

    def __repr__(self) -> str:
        return (
            f"Dataset({len(self.files)} files, {self.n_events} events, "
            f"{len(self.columns)} columns, schema {sorted(self.schemas)})"
        )

    @property
    def n_events(self) -> int:
        """Events in all files."""
        return sum(f.n_events for f in self.files)

    @property
    def schema(self) -> SchemaKind:
        """The schema kind of the first file (see :attr:`schemas` for a mix)."""
        return self.files[0].schema

    @property
    def schemas(self) -> frozenset[SchemaKind]:
        """The schema kinds of all files."""
        return frozenset(f.schema for f in self.files)

    @property
    def processes(self) -> tuple[str, ...]:
        """The processes of the files, in file order."""
        return tuple(dict.fromkeys(f.process for f in self.files))

    def with_columns(self, columns: str | Iterable[str]) -> Dataset:
        """The same files with other columns (canonical names or globs, validated)."""
        common, partial = common_columns(_members(self.files))
        cols = select_columns(common, columns=name_list(columns, "columns"), partial=partial)
        return Dataset(self.files, cols, self.chunk_size, self.chunk_bytes)

    def _parquet(self, file: DataFile) -> pq.ParquetFile:
        if self._pid != os.getpid():  # a forked worker: open its own handles
            self._open = {}
            self._pid = os.getpid()
        pf = self._open.pop(file.path, None)
        if pf is None:
            pf = parquet_file(file.path)
        self._open[file.path] = pf  # most recent last
        while len(self._open) > _OPEN_FILES:  # footers are large: memory stays bounded
            del self._open[next(iter(self._open))]
        return pf

    def _event_bytes(self, file: DataFile, physical: Sequence[str]) -> float:
        """Uncompressed bytes per event of the *physical* columns (first row groups, from the footer)."""
        key = (file.path, tuple(physical))
        if key not in self._widths:
            self._widths[key] = uncompressed_event_bytes(self._parquet(file).metadata, physical)
        return self._widths[key]

    def chunk_events(self, file: DataFile | int, chunk_size: int | None = None) -> int:
        """Events per chunk for *file*: ``chunk_size``, fewer if they exceed ``chunk_bytes``."""
        f = self._file(file)
        size = self.chunk_size if chunk_size is None else int(chunk_size)
        if self.chunk_bytes is None:
            return size
        width = self._event_bytes(f, [f.physical[c] for c in self.columns if c in f.physical])
        return size if width <= 0 else max(1, min(size, int(self.chunk_bytes / width)))

    def _file(self, file: DataFile | int) -> DataFile:
        if isinstance(file, int):
            return self.files[file]
        if file not in self.files:
            msg = f"{file.path} is not a file of this dataset"
            raise ConfigError(msg)
        return file

    def iter_file(
        self,
        file: DataFile | int,
        *,
        row_groups: Sequence[int] | None = None,
        chunk_size: int | None = None,
    ) -> Iterator[ak.Array]:
        """Chunks of one file (or of some of its row groups, in the order given).

        A chunk holds at most *chunk_size* events (default: the dataset's),
        fewer for wide events (see :meth:`chunk_events`).

        Raises:
            DataFormatError: the file's data is corrupt; the message names it.
        """
        f = self._file(file)
        size = self.chunk_size if chunk_size is None else int(chunk_size)
        if size < 1:
            msg = f"chunk_size must be at least 1, got {size}"
            raise ConfigError(msg)
        missing = [c for c in self.columns if c not in f.physical]
        if missing:
            msg = f"{f.path}: lacks the columns {', '.join(missing)}"
            raise DataFormatError(msg)
        pairs = [(c, f.physical[c]) for c in self.columns]
        unwrap = f.unwrap & set(self.columns)
        groups = list(range(f.n_row_groups)) if row_groups is None else list(row_groups)
        bad = [g for g in groups if not 0 <= g < f.n_row_groups]
        if bad:
            msg = f"{f.path}: row groups {bad} out of range (the file has {f.n_row_groups})"
            raise ConfigError(msg)
        if not groups:
            return
        batches = self._parquet(f).iter_batches(
            batch_size=self.chunk_events(f, size),
            row_groups=groups,
            columns=[p for _, p in pairs],
            use_threads=True,
        )
        try:
            yield from events_from_batches(batches, pairs, unwrap, str(f.path))
        except DataFormatError:
            self._open.pop(f.path, None)
            raise

    def __iter__(self) -> Iterator[ak.Array]:
        for f in self.files:
            yield from self.iter_file(f)

    def read(self, max_events: int | None = None) -> ak.Array:
        """All events (or the first *max_events*) in one array; mind the memory."""
        if max_events is not None and max_events < 0:
            msg = f"max_events must be >= 0, got {max_events}"
            raise ConfigError(msg)
        if max_events == 0:
            return self._empty()
        size = self.chunk_size if max_events is None else min(self.chunk_size, max_events)
        out = join_chunks(
            (c for f in self.files for c in self.iter_file(f, chunk_size=size)), max_events
        )
        return self._empty() if out is None else out

    def _empty(self) -> ak.Array:
        f = self.files[0]
        schema = pa.schema([pa.field(f.physical[c], f.types[c]) for c in self.columns])
        pairs = [(c, f.physical[c]) for c in self.columns]
        unwrap = f.unwrap & set(self.columns)
        return events_from_arrow(schema.empty_table(), pairs, unwrap)


def _members(files: Sequence[DataFile]) -> list[tuple[str, Mapping[str, str]]]:
    return [(str(f.path), f.physical) for f in files]


@overload
def open_dataset(
    source: Source,
    *,
    processes: str | Iterable[str] | None = None,
    views: str | Iterable[str] | None = None,
    collections: str | Iterable[str] | None = None,
    columns: str | Iterable[str] | None = None,
    chunk_size: int = 10_000,
    hub: Literal[False],
    chunk_bytes: int | None = CHUNK_BYTES,
) -> Dataset: ...


@overload
def open_dataset(
    source: str | os.PathLike[str],
    *,
    processes: str | Iterable[str] | None = None,
    views: str | Iterable[str] | None = None,
    collections: str | Iterable[str] | None = None,
    columns: str | Iterable[str] | None = None,
    chunk_size: int = 10_000,
    hub: Literal[True],
    chunk_bytes: int | None = CHUNK_BYTES,
) -> HubDataset: ...


@overload
def open_dataset(
    source: LocalSource,
    *,
    processes: str | Iterable[str] | None = None,
    views: str | Iterable[str] | None = None,
    collections: str | Iterable[str] | None = None,
    columns: str | Iterable[str] | None = None,
    chunk_size: int = 10_000,
    hub: None = None,
    chunk_bytes: int | None = CHUNK_BYTES,
) -> Dataset: ...


@overload
def open_dataset(
    source: Source,
    *,
    processes: str | Iterable[str] | None = None,
    views: str | Iterable[str] | None = None,
    collections: str | Iterable[str] | None = None,
    columns: str | Iterable[str] | None = None,
    chunk_size: int = 10_000,
    hub: bool | None = None,
    chunk_bytes: int | None = CHUNK_BYTES,
) -> Dataset | HubDataset: ...


def open_dataset(
    source: Source,
    *,
    processes: str | Iterable[str] | None = None,
    views: str | Iterable[str] | None = None,
    collections: str | Iterable[str] | None = None,
    columns: str | Iterable[str] | None = None,
    chunk_size: int = 10_000,
    hub: bool | None = None,
    chunk_bytes: int | None = CHUNK_BYTES,
) -> Dataset | HubDataset:
    """Open event files of any known schema for chunked reading.

    Args:
        source: a file, a folder (searched recursively for ``*.parquet``), a
            glob, a list of these, or a hub dataset id (``owner/name``, when it
            is not an existing local path).
        processes: keep the files of these processes.
        views: keep these detector views (truth and event columns stay).
        collections: keep these collections (``PUPPIPart``, ``L1T_Electron``, ``Gen_Part``).
        columns: keep these columns (canonical names, fnmatch globs).
        chunk_size: events per chunk at most.
        hub: True streams with the ``datasets`` library (also for a local folder
            laid out as the hub repository, ``<root>/<process>/*.parquet``);
            False never does; None decides from *source*.
        chunk_bytes: decoded bytes per chunk at most, about (None: no limit;
            local files only).

    Returns:
        A :class:`Dataset`, or a :class:`~l1scout.io.hub.HubDataset` for the hub.
        The overloads type it: ``hub=False`` or a :data:`~l1scout.io.paths.LocalSource`
        (a path, a list or tuple) gives a :class:`Dataset`, ``hub=True`` a
        :class:`~l1scout.io.hub.HubDataset`; a plain ``str`` without ``hub`` may be
        either (a path or a hub id, told apart at run time), so pass ``hub=False``
        for a :class:`Dataset`.

    Raises:
        ConfigError: no file found, or an unknown process, view, collection or column.
        DataFormatError: a file that is corrupt or follows no known schema.
    """
    if chunk_size < 1:
        msg = f"chunk_size must be at least 1, got {chunk_size}"
        raise ConfigError(msg)
    procs = name_list(processes, "processes")
    view_list = name_list(views, "views")
    coll_list = name_list(collections, "collections")
    col_list = name_list(columns, "columns")
    if goes_to_hub(source, hub):
        if not isinstance(source, str | os.PathLike):
            msg = "source: the hub path takes one dataset id or folder, not a list"
            raise ConfigError(msg)
        return HubDataset(
            source,
            processes=procs,
            views=view_list,
            collections=coll_list,
            columns=col_list,
            chunk_size=chunk_size,
        )
    files = [open_file(p) for p in resolve_paths(source)]
    if procs is not None:
        files = select_processes(files, procs)
    common, partial = common_columns(_members(files))
    if partial and coll_list is None and col_list is None:
        _log.info(
            "%d columns are not in every file and are left out: %s",
            len(partial),
            ", ".join(list(partial)[:10]),
        )
    cols = select_columns(
        common, views=view_list, collections=coll_list, columns=col_list, partial=partial
    )
    dataset = Dataset(files, cols, chunk_size, chunk_bytes)
    _log.info(
        "%d files, %d events, schema %s, %d columns",
        len(files),
        dataset.n_events,
        " + ".join(sorted(dataset.schemas)),
        len(cols),
    )
    return dataset
