"""The atomic writer: row groups gathered by rows and bytes, no partial file on failure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from l1scout._jagged import offsets_from_counts
from l1scout.errors import ConfigError
from l1scout.io.parquet import AtomicParquetWriter
from l1scout.io.schema import Column

COLUMNS = (Column("A_PT", "float16"), Column("A_Idx", "int32", depth=2))


def _batch(n: int, per_event: int, start: int) -> dict[str, tuple[np.ndarray, ...]]:
    counts = np.full(n, per_event)
    off = offsets_from_counts(counts)
    values = np.arange(start, start + off[-1], dtype=np.float64)
    inner = np.arange(n + 1)  # one inner list per event
    return {
        "A_PT": (off, values),
        "A_Idx": (np.arange(n + 1), offsets_from_counts(np.ones(n, int)), inner[1:]),
    }


def _write(path: Path, batches: list[dict], **kw: int) -> list[int]:
    with AtomicParquetWriter(path, COLUMNS, **kw) as writer:
        for batch in batches:
            writer.write(batch)
        writer.finish()
    meta = pq.ParquetFile(path).metadata
    return [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]


def test_small_batches_are_gathered_up_to_the_row_limit(tmp_path: Path) -> None:
    batches = [_batch(50, 2, 1000 * k) for k in range(7)]
    assert _write(tmp_path / "a.parquet", batches, group_rows=120) == [150, 150, 50]
    table = pq.read_table(tmp_path / "a.parquet")
    assert table.num_rows == 350
    # values in order, nothing lost or repeated across the gathered groups
    pts = np.concatenate([np.asarray(v, dtype=np.float16) for v in table["A_PT"].to_pylist()])
    expect = np.concatenate([b["A_PT"][1] for b in batches]).astype(np.float16)
    np.testing.assert_array_equal(pts, expect)
    assert table["A_Idx"].to_pylist()[:2] == [[[1]], [[2]]]


def test_large_batches_go_out_as_they_come(tmp_path: Path) -> None:
    # 50 events x 200 float16 = 20 kB of values per batch: above a 10 kB limit
    batches = [_batch(50, 200, 0) for _ in range(3)]
    assert _write(tmp_path / "b.parquet", batches, group_bytes=10_000) == [50, 50, 50]


def test_schema_has_nothing_nullable(tmp_path: Path) -> None:
    _write(tmp_path / "c.parquet", [_batch(3, 1, 0)])
    schema = pq.read_schema(tmp_path / "c.parquet")
    for field in schema:
        assert not field.nullable
        typ = field.type
        while hasattr(typ, "value_field"):
            assert not typ.value_field.nullable, field.name
            typ = typ.value_type


def test_failure_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    with pytest.raises(KeyError, match="A_Idx"), AtomicParquetWriter(path, COLUMNS) as writer:
        writer.write({"A_PT": _batch(2, 1, 0)["A_PT"]})
    assert list(tmp_path.iterdir()) == []


def test_bad_group_limits_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="group_rows"):
        AtomicParquetWriter(tmp_path / "e.parquet", COLUMNS, group_rows=0)
    assert list(tmp_path.iterdir()) == []
