from __future__ import annotations

import hashlib
import shutil
from collections import Counter
from pathlib import Path

import awkward as ak
import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from torch.utils.data import DataLoader

from l1scout.errors import ConfigError
from l1scout.io.dataset import Dataset, open_dataset
from l1scout.io.hub import HubDataset
from l1scout.io.torchdata import EventIterableDataset, split_of, work_units

PROCESS = "tt0123j_5f_ckm_LO_MLM_semiLeptonic"
LABELS = {PROCESS: 0, "minbias": 1}
MASK = (1 << 64) - 1


def _slow_split(identity: str, number: int, fractions: tuple[float, float, float]) -> int:
    """The split hash written out with Python integers (splitmix64, Steele et al. 2014)."""
    key = int.from_bytes(hashlib.blake2b(identity.encode(), digest_size=8).digest(), "little")
    z = ((number & MASK) ^ key) + 0x9E3779B97F4A7C15 & MASK
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9 & MASK
    z = (z ^ (z >> 27)) * 0x94D049BB133111EB & MASK
    z ^= z >> 31
    u = (z >> 11) / 2.0**53
    if u < fractions[0]:
        return 0
    return 1 if u < fractions[0] + fractions[1] else 2


def test_split_of_matches_the_slow_reference() -> None:
    numbers = [0, 1, 2, 17, 999, 123456789, 2**40 + 3]
    fractions = (0.65, 0.20, 0.15)
    want = [_slow_split("ttbar:RS3", n, fractions) for n in numbers]
    assert split_of("ttbar:RS3", numbers, fractions).tolist() == want
    # independent of order and of the other events
    assert split_of("ttbar:RS3", numbers[::-1], fractions).tolist() == want[::-1]
    assert split_of("ttbar:RS3", [17], fractions).tolist() == [want[3]]


def test_split_fractions_and_identity() -> None:
    numbers = np.arange(200_000)
    parts = split_of("a", numbers)
    shares = np.bincount(parts, minlength=3) / len(numbers)
    assert np.allclose(shares, [0.65, 0.20, 0.15], atol=0.005)
    other = split_of("b", numbers)
    assert 0.4 < np.mean(parts == other) < 0.6  # another file, another draw
    assert set(split_of("a", numbers, (0.0, 0.0, 1.0)).tolist()) == {2}
    with pytest.raises(ConfigError, match="adding up to 1"):
        split_of("a", numbers, (0.5, 0.2, 0.2))
    with pytest.raises(ConfigError, match="three"):
        split_of("a", numbers, (0.5, 0.5))


def _key(batch: dict[str, torch.Tensor]) -> list[tuple[int, int]]:
    return list(zip(batch["label"].tolist(), batch["number"].tolist(), strict=True))


def _numbers(events: ak.Array) -> dict[str, np.ndarray]:
    return {"number": ak.to_numpy(ak.firsts(events["Event_Number"]))}


def _met(events: ak.Array) -> dict[str, np.ndarray]:
    return {
        "met": ak.to_numpy(ak.firsts(events["L1T_PUPPIMET_MET"])),
        "n_muons": ak.to_numpy(ak.num(events["L1T_MuonTight_PT"])),
    }


@pytest.fixture(scope="module")
def two_files(reader_collide2v_file: Path, reader_minbias_file: Path) -> Dataset:
    ds = open_dataset(
        [reader_collide2v_file, reader_minbias_file],
        columns=["Event_Number", "L1T_PUPPIMET_MET", "L1T_MuonTight_PT"],
        chunk_size=6,
    )
    assert isinstance(ds, Dataset)
    return ds


@pytest.mark.slow
def test_work_units_cover_the_files(two_files: Dataset) -> None:
    units = work_units(two_files)
    # row groups of 6 (file 1) and 7 (file 2); units of at least 6 events
    assert [(u.file, u.row_groups, u.first_row) for u in units] == [
        (0, (0,), 0),
        (0, (1,), 6),
        (0, (2,), 12),
        (0, (3,), 18),
        (1, (0,), 0),
        (1, (1,), 7),
        (1, (2,), 14),
    ]
    assert [u.process for u in units] == [PROCESS] * 4 + ["minbias"] * 3
    assert [(u.row_groups) for u in work_units(two_files, 13)] == [(0, 1, 2), (3,), (0, 1), (2,)]


@pytest.mark.slow
def test_two_workers_see_every_event_once(two_files: Dataset) -> None:
    ds = EventIterableDataset(two_files, _numbers, batch_size=4, labels=LABELS)
    seen: list[tuple[int, int]] = []
    sizes = []
    for batch in DataLoader(ds, batch_size=None, num_workers=2):
        assert batch["number"].dtype == torch.int64
        assert batch["label"].dtype == torch.int64
        seen += _key(batch)
        sizes.append(len(batch["number"]))
    assert Counter(seen) == Counter((k, n) for k in (0, 1) for n in range(20))
    assert sum(s < 4 for s in sizes) <= 2  # at most one short batch per worker


@pytest.mark.slow
def test_shuffling_changes_the_order_between_epochs(two_files: Dataset) -> None:
    ds = EventIterableDataset(
        two_files, _numbers, batch_size=5, shuffle_buffer=8, labels=LABELS, seed=3
    )
    orders = []
    for epoch in range(2):
        ds.set_epoch(epoch)
        order = [k for b in DataLoader(ds, batch_size=None, num_workers=2) for k in _key(b)]
        assert sorted(order) == [(k, n) for k in (0, 1) for n in range(20)]
        orders.append(order)
    assert orders[0] != orders[1]
    ds.set_epoch(0)  # the same epoch gives the same order again
    again = [k for b in DataLoader(ds, batch_size=None, num_workers=2) for k in _key(b)]
    assert again == orders[0]
    plain = EventIterableDataset(two_files, _numbers, batch_size=5, labels=LABELS)
    assert [k for b in plain for k in _key(b)] == sorted(orders[0])


@pytest.mark.slow
def test_splits_are_stable_and_disjoint(two_files: Dataset) -> None:
    def run(workers: int) -> dict[str, set[tuple[int, int]]]:
        out = {}
        for split in ("train", "val", "test"):
            ds = EventIterableDataset(
                two_files, _numbers, batch_size=3, split=split, labels=LABELS, shuffle_buffer=4
            )
            keys = [
                k for b in DataLoader(ds, batch_size=None, num_workers=workers) for k in _key(b)
            ]
            assert len(keys) == len(set(keys))
            out[split] = set(keys)
        return out

    first, second = run(0), run(2)
    assert first == second
    assert not first["train"] & first["val"]
    assert not first["train"] & first["test"]
    assert not first["val"] & first["test"]
    assert first["train"] | first["val"] | first["test"] == {
        (k, n) for k in (0, 1) for n in range(20)
    }
    # membership is the hash of (file identity, Event_Number)
    identity = {0: two_files.files[0].identity, 1: two_files.files[1].identity}
    assert identity == {0: f"{PROCESS}-NEVENT20-RS7", 1: "minbias:RS5"}
    for name, code in (("train", 0), ("val", 1), ("test", 2)):
        want = {
            (k, n)
            for k in (0, 1)
            for n in range(20)
            if _slow_split(identity[k], n, (0.65, 0.2, 0.15)) == code
        }
        assert first[name] == want


@pytest.mark.slow
def test_split_without_event_number_uses_row_positions(reader_legacy_file: Path) -> None:
    ds = open_dataset(reader_legacy_file, collections=["L1T_PUPPIMET"], chunk_size=4)
    assert isinstance(ds, Dataset)
    assert "Event_Number" not in ds.files[0].columns
    full = ak.to_numpy(ak.firsts(ds.read()["L1T_PUPPIMET_MET"]))

    def met(events: ak.Array) -> dict[str, np.ndarray]:
        return {"met": ak.to_numpy(ak.firsts(events["L1T_PUPPIMET_MET"]))}

    stem = reader_legacy_file.stem
    for code, split in enumerate(("train", "val", "test")):
        tds = EventIterableDataset(ds, met, batch_size=64, split=split)
        got = [b["met"].numpy() for b in tds]
        rows = [r for r in range(20) if _slow_split(stem, r, (0.65, 0.2, 0.15)) == code]
        assert np.array_equal(np.concatenate(got) if got else np.zeros(0), full[rows])


@pytest.mark.slow
def test_split_follows_event_numbers_not_rows(reader_collide2v_file: Path, tmp_path: Path) -> None:
    table = pq.read_table(reader_collide2v_file)
    reversed_copy = tmp_path / reader_collide2v_file.name  # same name: same identity
    pq.write_table(table.take(list(range(19, -1, -1))), reversed_copy, row_group_size=5)
    for split in ("train", "val", "test"):
        members = []
        for path in (reader_collide2v_file, reversed_copy):
            ds = open_dataset(path, columns=["Event_Number"], chunk_size=5)
            assert isinstance(ds, Dataset)
            tds = EventIterableDataset(ds, _numbers, batch_size=7, split=split)
            members.append(sorted(n for b in tds for n in b["number"].tolist()))
        assert members[0] == members[1]


@pytest.mark.slow
def test_batches_hold_the_transform_output(two_files: Dataset) -> None:
    ds = EventIterableDataset(
        two_files.with_columns(["L1T_PUPPIMET_MET", "L1T_MuonTight_PT"]), _met, batch_size=16
    )
    batches = list(ds)
    assert [len(b["met"]) for b in batches] == [16, 16, 8]
    assert batches[0]["met"].dtype == torch.float32
    met = np.concatenate([b["met"].numpy() for b in batches])
    reference = np.concatenate([_met(c)["met"] for c in two_files])
    assert np.array_equal(met, reference)


@pytest.mark.slow
def test_bad_arguments(two_files: Dataset) -> None:
    with pytest.raises(ConfigError, match="no class for the processes"):
        EventIterableDataset(two_files, _numbers, labels={"minbias": 1})
    with pytest.raises(ConfigError, match="split must be one of"):
        EventIterableDataset(two_files, _numbers, split="training")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="fractions"):
        EventIterableDataset(two_files, _numbers, fractions=(1.0, 1.0, 0.0))

    def short(events: ak.Array) -> dict[str, np.ndarray]:
        return {"x": np.zeros(len(events) - 1)}

    with pytest.raises(ConfigError, match="one row per event"):
        list(EventIterableDataset(two_files, short))


@pytest.mark.slow
def test_hub_stream_with_two_workers(
    tmp_path: Path, reader_collide2v_file: Path, reader_minbias_file: Path
) -> None:
    for f in (reader_collide2v_file, reader_minbias_file):
        (tmp_path / f.parent.name).mkdir()
        shutil.copy(f, tmp_path / f.parent.name / f.name)
    hub = open_dataset(tmp_path, hub=True, columns=["Event_Number"], chunk_size=6)
    assert isinstance(hub, HubDataset)
    ds = EventIterableDataset(hub, _numbers, batch_size=4, labels=LABELS)
    assert [u.identity for u in ds.units] == ["minbias/shard0", f"{PROCESS}/shard0"]
    seen = [k for b in DataLoader(ds, batch_size=None, num_workers=2) for k in _key(b)]
    assert Counter(seen) == Counter((k, n) for k in (0, 1) for n in range(20))


@pytest.mark.parametrize("buffer", [0, 5])
def test_batcher_keeps_every_row_once(buffer: int) -> None:
    from l1scout.io.torchdata import _Batcher

    batcher = _Batcher(4, buffer, np.random.default_rng(0))
    out = []
    start = 0
    for size in (3, 10, 1, 7, 0, 2):
        rows = np.arange(start, start + size)
        start += size
        chunk = {"i": rows, "twice": np.stack([rows, 2 * rows], axis=1)}
        out += list(batcher.add(chunk))
        assert batcher.n < buffer + 4 + size  # the buffer stays bounded
    out += list(batcher.flush())
    assert [len(b["i"]) for b in out] == [4, 4, 4, 4, 4, 3]
    seen = np.concatenate([b["i"] for b in out])
    for b in out:
        assert np.array_equal(b["twice"], np.stack([b["i"], 2 * b["i"]], axis=1))
    if buffer:
        assert sorted(seen.tolist()) == list(range(23))
        assert seen.tolist() != list(range(23))
    else:
        assert seen.tolist() == list(range(23))
