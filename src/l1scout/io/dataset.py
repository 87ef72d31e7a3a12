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

Selections:

* ``processes``: a file belongs to a process named by its ``process``
  metadata, its ``<process>-NEVENT<n>-RS<seed>`` file name, or its folder.
* ``views``: detector views (``FullReco``, ``L1T``, a user's); the columns
  of other views are dropped, truth and event columns are kept.
* ``collections``: ``PUPPIPart`` (in every selected view), ``L1T_PUPPIPart``,
  ``Gen_Part``, ``Vertex``, ``Event``.
* ``columns``: canonical names or fnmatch globs (``L1T_MuonTight_*``); legacy
  names are translated.

With ``collections`` or ``columns`` the result is the union of both; without
them every column that all files have. An unknown name is a
:class:`~l1scout.errors.ConfigError` with the closest names.
"""

from __future__ import annotations

import fnmatch
import functools
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import awkward as ak
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from l1scout.errors import ConfigError, DataFormatError
from l1scout.io.aliases import (
    SchemaKind,
    canonical_name,
    closest_names,
    column_collection,
    column_view,
    detect_schema,
    unwrap_pid,
)

if TYPE_CHECKING:
    from l1scout.io.hub import HubDataset

__all__ = [
    "CHUNK_BYTES",
    "DataFile",
    "Dataset",
    "SchemaKind",
    "Source",
    "events_from_arrow",
    "open_dataset",
    "open_file",
    "select_columns",
    "target_type",
]

_log = logging.getLogger(__name__)

#: What :func:`open_dataset` accepts: a file, a folder, a glob, a hub id, or a list of paths.
Source = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]

#: Decoded bytes a chunk holds at most (about): 32 MiB.
CHUNK_BYTES = 32 << 20

_COLLIDE_STEM = re.compile(r"^(?P<process>.+)-NEVENT\d+-RS(?P<seed>\d+)$")
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_GLOB_CHARS = frozenset("*?[")

#: Parquet files a Dataset keeps open (their footers in memory), least recently used dropped.
_OPEN_FILES = 4


@dataclass(frozen=True)
class DataFile:
    """One Parquet event file as the reader sees it.

    Attributes:
        path: the file.
        process: its ``process`` metadata, else the process part of a
            ``<process>-NEVENT<n>-RS<seed>`` name, else its folder name.
        n_events: rows (one per event).
        n_row_groups: Parquet row groups.
        schema: the schema kind found (:func:`l1scout.io.aliases.detect_schema`).
        metadata: the file's key-value metadata (without ``ARROW:schema``).
        physical: canonical column name -> the file's own name.
        types: canonical column name -> the file's Arrow type.
        unwrap: canonical names of int8 PID columns that are unwrapped.
        row_group_rows: events in each row group.
    """

    path: Path
    process: str
    n_events: int
    n_row_groups: int
    schema: SchemaKind
    metadata: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    physical: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    types: Mapping[str, pa.DataType] = field(default_factory=dict, compare=False, repr=False)
    unwrap: frozenset[str] = field(default=frozenset(), compare=False, repr=False)
    row_group_rows: tuple[int, ...] = field(default=(), compare=False, repr=False)

    @property
    def columns(self) -> tuple[str, ...]:
        """The canonical names of the file's columns, in file order."""
        return tuple(self.physical)

    @property
    def folder(self) -> str:
        """The name of the folder holding the file (COLLIDE: the process)."""
        return self.path.parent.name

    @property
    def identity(self) -> str:
        """A name of the file's events that survives copies and renames of the file.

        ``<process>:RS<seed>`` from the metadata when it has both, else the file
        name stem (COLLIDE names hold process and seed too).
        """
        seed = self.metadata.get("seed")
        if "process" in self.metadata and seed:
            return f"{self.metadata['process']}:RS{seed}"
        return self.path.stem

    def row_group_starts(self) -> tuple[int, ...]:
        """The first event of each row group, and the event count at the end."""
        return tuple(int(x) for x in np.concatenate([[0], np.cumsum(self.row_group_rows)]))


def _decode_metadata(raw: Mapping[bytes, bytes] | None) -> dict[str, str]:
    if not raw:
        return {}
    return {
        k.decode(errors="replace"): v.decode(errors="replace")
        for k, v in raw.items()
        if k != b"ARROW:schema"
    }


def _process_of(path: Path, metadata: Mapping[str, str]) -> str:
    if metadata.get("process"):
        return metadata["process"]
    match = _COLLIDE_STEM.match(path.stem)
    if match:
        return match.group("process")
    return path.parent.name


def _parquet_file(path: Path) -> pq.ParquetFile:
    """Open *path* (reads its footer), or a DataFormatError that names it."""
    if not path.is_file():
        msg = f"{path}: no such file"
        raise DataFormatError(msg)
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        msg = f"{path}: not a readable Parquet file ({exc})"
        raise DataFormatError(msg) from exc


def _data_file(path: Path, pf: pq.ParquetFile) -> DataFile:
    """The :class:`DataFile` of *path*, opened as *pf* (its footer is not read again)."""
    md = pf.metadata
    metadata = _decode_metadata(md.metadata)
    types = {f.name: f.type for f in pf.schema_arrow}
    match = detect_schema(types, metadata, str(path))
    return DataFile(
        path=path,
        process=_process_of(path, metadata),
        n_events=md.num_rows,
        n_row_groups=md.num_row_groups,
        schema=match.kind,
        metadata=metadata,
        physical=dict(match.physical),
        types={c: types[p] for c, p in match.physical.items()},
        unwrap=match.unwrap,
        row_group_rows=tuple(md.row_group(i).num_rows for i in range(md.num_row_groups)),
    )


def open_file(path: Path | str) -> DataFile:
    """Read a file's footer and find its schema (no event data is read).

    Raises:
        DataFormatError: the file is missing, is not Parquet, is truncated, or
            follows no known schema; the message names the file.
    """
    path = Path(path)
    return _data_file(path, _parquet_file(path))


def target_type(typ: pa.DataType, nullable: bool = False) -> pa.DataType:
    """The Arrow type a column is read as: float16 -> float32, lists non-nullable by default.

    >>> target_type(pa.list_(pa.float16()))
    ListType(list<item: float not null>)
    """
    if pa.types.is_list(typ) or pa.types.is_large_list(typ):
        inner = pa.field("item", target_type(typ.value_type, nullable), nullable=nullable)
        return pa.list_(inner)
    if pa.types.is_float16(typ):
        return pa.float32()
    return typ


def _has_nulls(array: pa.Array) -> bool:
    if array.null_count:
        return True
    if isinstance(array, pa.ListArray | pa.LargeListArray):
        return _has_nulls(array.values)
    return False


@functools.cache
def _half_table() -> npt.NDArray[np.float32]:
    """float32 of every float16 bit pattern: a gather widens float16 twice as fast as a cast."""
    table = np.arange(1 << 16, dtype=np.uint16).view(np.float16).astype(np.float32)
    table.setflags(write=False)
    return table


def _widen(array: pa.Array) -> pa.Array:
    """The non-null *array* with float16 widened and non-nullable list items (lists zero-copy)."""
    if isinstance(array, pa.ListArray):
        inner = _widen(array.values)
        typ = pa.list_(pa.field("item", inner.type, nullable=False))
        return pa.ListArray.from_arrays(array.offsets, inner, type=typ)
    if isinstance(array, pa.LargeListArray):
        inner = _widen(array.values)
        typ = pa.large_list(pa.field("item", inner.type, nullable=False))
        return pa.LargeListArray.from_arrays(array.offsets, inner, type=typ)
    if pa.types.is_float16(array.type):
        bits = np.asarray(array.to_numpy(zero_copy_only=False)).view(np.uint16)
        return pa.array(_half_table()[bits])
    return array


def _unwrap_list(array: pa.Array) -> pa.Array:
    """Unwrap an int8 PID column at any list depth into int32 (offsets kept)."""
    if isinstance(array, pa.ListArray):
        inner = _unwrap_list(array.values)
        mask = array.is_null() if array.null_count else None
        return pa.ListArray.from_arrays(array.offsets, inner, mask=mask)
    values = array.to_numpy(zero_copy_only=False)
    if array.null_count:
        return pa.array(unwrap_pid(np.nan_to_num(values).astype(np.int8)), mask=array.is_null())
    return pa.array(unwrap_pid(values))


def events_from_arrow(
    batch: pa.RecordBatch | pa.Table,
    physical: Sequence[tuple[str, str]],
    unwrap: Iterable[str] = (),
) -> ak.Array:
    """Turn a batch of a file's own columns into an awkward record array of canonical columns.

    Args:
        batch: Arrow data with the physical column names.
        physical: (canonical, physical) pairs, in the order of the output fields.
        unwrap: canonical names of int8 PID columns to unwrap.

    Returns:
        ``len(batch)`` events, float16 upcast to float32, lists without option
        types unless the data holds nulls.

    >>> b = pa.record_batch({"FullReco_GenPart_PT": pa.array([[1.5], []], pa.list_(pa.float16()))})
    >>> str(events_from_arrow(b, [("Gen_Part_PT", "FullReco_GenPart_PT")]).type)
    '2 * {Gen_Part_PT: var * float32}'
    """
    to_unwrap = frozenset(unwrap)
    arrays: list[pa.Array] = []
    fields: list[pa.Field] = []
    for canon, phys in physical:
        col = batch.column(phys)
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        if canon in to_unwrap:
            col = _unwrap_list(col)
        nulls = _has_nulls(col)
        typ = target_type(col.type, nullable=nulls)
        if len(col) == 0:  # a cast of an empty list array can leave a buffer awkward rejects
            col = pa.array([], type=typ)
        elif not nulls:
            col = _widen(col)
        elif col.type != typ:
            col = col.cast(typ)
        arrays.append(col)
        fields.append(pa.field(canon, col.type, nullable=nulls))
    table = pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))
    return ak.from_arrow(table)


def _chunks(
    batches: Iterator[pa.RecordBatch | pa.Table],
    pairs: Sequence[tuple[str, str]],
    unwrap: Iterable[str],
    where: str,
) -> Iterator[ak.Array]:
    """:func:`events_from_arrow` of each batch; a read error is a DataFormatError naming *where*."""
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except (pa.ArrowException, OSError) as exc:
            msg = f"{where}: corrupt data ({exc})"
            raise DataFormatError(msg) from exc
        yield events_from_arrow(batch, pairs, unwrap)


def _joined(chunks: Iterable[ak.Array], max_events: int | None) -> ak.Array | None:
    """The chunks in one array, stopping at *max_events* (None: all); None if there is none."""
    parts: list[ak.Array] = []
    n = 0
    for chunk in chunks:
        parts.append(chunk)
        n += len(chunk)
        if max_events is not None and n >= max_events:
            break
    if not parts:
        return None
    out = parts[0] if len(parts) == 1 else ak.concatenate(parts)
    return out if max_events is None else out[:max_events]


def _as_list(value: str | Iterable[str] | None, what: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    out = list(value)
    for item in out:
        if not isinstance(item, str):
            msg = f"{what}: expected names (str), got {item!r}"
            raise ConfigError(msg)
    return out


def _hint(suggestions: Sequence[str]) -> str:
    return f"; did you mean {', '.join(repr(s) for s in suggestions)}?" if suggestions else ""


def _missing_from(name: str, partial: Mapping[str, Sequence[str]]) -> None:
    if name in partial:
        lacking = partial[name]
        shown = ", ".join(lacking[:5]) + (
            f" and {len(lacking) - 5} more" if len(lacking) > 5 else ""
        )
        msg = f"column {name!r} is missing from {len(lacking)} of the inputs: {shown}"
        raise DataFormatError(msg)


def select_columns(
    common: Sequence[str],
    *,
    views: Sequence[str] | None = None,
    collections: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
    partial: Mapping[str, Sequence[str]] | None = None,
) -> tuple[str, ...]:
    """The canonical columns that a selection picks (see the module notes).

    Args:
        common: canonical columns that every file has, in file order.
        views: detector views to keep (truth/event columns stay).
        collections: collections, bare (``PUPPIPart``) or with view (``L1T_PUPPIPart``).
        columns: canonical or legacy names, fnmatch globs allowed.
        partial: columns that only some files have -> the files that lack them.

    Raises:
        ConfigError: an unknown view, collection or column (with the closest
            names), or a selection that leaves nothing.
        DataFormatError: a requested column that some files lack.

    >>> cols = ["Gen_Part_PT", "L1T_MuonTight_PT", "FullReco_MuonTight_PT", "Event_Number"]
    >>> select_columns(cols, views=["L1T"])
    ('Gen_Part_PT', 'L1T_MuonTight_PT', 'Event_Number')
    >>> select_columns(cols, collections=["MuonTight"], columns=["Event_*"])
    ('L1T_MuonTight_PT', 'FullReco_MuonTight_PT', 'Event_Number')
    """
    partial = partial or {}
    present_views = list(dict.fromkeys(v for c in common if (v := column_view(c)) is not None))
    if views is not None:
        for view in views:
            if view not in present_views:
                msg = (
                    f"unknown view {view!r}; the files have {present_views}"
                    f"{_hint(closest_names(view, present_views))}"
                )
                raise ConfigError(msg)
    keep = [c for c in common if views is None or column_view(c) in (None, *views)]
    if collections is None and columns is None:
        chosen = set(keep)
    else:
        chosen = set()
        for coll in collections or ():
            chosen |= _pick(common, keep, coll, _in_collection(coll), "collection", partial)
        for pattern in columns or ():
            canon = canonical_name(pattern)
            chosen |= _pick(common, keep, pattern, _glob_test(canon), "column", partial)
    out = tuple(c for c in common if c in chosen)
    if not out:
        msg = "the selection leaves no column to read"
        raise ConfigError(msg)
    return out


def _glob_test(pattern: str) -> Callable[[str], bool]:
    def test(col: str) -> bool:
        return fnmatch.fnmatchcase(col, pattern)

    return test


def _in_collection(coll: str) -> Callable[[str], bool]:
    def test(col: str) -> bool:
        full = column_collection(col)
        view = column_view(col)
        return full == coll or (view is not None and full == f"{view}_{coll}")

    return test


def _pick(
    common: Sequence[str],
    keep: Sequence[str],
    name: str,
    test: Callable[[str], bool],
    what: str,
    partial: Mapping[str, Sequence[str]],
) -> set[str]:
    matches = [c for c in common if test(c)]
    if not matches:
        for col in partial:
            if test(col):
                _missing_from(col, partial)
        if what == "collection":
            pool = list(dict.fromkeys(column_collection(c) for c in common))
            pool += [column_collection(c).split("_", 1)[1] for c in common if column_view(c)]
        else:
            pool = list(common)
        msg = f"unknown {what} {name!r}{_hint(closest_names(name, pool))}"
        raise ConfigError(msg)
    kept = {c for c in matches if c in keep}
    if not kept:
        msg = f"{what} {name!r} belongs to a view that the views selection leaves out"
        raise ConfigError(msg)
    return kept


def _parquet_files(folder: Path) -> list[Path]:
    """The ``*.parquet`` files under *folder* (recursive, hidden names skipped), sorted."""
    return sorted(
        p
        for p in folder.rglob("*.parquet")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def _resolve_paths(source: Source) -> list[Path]:
    if isinstance(source, str | os.PathLike):
        items: list[str | os.PathLike[str]] = [source]
    else:
        items = list(source)
        if not items:
            msg = "source: an empty list of files"
            raise ConfigError(msg)
    out: list[Path] = []
    for item in items:
        path = Path(item)
        text = os.fspath(item)
        if path.is_file():
            out.append(path)
        elif path.is_dir():
            found = _parquet_files(path)
            if not found:
                msg = f"{path}: the folder holds no .parquet file"
                raise ConfigError(msg)
            out += found
        elif _GLOB_CHARS & set(text):
            pattern = Path(text)
            base = Path(pattern.anchor) if pattern.is_absolute() else Path()
            rel = str(pattern.relative_to(pattern.anchor)) if pattern.is_absolute() else text
            found = sorted(p for p in base.glob(rel) if p.is_file())
            if not found:
                msg = f"{text}: the pattern matches no file"
                raise ConfigError(msg)
            out += found
        else:
            msg = f"{text}: no such file or folder"
            raise ConfigError(msg)
    return list(dict.fromkeys(out))


def _goes_to_hub(source: Source, hub: bool | None) -> bool:
    if hub is not None:
        return hub
    if not isinstance(source, str) or _GLOB_CHARS & set(source):
        return False
    return not Path(source).exists() and bool(_REPO_ID.match(source))


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
        common, partial = _common_columns(_members(self.files))
        cols = select_columns(common, columns=_as_list(columns, "columns"), partial=partial)
        return Dataset(self.files, cols, self.chunk_size, self.chunk_bytes)

    def _parquet(self, file: DataFile) -> pq.ParquetFile:
        if self._pid != os.getpid():  # a forked worker: open its own handles
            self._open = {}
            self._pid = os.getpid()
        pf = self._open.pop(file.path, None)
        if pf is None:
            pf = _parquet_file(file.path)
        self._open[file.path] = pf  # most recent last
        while len(self._open) > _OPEN_FILES:  # footers are large: memory stays bounded
            del self._open[next(iter(self._open))]
        return pf

    def _event_bytes(self, file: DataFile, physical: Sequence[str]) -> float:
        """Uncompressed bytes per event of the *physical* columns (first row groups, from the footer)."""
        key = (file.path, tuple(physical))
        if key not in self._widths:
            md = self._parquet(file).metadata
            wanted = set(physical)
            total = rows = 0
            for i in range(min(md.num_row_groups, 8)):
                rg = md.row_group(i)
                rows += rg.num_rows
                for j in range(rg.num_columns):
                    col = rg.column(j)
                    if col.path_in_schema.split(".", 1)[0] in wanted:
                        total += col.total_uncompressed_size
            self._widths[key] = total / rows if rows else 0.0
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
            yield from _chunks(batches, pairs, unwrap, str(f.path))
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
        out = _joined(
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


def _common_columns(
    members: Sequence[tuple[str, Mapping[str, str]]],
) -> tuple[list[str], dict[str, list[str]]]:
    """The columns every member has (first-seen order), and the others -> the members lacking them.

    A member is (label, canonical -> physical name): a file, or a hub process.
    """
    order = list(dict.fromkeys(c for _, cols in members for c in cols))
    lacking = {c: [label for label, cols in members if c not in cols] for c in order}
    common = [c for c in order if not lacking[c]]
    return common, {c: labels for c, labels in lacking.items() if labels}


def _select_processes(files: list[DataFile], processes: Sequence[str]) -> list[DataFile]:
    known = list(dict.fromkeys(name for f in files for name in (f.process, f.folder)))
    for name in processes:
        if name not in known:
            msg = f"unknown process {name!r}{_hint(closest_names(name, known))}"
            raise ConfigError(msg)
    wanted = set(processes)
    return [f for f in files if f.process in wanted or f.folder in wanted]


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

    Raises:
        ConfigError: no file found, or an unknown process, view, collection or column.
        DataFormatError: a file that is corrupt or follows no known schema.
    """
    if chunk_size < 1:
        msg = f"chunk_size must be at least 1, got {chunk_size}"
        raise ConfigError(msg)
    procs = _as_list(processes, "processes")
    view_list = _as_list(views, "views")
    coll_list = _as_list(collections, "collections")
    col_list = _as_list(columns, "columns")
    if _goes_to_hub(source, hub):
        if not isinstance(source, str | os.PathLike):
            msg = "source: the hub path takes one dataset id or folder, not a list"
            raise ConfigError(msg)
        from l1scout.io.hub import HubDataset

        return HubDataset(
            source,
            processes=procs,
            views=view_list,
            collections=coll_list,
            columns=col_list,
            chunk_size=chunk_size,
        )
    files = [open_file(p) for p in _resolve_paths(source)]
    if procs is not None:
        files = _select_processes(files, procs)
    common, partial = _common_columns(_members(files))
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
