"""fast_plan_of and dataset_hash: the shared plan and data hash of the tasks' samples.

ensure_fast_samples itself (rerun makes nothing, the same hash, another plan
refused) is exercised on real productions through ensure_mlpf_samples in
tests/tasks/mlpf/test_data.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from l1scout.errors import DataFormatError
from l1scout.production.plan import EngineSpec, ProductionPlan
from l1scout.production.samples import (
    SampleRequest,
    dataset_hash,
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


def test_the_hash_needs_the_manifest(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="no manifest; produce the samples first"):
        dataset_hash(_plan(3), tmp_path)


def test_fast_plan_of_takes_the_table_and_its_workers_shortcut() -> None:
    from types import SimpleNamespace

    from l1scout.production.samples import fast_plan_of

    table = SimpleNamespace(
        seed=5,
        shard_size=3,
        pileup=10.0,
        pool_size=7,
        engine=EngineSpec(kind="local"),
        workers=None,
    )
    requests = [SampleRequest(process="minbias", events=4)]
    plan = fast_plan_of(table, requests, views=("L1T",), collections=("Event",), source="t")
    want = fast_plan(
        requests,
        seed=5,
        shard_size=3,
        pileup=10.0,
        pool_size=7,
        views=("L1T",),
        collections=("Event",),
        engine=EngineSpec(kind="local"),
        source="t",
    )
    assert plan == want
    table.workers = 3
    plan3 = fast_plan_of(table, requests, views=("L1T",), collections=("Event",), source="t")
    assert plan3.engine.workers == 3
    assert plan3.model_dump(exclude={"engine"}) == want.model_dump(exclude={"engine"})
