"""The soft-tau configuration and its productions: errors at load, the plans, one tiny real production.

The production (module fixture) is a stand-in: 10 zero-bias and 6 signal
events at pileup 200 from a pool of 50 collisions with the ``single`` engine,
a few seconds unloaded (marked slow: with the
machine shared it took 24 s); the data code does not depend on the sizes. The rate is set to
20,000 kHz so that 10 zero-bias events pass the configuration's rate check.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from l1scout.errors import ConfigError, ProductionError
from l1scout.io.schema import GEN_COLUMNS, view_columns
from l1scout.processes.catalog import load_catalog
from l1scout.tasks.taus.config import (
    DEFAULT_TAU_SIGNALS,
    TauConfig,
    demo_config,
    load_tau_config,
)
from l1scout.tasks.taus.data import (
    PUPPI_FIELDS,
    ensure_tau_samples,
    production_plans,
    tau_sample_files,
)

ROOT = Path(__file__).resolve().parents[3]
SIGNAL = "light_scalar_tautau_m40"
Produced = tuple[TauConfig, Path, dict[str, list[Path]], str]


def _small(**data: object) -> TauConfig:
    values: dict[str, object] = {
        "zero_bias": {"process": "minbias", "events": 10},
        "signals": [{"process": SIGNAL, "events": 6}],
        "pileup": 200.0,
        "seed": 5,
        "pool_size": 50,
        "shard_size": 10,
        "engine": {"kind": "single"},
    }
    values.update(data)
    return TauConfig.model_validate({"data": values, "rate": {"rate_khz": 20_000.0}})


@pytest.fixture(scope="module")
def produced(tmp_path_factory: pytest.TempPathFactory) -> Produced:
    cfg = _small()
    out = tmp_path_factory.mktemp("tau-data") / "data"
    stages: set[str] = set()
    files, digest = ensure_tau_samples(cfg, out, progress=lambda s, d, t: stages.add(s))
    # each production's bars are named after its part: no two share a bar
    assert {"zero_bias events", "signals events"} <= stages
    assert all(s.startswith(("zero_bias ", "signals ")) for s in stages)
    return cfg, out, files, digest


# -- configuration --------------------------------------------------------------------------


def test_demo_and_full_configs_load_with_the_study_samples() -> None:
    demo = demo_config()
    full = load_tau_config(ROOT / "examples" / "taus" / "full.toml")
    catalog = {p.name for p in load_catalog()}
    for cfg in (demo, full):
        assert cfg.data.signal_names == tuple(DEFAULT_TAU_SIGNALS)
        assert set(cfg.data.processes) <= catalog
        assert (cfg.data.zero_bias.process, cfg.data.pileup, cfg.data.view) == (
            "minbias",
            200.0,
            "L1T",
        )
        assert (cfg.rate.rate_khz, cfg.candidates.match_dr) == (50.0, 0.2)
        assert cfg.candidates.nnpuppitau_pt_min < 20.0  # soft taus: below NNPuppiTau's own cut
    # 50 kHz at 31,039 kHz is one event in 621: the demo's validation and test splits hold more
    assert demo.data.zero_bias.events * min(demo.splits.zero_bias[1:]) >= 621 * 1.1
    assert full.data.zero_bias.events == 100_000
    assert all(s.events == 50_000 for s in full.data.signals)
    assert sum(s.events for s in demo.data.signals) <= 2000  # minutes, not hours


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "taus.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[candidates]\nclue = { dc = -0.1 }\n",
            "candidates.clue.dc: Input should be greater than 0",
        ),
        ("[data]\npileup = nan\n", "data.pileup: expected a number, got nan"),
        (
            '[data]\nsignals = [{ process = "tautau_nowhere", events = 5 }]\n',
            "data.signals[0].process:",
        ),
        ("[candidates]\nmuons = 1\n", "candidates.muons: Extra inputs are not permitted"),
        (
            "[candidates]\nclue = { dc = 0.3, dm = 0.2 }\n",
            "candidates.clue: dm: expected at least dc",
        ),
        ('[candidates]\nmethods = ["clue", "clue"]\n', "candidates.methods: expected distinct"),
        ('[data]\nview = "FullReco"\n', "data.view: Input should be 'L1T'"),
        ('[rate]\ncrossing_rate = "lhc"\n', "rate.crossing_rate: expected 'phase2'"),
        ("[splits]\nsignal = [0.5, 0.5, 0.5]\n", "splits.signal: expected three positive"),
        (
            '[data]\nzero_bias = { process = "minbias", events = 1000 }\n',
            "data.zero_bias.events: 1,000 events leave 400 expected in the validation split",
        ),
    ],
)
def test_config_errors_are_one_line_naming_file_and_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_tau_config(path)
    message = str(err.value)
    assert message.count("\n") == 0, message
    assert message.startswith(f"{path}: ")
    assert expected in message


def test_the_rate_check_counts_events_per_split() -> None:
    # 31,038.96 / 50 x 1.1 = 682.9: 1,708 x 0.4 = 683.2 passes, 1,707 x 0.4 = 682.8 does not
    TauConfig.model_validate({"data": {"zero_bias": {"process": "minbias", "events": 1708}}})
    with pytest.raises(ValueError, match="needs 683"):
        TauConfig.model_validate({"data": {"zero_bias": {"process": "minbias", "events": 1707}}})


# -- plans ------------------------------------------------------------------------------------


def test_plans_are_fast_mode_with_the_columns_the_study_reads() -> None:
    cfg = demo_config()
    plans = production_plans(cfg)
    zb, sig = plans["zero_bias"], plans["signals"]
    assert zb.views == sig.views == ("L1T",)
    assert zb.collections == ("Event", "L1T_PUPPIPart")
    assert sig.collections == ("Event", "Gen_PartHS", "L1T_PUPPIPart")
    assert [p.name for p in zb.processes] == ["minbias"]
    assert [(p.name, p.events) for p in sig.processes] == [(s, 300) for s in DEFAULT_TAU_SIGNALS]
    # one pileup pool: both plans draw it from the same seed and size
    assert (
        (zb.seed, zb.pileup, zb.pool_size)
        == (sig.seed, sig.pileup, sig.pool_size)
        == (17, 200.0, 2000)
    )
    columns = {c.name for c in view_columns("L1T", ["JetPuppiAK4"])}
    assert {f"L1T_PUPPIPart_{f}" for f in PUPPI_FIELDS} <= columns
    gen = {c.name for c in GEN_COLUMNS}
    assert {
        f"Gen_Part_{f}" for f in ("PID", "PT", "Eta", "Phi", "Mass", "Charge", "M1", "Z")
    } <= gen
    files = tau_sample_files(cfg, "/data")
    assert next(iter(files)) == "minbias"
    assert len(files["minbias"]) == 4  # 2,000 events in shards of 500
    assert all(p.parts[2] == "zero_bias" for p in files["minbias"])
    assert all(p.parts[2] == "signals" for s in DEFAULT_TAU_SIGNALS for p in files[s])


# -- one tiny real production ---------------------------------------------------------------


@pytest.mark.slow
def test_production_writes_the_columns_and_truth_only_for_signals(produced: Produced) -> None:
    _cfg, _, files, digest = produced
    assert list(files) == ["minbias", SIGNAL]
    assert len(digest) == 64
    zb_cols = set(pq.read_schema(files["minbias"][0]).names)
    sig_cols = set(pq.read_schema(files[SIGNAL][0]).names)
    puppi = {f"L1T_PUPPIPart_{f}" for f in PUPPI_FIELDS}
    assert puppi | {"Event_Number"} <= zb_cols
    assert not any(c.startswith("Gen_Part") for c in zb_cols)
    assert puppi | {"Event_Number", "Gen_PartHS_M1", "Gen_PartHS_Z", "Gen_PartHS_Index"} <= sig_cols
    assert not any(c.startswith("Gen_Part_") for c in sig_cols)  # the hard collision's record only
    assert not any(c.startswith(("L1T_PFPart", "FullReco")) for c in sig_cols)
    rows = {p: pq.read_metadata(ps[0]).num_rows for p, ps in files.items()}
    assert rows == {"minbias": 10, SIGNAL: 6}


@pytest.mark.slow
def test_rerun_makes_nothing_and_another_configuration_is_refused(produced: Produced) -> None:
    cfg, out, files, digest = produced
    before = {p: p.stat().st_mtime_ns for ps in files.values() for p in ps}
    again, digest2 = ensure_tau_samples(cfg, out)
    assert digest2 == digest
    assert {p: p.stat().st_mtime_ns for ps in again.values() for p in ps} == before
    other = _small(signals=[{"process": SIGNAL, "events": 7}])
    with pytest.raises(ProductionError, match="another soft-tau data configuration"):
        ensure_tau_samples(other, out)
    assert {p: p.stat().st_mtime_ns for ps in files.values() for p in ps} == before
