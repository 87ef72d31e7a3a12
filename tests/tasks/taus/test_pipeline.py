"""``l1scout run taus``: the whole soft-tau study end to end, and a bad configuration refused first.

One tiny real run through the command line (module fixture): 24 zero-bias,
40 light-scalar (40 GeV) and 40 Z to tau tau events (the Z gives test events
with two taus of 20-60 GeV) at pileup 200 from a pool of 50
collisions (the ``single`` engine), a 2-epoch NNPuppiTau and a 2-epoch
8-wide transformer, the rate at 20,000 kHz of the 31,039 kHz crossing rate
(so the tiny zero-bias splits can measure it), firmware skipped
(``--no-firmware``: the hls4ml compile alone would take a minute), MLflow in a
SQLite store under the test's folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

import mlflow
import numpy as np
import pytest
from typer.testing import CliRunner

from l1scout.cli.app import app
from l1scout.deploy.onnx import OnnxModel
from l1scout.tasks.taus.config import load_tau_config
from l1scout.tasks.taus.pipeline import ONNX_TOLERANCE

runner = CliRunner()

TINY = """
name = "taus-tiny"

[data]
zero_bias = { process = "minbias", events = 24 }
signals = [
  { process = "light_scalar_tautau_m40", events = 40 },
  { process = "ZTauTau", events = 40 },
]
pileup = 200.0
seed = 5
pool_size = 50
shard_size = 40
engine = { kind = "single" }

[candidates]
methods = ["clue", "ak4", "nnpuppitau"]

[rate]
rate_khz = 20000.0

[nnpuppitau]
epochs = 2

[transformer.model]
n_constituents = 16
embed_dims = [8]
n_heads = 2
ff_dim = 8
head_hidden = 8

[transformer.train]
learning_rate = 3e-3
batch_size = 64
max_epochs = 2

[evaluation]
beats_vis_pt = [10.0, 60.0]
charge_thresholds = [-inf, 0.5]
dvz_cuts = [10.0, inf]

[tracking]
experiment = "taus-test"
registered_model = "taus-test"
"""

MODELS = ("nnpuppitau", "transformer_clue", "transformer_ak4")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Any]:
    root = tmp_path_factory.mktemp("taus-pipeline")
    config = root / "tiny.toml"
    config.write_text(TINY)
    out, data = root / "out", root / "data"
    uri = f"sqlite:///{root / 'mlflow.db'}"
    args = ["run", "taus", str(config), "--out", str(out), "--data", str(data)]
    result = runner.invoke(app, [*args, "--tracking-uri", uri, "--no-firmware"])
    assert result.exit_code == 0, result.output
    return out, uri, result


@pytest.mark.slow
def test_the_command_writes_report_summary_onnx_and_prints_the_table(
    tiny_run: tuple[Path, str, Any],
) -> None:
    out, _, result = tiny_run
    summary = json.loads((out / "summary.json").read_text())
    assert Path(summary["report"]).is_file()
    assert Path(summary["report"]).parent == out / "report"
    assert list(summary["stage_seconds"]) == [
        "data",
        "candidates",
        "train",
        "evaluate",
        "onnx",
        "firmware",
        "mlflow",
        "report",
    ]
    assert all(v >= 0 for v in summary["stage_seconds"].values())
    assert summary["firmware"] is None  # --no-firmware
    methods = [row["method"] for row in summary["table"]]
    assert methods == [
        "transformer + CLUE",
        "transformer + AK4",
        "NNPuppiTau (20000 kHz search)",
        "NNPuppiTau (double-tau seed)",
    ]
    for value, low, high in summary["ditau_efficiency"].values():
        assert 0.0 <= low <= value <= high <= 1.0
    # the printed comparison table: every method and its efficiency cell
    text = " ".join(result.stdout.split())
    for row in summary["table"]:
        assert row["di-tau eff."] in text
    assert "transformer + CLUE" in text


@pytest.mark.slow
def test_onnx_files_reproduce_torch_and_parity_is_recorded(
    tiny_run: tuple[Path, str, Any],
) -> None:
    out, _, _ = tiny_run
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["onnx"]) == set(MODELS)
    for name, check in summary["onnx"].items():
        path = out / "onnx" / f"{name}.onnx"
        assert Path(check["path"]) == path
        assert path.is_file()
        assert check["candidates"] > 0
        assert check["ok"]
        assert check["max_abs_diff"] <= check["tolerance"]
        if name.startswith("transformer"):
            assert check["tolerance"] == ONNX_TOLERANCE
        else:  # NNPuppiTau's output is ap_fixed<16,6>: half its LSB 2^-10
            assert check["tolerance"] == 2.0**-11
        assert check["registered"].startswith(f"taus-test-{name.replace('_', '-')} v1 @champion")
    # the transformer file takes the packed inputs: 16 slots x (10 features + mask)
    x = np.zeros((3, 16 * 11), dtype=np.float32)
    x[:, 0], x[:, 10] = 1.0, 1.0  # one real constituent of pT 20 GeV
    outputs = OnnxModel(out / "onnx" / "transformer_clue.onnx").run(x)
    assert [o.shape[0] for o in outputs] == [3] * 5
    assert OnnxModel(out / "onnx" / "nnpuppitau.onnx").predict(np.zeros((2, 80))).shape == (2, 2)


@pytest.mark.slow
def test_mlflow_run_has_metrics_artifacts_and_model_runs(
    tiny_run: tuple[Path, str, Any],
) -> None:
    out, uri, _ = tiny_run
    summary = json.loads((out / "summary.json").read_text())
    client = mlflow.MlflowClient(tracking_uri=uri)
    run = client.get_run(summary["run_id"])
    metrics = run.data.metrics
    for method in ("clue", "ak4", "nnpuppitau"):
        eff = metrics[f"ditau.{method}.efficiency"]
        assert metrics[f"ditau.{method}.efficiency.low"] <= eff
        assert eff <= metrics[f"ditau.{method}.efficiency.high"]
        assert metrics[f"ditau.{method}.rate_khz"] >= 0
        assert 0 <= metrics[f"{method}.reco_efficiency"] <= 1
        assert 0 <= metrics[f"{method}.id_efficiency"] <= metrics[f"{method}.reco_efficiency"]
    for name in MODELS:
        assert metrics[f"onnx.{name}.max_abs_diff"] == summary["onnx"][name]["max_abs_diff"]
    assert metrics["stage.train.seconds"] == pytest.approx(summary["stage_seconds"]["train"])
    assert run.data.params["taus.name"] == "taus-tiny"
    assert run.data.tags["dataset.hash"] == summary["dataset_hash"]
    top = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"report", "summary.json", "onnx"} <= top
    children = client.search_runs(
        [run.info.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}'"
    )
    assert sorted(c.info.run_name for c in children) == sorted(MODELS)
    for child in children:  # the per-epoch losses of its training (2 epochs)
        key = "loss"
        history = client.get_metric_history(child.info.run_id, key)
        assert len(history) == 2, child.info.run_name


def _fail(*_args: object, **_kwargs: object) -> NoReturn:
    raise AssertionError("work started before the configuration was checked")


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("[nnpuppitau]\nepochs = 2", "[nnpuppitau]\nepochs = 0", "nnpuppitau.epochs"),
        ('registered_model = "taus-test"', 'registered_model = "a:b"', "tracking.registered_model"),
        ("rate_khz = 20000.0", "rate_khz = 50.0", "data.zero_bias.events"),
    ],
)
def test_a_bad_config_is_one_line_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old: str, new: str, where: str
) -> None:
    monkeypatch.setattr("l1scout.production.driver.produce", _fail)
    monkeypatch.setattr("l1scout.tasks.taus.pipeline.run_taus", _fail)
    assert TINY.count(old) == 1
    config = tmp_path / "bad.toml"
    config.write_text(TINY.replace(old, new))
    out, data = tmp_path / "out", tmp_path / "data"
    result = runner.invoke(
        app, ["run", "taus", str(config), "--out", str(out), "--data", str(data)]
    )
    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"error: {config}: {where}: "), lines[0]
    assert not out.exists()
    assert not data.exists()


def test_a_bad_tracking_uri_is_refused_before_the_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("l1scout.production.driver.produce", _fail)
    monkeypatch.setattr("l1scout.tasks.taus.data.ensure_tau_samples", _fail)
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    out, data = tmp_path / "out", tmp_path / "data"
    args = ["run", "taus", str(config), "--out", str(out), "--data", str(data)]
    result = runner.invoke(app, [*args, "--tracking-uri", "htp://host:5000"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: tracking URI 'htp://host:5000': unknown scheme 'htp'")
    assert not out.exists()
    assert not data.exists()


def test_the_demo_and_full_configs_load_with_tracking_and_deploy() -> None:
    from l1scout.cli.taus import load_taus

    demo = load_taus(None)
    assert demo.name == "taus-demo"
    assert (demo.tracking.experiment, demo.tracking.alias) == ("l1scout-taus", "champion")
    assert demo.deploy.onnx
    assert demo.deploy.firmware
    full = load_tau_config(Path(__file__).resolve().parents[3] / "examples" / "taus" / "full.toml")
    assert full.tracking == demo.tracking
    assert full.data.zero_bias.events == 100_000
