"""Parquet footers: a file's schema, metadata and row groups, read without its event data.

:func:`open_file` reads one file's footer into a :class:`DataFile`: the schema
kind found through the alias table (:func:`l1scout.io.aliases.detect_schema`),
the canonical -> physical column names, the Arrow types, the key-value
metadata, the process and the events of each row group.
:func:`uncompressed_event_bytes` estimates the decoded size of an event from
the footer's column-chunk sizes (what sizes the chunks of
:class:`l1scout.io.dataset.Dataset`). :func:`pileup_provenance` tells from the
metadata what the file's pileup collisions are (``DataFile.pileup``).
"""

from __future__ import annotations

import json
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
    "PileupProvenance",
    "data_file",
    "decode_metadata",
    "open_file",
    "parquet_file",
    "pileup_provenance",
    "uncompressed_event_bytes",
]

_COLLIDE_STEM = re.compile(r"^(?P<process>.+)-NEVENT\d+-RS(?P<seed>\d+)$")

#: The ``SoftQCD`` lines of each pileup definition's pool (catalog processes
#: ``minbias`` and ``minbias_inelastic``); Delphes' CMS pileup card has the
#: inelastic set without central diffraction, which reads as ``inelastic`` too.
_POOL_SOFTQCD = {
    "collide2v": frozenset({"SoftQCD:all = on"}),
    "inelastic": frozenset(
        {
            "SoftQCD:nonDiffractive = on",
            "SoftQCD:singleDiffractive = on",
            "SoftQCD:doubleDiffractive = on",
            "SoftQCD:centralDiffractive = on",
        }
    ),
}


@dataclass(frozen=True)
class PileupProvenance:
    """What a file's pileup collisions are, as its metadata tells.

    Attributes:
        definition: ``collide2v`` (Pythia ``SoftQCD:all``, elastic scattering
            included), ``inelastic`` (inelastic collisions only, CMS's
            definition), ``none`` (mean pileup 0: nothing overlaid, whatever
            the definition asked for) or ``unknown``.
        source: how it is known: ``metadata`` (the file's
            ``pileup_definition``), ``pool settings`` (a file written before
            that key existed: its recorded pool settings), ``COLLIDE`` (a
            COLLIDE file: COLLIDE-2V's published pool is ``SoftQCD:all``) or
            ``""`` (unknown).
        mean: the mean pileup of the metadata (None where absent).
        pool_softqcd: the ``SoftQCD`` lines of the pool's recorded Pythia
            settings (empty where not recorded).
    """

    definition: str
    source: str
    mean: float | None = None
    pool_softqcd: tuple[str, ...] = ()


def _softqcd_definition(lines: Iterable[str]) -> str:
    have = {line.strip() for line in lines}
    if have == _POOL_SOFTQCD["collide2v"]:
        return "collide2v"
    inelastic = _POOL_SOFTQCD["inelastic"]
    if have <= inelastic and "SoftQCD:nonDiffractive = on" in have and len(have) >= 3:
        return "inelastic"
    return "unknown"


def pileup_provenance(metadata: Mapping[str, str], schema: str = "") -> PileupProvenance:
    """What the pileup collisions of a file with this footer *metadata* are.

    Files of l1scout name their definition (``pileup_definition``); older
    l1scout files do not, and read as what their recorded pool settings
    (``settings``: ``pool.settings``) say, ``collide2v`` for ``SoftQCD:all``;
    COLLIDE files (*schema* ``collide2v`` or ``collide1m``, no ``settings``)
    read as ``collide2v``, COLLIDE-2V's published pool.

    >>> pileup_provenance({"pileup_definition": "inelastic", "pileup_mean": "200.0"})
    PileupProvenance(definition='inelastic', source='metadata', mean=200.0, pool_softqcd=())
    >>> old = {"settings": '{"pool": {"settings": ["Tune:pp = 14", "SoftQCD:all = on"]}}'}
    >>> pileup_provenance(old).definition, pileup_provenance(old).source
    ('collide2v', 'pool settings')
    >>> pileup_provenance({"settings": '{"pool": null}', "pileup_mean": "0.0"}).definition
    'none'
    """
    try:
        mean: float | None = float(metadata["pileup_mean"])
    except (KeyError, ValueError):
        mean = None
    pool: object = None
    recorded = False
    try:
        settings = json.loads(metadata["settings"])
        if isinstance(settings, dict) and "pool" in settings:
            recorded, pool = True, settings["pool"]
    except (KeyError, ValueError):
        pass
    lines: tuple[str, ...] = ()
    if isinstance(pool, dict) and isinstance(pool.get("settings"), list):
        lines = tuple(str(x) for x in pool["settings"] if str(x).startswith("SoftQCD:"))
    if metadata.get("pileup_definition"):
        named = "none" if mean == 0 else metadata["pileup_definition"]
        return PileupProvenance(named, "metadata", mean, lines)
    if recorded:
        if pool is None or mean == 0:
            return PileupProvenance("none", "pool settings", mean, lines)
        return PileupProvenance(_softqcd_definition(lines), "pool settings", mean, lines)
    if schema in ("collide2v", "collide1m"):
        return PileupProvenance("collide2v", "COLLIDE", mean, ("SoftQCD:all = on",))
    return PileupProvenance("unknown", "", mean, lines)


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

    @property
    def pileup(self) -> PileupProvenance:
        """What the file's pileup collisions are (:func:`pileup_provenance`)."""
        return pileup_provenance(self.metadata, self.schema)

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
    if path.is_dir():
        msg = f"{path} is a folder, expected a Parquet file"
        raise DataFormatError(msg)
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
