"""The pre-cut particle collection ``<View>_PUPPIPart128``: written on request, read in place of the full one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from torch.utils.data import DataLoader

from l1scout.errors import DataFormatError
from l1scout.io.dataset import Dataset, open_dataset
from l1scout.io.features import particle_set, particle_set_columns
from l1scout.io.schema import (
    ELEMENT_COLLECTIONS,
    PRECUT_COLLECTIONS,
    precut_columns,
    view_columns,
)
from l1scout.io.torchdata import EventIterableDataset
from l1scout.production.job import GenerationConfig, available_collections, run_generation

PROCESS = "minbias"
#: minimum bias at pileup 2: events from a few dozen to a few hundred L1T candidates
BASE: dict[str, object] = {"process": PROCESS, "events": 10, "seed": 7, "pileup": 2.0}
POOL = 40
K = 128

pytestmark = pytest.mark.slow  # two small generations


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same events twice: every collection plus the pre-cut ones, and the default full file."""
    tmp = tmp_path_factory.mktemp("precut")
    base = GenerationConfig(**BASE, pool_size=POOL)  # type: ignore[arg-type]
    names = available_collections(base)  # less the element ones and Gen_PartHS (their own tests)
    names = tuple(
        n for n in names if n.rpartition("_")[2] not in ELEMENT_COLLECTIONS and n != "Gen_PartHS"
    )
    every = base.model_copy(update={"collections": names})
    with_precut = run_generation(every, tmp / "with").path
    full = run_generation(base, tmp / "full").path
    return with_precut, full


def test_precut_collections_are_declared_and_requestable() -> None:
    assert PRECUT_COLLECTIONS == {"PUPPIPart128": ("PUPPIPart", K)}
    cut, full = precut_columns("L1T"), view_columns("L1T", [])
    whole = [c for c in full if c.collection == "PUPPIPart"]
    assert [c.field for c in cut] == [c.field for c in whole]
    assert [(c.dtype, c.unit, c.depth) for c in cut] == [(c.dtype, c.unit, c.depth) for c in whole]
    assert not any(c.collide for c in cut)
    names = available_collections(GenerationConfig(**BASE))  # type: ignore[arg-type]
    assert names[-2:] == ("FullReco_PUPPIPart128", "L1T_PUPPIPart128")


def test_precut_is_the_top_128_of_the_full_collection(files: tuple[Path, Path]) -> None:
    with_precut, full = files
    a, b = pq.read_table(with_precut), pq.read_table(full)
    # a full file is unchanged: no pre-cut columns, and the other columns hold the same values
    assert not [n for n in b.column_names if "PUPPIPart128" in n]
    assert [n for n in a.column_names if "PUPPIPart128" not in n] == b.column_names
    for name in b.column_names:
        assert a.column(name).equals(b.column(name)), name
    for view in ("L1T", "FullReco"):
        pt = a.column(f"{view}_PUPPIPart_PT").to_pylist()
        counts = [len(x) for x in pt]
        if view == "L1T":  # the cut is exercised both ways
            assert min(counts) < K < max(counts)
        order = [np.argsort(-np.float32(x), kind="stable")[:K] for x in pt]
        for col in precut_columns(view):
            assert (
                a.schema.field(col.name).type
                == a.schema.field(f"{view}_PUPPIPart_{col.field}").type
            )
            whole = a.column(f"{view}_PUPPIPart_{col.field}").to_pylist()
            cut = a.column(col.name).to_pylist()
            assert cut == [w[:K] for w in whole], col.name  # sorted by pT: the first 128
            assert cut == [[w[i] for i in o] for w, o in zip(whole, order, strict=True)], col.name


def test_fast_mode_writes_only_the_precut_collection(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    config = GenerationConfig(  # type: ignore[arg-type]
        **BASE, pool_size=POOL, collections=("Event", "L1T_PUPPIPart128")
    )
    fast = pq.read_table(run_generation(config, tmp_path).path)
    every = pq.read_table(files[0])
    assert {n.rsplit("_", 1)[0] for n in fast.column_names} == {"Event", "L1T_PUPPIPart128"}
    for name in fast.column_names:
        assert fast.column(name).equals(every.column(name)), name


def _sets(path: Path, k: int, **kwargs: object) -> tuple[tuple[str, ...], list[np.ndarray]]:
    ds = open_dataset(path, hub=False)
    cols = particle_set_columns(label_fields=("IsPU", "IsRecoPU"), k=k, available=ds.columns)
    ds = ds.with_columns(cols)
    out = [particle_set(chunk, k=k, label_fields=("IsPU", "IsRecoPU"), **kwargs) for chunk in ds]  # type: ignore[arg-type]
    assert len(out) == 1
    s = out[0]
    assert s.labels is not None
    return cols, [s.features, s.mask, s.labels]


@pytest.mark.parametrize(("k", "relative"), [(1, False), (50, True), (K, False), (K, True)])
def test_particle_sets_read_from_the_precut_collection_are_the_same(
    files: tuple[Path, Path], k: int, relative: bool
) -> None:
    with_precut, full = files
    cols_cut, cut = _sets(with_precut, k, relative=relative)
    cols_full, whole = _sets(full, k, relative=relative)
    assert cols_cut[0] == "L1T_PUPPIPart128_PT"  # read instead of the full collection
    assert cols_full[0] == "L1T_PUPPIPart_PT"  # the fallback: no pre-cut collection in the file
    for x, y in zip(cut, whole, strict=True):
        np.testing.assert_array_equal(x, y)
    assert cut[1].sum(axis=1).max() == k


def test_more_than_128_particles_need_the_full_collection(files: tuple[Path, Path]) -> None:
    with_precut, _ = files
    ds = open_dataset(with_precut, hub=False)
    assert particle_set_columns(k=K + 1, available=ds.columns)[0] == "L1T_PUPPIPart_PT"
    both = ds.with_columns(
        [*particle_set_columns(), *particle_set_columns(collection="PUPPIPart128")]
    ).read()
    s = particle_set(both, k=K + 72)
    assert s.mask.sum(axis=1).max() > K  # from the full collection
    only_cut = ds.with_columns(particle_set_columns(collection="PUPPIPart128")).read()
    np.testing.assert_array_equal(particle_set(only_cut, k=K).features, s.features[:, :K])
    with pytest.raises(DataFormatError, match="L1T_PUPPIPart_PT"):
        particle_set(only_cut, k=K + 1)


def test_torch_batches_are_the_same_from_either_collection(files: tuple[Path, Path]) -> None:
    def transform(chunk: object) -> dict[str, np.ndarray]:
        s = particle_set(chunk, k=K)  # type: ignore[arg-type]
        assert s.labels is not None
        return {"x": s.features, "mask": s.mask, "labels": s.labels}

    batches = []
    for path in files:
        ds = open_dataset(path, hub=False)
        ds = ds.with_columns(particle_set_columns(available=ds.columns))
        assert isinstance(ds, Dataset)
        loader = DataLoader(EventIterableDataset(ds, transform, batch_size=3), batch_size=None)
        batches.append(list(loader))
    assert len(batches[0]) == len(batches[1]) == 4  # 10 events
    for a, b in zip(*batches, strict=True):
        assert a.keys() == b.keys()
        for name in a:
            assert a[name].equal(b[name]), name
