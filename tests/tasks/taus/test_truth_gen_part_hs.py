"""The soft-tau truth from ``Gen_PartHS``: the same taus as from ``Gen_Part``; folders of the earlier layout.

Small real productions of a tau signal at pileup 20 (marked slow: a few
generations of a few events, about 30 s on the shared machine).
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from l1scout.errors import ConfigError, ProductionError
from l1scout.production.job import GenerationConfig, run_generation
from l1scout.production.samples import produce_or_raise
from l1scout.tasks.taus.config import TauConfig
from l1scout.tasks.taus.data import (
    LEGACY_SIGNAL_COLLECTIONS,
    SIGNAL_COLLECTIONS,
    ensure_tau_samples,
    production_plans,
    tau_sample_files,
)
from l1scout.tasks.taus.dataset import load_tau_events
from l1scout.tasks.taus.truth import TruthTaus, gen_record, truth_taus

SIGNAL = "light_scalar_tautau_m40"
BASE: dict[str, object] = {
    "process": SIGNAL,
    "events": 8,
    "seed": 9,
    "pileup": 20.0,
    "pool_size": 60,
    "views": ("L1T",),
}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A signal file with both records, the PUPPI candidates and ``Event``."""
    tmp = tmp_path_factory.mktemp("tau-hs")
    collections = ("Event", "Gen_Part", "Gen_PartHS", "L1T_PUPPIPart")
    config = GenerationConfig(**BASE, collections=collections)
    return run_generation(config, tmp, pool_dir=tmp / "pools").path


def _assert_same_taus(a: TruthTaus, b: TruthTaus) -> None:
    for f in fields(TruthTaus):
        np.testing.assert_array_equal(getattr(a, f.name), getattr(b, f.name), err_msg=f.name)


def test_truth_taus_from_gen_part_hs_equal_those_from_gen_part(both: Path) -> None:
    table = pq.read_table(both)
    cols = {n: table.column(n).to_pylist() for n in table.column_names}
    from_hs = truth_taus(gen_record(cols, "Gen_PartHS"))
    from_full = truth_taus(gen_record(cols, "Gen_Part"))
    # all of them, event by event: offsets, gen_index (into the full Gen_Part), vis pT,
    # charge, decay mode, vz, ...
    _assert_same_taus(from_hs, from_full)
    assert from_hs.n_events == 8
    hadronic = from_hs.hadronic()
    assert len(hadronic) >= 8  # a di-tau signal: most events have a hadronic tau
    assert len(set(hadronic.decay_mode.tolist())) >= 2
    assert np.all(np.diff(from_hs.offsets) <= 2)  # one decaying copy per tau
    # gen_index points to the tau in the full record
    pid = cols["Gen_Part_PID"]
    for k in range(from_hs.n_events):
        for t in range(from_hs.offsets[k], from_hs.offsets[k + 1]):
            assert abs(pid[k][from_hs.gen_index[t]]) == 15
    # a chunk with Gen_PartHS is read from it by default
    default = gen_record(cols)
    assert default.index is not None
    assert len(default.pid) < len(gen_record(cols, "Gen_Part").pid)
    with pytest.raises(ConfigError, match="collection: expected one of Gen_PartHS, Gen_Part"):
        gen_record(cols, "Gen_Parts")


def test_the_reader_takes_either_record(both: Path, tmp_path: Path) -> None:
    """A signal file with only ``Gen_Part`` (the earlier layout) gives the same events as one with only ``Gen_PartHS``."""
    made = {}
    for name, collections in (("hs", SIGNAL_COLLECTIONS), ("full", LEGACY_SIGNAL_COLLECTIONS)):
        config = GenerationConfig(**BASE, collections=collections)
        made[name] = run_generation(config, tmp_path / name, pool_dir=tmp_path / "pools").path
    assert not [n for n in pq.read_schema(made["hs"]).names if n.startswith("Gen_Part_")]
    hs = load_tau_events(made["hs"], {SIGNAL: made["hs"]})
    full = load_tau_events(made["full"], {SIGNAL: made["full"]})
    _assert_same_taus(hs.taus, full.taus)
    assert len(hs.taus) > 0
    np.testing.assert_array_equal(hs.pt, full.pt)
    # and the file with both records gives the same taus as well
    _assert_same_taus(load_tau_events(both, {SIGNAL: both}).taus, hs.taus)


def _config(**data: object) -> TauConfig:
    values: dict[str, object] = {
        "zero_bias": {"process": "minbias", "events": 10},  # the rate check needs 10
        "signals": [{"process": SIGNAL, "events": 6}],  # one expected in every split
        "pileup": 20.0,
        "seed": 5,
        "pool_size": 60,
        "shard_size": 3,
        "engine": {"kind": "single"},
    }
    values.update(data)
    return TauConfig.model_validate({"data": values, "rate": {"rate_khz": 20_000.0}})


def test_a_signal_folder_of_the_earlier_layout_is_kept_and_completed(tmp_path: Path) -> None:
    cfg = _config()
    data = tmp_path / "data"
    # the folders as an earlier version made them: signals with the full Gen_Part
    for part, plan in production_plans(cfg, legacy=True).items():
        produce_or_raise(plan, data / part, what=part)
    files = tau_sample_files(cfg, data)
    signal_files = files[SIGNAL]
    assert len(signal_files) == 2
    assert "Gen_Part_M1" in pq.read_schema(signal_files[0]).names
    before = {p: p.stat().st_mtime_ns for ps in files.values() for p in ps}
    # one signal shard lost: the rerun keeps the rest and remakes it in the folder's layout
    signal_files[1].unlink()
    again, digest = ensure_tau_samples(cfg, data)
    assert again == files
    after = {p: p.stat().st_mtime_ns for ps in again.values() for p in ps}
    assert {p: t for p, t in after.items() if p != signal_files[1]} == {
        p: t for p, t in before.items() if p != signal_files[1]
    }
    names = pq.read_schema(signal_files[1]).names
    assert "Gen_Part_M1" in names
    assert "Gen_PartHS_M1" not in names
    # a second rerun makes nothing and names the same data
    assert ensure_tau_samples(cfg, data)[1] == digest
    # the files are read: the truth taus come from Gen_Part
    events = load_tau_events(again["minbias"], {SIGNAL: signal_files})
    assert len(events.taus) > 0
    # a signal folder of another configuration is still refused, in either layout
    with pytest.raises(ProductionError, match="another soft-tau data configuration"):
        ensure_tau_samples(_config(signals=[{"process": SIGNAL, "events": 9}]), data)


def test_a_new_folder_is_made_with_gen_part_hs(tmp_path: Path) -> None:
    cfg = _config(signals=[{"process": SIGNAL, "events": 5}])
    files, _ = ensure_tau_samples(cfg, tmp_path / "data")
    names = pq.read_schema(files[SIGNAL][0]).names
    assert "Gen_PartHS_Index" in names
    assert not [n for n in names if n.startswith("Gen_Part_")]
