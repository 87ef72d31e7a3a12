"""The anomaly-trigger data: configuration, production of what is missing, reading and splits.

One tiny real production is shared by the module: a stand-in "zero bias" of 40
events (two files of 20) and one signal of 20 events, without pileup and with
the ``single`` engine (a minimum-bias sample or a pileup pool would cost a
Pythia soft-QCD initialisation of tens of seconds each; the data code does
not depend on the process). The arrays are compared with the trigger inputs
computed directly from the files.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import awkward as ak
import numpy as np
import pyarrow.parquet as pq
import pytest

from l1scout._files import sha256_file
from l1scout.errors import ConfigError, DataFormatError, ProductionError
from l1scout.io.dataset import open_dataset
from l1scout.io.footer import open_file
from l1scout.io.schema import GEN_COLUMNS, view_columns
from l1scout.io.torchdata import split_of
from l1scout.io.trigger_inputs import trigger_input_columns, trigger_inputs
from l1scout.processes.catalog import load_catalog
from l1scout.production import driver as production_mod
from l1scout.production.driver import ProductionSummary
from l1scout.production.shard import ShardFailure
from l1scout.tasks.anomaly.data import (
    DEFAULT_SIGNALS,
    AnomalyDataConfig,
    anomaly_data_from_files,
    data_config,
    ensure_samples,
    load_anomaly_data,
    load_inputs,
    load_split_inputs,
    produce_samples,
    sample_files,
    signal_split,
    trigger_collections,
)

ZB = "ZJetsToQQ_13TeV-madgraphMLM-pythia8"
SIGNAL = "ADC2021_A50_4l"


def _config(**changes: object) -> AnomalyDataConfig:
    values: dict[str, object] = {
        "zero_bias": {"process": ZB, "events": 40},
        "signals": [{"process": SIGNAL, "events": 20}],
        "pileup": 0.0,
        "seed": 5,
        "shard_size": 20,
        "engine": {"kind": "single"},
    }
    values.update(changes)
    return AnomalyDataConfig.model_validate(values)


@pytest.fixture(scope="module")
def produced(tmp_path_factory: pytest.TempPathFactory) -> tuple[AnomalyDataConfig, Path]:
    cfg = _config()
    out = tmp_path_factory.mktemp("anomaly-data") / "data"
    ensure_samples(cfg, out)
    return cfg, out


def _direct(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Reference: trigger inputs and splits of one file, read whole with open_dataset."""
    events = open_dataset(path).read()
    x = trigger_inputs(events)
    numbers = ak.to_numpy(ak.firsts(events["Event_Number"])).astype(np.int64)
    return x, split_of(open_file(path).identity, numbers, (0.65, 0.20, 0.15))


def _sorted_rows(x: np.ndarray) -> np.ndarray:
    return x[np.lexsort(x.T[::-1])]


# -- configuration (no production) ------------------------------------------------------


def test_default_signals_are_the_benchmarks_and_rare_sm() -> None:
    catalog = load_catalog()
    cfg = AnomalyDataConfig()
    names = [s.process for s in cfg.signals]
    assert names == list(DEFAULT_SIGNALS)
    adc = [n for n in catalog.names() if n.startswith("ADC2021_")]
    assert len(adc) == 4
    assert set(adc) <= set(names)
    groups = {catalog.get(n).group for n in names}
    assert groups == {"BSM", "Higgs", "di-Higgs"}
    assert cfg.zero_bias.process == "minbias"
    assert cfg.pileup == 200.0
    assert cfg.fractions == (0.65, 0.20, 0.15)


def test_plan_is_fast_mode_with_every_trigger_input_column() -> None:
    cfg = _config(pileup=10.0, pool_size=200, seed=7, workers=3, engine={"kind": "local"})
    plan = cfg.production_plan()
    assert plan.views == ("L1T",)
    assert plan.collections == trigger_collections("L1T")
    assert (plan.seed, plan.pileup, plan.pool_size, plan.shard_size) == (7, 10.0, 200, 20)
    assert plan.engine.kind == "local"
    assert plan.engine.workers == 3
    assert [(r.name, r.events) for r in plan.processes] == [(ZB, 40), (SIGNAL, 20)]
    written = {c.name for c in plan.columns()}
    assert set(trigger_input_columns("L1T")) <= written
    assert "Event_Number" in written
    assert not any(name.startswith("FullReco_") for name in written)
    files = sample_files(cfg, "/data")
    assert [len(files[ZB]), len(files[SIGNAL])] == [2, 1]
    assert files[ZB][0].parent == Path("/data") / ZB


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"signals": [{"process": SIGNAL, "events": 1}, {"process": "HH4b", "events": 1}]},
            "signals[1].process: unknown process 'HH4b'; did you mean 'HH_4b'",
        ),
        (
            {"signals": [{"process": "minbias", "events": 5}]},
            "signals[0].process: 'minbias' is already zero_bias.process",
        ),
        (
            {"zero_bias": {"process": "minbias", "events": 0}},
            "zero_bias.events: Input should be greater than 0",
        ),
        ({"fractions": [0.5, 0.4, 0.2]}, "fractions: expected three positive numbers"),
        ({"fractions": [0.8, 0.2, 0.0]}, "fractions: expected three positive numbers"),
        ({"signal_fractions": [1.0, 0.0]}, "signal_fractions: expected two positive numbers"),
        ({"signal_fractions": [0.5, 0.4]}, "signal_fractions: expected two positive numbers"),
        ({"signal_split_seed": -1}, "signal_split_seed:"),
        ({"workers": 2, "engine": {"workers": 2}}, "workers: give workers or engine.workers"),
        ({"engine": {"kind": "slurmm"}}, "engine.kind:"),
        ({"view": "L2T"}, "view: view 'L2T': not a shipped view"),
        (
            {"shard_size": 1, "zero_bias": {"process": "minbias", "events": 20_001}},
            "zero_bias.events: 20,001 events make 20,001 files",
        ),
        ({"pileups": 3}, "pileups: Extra inputs are not permitted"),
    ],
)
def test_config_errors_name_the_field(values: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        data_config(values, "run.toml [data]")
    assert str(err.value).startswith("run.toml [data]: ")
    assert expected in str(err.value)


def test_production_failures_are_listed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    failure = ShardFailure(
        file=f"{ZB}/x.parquet", process=ZB, index=1, error="GenerationError: boom"
    )

    def fake_produce(plan: object, out: Path, **kwargs: object) -> ProductionSummary:
        return ProductionSummary(
            out=out,
            planned=3,
            made=2,
            kept=0,
            adopted=0,
            remade=0,
            removed_temporary=0,
            failures=(failure,),
            events_made=40,
            events=40,
            files=2,
            bytes=1,
            wall_s=1.0,
        )

    monkeypatch.setattr(production_mod, "produce", fake_produce)
    with pytest.raises(
        ProductionError, match=r"1 of 3 files .*\n  .*x.parquet: GenerationError: boom"
    ):
        ensure_samples(_config(), tmp_path)


# -- a real production ----------------------------------------------------------------


@pytest.mark.slow
def test_second_call_makes_nothing_and_a_deleted_shard_is_remade(
    produced: tuple[AnomalyDataConfig, Path],
) -> None:
    cfg, out = produced
    files = sample_files(cfg, out)
    every = [p for paths in files.values() for p in paths]
    assert all(p.is_file() for p in every)
    before = {p: (p.stat().st_mtime_ns, sha256_file(p)) for p in every}

    summary = produce_samples(cfg, out)
    assert (summary.made, summary.kept, summary.planned) == (0, 3, 3)
    assert ensure_samples(cfg, out) == files
    assert {p: (p.stat().st_mtime_ns, sha256_file(p)) for p in every} == before

    victim = files[ZB][1]
    victim.unlink()
    summary = produce_samples(cfg, out)
    assert (summary.made, summary.kept, summary.remade) == (1, 2, 1)
    assert sha256_file(victim) == before[victim][1]  # the same bytes again
    for p in every:
        if p != victim:
            assert p.stat().st_mtime_ns == before[p][0]


@pytest.mark.slow
def test_arrays_equal_the_trigger_inputs_of_the_files(
    produced: tuple[AnomalyDataConfig, Path],
) -> None:
    cfg, out = produced
    data = load_anomaly_data(cfg, out, produce_missing=False)
    refs = [_direct(p) for p in data.files[ZB]]
    x_all = np.concatenate([x for x, _ in refs])
    codes = np.concatenate([c for _, c in refs])
    assert x_all.shape == (40, 57)
    for i, split in enumerate((data.zb_train, data.zb_val, data.zb_test)):
        assert split.dtype == np.float32
        assert split.shape[1] == 57
        np.testing.assert_array_equal(split, x_all[codes == i])
    assert min(len(data.zb_train), len(data.zb_val), len(data.zb_test)) > 0
    # the three splits partition the sample: together they are every event once
    joined = np.concatenate([data.zb_train, data.zb_val, data.zb_test])
    np.testing.assert_array_equal(_sorted_rows(joined), _sorted_rows(x_all))
    assert data.zb_events == 40
    # the signal is split into a validation part and a test part by the salted hash of
    # (file identity, event number): together they are the whole sample
    (sig_file,) = data.files[SIGNAL]
    x_sig, _ = _direct(sig_file)
    numbers = ak.to_numpy(ak.firsts(open_dataset(sig_file).read()["Event_Number"]))
    identity = open_file(sig_file).identity
    is_val = split_of(f"{identity}|signal-split|0", numbers, (0.0, 0.5, 0.5)) == 1
    np.testing.assert_array_equal(is_val, signal_split(identity, numbers))
    np.testing.assert_array_equal(data.signals_val[SIGNAL], x_sig[is_val])
    np.testing.assert_array_equal(data.signals[SIGNAL], x_sig[~is_val])
    assert 0 < len(data.signals_val[SIGNAL]) < 20
    assert len(data.signals_val[SIGNAL]) + len(data.signals[SIGNAL]) == 20
    assert np.all(x_sig[:, 0] > 0)  # every event has missing momentum
    # another seed draws another split of the same events
    other = load_anomaly_data(_config(signal_split_seed=3), out, produce_missing=False)
    assert not np.array_equal(other.signals[SIGNAL], data.signals[SIGNAL])
    np.testing.assert_array_equal(
        _sorted_rows(np.concatenate([other.signals[SIGNAL], other.signals_val[SIGNAL]])),
        _sorted_rows(x_sig),
    )


@pytest.mark.slow
def test_loading_is_stable_and_the_hash_names_the_data(
    produced: tuple[AnomalyDataConfig, Path], tmp_path: Path
) -> None:
    cfg, out = produced
    first = load_anomaly_data(cfg, out, produce_missing=False)
    again = load_anomaly_data(cfg, out)  # verifies, makes nothing
    for a, b in ((first.zb_train, again.zb_train), (first.zb_test, again.zb_test)):
        np.testing.assert_array_equal(a, b)
    assert len(first.dataset_hash) == 64
    assert again.dataset_hash == first.dataset_hash
    # the same data elsewhere, read with another engine: the same hash
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    moved = load_anomaly_data(
        _config(workers=2, engine={"kind": "local"}), copy, produce_missing=False
    )
    assert moved.dataset_hash == first.dataset_hash
    # a file whose recorded checksum differs: another hash
    manifest = copy / "manifest.json"
    text = manifest.read_text()
    sha = sha256_file(first.files[SIGNAL][0])
    manifest.write_text(text.replace(sha, "0" * 64))
    changed = load_anomaly_data(cfg, copy, produce_missing=False)
    assert changed.dataset_hash != first.dataset_hash


@pytest.mark.slow
def test_missing_files_are_named_without_production(
    produced: tuple[AnomalyDataConfig, Path], tmp_path: Path
) -> None:
    cfg, out = produced
    with pytest.raises(
        DataFormatError,
        match=r"3 files of the anomaly samples missing: "
        rf"{ZB}/{ZB}-NEVENT20-RS",
    ):
        load_anomaly_data(cfg, tmp_path / "empty", produce_missing=False)
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    gone = sample_files(cfg, copy)[SIGNAL][0]
    gone.unlink()
    with pytest.raises(DataFormatError, match=rf"1 file of .* missing: {SIGNAL}/{gone.name};"):
        load_anomaly_data(cfg, copy, produce_missing=False)


@pytest.mark.slow
def test_another_configuration_is_refused_untouched(
    produced: tuple[AnomalyDataConfig, Path],
) -> None:
    cfg, out = produced
    every = [p for paths in sample_files(cfg, out).values() for p in paths]
    before = {p: p.stat().st_mtime_ns for p in every}
    other = _config(signals=[{"process": SIGNAL, "events": 30}])
    for call in (
        lambda: ensure_samples(other, out),
        lambda: load_anomaly_data(other, out, produce_missing=False),
    ):
        with pytest.raises(ProductionError) as err:
            call()
        assert f"processes[1]({SIGNAL}).events: 20 in the manifest, 30 in this plan" in str(
            err.value
        )
        assert "set another data_dir" in str(err.value)
    assert {p: p.stat().st_mtime_ns for p in every} == before


@pytest.mark.slow
def test_existing_and_collide_files_give_the_same_arrays(
    produced: tuple[AnomalyDataConfig, Path], tmp_path: Path
) -> None:
    cfg, out = produced
    data = load_anomaly_data(cfg, out, produce_missing=False)
    zb_folder = out / ZB
    x = load_inputs(zb_folder)
    np.testing.assert_array_equal(
        _sorted_rows(x), _sorted_rows(np.concatenate([data.zb_train, data.zb_val, data.zb_test]))
    )
    train, val, test = load_split_inputs(zb_folder)
    assert len(train) + len(val) + len(test) == 40
    np.testing.assert_array_equal(train, data.zb_train)
    np.testing.assert_array_equal(test, data.zb_test)

    # the same events as COLLIDE-2V files: COLLIDE columns and metadata only
    extensions = {c.name for c in GEN_COLUMNS if not c.collide}
    extensions |= {c.name for c in view_columns("L1T", ["JetPuppiAK4"]) if not c.collide}
    collide = tmp_path / "collide" / ZB
    collide.mkdir(parents=True)
    for path in data.files[ZB]:
        table = pq.read_table(path)
        table = table.select([n for n in table.column_names if n not in extensions])
        table = table.replace_schema_metadata({"dataset_version": "collide2v_v1.0"})
        pq.write_table(table, collide / path.name)
    assert open_file(next(collide.iterdir())).schema == "collide2v"
    from_collide = anomaly_data_from_files(collide, {SIGNAL: data.files[SIGNAL]})
    np.testing.assert_array_equal(_sorted_rows(load_inputs(collide)), _sorted_rows(x))
    np.testing.assert_array_equal(from_collide.signals[SIGNAL], data.signals[SIGNAL])
    assert from_collide.zb_events == 40
    assert len(from_collide.dataset_hash) == 64
    again = anomaly_data_from_files(collide, {SIGNAL: data.files[SIGNAL]})
    assert again.dataset_hash == from_collide.dataset_hash
    alone = anomaly_data_from_files(collide, {})
    assert alone.dataset_hash != from_collide.dataset_hash
    with pytest.raises(ConfigError, match="zero_bias"):
        anomaly_data_from_files(collide, {"zero_bias": collide})
