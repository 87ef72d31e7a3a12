"""dataset_hash: the shared data hash of the tasks' samples.

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
