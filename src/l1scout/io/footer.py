"""Parquet footers: a file's schema, metadata and row groups, read without its event data.

:func:`open_file` reads one file's footer into a :class:`DataFile`: the schema
kind found through the alias table (:func:`l1scout.io.aliases.detect_schema`),
the canonical -> physical column names, the Arrow types, the key-value
metadata, the process and the events of each row group.
:func:`uncompressed_event_bytes` estimates the decoded size of an event from
the footer's column-chunk sizes (what sizes the chunks of
:class:`l1scout.io.dataset.Dataset`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from l1scout._jagged import offsets_from_counts
from l1scout.errors import DataFormatError
from l1scout.io.aliases import SchemaKind, detect_schema

__all__ = [
    "DataFile",
    "data_file",
    "decode_metadata",
    "open_file",
    "parquet_file",
    "uncompressed_event_bytes",
]

_COLLIDE_STEM = re.compile(r"^(?P<process>.+)-NEVENT\d+-RS(?P<seed>\d+)$")


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
        return tuple(int(x) for x in offsets_from_counts(self.row_group_rows))


def decode_metadata(raw: Mapping[bytes, bytes] | None) -> dict[str, str]:
    """A footer's key-value metadata as text, without the ``ARROW:schema`` entry.

    >>> decode_metadata({b"process": b"minbias", b"ARROW:schema": b"..."})
    {'process': 'minbias'}
    """
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


def parquet_file(path: Path) -> pq.ParquetFile:
    """Open *path* (reads its footer), or a DataFormatError that names it."""
    if not path.is_file():
        msg = f"{path}: no such file"
        raise DataFormatError(msg)
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        msg = f"{path}: not a readable Parquet file ({exc})"
        raise DataFormatError(msg) from exc


def data_file(path: Path, pf: pq.ParquetFile) -> DataFile:
    """The :class:`DataFile` of *path*, opened as *pf* (its footer is not read again)."""
    md = pf.metadata
    metadata = decode_metadata(md.metadata)
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
    return data_file(path, parquet_file(path))


def uncompressed_event_bytes(
    metadata: pq.FileMetaData, physical: Iterable[str], max_row_groups: int = 8
) -> float:
    """Uncompressed bytes per event of the *physical* columns, from the first row groups.

    Args:
        metadata: the file's footer.
        physical: top-level column names as stored in the file.
        max_row_groups: row groups looked at, from the first.

    Returns:
        The columns' uncompressed column-chunk bytes over the events of those
        row groups; 0.0 for a file without events.
    """
    wanted = set(physical)
    total = rows = 0
    for i in range(min(metadata.num_row_groups, max_row_groups)):
        rg = metadata.row_group(i)
        rows += rg.num_rows
        for j in range(rg.num_columns):
            col = rg.column(j)
            if col.path_in_schema.split(".", 1)[0] in wanted:
                total += col.total_uncompressed_size
    return total / rows if rows else 0.0
