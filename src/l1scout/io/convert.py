"""Arrow batches to awkward arrays with canonical names: float16 upcast, legacy PID unwrapped.

:func:`events_from_arrow` turns one batch of a file's own columns into an
awkward record array of canonical columns (the (canonical, physical) pairs come
from the alias table, :mod:`l1scout.io.aliases`): float16 becomes float32 in
Arrow, before the conversion; lists are non-nullable unless the data holds
nulls; int8 PID columns of COLLIDE-1m files are unwrapped to int32.
:func:`events_from_batches` converts a stream of batches (a read error names
its source) and :func:`join_chunks` joins converted chunks into one array.
Both the local reader (:mod:`l1scout.io.dataset`) and the hub reader
(:mod:`l1scout.io.hub`) go through these.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence

import awkward as ak
import numpy as np
import pyarrow as pa

from l1scout._types import F32
from l1scout.errors import DataFormatError
from l1scout.io.aliases import unwrap_pid

__all__ = ["events_from_arrow", "events_from_batches", "join_chunks", "target_type"]


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
def _half_table() -> F32:
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


def events_from_batches(
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


def join_chunks(chunks: Iterable[ak.Array], max_events: int | None) -> ak.Array | None:
    """The chunks in one array, stopping at *max_events* (None: all); None if there is none.

    >>> join_chunks([ak.Array([1, 2]), ak.Array([3])], 2).tolist()
    [1, 2]
    >>> join_chunks([], None) is None
    True
    """
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
