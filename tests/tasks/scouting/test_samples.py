"""The stream's samples: the configuration, the plans, one tiny real production read as the stream sees it.

The production (module fixture, marked slow) is a stand-in: 8 zero-bias and
6 ``WTo3Pi`` events at pileup 200 from a pool of 50 collisions, with the
``single`` engine (about 4 s unloaded). Every column the stream reads is
compared with a slow per-event reference computed from the Parquet file.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from l1scout.errors import ConfigError, DataFormatError, ProductionError
from l1scout.processes.catalog import load_catalog
from l1scout.tasks.scouting.events import branching_fraction, read_stream_events
from l1scout.tasks.scouting.samples import (
    DEFAULT_SCOUTING_SIGNALS,
    SIGNAL_COLLECTIONS,
    ZERO_BIAS_COLLECTIONS,
    ScoutingSamplesConfig,
    ensure_scouting_samples,
    production_plans,
    scouting_dataset_hash,
    scouting_sample_files,
)

Produced = tuple[ScoutingSamplesConfig, Path, dict[str, list[Path]]]


def _small(**data: object) -> ScoutingSamplesConfig:
    values: dict[str, object] = {
        "zero_bias": {"process": "minbias", "events": 8},
        "signals": [{"process": "WTo3Pi", "events": 6, "boost": 1e6}],
        "pileup": 200.0,
        "seed": 5,
        "pool_size": 50,
        "shard_size": 4,
        "engine": {"kind": "single"},
    }
    values.update(data)
    return ScoutingSamplesConfig.model_validate(values)


@pytest.fixture(scope="module")
def produced(tmp_path_factory: pytest.TempPathFactory) -> Produced:
    cfg = _small()
    out = tmp_path_factory.mktemp("scouting-data") / "data"
    stages: set[str] = set()
    files = ensure_scouting_samples(cfg, out, progress=lambda s, d, t: stages.add(s))
    assert {"zero_bias events", "signals events"} <= stages
    return cfg, out, files


# -- the catalog and the configuration -----------------------------------------------------------


def test_w_to_3pi_is_a_catalog_signal_with_the_cms_limit_as_branching_fraction() -> None:
    spec = load_catalog().get("WTo3Pi")
    assert "WeakSingleBoson:ffbar2W = on" in spec.settings
    assert any(s.startswith("24:oneChannel") and s.endswith("211 211 -211") for s in spec.settings)
    assert spec.parameters["branching_fraction"] == 1.01e-6
    assert "arXiv:1901.11201" in str(spec.parameters["branching_fraction_source"])
    assert branching_fraction("WTo3Pi") == 1.01e-6
    assert branching_fraction("light_scalar_tautau_m40") == 1.0


def test_defaults_name_catalog_signals_with_boosts() -> None:
    cfg = ScoutingSamplesConfig()
    assert cfg.signal_names == tuple(DEFAULT_SCOUTING_SIGNALS)
    assert cfg.processes[0] == "minbias"
    assert cfg.pileup == 200.0
    assert cfg.boost("WTo3Pi") == 1e6
    assert cfg.boost("minbias") == 1.0
    assert set(cfg.signal_names) <= set(load_catalog().names())


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"signals": [{"process": "minbias", "events": 5}]}, "is already zero_bias.process"),
        ({"signals": [{"process": "WTo3Pi", "events": 5, "boost": 0}]}, "greater than 0"),
        ({"signals": [{"process": "WTo3pi", "events": 5}]}, "did you mean 'WTo3Pi'"),
        (
            {"workers": 2, "engine": {"kind": "local", "workers": 2}},
            "give workers or engine.workers",
        ),
        ({"view": "L1T"}, "Extra inputs are not permitted"),
    ],
)
def test_bad_configurations_are_refused(data: dict[str, object], expected: str) -> None:
    with pytest.raises(ValidationError, match=expected):
        _small(**data)


def test_plans_write_the_streams_collections_and_truth_only_for_signals() -> None:
    plans = production_plans(_small())
    zb, sig = plans["zero_bias"], plans["signals"]
    assert zb.collections == tuple(sorted(ZERO_BIAS_COLLECTIONS))
    assert sig.collections == tuple(sorted(SIGNAL_COLLECTIONS))
    assert "Gen_PartHS" in sig.collections
    assert "Gen_PartHS" not in zb.collections
    assert zb.views == sig.views == ("L1T",)
    assert (zb.seed, zb.pileup, zb.pool_size) == (sig.seed, sig.pileup, sig.pool_size)
    no_signals = production_plans(_small(signals=[]))
    assert list(no_signals) == ["zero_bias"]
    files = scouting_sample_files(_small(), "/data")
    assert list(files) == ["minbias", "WTo3Pi"]
    assert len(files["minbias"]) == 2
    assert all(p.parts[2] == "signals" for p in files["WTo3Pi"])


# -- one tiny real production ---------------------------------------------------------------


def _lists(path: Path, name: str) -> list[list[float]]:
    return pq.read_table(path, columns=[name]).column(name).to_pylist()  # type: ignore[no-any-return]


def _reference(path: Path, candidates: int) -> dict[str, list[object]]:
    """The stream's view of a file, event by event in plain Python (the slow, obvious reference)."""
    pt = _lists(path, "L1T_PUPPIPart128_PT")
    jet_pt, jet_eta = _lists(path, "L1T_JetPuppiAK4_PT"), _lists(path, "L1T_JetPuppiAK4_Eta")
    e = [_lists(path, f"L1T_Electron_{q}") for q in ("PT", "Eta", "Phi")]
    g = [_lists(path, f"L1T_PhotonTight_{q}") for q in ("PT", "Eta", "Phi")]
    out: dict[str, list[object]] = {"puppi_pt": [], "ht": [], "egamma_pt": []}
    for i in range(len(pt)):
        out["puppi_pt"].append(sorted(pt[i], reverse=True)[:candidates])
        out["ht"].append(
            sum(
                p for p, eta in zip(jet_pt[i], jet_eta[i], strict=True) if p > 30 and abs(eta) < 2.4
            )
        )
        kept = [
            p
            for p, eta, phi in zip(*(c[i] for c in g), strict=True)
            if all(
                (eta - ee) ** 2 + min(abs(phi - pe), 2 * math.pi - abs(phi - pe)) ** 2 >= 0.01
                for ee, pe in zip(e[1][i], e[2][i], strict=True)
            )
        ]
        out["egamma_pt"].append(sorted(e[0][i] + kept, reverse=True)[:12])
    return out


@pytest.mark.slow
def test_stream_events_equal_a_per_event_reference(produced: Produced) -> None:
    _, _, files = produced
    for process, paths in files.items():
        ev = read_stream_events(paths, candidates=20)
        assert ev.process == process
        assert ev.n_events == (8 if process == "minbias" else 6)
        ref: dict[str, list[object]] = {"puppi_pt": [], "ht": [], "egamma_pt": []}
        numbers: list[int] = []
        for path in paths:
            for key, values in _reference(path, 20).items():
                ref[key] += values
            numbers += [int(n[0]) for n in _lists(path, "Event_Number")]
        assert ev.event_number.tolist() == numbers
        assert ev.file_index.tolist() == sorted(ev.file_index.tolist())
        for i in range(ev.n_events):
            sl = slice(ev.puppi_offsets[i], ev.puppi_offsets[i + 1])
            assert ev.puppi["pt"][sl].tolist() == ref["puppi_pt"][i]
            sl = slice(ev.egamma_offsets[i], ev.egamma_offsets[i + 1])
            assert ev.egamma["pt"][sl].tolist() == ref["egamma_pt"][i]
            for coll, offs in (("muons", ev.muon_offsets), ("jets", ev.jet_offsets)):
                pts = getattr(ev, coll)["pt"][offs[i] : offs[i + 1]]
                assert np.all(np.diff(pts) <= 0)
                assert len(pts) <= 12
        np.testing.assert_allclose(ev.sums["ht"], ref["ht"], rtol=1e-6)
        assert set(ev.puppi) == {"pt", "eta", "phi", "pid", "charge", "dz", "d0", "puppi_w"}
        assert (ev.muons["quality"] == 12).all()


@pytest.mark.slow
def test_the_signal_cross_section_carries_the_branching_fraction(produced: Produced) -> None:
    _, _, files = produced
    ev = read_stream_events(files["WTo3Pi"])
    last = [_lists(p, "Event_CrossSection")[-1][0] for p in files["WTo3Pi"]]
    rows = [pq.read_metadata(p).num_rows for p in files["WTo3Pi"]]
    sigma = sum(s * n for s, n in zip(last, rows, strict=True)) / sum(rows)
    assert ev.branching_fraction == 1.01e-6
    assert ev.cross_section_pb == pytest.approx(sigma * 1.01e-6)
    assert 1e5 < sigma < 3e5  # pp -> W at 14 TeV, LO: about 180 nb
    zb = read_stream_events(files["minbias"])
    assert zb.branching_fraction == 1.0
    assert zb.cross_section_pb > 1e10


@pytest.mark.slow
def test_every_w_decays_to_three_charged_pions(produced: Produced) -> None:
    _, _, files = produced
    for path in files["WTo3Pi"]:
        pid, m1 = _lists(path, "Gen_PartHS_PID"), _lists(path, "Gen_PartHS_M1")
        status = _lists(path, "Gen_PartHS_Status")
        for p, m, s in zip(pid, m1, status, strict=True):
            pions = [
                q
                for q, mo, st in zip(p, m, s, strict=True)
                if abs(q) == 211 and st == 1 and mo >= 0 and abs(p[mo]) == 24
            ]
            w = [q for q, mo in zip(p, m, strict=True) if abs(q) == 24 and mo >= 0]
            assert len(pions) == 3, pions
            assert sum(np.sign(pions)) == np.sign(w[0])


@pytest.mark.slow
def test_keep_selects_events_and_a_rerun_makes_nothing(produced: Produced) -> None:
    cfg, out, files = produced
    every = read_stream_events(files["minbias"])
    even = read_stream_events(files["minbias"], keep=lambda ident, numbers: numbers % 2 == 0)
    assert even.event_number.tolist() == [n for n in every.event_number.tolist() if n % 2 == 0]
    same = every.subset(every.event_number % 2 == 0)
    assert np.array_equal(same.puppi_offsets, even.puppi_offsets)
    assert np.array_equal(same.puppi["pt"], even.puppi["pt"])
    digest = scouting_dataset_hash(cfg, out)
    before = {p: p.stat().st_mtime_ns for ps in files.values() for p in ps}
    again = ensure_scouting_samples(cfg, out)
    assert {p: p.stat().st_mtime_ns for ps in again.values() for p in ps} == before
    assert scouting_dataset_hash(cfg, out) == digest
    assert len(digest) == 64
    with pytest.raises(ProductionError, match="another scouting data configuration"):
        ensure_scouting_samples(_small(signals=[{"process": "WTo3Pi", "events": 7}]), out)


def test_reading_refuses_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"candidates: expected 1 \.\.\. 128"):
        read_stream_events([tmp_path / "x.parquet"], candidates=129)
    with pytest.raises(DataFormatError, match="no files given"):
        read_stream_events([])
