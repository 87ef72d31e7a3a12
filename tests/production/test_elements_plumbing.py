"""The detector-element collections through plans, productions, ``l1scout check`` and ``l1scout generate``."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from l1scout.cli.app import app
from l1scout.io.schema import ELEMENT_COLLECTIONS
from l1scout.production.check import check_dataset
from l1scout.production.driver import produce
from l1scout.production.job import GenerationConfig, available_collections, collection_of
from l1scout.production.plan import ProductionPlan

TTBAR = "tt0123j_5f_ckm_LO_MLM_semiLeptonic"
ELEMENTS = tuple(f"L1T_{c}" for c in ELEMENT_COLLECTIONS)


def test_element_collections_are_available_before_the_precut_ones() -> None:
    names = available_collections(GenerationConfig(process=TTBAR, events=1, seed=1))
    elements = [f"{v}_{c}" for v in ("FullReco", "L1T") for c in ELEMENT_COLLECTIONS]
    assert names[-8:] == (*elements, "FullReco_PUPPIPart128", "L1T_PUPPIPart128")
    only_l1t = available_collections(
        GenerationConfig(process=TTBAR, events=1, seed=1, views=("L1T",))
    )
    assert not [n for n in only_l1t if n.startswith("FullReco_")]
    assert set(ELEMENTS) <= set(only_l1t)


def test_a_plan_of_elements_is_produced_and_checks_clean(tmp_path: Path) -> None:
    plan = ProductionPlan.model_validate(
        {
            "seed": 3,
            "shard_size": 2,
            "pileup": 0,
            "views": ("L1T",),
            "collections": ["Event", "Gen_Part", *ELEMENTS],
            "processes": [{"name": TTBAR, "events": 2}],
            "engine": {"kind": "single"},
        }
    )
    assert {collection_of(c.name) for c in plan.columns()} == {"Event", "Gen_Part", *ELEMENTS}
    out = tmp_path / "out"
    summary = produce(plan, out)
    assert (summary.made, summary.failures) == (1, ())
    report = check_dataset(out)
    assert report.problems == ()
    table = pq.read_table(out / plan.shards()[0].file)
    assert table.column_names == [c.name for c in plan.columns()]
    assert sum(len(x) for x in table.column("L1T_Tower_E").to_pylist()) > 0


def test_generate_elements_option(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["generate", TTBAR, "-n", "1", "--pileup", "0", "--view", "L1T", "--out", str(tmp_path)]
    result = runner.invoke(app, [*args, "--elements"])
    assert result.exit_code == 0, result.output
    (path,) = tmp_path.rglob("*.parquet")
    names = {collection_of(n) for n in pq.read_schema(path).names}
    assert set(ELEMENTS) <= names
    assert "L1T_PUPPIPart" in names  # every default collection too
    assert "L1T_PUPPIPart128" not in names
    refused = runner.invoke(app, [*args, "--truth-only", "--elements", "--overwrite"])
    assert refused.exit_code != 0
    assert "need a detector view" in refused.output
