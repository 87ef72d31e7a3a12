"""PyTorch access to event files: an ``IterableDataset`` of ready batches, stable splits.

:class:`EventIterableDataset` turns a :class:`~l1scout.io.dataset.Dataset`
(or a :class:`~l1scout.io.hub.HubDataset`) into batches of tensors for
``DataLoader(ds, batch_size=None, num_workers=k)``:

* work units are (file, consecutive row groups of about ``chunk_size``
  events), or hub shards; they go round-robin to the DataLoader workers
  (``torch.utils.data.get_worker_info``), so with any number of workers every
  event is read exactly once per epoch and no worker ever holds a whole file;
* each chunk goes through ``transform(chunk) -> {name: array with one row per
  event}`` (e.g. :func:`l1scout.io.features.trigger_inputs`) and the rows are
  cut into batches of ``batch_size`` (the last batch of a worker may be
  smaller); per-event Python work never happens here;
* ``shuffle_buffer > 0`` shuffles the unit order per epoch and the events
  through a bounded buffer: a new chunk joins the buffer, the buffer is
  permuted, and all but ``shuffle_buffer`` events leave in batches
  (vectorised numpy on the transformed arrays). Memory stays within
  ``shuffle_buffer`` + one chunk + one batch of events per worker;
  :meth:`EventIterableDataset.set_epoch` draws a new order (with
  ``persistent_workers=True`` the workers keep the epoch they started with);
* ``split`` keeps the events of one of train/val/test, drawn by
  :func:`split_of` from a stable hash of (file identity, ``Event_Number``):
  the same event lands in the same split in every run, on every machine, in
  any file order. A file without ``Event_Number`` uses the row position in
  the file; a hub shard is identified by process and shard number. The
  default fractions 0.65/0.20/0.15 are those of the recalibration seed.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import awkward as ak
import numpy as np
import numpy.typing as npt
import torch
from torch.utils.data import IterableDataset, get_worker_info

from l1scout.errors import ConfigError
from l1scout.io.dataset import Dataset
from l1scout.io.hub import HubDataset

__all__ = ["SPLITS", "EventIterableDataset", "Split", "WorkUnit", "split_of", "work_units"]

_log = logging.getLogger(__name__)

Split = Literal["train", "val", "test"]
#: Split names, in the order of the fractions.
SPLITS: tuple[Split, ...] = ("train", "val", "test")
_EVENT_NUMBER = "Event_Number"
_MASK64 = (1 << 64) - 1


def _check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    f = tuple(float(x) for x in fractions)
    if len(f) != 3 or any(not np.isfinite(x) or x < 0 for x in f) or abs(sum(f) - 1.0) > 1e-9:
        msg = f"fractions: expected three non-negative numbers (train, val, test) adding up to 1, got {fractions!r}"
        raise ConfigError(msg)
    return f[0], f[1], f[2]


def _splitmix64(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    # Steele, Lea & Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014
    z = x + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def split_of(
    identity: str,
    numbers: npt.ArrayLike,
    fractions: Sequence[float] = (0.65, 0.20, 0.15),
) -> npt.NDArray[np.int8]:
    """The split of each event: 0 train, 1 val, 2 test, from a stable hash.

    The hash is splitmix64 of the event number xor the first 8 bytes of the
    BLAKE2b digest of *identity* (the file's), mapped to [0, 1) and cut at the
    cumulative fractions: no Python ``hash`` (salted per process), no state.

    Args:
        identity: the file's identity (:attr:`l1scout.io.footer.DataFile.identity`).
        numbers: event numbers (or row positions) in the file.
        fractions: train, val and test fractions, adding up to 1.

    >>> split_of("ttbar:RS3", [0, 1, 2, 3, 4, 5, 6, 7]).tolist() == split_of(
    ...     "ttbar:RS3", [0, 1, 2, 3, 4, 5, 6, 7]).tolist()
    True
    >>> sorted(set(split_of("x", np.arange(1000), (0.5, 0.5, 0.0)).tolist()))
    [0, 1]
    """
    frac = _check_fractions(fractions)
    key = int.from_bytes(hashlib.blake2b(identity.encode(), digest_size=8).digest(), "little")
    values = np.asarray(numbers, dtype=np.int64).reshape(-1).view(np.uint64)
    mixed = _splitmix64(values ^ np.uint64(key & _MASK64))
    u = (mixed >> np.uint64(11)).astype(np.float64) * 2.0**-53
    edges = np.cumsum(frac)[:-1]
    return np.searchsorted(edges, u, side="right").astype(np.int8)


@dataclass(frozen=True)
class WorkUnit:
    """A piece of a dataset that one worker reads whole.

    Attributes:
        file: index into ``Dataset.files`` (-1 for a hub shard).
        process: the process of the events.
        identity: the name used by the split hash.
        row_groups: the row groups read (empty for a hub shard).
        first_row: the position in the file of the unit's first event.
        shard: the hub shard index (None for a file).
    """

    file: int
    process: str
    identity: str
    row_groups: tuple[int, ...] = ()
    first_row: int = 0
    shard: int | None = None


def work_units(dataset: Dataset | HubDataset, events_per_unit: int | None = None) -> list[WorkUnit]:
    """Cut a dataset into work units: runs of row groups of about *events_per_unit* events.

    A row group is never split; a unit holds at least one. For a hub
    dataset, one unit per shard (file) of each process.
    """
    if isinstance(dataset, HubDataset):
        return [
            WorkUnit(-1, p, f"{p}/shard{i}", shard=i)
            for p in dataset.processes
            for i in range(dataset.n_shards(p))
        ]
    target = max(1, events_per_unit or dataset.chunk_size)
    units: list[WorkUnit] = []
    for index, f in enumerate(dataset.files):
        starts = f.row_group_starts()
        group: list[int] = []
        rows = 0
        for rg, n in enumerate(f.row_group_rows):
            group.append(rg)
            rows += n
            if rows >= target:
                units.append(WorkUnit(index, f.process, f.identity, tuple(group), starts[group[0]]))
                group, rows = [], 0
        if group:
            units.append(WorkUnit(index, f.process, f.identity, tuple(group), starts[group[0]]))
    return units


Arrays = dict[str, npt.NDArray[np.generic]]


def _take(arrays: Arrays, index: npt.NDArray[np.intp] | slice) -> Arrays:
    return {k: v[index] for k, v in arrays.items()}


def _concat(parts: list[Arrays]) -> Arrays:
    if len(parts) == 1:
        return parts[0]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _rows(arrays: Arrays) -> int:
    return len(next(iter(arrays.values()))) if arrays else 0


class _Batcher:
    """Cuts a stream of row-aligned arrays into batches, through a bounded shuffle buffer."""

    def __init__(self, batch_size: int, buffer: int, rng: np.random.Generator) -> None:
        self.batch_size = batch_size
        self.buffer = buffer
        self.rng = rng
        self.pending: list[Arrays] = []
        self.n = 0

    def _cut(self, pool: Arrays, n_out: int) -> Iterator[Arrays]:
        for start in range(0, n_out, self.batch_size):
            yield _take(pool, slice(start, min(start + self.batch_size, n_out)))

    def add(self, arrays: Arrays) -> Iterator[Arrays]:
        n = _rows(arrays)
        if n == 0:
            return
        if not self.buffer:
            yield from self._add_in_order(arrays, n)
            return
        self.pending.append(arrays)
        self.n += n
        if self.n < self.buffer + self.batch_size:
            return
        pool = _take(_concat(self.pending), self.rng.permutation(self.n))
        n_out = (self.n - self.buffer) // self.batch_size * self.batch_size
        yield from self._cut(pool, n_out)
        self.pending = [_take(pool, slice(n_out, None))]
        self.n -= n_out

    def _add_in_order(self, arrays: Arrays, n: int) -> Iterator[Arrays]:
        """No shuffling: batches are views of the chunk; only a batch across chunks is copied."""
        start = 0
        if self.n:
            start = min(self.batch_size - self.n, n)
            self.pending.append(_take(arrays, slice(0, start)))
            self.n += start
            if self.n < self.batch_size:
                return
            yield _concat(self.pending)
            self.pending, self.n = [], 0
        stop = start + (n - start) // self.batch_size * self.batch_size
        for first in range(start, stop, self.batch_size):
            yield _take(arrays, slice(first, first + self.batch_size))
        if stop < n:
            self.pending, self.n = [_take(arrays, slice(stop, n))], n - stop

    def flush(self) -> Iterator[Arrays]:
        if self.n == 0:
            return
        pool = _concat(self.pending)
        if self.buffer:
            pool = _take(pool, self.rng.permutation(self.n))
        self.pending, n = [], self.n
        self.n = 0
        yield from self._cut(pool, n)


def _to_tensors(arrays: Arrays) -> dict[str, torch.Tensor]:
    # no copy for contiguous writable arrays (a DataLoader worker copies into shared memory)
    out = {}
    for name, value in arrays.items():
        arr = np.ascontiguousarray(value)
        if not arr.flags.writeable:
            arr = arr.copy()
        out[name] = torch.from_numpy(arr)
    return out


class EventIterableDataset(IterableDataset[dict[str, torch.Tensor]]):
    """Batches of tensors from an event dataset, for ``DataLoader(ds, batch_size=None)``.

    Args:
        dataset: the events (:func:`~l1scout.io.dataset.open_dataset`).
        transform: chunk -> {name: array with one row per event of the chunk}.
        batch_size: events per batch (a worker's last batch may be smaller).
        split: keep only the events of this split (None: all).
        fractions: train, val and test fractions for *split*.
        shuffle_buffer: events held for shuffling (0: file order, no shuffling).
        seed: seed of the shuffling (the splits do not depend on it).
        labels: process -> class number; adds a ``label`` tensor (int64) per event.
    """

    def __init__(
        self,
        dataset: Dataset | HubDataset,
        transform: Callable[[ak.Array], Mapping[str, npt.ArrayLike]],
        *,
        batch_size: int = 1024,
        split: Split | None = None,
        fractions: Sequence[float] = (0.65, 0.20, 0.15),
        shuffle_buffer: int = 0,
        seed: int = 0,
        labels: Mapping[str, int] | None = None,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            msg = f"batch_size must be at least 1, got {batch_size}"
            raise ConfigError(msg)
        if shuffle_buffer < 0:
            msg = f"shuffle_buffer must be >= 0, got {shuffle_buffer}"
            raise ConfigError(msg)
        if split is not None and split not in SPLITS:
            msg = f"split must be one of {list(SPLITS)} or None, got {split!r}"
            raise ConfigError(msg)
        self.fractions = _check_fractions(fractions)
        self.dataset = dataset
        self.transform = transform
        self.batch_size = int(batch_size)
        self.split = split
        self.shuffle_buffer = int(shuffle_buffer)
        self.seed = int(seed)
        self.labels = dict(labels) if labels is not None else None
        self.epoch = 0
        self._drop_number = False
        self._reader: Dataset | HubDataset = dataset
        if split is not None and _EVENT_NUMBER not in dataset.columns:
            try:
                self._reader = dataset.with_columns([*dataset.columns, _EVENT_NUMBER])
                self._drop_number = True
            except (ConfigError, ValueError):
                _log.info("no %s in every file: splits use row positions", _EVENT_NUMBER)
        self.units = work_units(self._reader)
        if self.labels is not None:
            missing = sorted({u.process for u in self.units} - set(self.labels))
            if missing:
                msg = f"labels: no class for the processes {missing}"
                raise ConfigError(msg)

    def set_epoch(self, epoch: int) -> None:
        """Use the shuffling of *epoch* from the next iteration on."""
        self.epoch = int(epoch)

    def _my_units(self) -> tuple[list[WorkUnit], int]:
        info = get_worker_info()
        worker, n_workers = (0, 1) if info is None else (info.id, info.num_workers)
        order = list(range(len(self.units)))
        if self.shuffle_buffer:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(len(order)).tolist()
        return [self.units[i] for i in order[worker::n_workers]], worker

    def _chunks(self, unit: WorkUnit) -> Iterator[ak.Array]:
        reader = self._reader
        if isinstance(reader, HubDataset):
            return reader.iter_process(unit.process, shard=unit.shard)
        return reader.iter_file(unit.file, row_groups=unit.row_groups)

    def _split_mask(
        self, chunk: ak.Array, unit: WorkUnit, first: int, target: int
    ) -> npt.NDArray[np.bool_]:
        rows = np.arange(first, first + len(chunk), dtype=np.int64)
        if _EVENT_NUMBER in ak.fields(chunk):
            numbers = ak.to_numpy(ak.fill_none(ak.firsts(chunk[_EVENT_NUMBER]), -1)).astype(
                np.int64
            )
            rows = np.where(numbers >= 0, numbers, rows)
        mask: npt.NDArray[np.bool_] = split_of(unit.identity, rows, self.fractions) == target
        return mask

    def _arrays(self, chunk: ak.Array, unit: WorkUnit) -> Arrays:
        out = self.transform(chunk)
        arrays: Arrays = {}
        for name, value in out.items():
            arr = np.asarray(value)
            if arr.ndim == 0 or len(arr) != len(chunk):
                msg = (
                    f"transform: {name!r} has shape {arr.shape}, expected one row per "
                    f"event ({len(chunk)})"
                )
                raise ConfigError(msg)
            arrays[name] = arr
        if self.labels is not None:
            arrays["label"] = np.full(len(chunk), self.labels[unit.process], dtype=np.int64)
        return arrays

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        units, worker = self._my_units()
        rng = np.random.default_rng([self.seed, self.epoch, worker, 1])
        batcher = _Batcher(self.batch_size, self.shuffle_buffer, rng)
        target = None if self.split is None else SPLITS.index(self.split)
        for unit in units:
            first = unit.first_row
            for chunk in self._chunks(unit):
                n = len(chunk)
                events = chunk
                if target is not None:
                    events = chunk[self._split_mask(chunk, unit, first, target)]
                first += n
                if self._drop_number:
                    events = events[[f for f in ak.fields(events) if f != _EVENT_NUMBER]]
                if len(events) == 0:
                    continue
                for batch in batcher.add(self._arrays(events, unit)):
                    yield _to_tensors(batch)
        for batch in batcher.flush():
            yield _to_tensors(batch)
