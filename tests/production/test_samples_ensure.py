"""ensure_fast_samples and dataset_hash: the shared production step of the tasks' samples."""

from __future__ import annotations

from pathlib import Path

import pytest

from l1scout.errors import DataFormatError, ProductionError
from l1scout.production.plan import EngineSpec, ProductionPlan
from l1scout.production.samples import (
    SampleRequest,
    dataset_hash,
    ensure_fast_samples,
    fast_plan,
)


def _plan(events: int) -> ProductionPlan:
    return fast_plan(
        [SampleRequest(process="minbias", events=events)],
        seed=3,
        shard_size=2,
        pileup=0.0,
        pool_size=5,
        views=("L1T",),
        collections=("Event", "L1T_PUPPIMET"),
        engine=EngineSpec(kind="single"),
        source="test",
    )


@pytest.mark.slow
def test_ensure_makes_the_files_once_and_names_them_by_a_stable_hash(tmp_path: Path) -> None:
    plan = _plan(3)
    files, digest = ensure_fast_samples(plan, tmp_path / "s", what="test samples")
    assert {p.name for p in files["minbias"]} == {
        p.name for p in (tmp_path / "s" / "minbias").glob("*.parquet")
    }
    assert len(files["minbias"]) == 2
    before = {p: p.stat().st_mtime_ns for p in files["minbias"]}
    again, digest2 = ensure_fast_samples(plan, tmp_path / "s", what="test samples")
    assert digest2 == digest == dataset_hash(plan, tmp_path / "s")
    assert {p: p.stat().st_mtime_ns for p in again["minbias"]} == before  # nothing remade
    with pytest.raises(ProductionError, match="another test samples configuration"):
        ensure_fast_samples(_plan(4), tmp_path / "s", what="test samples")


def test_the_hash_needs_the_manifest(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="no manifest; produce the samples first"):
        dataset_hash(_plan(3), tmp_path)
