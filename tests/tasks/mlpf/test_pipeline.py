"""``l1scout run mlpf``: the whole task end to end, its wiring, and a bad configuration refused first.

* One tiny real run through the command line (slow; module fixture): 8 ttbar
  and 8 QCD events at pileup 0 with the ``single`` engine, a 2-epoch 16-wide
  model, the real evaluation, report, ONNX export with its parity check and the
  Triton repository, MLflow in a SQLite store under the test's folder.
* The wiring on hand-made events (fast): the data stages replaced by the
  synthetic events of :mod:`test_training`, the evaluation and the report by
  recording stubs: what reaches them (predictions in the files' element order,
  the test targets, the training curves), the model file, ``summary.json`` and
  the MLflow run.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, NoReturn

import mlflow
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from l1scout.cli.app import app
from l1scout.deploy.onnx import OnnxModel
from l1scout.tasks.mlpf.config import MLPFConfig
from l1scout.tasks.mlpf.data import MLPFData
from l1scout.tasks.mlpf.features import pad_events
from l1scout.tasks.mlpf.pipeline import REGRESSION_TOLERANCE, STAGES, run_mlpf
from l1scout.tasks.mlpf.training import load_mlpf_model, predict_mlpf

from .test_training import synthetic_split

runner = CliRunner()

TINY = """
name = "mlpf-tiny"

[data]
samples = [
  { process = "tt0123j_5f_ckm_LO_MLM_semiLeptonic", events = 8 },
  { process = "QCD_HT50toInf", events = 8 },
]
pileup = 0.0
seed = 3
pool_size = 10
shard_size = 8
engine = { kind = "single" }

[splits]
fractions = [0.5, 0.25, 0.25]

[model]
width = 16
n_heads = 2
n_layers = 2
ff_dim = 16
head_hidden = 16
bin_size = 32

[training]
learning_rate = 3e-3
batch_events = 4
batch_elements = 8192
max_epochs = 2
threads = 1

[evaluation]
n_bootstrap = 10

[tracking]
experiment = "mlpf-test"
registered_model = "mlpf-test"
"""


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Any]:
    root = tmp_path_factory.mktemp("mlpf-pipeline")
    config = root / "tiny.toml"
    config.write_text(TINY)
    out, data = root / "out", root / "data"
    uri = f"sqlite:///{root / 'mlflow.db'}"
    args = ["run", "mlpf", str(config), "--out", str(out), "--data", str(data)]
    result = runner.invoke(app, [*args, "--tracking-uri", uri])
    assert result.exit_code == 0, result.output
    return out, uri, result


@pytest.mark.slow
def test_the_command_runs_every_stage_and_writes_model_onnx_triton_report_and_mlflow(
    tiny_run: tuple[Path, str, Any],
) -> None:
    out, uri, result = tiny_run
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["stage_seconds"]) == list(STAGES)
    assert Path(summary["report"]) == out / "report" / "report.html"
    assert Path(summary["report"]).is_file()
    assert sum(summary["events"].values()) == 16
    assert "report:" in result.stdout
    # the ONNX file agrees with torch on the test events and is registered
    onnx = summary["onnx"]
    assert onnx["ok"]
    assert onnx["events"] == summary["events"]["test"]
    assert onnx["regression"] <= REGRESSION_TOLERANCE
    assert onnx["same_argmax"]
    assert onnx["registered"].startswith("mlpf-test v1 @champion")
    # the Triton repository beside it serves the same file
    triton = Path(summary["triton"])
    assert triton == out / "onnx" / "triton" / "mlpf" / "config.pbtxt"
    assert (triton.parent / "1" / "model.onnx").read_bytes() == (
        out / "onnx" / "mlpf.onnx"
    ).read_bytes()
    # the saved model reproduces the ONNX graph
    model = load_mlpf_model(out / "models" / "mlpf.pt")
    x = np.zeros((1, model.config.bin_size, 17), dtype=np.float32)
    x[0, :3, 0], x[0, :3, 3] = 1.0, np.log(5.0)
    got = OnnxModel(out / "onnx" / "mlpf.onnx").run(x)
    with torch.no_grad():
        want = [o.numpy() for o in model(torch.from_numpy(x))]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g[0, :3], w[0, :3], rtol=1e-4, atol=1e-5)
    # MLflow: the evaluation's metrics, the per-epoch losses, the artifacts
    client = mlflow.MlflowClient(tracking_uri=uri)
    run = client.get_run(summary["run_id"])
    metrics = run.data.metrics
    finite = {k: v for k, v in summary["metrics"].items() if v is not None}
    assert finite
    assert all(metrics[k] == pytest.approx(v) for k, v in finite.items())
    assert metrics["onnx.same_argmax"] == 1.0
    assert len(client.get_metric_history(run.info.run_id, "val_loss")) == 2
    assert run.data.params["mlpf.name"] == "mlpf-tiny"
    assert run.data.tags["dataset.hash"] == summary["dataset_hash"]
    top = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"report", "summary.json", "onnx", "models"} <= top


# -- the wiring on hand-made events --------------------------------------------------------


class _Evaluation:
    def __init__(self, n_events: int) -> None:
        self.n_events = n_events

    def metrics(self) -> dict[str, float]:
        return {"jets.mlpf.resolution": 0.25, "met.puppi.resolution": math.nan}


def _synthetic_data() -> MLPFData:
    test = synthetic_split(6, seed=11)
    n = test.n_events
    gen = (np.arange(n + 1, dtype=np.int64), np.full(n, 10.0))
    sample = np.arange(n, dtype=np.int64) % 2  # events of both samples
    test = type(test)(test.elements, test.targets, sample, test.event_number, {"Gen_Part_PT": gen})
    return MLPFData(
        samples=("a", "b"),
        train=synthetic_split(16, seed=1),
        validation=synthetic_split(6, seed=2),
        test=test,
    )


def test_the_pipeline_hands_the_stages_their_inputs_and_records_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _synthetic_data()
    seen: dict[str, Any] = {}

    calls: list[tuple[Any, ...]] = []

    def evaluate(columns: Any, view: str, predictions: Any, targets: Any, settings: Any) -> Any:
        calls.append((columns, view, predictions, targets, settings))
        return _Evaluation(len(targets.elements.offsets) - 1)

    def report(evaluation: Any, out: Path, **kwargs: Any) -> Path:
        seen["report"] = kwargs
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.html").write_text("<html></html>")
        return out / "report.html"

    monkeypatch.setattr(
        "l1scout.tasks.mlpf.data.ensure_mlpf_samples", lambda *a, **k: ({}, "f" * 64)
    )
    monkeypatch.setattr("l1scout.tasks.mlpf.data.load_mlpf_data", lambda *a, **k: data)
    monkeypatch.setattr("l1scout.tasks.mlpf.study.evaluate_mlpf", evaluate)
    monkeypatch.setattr("l1scout.tasks.mlpf.report.write_mlpf_report", report)
    cfg = MLPFConfig.model_validate(
        {
            "name": "wiring",
            "model": {
                "width": 8,
                "n_heads": 2,
                "n_layers": 1,
                "ff_dim": 8,
                "head_hidden": 8,
                "bin_size": 16,
            },
            "training": {"max_epochs": 3, "batch_events": 4, "threads": 1},
            "deploy": {"onnx": False, "triton": False},
            "tracking": {"experiment": "wiring"},
        }
    )
    bars: list[tuple[str, int, int]] = []
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = run_mlpf(
        cfg, tmp_path / "out", tracking_uri=uri, progress=lambda s, d, t: bars.append((s, d, t))
    )
    # the evaluation gets the test events' columns, targets and flat predictions
    columns, view, predictions, targets, settings = calls[0]
    assert view == "FullReco"
    assert columns is data.test.columns
    assert targets is data.test.targets
    assert settings == cfg.evaluation
    model = load_mlpf_model(tmp_path / "out" / "models" / "mlpf.pt")
    want = predict_mlpf(model, data.test.elements, batch_events=1)
    assert set(predictions) == set(want)
    for key, value in want.items():
        np.testing.assert_allclose(
            np.asarray(predictions[key], float), np.asarray(value, float), rtol=1e-4, atol=1e-5
        )
    # then each sample's test events alone, with their own elements' predictions
    assert len(calls) == 3
    off = data.test.elements.offsets
    for k, (sub_columns, sub_view, sub_pred, sub_targets, _) in enumerate(calls[1:]):
        events = np.flatnonzero(data.test.sample == k)
        rows = np.concatenate([np.arange(off[e], off[e + 1]) for e in events])
        assert sub_view == "FullReco"
        assert len(sub_targets.elements.offsets) - 1 == events.size
        np.testing.assert_array_equal(sub_targets.elements.pt, data.test.targets.elements.pt[rows])
        np.testing.assert_array_equal(sub_pred["pt"], np.asarray(predictions["pt"])[rows])
        assert sub_columns["Gen_Part_PT"][1].size == events.size  # one particle per event
    assert set(seen["report"]["by_sample"]) == {"a", "b"}
    assert seen["report"]["transfer"] is None
    # ... and the element order is the files': event 0's first slot sorted by eta is not row 0
    batch = pad_events(data.test.elements, [0], multiple=16)
    assert batch.index[0, 0] != 0 or batch.index[0, 1] != 1
    # the report gets the curves and the stage times
    history = seen["report"]["history"]
    assert len(history["loss"]) == len(history["val_loss"]) == len(result.training.history)
    assert set(seen["report"]["timing"]) == set(STAGES[:-1])  # all but the report itself
    assert bars[-1] == ("train mlpf", 3, 3)
    # summary.json: every stage, the metrics (NaN as null), no ONNX
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert list(summary["stage_seconds"]) == list(STAGES)
    assert summary["metrics"] == {"jets.mlpf.resolution": 0.25, "met.puppi.resolution": None}
    assert summary["onnx"] is None
    assert summary["triton"] is None
    assert summary["events"] == {"train": 16, "validation": 6, "test": 6}
    assert summary["training"]["best_epoch"] == result.training.best_epoch
    assert summary["by_sample"]["b"] == summary["metrics"]
    assert summary["transfer"] is None
    # MLflow: the finite metrics and the per-epoch losses
    client = mlflow.MlflowClient(tracking_uri=uri)
    run = client.get_run(result.run_id)
    assert run.data.metrics["jets.mlpf.resolution"] == 0.25
    assert "met.puppi.resolution" not in run.data.metrics
    assert run.data.metrics["sample.a.jets.mlpf.resolution"] == 0.25
    assert len(client.get_metric_history(result.run_id, "loss")) == len(result.training.history)
    assert run.data.tags["dataset.hash"] == "f" * 64


def _fail(*_args: object, **_kwargs: object) -> NoReturn:
    raise AssertionError("work started before the configuration was checked")


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("max_epochs = 2", "max_epochs = 0", "training.max_epochs"),
        ('registered_model = "mlpf-test"', 'registered_model = "a:b"', "tracking.registered_model"),
        ("pileup = 0.0", "pileup = nan", "data.pileup"),
        ('"QCD_HT50toInf"', '"QCD_nowhere"', "data.samples[1].process"),
    ],
)
def test_a_bad_config_is_one_line_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old: str, new: str, where: str
) -> None:
    monkeypatch.setattr("l1scout.production.driver.produce", _fail)
    monkeypatch.setattr("l1scout.tasks.mlpf.pipeline.run_mlpf", _fail)
    assert TINY.count(old) == 1
    config = tmp_path / "bad.toml"
    config.write_text(TINY.replace(old, new))
    out, data = tmp_path / "out", tmp_path / "data"
    result = runner.invoke(
        app, ["run", "mlpf", str(config), "--out", str(out), "--data", str(data)]
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
    monkeypatch.setattr("l1scout.tasks.mlpf.data.ensure_mlpf_samples", _fail)
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    out, data = tmp_path / "out", tmp_path / "data"
    args = ["run", "mlpf", str(config), "--out", str(out), "--data", str(data)]
    result = runner.invoke(app, [*args, "--tracking-uri", "htp://host:5000"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: tracking URI 'htp://host:5000': unknown scheme 'htp'")
    assert not out.exists()
    assert not data.exists()


def test_mlpf_is_a_task_of_l1scout_run_with_the_demo_defaults() -> None:
    from l1scout.cli.mlpf import load_mlpf
    from l1scout.cli.run import TASKS

    assert "mlpf" in TASKS
    assert TASKS["mlpf"].load is load_mlpf
    assert load_mlpf(None).name == "mlpf-demo"
    result = runner.invoke(app, ["run", "--help"])
    assert result.exit_code == 0
    assert "mlpf" in result.output
