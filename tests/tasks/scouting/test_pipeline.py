"""``l1scout run scouting``: the whole task end to end on a tiny production, and a rerun from the registry.

One tiny real run through the command line (module fixture): 40 zero-bias,
20 W -> 3 pion and 60 light-scalar (40 GeV) to tau tau events at pileup 10
from a pool of 50 collisions (the ``single`` engine), a 2-epoch VAE and a
2-epoch 8-wide transformer with their working points at 10,000 kHz (the
tiny validation parts can measure it), two orbits in two files, MLflow in a
SQLite store under the test's folder. A second run with ``[models] train =
false`` on the first run's ``menu.toml`` loads the registered models by alias
and must reproduce every number of the first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from l1scout.cli.app import app
from l1scout.deploy.onnx import OnnxModel
from l1scout.tasks.scouting.config import load_scouting_config
from l1scout.tasks.scouting.events import read_stream_events
from l1scout.tasks.scouting.pipeline import STAGES
from l1scout.tasks.scouting.samples import scouting_sample_files
from l1scout.tasks.scouting.training_events import ORBIT, event_parts
from l1scout.tasks.scouting.words import FILLED_BX, ORBIT_RATE_KHZ

runner = CliRunner()

TINY = """
name = "scouting-tiny"

[data]
zero_bias = { process = "minbias", events = 40 }
signals = [
  { process = "WTo3Pi", events = 20, boost = 1e6 },
  { process = "light_scalar_tautau_m40", events = 60, boost = 1e3 },
]
pileup = 10.0
seed = 5
pool_size = 50
shard_size = 60
engine = { kind = "single" }

[orbits]
n_orbits = 2
orbits_per_file = 1

[models.anomaly]
hidden = [8]
latent = 2
rate_khz = 10000.0
train = { epochs = 2, batch_size = 64, threads = 1 }

[models.ditau]
rate_khz = 10000.0
charge_thresholds = [-inf, 0.5]
dvz_cuts = [10.0, inf]

[models.ditau.transformer.model]
n_constituents = 16
embed_dims = [8]
n_heads = 2
ff_dim = 8
head_hidden = 8

[models.ditau.transformer.train]
learning_rate = 3e-3
batch_size = 64
max_epochs = 2

[tracking]
experiment = "scouting-test"
"""


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str, Any]:
    root = tmp_path_factory.mktemp("scouting-pipeline")
    config = root / "tiny.toml"
    config.write_text(TINY)
    out, data = root / "out", root / "data"
    uri = f"sqlite:///{root / 'mlflow.db'}"
    args = ["run", "scouting", str(config), "--out", str(out), "--data", str(data)]
    result = runner.invoke(app, [*args, "--tracking-uri", uri])
    assert result.exit_code == 0, result.output
    return root, out, uri, result


@pytest.mark.slow
def test_the_command_writes_orbits_menu_report_and_summary(
    tiny_run: tuple[Path, Path, str, Any],
) -> None:
    _, out, _, result = tiny_run
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["stage_seconds"]) == list(STAGES)
    assert Path(summary["report"]) == out / "report" / "report.html"
    files = sorted((out / "orbits").glob("*.l1sorb"))
    assert [f.name for f in files] == ["scouting-tiny-000001.l1sorb", "scouting-tiny-000002.l1sorb"]
    assert all(f.with_suffix("").with_suffix(".truth.parquet").is_file() for f in files)
    menu = json.loads((out / "menu" / "menu.json").read_text())
    assert menu["n_orbits"] == 2
    assert menu["skipped_bx"] == 0
    assert menu["bad_files"] == []
    for name in ("w3pi", "single_muon", "ht", "ditau", "anomaly"):
        assert (out / "menu" / f"table_{name}.parquet").is_file()
        assert name in result.output
    stream = summary["stream"]
    # every orbit: 3564 headers per stream, the sums word of every filled BX
    assert stream["words"]["sums"] == 2 * (3564 + FILLED_BX)
    assert stream["mb_per_orbit"] == pytest.approx(8 * stream["words_per_orbit"] / 1e6)
    page = (out / "report" / "report.html").read_text()
    for heading in ("Rates", "Overlaps", "Signal efficiencies", "Skipped BXs", "Throughput"):
        assert f"<h2>{heading}" in page


@pytest.mark.slow
def test_the_rates_count_distinct_zero_bias_events(tiny_run: tuple[Path, Path, str, Any]) -> None:
    _, out, _, _ = tiny_run
    summary = json.loads((out / "summary.json").read_text())
    menu = json.loads((out / "menu" / "menu.json").read_text())
    events = pq.read_table(out / "menu" / "events.parquet").to_pydict()
    zb = np.array(
        [
            s == "minbias" and not i
            for s, i in zip(events["sample"], events["injected"], strict=True)
        ]
    )
    # every distinct zero-bias event of the orbits is evaluated once, however often it is reused
    assert int(zb.sum()) == summary["stream"]["distinct_zero_bias"] == menu["n_zero_bias_events"]
    assert summary["stream"]["zero_bias_crossings"] > 10 * int(zb.sum())
    crossing = FILLED_BX * ORBIT_RATE_KHZ
    for name, sel in menu["selections"].items():
        k = int(np.asarray(events[name])[zb].sum())
        assert sel["zero_bias_rate"]["rate_khz"] == pytest.approx(k / zb.sum() * crossing)


@pytest.mark.slow
def test_the_orbits_hold_only_events_the_models_never_saw(
    tiny_run: tuple[Path, Path, str, Any],
) -> None:
    root, out, _, _ = tiny_run
    cfg = load_scouting_config(root / "tiny.toml")
    summary = json.loads((out / "summary.json").read_text())
    seen = summary["models"]["events"]
    files = scouting_sample_files(cfg.data, root / "data")
    for process, n_all in (("minbias", 40), ("light_scalar_tautau_m40", 60)):
        orbit = read_stream_events(
            files[process],
            keep=lambda ident, nums: event_parts(ident, nums, cfg.splits.fractions) == ORBIT,
        )
        assert orbit.n_events + seen[process]["train"] + seen[process]["validation"] == n_all
    truth = pq.read_table(sorted((out / "orbits").glob("*.truth.parquet"))[0]).to_pydict()
    zb_events = [e for s, e in zip(truth["sample"], truth["event"], strict=True) if s == "minbias"]
    assert max(zb_events) < 40 - seen["minbias"]["train"] - seen["minbias"]["validation"]


@pytest.mark.slow
def test_the_models_are_registered_and_their_working_points_reach_the_menu(
    tiny_run: tuple[Path, Path, str, Any],
) -> None:
    from l1scout.tasks.scouting.menu import load_menu
    from l1scout.track.registry import load_model

    _, out, uri, _ = tiny_run
    summary = json.loads((out / "summary.json").read_text())
    models = summary["models"]
    assert models["onnx"]["anomaly"]["ok"]
    assert models["onnx"]["ditau"]["ok"]
    ran = {s.name: s for s in load_menu(out / "menu.toml").selection}
    assert ran["anomaly"].threshold == models["working_points"]["anomaly"]["threshold"]
    assert ran["ditau"].class_threshold == models["working_points"]["ditau"]["class_threshold"]
    # the alias points at this run's graph: the registry's model gives the file's scores
    x = np.random.default_rng(0).uniform(0, 50, size=(16, 57)).astype(np.float32)
    registered = load_model("models:/l1scout-scouting-anomaly@demo", uri=uri)
    got = np.asarray(registered.predict(x)["score"]).reshape(-1)
    want = OnnxModel(out / "models" / "anomaly.onnx").predict(x).reshape(-1)
    np.testing.assert_array_equal(got, want)


@pytest.mark.slow
def test_a_rerun_from_the_registry_reproduces_the_numbers(
    tiny_run: tuple[Path, Path, str, Any],
) -> None:
    root, out, uri, _ = tiny_run
    config = root / "rerun.toml"
    text = TINY.replace("[models.anomaly]", "[models]\ntrain = false\n\n[models.anomaly]")
    config.write_text(text + f"\n[menu]\npath = '{out / 'menu.toml'}'\n")
    out2 = root / "out2"
    args = ["run", "scouting", str(config), "--out", str(out2), "--data", str(root / "data")]
    result = runner.invoke(app, [*args, "--tracking-uri", uri])
    assert result.exit_code == 0, result.output
    first = json.loads((out / "menu" / "menu.json").read_text())
    second = json.loads((out2 / "menu" / "menu.json").read_text())
    assert second["selections"] == first["selections"]
    assert second["overlaps"] == first["overlaps"]
    assert json.loads((out2 / "summary.json").read_text())["models"] is None
