"""Summaries of l1scout and COLLIDE Parquet files: schema, events, metadata, key numbers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from l1scout.errors import DataFormatError

__all__ = ["FileSummary", "inspect_file"]


@dataclass(frozen=True)
class FileSummary:
    """What ``l1scout inspect`` shows of one file."""

    path: Path
    n_events: int
    size_bytes: int
    n_row_groups: int
    columns: list[tuple[str, str]]
    metadata: dict[str, str]
    numbers: dict[str, float] = field(default_factory=dict)


def _mean_count(table: pa.Table, name: str) -> float:
    return float(pc.mean(pc.list_value_length(table.column(name))).as_py() or 0.0)


def inspect_file(path: Path | str) -> FileSummary:
    """Read the schema, metadata and a few summary numbers of a Parquet event file.

    Raises:
        DataFormatError: the file is missing, not Parquet, or corrupt; the
            message names the file.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"{path}: no such file"
        raise DataFormatError(msg)
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        msg = f"{path}: not a readable Parquet file ({exc})"
        raise DataFormatError(msg) from exc
    md = pf.metadata
    schema = pf.schema_arrow
    raw_meta = schema.metadata or {}
    metadata = {
        k.decode(): v.decode(errors="replace") for k, v in raw_meta.items() if k != b"ARROW:schema"
    }
    columns = [(f.name, str(f.type)) for f in schema]
    names = set(schema.names)
    numbers: dict[str, float] = {}
    wanted = [
        c
        for c in (
            "Gen_Part_PT",
            "Gen_Part_IsPU",
            "Event_NumPU",
            "Vertex_Index",
            "Event_CrossSection",
        )
        if c in names
    ]
    if wanted and md.num_rows:
        try:
            table = pf.read(columns=wanted)
        except (pa.ArrowInvalid, OSError) as exc:
            msg = f"{path}: corrupt data ({exc})"
            raise DataFormatError(msg) from exc
        if "Gen_Part_PT" in names:
            numbers["mean Gen_Part per event"] = _mean_count(table, "Gen_Part_PT")
        if "Gen_Part_IsPU" in names:
            flat = pc.list_flatten(table.column("Gen_Part_IsPU")).to_numpy(zero_copy_only=False)
            numbers["fraction of Gen_Part from pileup"] = float(np.mean(flat)) if len(flat) else 0.0
        if "Event_NumPU" in names:
            pu = pc.list_flatten(table.column("Event_NumPU")).to_numpy(zero_copy_only=False)
            numbers["mean pileup collisions"] = float(np.mean(pu))
        if "Vertex_Index" in names:
            numbers["mean vertices per event"] = _mean_count(table, "Vertex_Index")
        if "Event_CrossSection" in names:
            xs = pc.list_flatten(table.column("Event_CrossSection")).to_numpy(zero_copy_only=False)
            numbers["cross section (pb, last event)"] = float(xs[-1])
    return FileSummary(
        path=path,
        n_events=md.num_rows,
        size_bytes=path.stat().st_size,
        n_row_groups=md.num_row_groups,
        columns=columns,
        metadata=metadata,
        numbers=numbers,
    )
