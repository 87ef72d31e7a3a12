"""Summaries of l1scout and COLLIDE Parquet files: schema kind, views, collections, key numbers.

Works on l1scout files, final COLLIDE-2V files and older COLLIDE-1m files
alike: the schema is found by :func:`l1scout.io.footer.open_file` and every
number is computed on canonical names (:mod:`l1scout.io.aliases`). The data
are read in chunks of one column per collection, so memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from l1scout.errors import DataFormatError
from l1scout.io.aliases import column_collection, column_view
from l1scout.io.footer import DataFile, PileupProvenance, data_file, parquet_file

__all__ = ["FileSummary", "inspect_file"]

_CHUNK = 20_000
#: Preferred field for counting a collection's entries per event.
_COUNT_FIELDS = ("PT", "MET", "HT", "Rho", "Z", "Number")


@dataclass(frozen=True)
class FileSummary:
    """What ``l1scout inspect`` shows of one file.

    Attributes:
        path: the file.
        n_events: rows (events).
        size_bytes: file size.
        n_row_groups: Parquet row groups.
        columns: (name as stored, Arrow type) of every column.
        metadata: key-value metadata.
        numbers: a few physics numbers (mean Gen_Part per event, pileup, ...).
        schema: the schema kind found (``l1scout``, ``collide2v``, ``collide1m``).
        process: the process (metadata, COLLIDE file name, or folder).
        views: the detector views present.
        multiplicities: canonical collection -> mean entries per event.
        notes: remarks on reading the file (legacy PID unwrapping).
        pileup: what the pileup collisions are (definition, and how it is
            known: :func:`l1scout.io.footer.pileup_provenance`).
    """

    path: Path
    n_events: int
    size_bytes: int
    n_row_groups: int
    columns: list[tuple[str, str]]
    metadata: dict[str, str]
    numbers: dict[str, float] = field(default_factory=dict)
    schema: str = ""
    process: str = ""
    views: tuple[str, ...] = ()
    multiplicities: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    pileup: PileupProvenance = field(default_factory=lambda: PileupProvenance("unknown", ""))


def _count_columns(df: DataFile) -> dict[str, str]:
    """Collection -> the canonical column whose list lengths count its entries."""
    best: dict[str, tuple[int, str]] = {}
    for name, typ in df.types.items():
        if not pa.types.is_list(typ) or pa.types.is_list(typ.value_type):
            continue
        coll = column_collection(name)
        if coll == name:
            continue
        fld = name.rsplit("_", 1)[1]
        rank = _COUNT_FIELDS.index(fld) if fld in _COUNT_FIELDS else len(_COUNT_FIELDS)
        if coll not in best or rank < best[coll][0]:
            best[coll] = (rank, name)
    return {coll: name for coll, (_, name) in best.items()}


def _flat(array: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.list_flatten(array).to_numpy(zero_copy_only=False))


def _scan(
    df: DataFile, pf: pq.ParquetFile, counts: Mapping[str, str]
) -> tuple[dict[str, float], dict[str, float]]:
    extra = {c: c for c in ("Gen_Part_IsPU", "Event_NumPU", "Event_CrossSection")}
    wanted = list(dict.fromkeys([*counts.values(), *(c for c in extra if c in df.physical)]))
    totals = dict.fromkeys(counts, 0)
    is_pu = [0, 0]
    pileup: list[float] = []
    last_xs: float | None = None
    if wanted and df.n_events:
        physical = [df.physical[c] for c in wanted]
        try:
            for batch in pf.iter_batches(batch_size=_CHUNK, columns=physical):
                for coll, col in counts.items():
                    lengths = pc.list_value_length(batch.column(df.physical[col]))
                    totals[coll] += int(pc.sum(lengths).as_py() or 0)
                if "Gen_Part_IsPU" in wanted:
                    flags = _flat(batch.column(df.physical["Gen_Part_IsPU"]))
                    is_pu[0] += int(np.count_nonzero(flags))
                    is_pu[1] += len(flags)
                if "Event_NumPU" in wanted:
                    pileup += _flat(batch.column(df.physical["Event_NumPU"])).tolist()
                if "Event_CrossSection" in wanted:
                    xs = _flat(batch.column(df.physical["Event_CrossSection"]))
                    last_xs = float(xs[-1]) if len(xs) else last_xs
        except (pa.ArrowException, OSError) as exc:
            msg = f"{df.path}: corrupt data ({exc})"
            raise DataFormatError(msg) from exc
    n = max(df.n_events, 1)
    mult = {coll: totals[coll] / n for coll in counts}
    numbers: dict[str, float] = {}
    if "Gen_Part" in mult:
        numbers["mean Gen_Part per event"] = mult["Gen_Part"]
    if is_pu[1]:
        numbers["fraction of Gen_Part from pileup"] = is_pu[0] / is_pu[1]
    if pileup:
        numbers["mean pileup collisions"] = float(np.mean(pileup))
    if "Vertex" in mult:
        numbers["mean vertices per event"] = mult["Vertex"]
    if last_xs is not None:
        numbers["cross section (pb, last event)"] = last_xs
    return mult, numbers


def inspect_file(path: Path | str) -> FileSummary:
    """Read the schema, metadata, collections and a few summary numbers of an event file.

    Raises:
        DataFormatError: the file is missing, not Parquet, corrupt, or of no
            known schema; the message names the file.
    """
    pf = parquet_file(Path(path))  # the footer is read once, here
    df = data_file(Path(path), pf)
    columns = [(f.name, str(f.type)) for f in pf.schema_arrow]
    mult, numbers = _scan(df, pf, _count_columns(df))
    notes: tuple[str, ...] = ()
    if df.unwrap:
        notes = (
            f"PID stored as int8 in {len(df.unwrap)} columns (COLLIDE-1m): unwrapped to "
            "int32 on reading, see l1scout.io.aliases",
        )
    views = tuple(dict.fromkeys(v for c in df.columns if (v := column_view(c)) is not None))
    return FileSummary(
        path=df.path,
        n_events=df.n_events,
        size_bytes=df.path.stat().st_size,
        n_row_groups=df.n_row_groups,
        columns=columns,
        metadata=dict(df.metadata),
        numbers=numbers,
        schema=df.schema,
        process=df.process,
        views=views,
        multiplicities=mult,
        notes=notes,
        pileup=df.pileup,
    )
