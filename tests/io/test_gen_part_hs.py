"""The optional collection ``Gen_PartHS``: the hard collision's entries of ``Gen_Part``, links re-indexed.

One small real production (a tau signal at pileup 20, the L1T view, 6 events)
written twice with the same seed: the default file, and the default
collections plus ``Gen_PartHS``; and the generator-level fast mode that writes
``Gen_PartHS`` alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from l1scout.cli.app import app
from l1scout.detector.card import load_frontend_card
from l1scout.detector.view_card import load_view_card
from l1scout.errors import DataFormatError
from l1scout.generate.truth import hard_scatter_cut
from l1scout.io.schema import GEN_PART_COLUMNS, GEN_PART_HS_COLUMNS
from l1scout.production.driver import produce
from l1scout.production.job import (
    GenerationConfig,
    available_collections,
    collection_names,
    columns_of,
    run_generation,
)
from l1scout.production.plan import ProductionPlan

BASE: dict[str, object] = {
    "process": "light_scalar_tautau_m40",
    "events": 6,
    "seed": 5,
    "pileup": 20.0,
    "pool_size": 60,
    "views": ("L1T",),
}
LINKS = ("M1", "M2", "D1", "D2")
FIELDS = tuple(c.field for c in GEN_PART_COLUMNS)

pytestmark = pytest.mark.slow  # three small generations (about 10 s in all)

Files = tuple[Path, Path, Path]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    """The default file, the same with ``Gen_PartHS``, and ``("Event", "Gen_PartHS")`` at generator level."""
    tmp = tmp_path_factory.mktemp("gen-part-hs")
    pools = tmp / "pools"
    base = GenerationConfig(**BASE)
    default = run_generation(base, tmp / "default", pool_dir=pools).path
    names = (*_default_collections(base), "Gen_PartHS")
    both = run_generation(
        base.model_copy(update={"collections": names}), tmp / "both", pool_dir=pools
    ).path
    alone = GenerationConfig(**{**BASE, "views": (), "collections": ("Event", "Gen_PartHS")})
    only = run_generation(alone, tmp / "only", pool_dir=pools).path
    return default, both, only


def _default_collections(config: GenerationConfig) -> tuple[str, ...]:
    """The collections of a file of *config* written without a ``collections`` list."""
    views = tuple(load_view_card(v) for v in config.views)
    return collection_names(columns_of(load_frontend_card(config.card), views))


def _lists(path: Path, collection: str, fields: tuple[str, ...]) -> dict[str, list[np.ndarray]]:
    table = pq.read_table(path, columns=[f"{collection}_{f}" for f in fields])
    return {
        f: [np.asarray(x) for x in table.column(f"{collection}_{f}").to_pylist()] for f in fields
    }


def test_declared_optional_and_after_the_default_collections() -> None:
    assert [c.field for c in GEN_PART_HS_COLUMNS] == [*FIELDS, "Index"]
    assert [(c.dtype, c.unit) for c in GEN_PART_HS_COLUMNS[:-1]] == [
        (c.dtype, c.unit) for c in GEN_PART_COLUMNS
    ]
    assert GEN_PART_HS_COLUMNS[-1].dtype == "int32"
    assert not any(c.collide for c in GEN_PART_HS_COLUMNS)
    config = GenerationConfig(**BASE)
    names = available_collections(config)
    default = _default_collections(config)
    assert names[: len(default) + 1] == (*default, "Gen_PartHS")
    assert "Gen_PartHS" not in default  # a file without a collections list does not write it


def test_the_default_file_is_unchanged(files: Files) -> None:
    default, both, _ = files
    a, b = pq.read_table(both), pq.read_table(default)
    assert not [n for n in b.column_names if n.startswith("Gen_PartHS")]
    assert [n for n in a.column_names if not n.startswith("Gen_PartHS_")] == b.column_names
    for name in b.column_names:
        assert a.column(name).equals(b.column(name)), name


def test_it_is_gen_part_cut_to_the_hard_collision(files: Files) -> None:
    _, both, _ = files
    full = _lists(both, "Gen_Part", FIELDS)
    hs = _lists(both, "Gen_PartHS", (*FIELDS, "Index"))
    n_hard = n_pu = 0
    for k in range(len(full["PT"])):
        hard = full["IsPU"][k] == 0
        # IsPU and VertexIndex agree on what the hard collision is
        assert np.array_equal(hard, full["VertexIndex"][k] == 0)
        n_hard, n_pu = n_hard + int(hard.sum()), n_pu + int((~hard).sum())
        index = hs["Index"][k]
        assert np.array_equal(index, np.flatnonzero(hard))  # in the same order, pT descending
        assert np.all(np.diff(hs["PT"][k].astype(np.float32)) <= 0)
        for f in FIELDS:
            if f in LINKS:
                continue
            assert np.array_equal(hs[f][k], full[f][k][hard]), f
            assert np.array_equal(hs[f][k], full[f][k][index]), f
    assert n_hard > 100  # both kinds are there at pileup 20
    assert n_pu > 3 * n_hard


def test_links_are_reindexed_into_the_cut_list(files: Files) -> None:
    _, both, _ = files
    full = _lists(both, "Gen_Part", ("IsPU", *LINKS))
    hs = _lists(both, "Gen_PartHS", ("Index", *LINKS))
    followed = 0
    for k in range(len(full["IsPU"])):
        index, pu = hs["Index"][k], full["IsPU"][k]
        for link in LINKS:
            whole, cut = full[link][k], hs[link][k]
            # a pileup particle has no family; a hard one's family is in the hard collision
            assert np.all(whole[pu == 1] == -1), link
            assert np.all(pu[whole[whole >= 0]] == 0), link
            # following the link in the cut list reaches the particle the full list reaches
            linked = cut >= 0
            assert np.array_equal(index[cut[linked]], whole[index][linked]), link
            # and no link is lost: -1 only where the full list has none
            assert np.all(whole[index][~linked] == -1), link
            followed += int(linked.sum())
    assert followed > 50


def test_gen_part_hs_alone_makes_the_family_links(files: Files) -> None:
    _, both, only = files
    a, b = pq.read_table(only), pq.read_table(both)
    assert collection_names([c for c in GEN_PART_HS_COLUMNS if c.name in a.column_names]) == (
        "Gen_PartHS",
    )
    assert not [n for n in a.column_names if n.startswith("Gen_Part_")]
    for c in GEN_PART_HS_COLUMNS:
        assert a.column(c.name).equals(b.column(c.name)), c.name
    assert any(m >= 0 for ev in a.column("Gen_PartHS_M1").to_pylist() for m in ev)


def test_hard_scatter_cut_by_hand() -> None:
    # event 0: pileup only (an empty cut); event 1: no particle at all; event 2: hard
    # particles (pT order 0, 2, 3) around a pileup one, and a link to it (-> -1) and
    # one out of range (-> -1)
    offsets = [0, 2, 2, 7]
    is_pu = [1, 1, 0, 1, 0, 0, 1]
    m1 = [-1, -1, -1, -1, 0, 2, -1]
    d1 = [-1, -1, 2, -1, 1, -1, -1]
    d2 = [-1, -1, 3, -1, 9, -1, -1]
    off, take, index, (c_m1, c_d1, c_d2) = hard_scatter_cut(offsets, is_pu, [m1, d1, d2])
    assert off.tolist() == [0, 0, 0, 3]
    assert take.tolist() == [2, 4, 5]
    assert index.tolist() == [0, 2, 3]
    assert c_m1.tolist() == [-1, 0, 1]
    assert c_d1.tolist() == [1, -1, -1]  # particle 0's D1 is 2 (the second kept); 4's is pileup
    assert c_d2.tolist() == [2, -1, -1]  # 9 is outside the event
    empty = hard_scatter_cut([0, 0, 0], [], [[]])
    assert empty[0].tolist() == [0, 0, 0]
    assert len(empty[3][0]) == 0
    with pytest.raises(DataFormatError, match="is_pu: expected 7 entries"):
        hard_scatter_cut(offsets, is_pu[:-1])


def test_l1scout_check_is_happy_with_a_production_of_it(tmp_path: Path) -> None:
    plan = ProductionPlan.model_validate(
        {
            "seed": 3,
            "shard_size": 2,
            "pileup": 0,
            "views": (),
            "collections": ["Event", "Gen_PartHS"],
            "processes": [{"name": "light_scalar_tautau_m40", "events": 2}],
            "engine": {"kind": "single"},
        }
    )
    out = tmp_path / "out"
    assert produce(plan, out).failures == ()
    result = CliRunner().invoke(app, ["check", str(out)])
    assert result.exit_code == 0, result.output
    assert "ok: 1 shards" in result.output
    names = pq.read_schema(out / plan.shards()[0].file).names
    assert names == [c.name for c in plan.columns()]
    assert "Gen_PartHS_Index" in names
