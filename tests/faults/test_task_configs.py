"""Faults of issue 16, item 3: task configurations checked too late.

A bad value of a task configuration used to pass loading and stop the task
after its data production and training, without naming the file or the field.
Each case here runs ``l1scout run TASK CONFIG --out OUT --data DATA`` as a user
does, with the production and the task's run function replaced by ones that
fail the test if called, and checks: exit status 2, one line naming the file
and the field path, no traceback, and neither OUT nor DATA made. Also item 6:
one bad entry of a list is reported once, without a false "at least 1 item"
line, and ``data.signals = []`` (documented as a rate-only study) runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NoReturn

import pytest
from typer.testing import CliRunner

from l1scout.cli.app import app
from l1scout.tasks.anomaly.pipeline_config import load_pipeline_config
from l1scout.tasks.recalib.config import load_config

runner = CliRunner()

ANOMALY = """
name = "faults"
[data]
zero_bias = { process = "minbias", events = 240 }
signals = [{ process = "ADC2021_A50_4l", events = 60 }]
pileup = 0.0
seed = 7
pool_size = 10
shard_size = 300
fractions = [0.5, 0.2, 0.3]
engine = { kind = "single" }
[train]
epochs = 2
batch_size = 64
lr = 1e-3
[[models]]
kind = "vae"
name = "v3"
beta = 0.5
[[models]]
kind = "vicreg"
name = "v5"
[scan]
parameter = "beta"
values = [0.25, 0.75]
models = ["v3"]
[evaluation]
rates_khz = [100.0, 5000.0]
min_pass = 3
[tracking]
experiment = "faults"
registered_model = "faults-ad"
alias = "champion"
[deploy]
onnx = true
"""

RECALIB = """
title = "faults"
threads = 1
[data]
seed = 1
[data.synthetic]
muons = 400
jets = 200
[[models]]
kind = "nn"
arch = "32x3"
epochs = 15
[[models]]
kind = "krr"
centres = 50
sigma = 0.3
[[scans]]
parameter = "sigma"
values = [0.1, 0.3]
[scans.model]
centres = 30
[tracking]
experiment = "faults-recalib"
alias = "champion"
[outputs]
firmware_events = 200
"""

# (old text, new text, the field path the message names, what it says)
ANOMALY_CASES = [
    ("rates_khz = [100.0, 5000.0]", "rates_khz = [0.0]", "evaluation: rates_khz", "positive"),
    ("rates_khz = [100.0, 5000.0]", "rates_khz = [-5.0, 100.0]", "evaluation: rates_khz", "[-5.0]"),
    ("rates_khz = [100.0, 5000.0]", "rates_khz = []", "evaluation.rates_khz", "at least 1"),
    ("min_pass = 3", "min_pass = 3\nselect_rate_khz = 7.0", "evaluation.select_rate_khz", "one of"),
    (
        "min_pass = 3",
        "min_pass = 3\nselect_rate_khz = 0.0",
        "evaluation.select_rate_khz",
        "greater than 0",
    ),
    ("min_pass = 3", "min_pass = 0", "evaluation.min_pass", "greater than or equal to 1"),
    ("min_pass = 3", "min_pass = 3\ncrossing_rate = 0.0", "evaluation.crossing_rate", "positive"),
    ("min_pass = 3", 'min_pass = 3\nmenu = "nosuch.toml"', "evaluation.menu", "cannot read"),
    ('"ADC2021_A50_4l"', '"ADC2021_A5_4l"', "data.signals[0].process", "unknown process"),
    ('"minbias", events = 240', '"minbias", events = 20', "data.zero_bias.events", "split"),
    ('"minbias", events = 240', '"minbias", events = 0', "data.zero_bias.events", "greater than 0"),
    ("events = 60", "events = 12", "data.signals[0].events", "expected in the validation split"),
    ("fractions = [0.5, 0.2, 0.3]", "fractions = [0.8, 0.2, 0.0]", "data.fractions", "positive"),
    ("seed = 7", "seed = 7\nsignal_fractions = [1.0, 0.0]", "data.signal_fractions", "positive"),
    ("pileup = 0.0", "pileup = -1.0", "data.pileup", "greater than or equal to 0"),
    ("pileup = 0.0", 'pileup = "200"', "data.pileup", "got the string '200'"),
    ("seed = 7", "seed = 0", "data.seed", "greater than or equal to 1"),
    ("pool_size = 10", "pool_size = 0", "data.pool_size", "greater than or equal to 1"),
    ("shard_size = 300", "shard_size = 0", "data.shard_size", "greater than or equal to 1"),
    ("seed = 7", 'seed = 7\nview = "L2T"', "data.view", "not a shipped view"),
    ("epochs = 2", "epochs = 0", "train.epochs", "greater than or equal to 1"),
    ("batch_size = 64", "batch_size = 0", "train.batch_size", "greater than or equal to 1"),
    ("lr = 1e-3", "lr = 0.0", "train.lr", "greater than 0"),
    ("lr = 1e-3", 'lr = "1e-3"', "train.lr", "got the string '1e-3'"),
    ("beta = 0.5", "beta = 2.0", "models[0].beta", "less than or equal to 1"),
    ('name = "v5"', 'name = "v5"\nscores = []', "models[1].scores", "at least 1"),
    ('name = "v5"', 'name = "v3"', "models", "model names must be unique"),
    ("values = [0.25, 0.75]", "values = [0.25, 7.0]", "scan.values[1]", "not a valid beta"),
    ('models = ["v3"]', 'models = ["v9"]', "scan.models", "unknown models"),
    ('parameter = "beta"', 'parameter = "gamma"', "scan.parameter", "not a setting"),
    ('parameter = "beta"', 'parameter = "name"', "scan.parameter", "not a setting"),
    ("beta = 0.5", "beta = 0.5\nquantized = false", "deploy.firmware", "need a quantized model"),
    ('name = "v5"', 'name = "v3-beta0.25"', "models", "two models named v3-beta0.25"),
    ('alias = "champion"', 'alias = "latest"', "tracking.alias", "MLflow's own"),
    ('alias = "champion"', 'alias = "champ ion"', "tracking.alias", "pattern"),
    ('registered_model = "faults-ad"', 'registered_model = "a/b"', "tracking.registered_model", ""),
    ('experiment = "faults"', 'experiment = ""', "tracking.experiment", "at least 1"),
    ('alias = "champion"', 'alias = "champion"\nuri = "htp://host:5000"', "tracking.uri", "scheme"),
    ("onnx = true", 'onnx = "yes"', "deploy.onnx", "expected true or false, got the string"),
    ('name = "faults"', 'name = "two words"', "name", "pattern"),
]

RECALIB_CASES = [
    ("[data]\nseed = 1\n[data.synthetic]\nmuons = 400\njets = 200\n", "", "data", "[data] table"),
    ("[data.synthetic]\nmuons = 400\njets = 200\n", 'files = "nosuch/*.parquet"\n', "data.files",
     "matches no file"),
    ("muons = 400", "muons = 5", "data.synthetic.muons", "greater than or equal to 20"),
    ("jets = 200", "jets = 200\nnoise_scale = -1.0", "data.synthetic.noise_scale", "greater than or equal to 0"),
    ("seed = 1\n", "seed = -1\n", "data.seed", "greater than or equal to 0"),
    ("[data.synthetic]\nmuons = 400\njets = 200\n",
     '[data.samples]\nprocesses = [{process = "DYJets", events = 10}]\n',
     "data.samples.processes[0].process", "unknown process"),
    ("[data.synthetic]\nmuons = 400\njets = 200\n",
     "[data.samples]\nprocesses = [{process = \"minbias\", events = 30000}]\nshard_size = 1\n",
     "data.samples", "processes[0].events: 30,000 events make 30,000 files"),
    ("[data.synthetic]\nmuons = 400\njets = 200\n", '[data.samples]\npileup = "200"\n',
     "data.samples.pileup", "got the string '200'"),
    ('arch = "32x3"', 'arch = "big"', "models[0].arch", "<width>x<blocks>"),
    ("epochs = 15", 'epochs = "15"', "models[0].epochs", "got the string '15'"),
    ("epochs = 15", "epochs = 15\nlearning_rate = 0.0", "models[0].learning_rate", "greater than 0"),
    ("epochs = 15", "epochs = 15\nbatch_size = 1", "models[0].batch_size", "greater than or equal to 2"),
    ("centres = 50", "centres = 5000", "models[1].centres", "more than the 260 training muons"),
    ("sigma = 0.3", "sigma = -0.3", "models[1].sigma", "greater than 0"),
    ("sigma = 0.3", "sigma = inf", "models[1].sigma", "finite"),
    ("sigma = 0.3", "sigma = 0.3\ndatasets = []", "models[1].datasets", "at least 1"),
    ("values = [0.1, 0.3]", "values = [0.1]", "scans[0].values", "at least 2"),
    ("values = [0.1, 0.3]", "values = [0.1, -0.3]", "scans[0]", "must be > 0"),
    ('parameter = "sigma"', 'parameter = "sigma"\ndataset = "jet"', "scans[0].dataset",
     "no model of the study is fitted on 'jet'"),
    ("[scans.model]\ncentres = 30", "[scans.model]\ncentres = 300", "scans[0].model.centres",
     "more than the 260 training muons"),
    ("firmware_events = 200", 'firmware_events = 200\nfirmware_model = "nn-64x2-mse"',
     "outputs.firmware_model", "not the name of a network"),
    ("firmware_events = 200", "firmware_events = 0", "outputs.firmware_events", "greater than or equal to 1"),
    ("threads = 1", "threads = 0", "threads", "greater than or equal to 1"),
    ('alias = "champion"', 'alias = "v1"', "tracking.alias", "MLflow's own"),
    ('alias = "champion"', 'alias = "champion"\nmodel_name = "a:b"', "tracking.model_name", ""),
    ('alias = "champion"', 'alias = "champion"\nuri = "mlflow://x"', "tracking.uri", "scheme"),
    ('alias = "champion"', 'alias = "champion"\nenabled = "no"', "tracking.enabled",
     "expected true or false, got the string 'no'"),
]  # fmt: skip


def _fail(*_args: object, **_kwargs: object) -> NoReturn:
    raise AssertionError("work started before the configuration was checked")


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """The production and both tasks' run functions fail the test if they are called."""
    monkeypatch.setattr("l1scout.production.driver.produce", _fail)
    monkeypatch.setattr("l1scout.tasks.anomaly.pipeline.run_pipeline", _fail)
    monkeypatch.setattr("l1scout.tasks.recalib.study.run_study", _fail)


def _run_refused(tmp_path: Path, task: str, text: str, where: str, says: str) -> None:
    """Run *task* on the config *text*: one line naming the file and *where*, nothing made."""
    config = tmp_path / "study.toml"
    config.write_text(text)
    out, data = tmp_path / "out", tmp_path / "data"
    result = runner.invoke(app, ["run", task, str(config), "--out", str(out), "--data", str(data)])
    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"error: {config}: {where}: "), lines[0]
    assert says in lines[0]
    assert "Traceback" not in result.output
    assert not out.exists()
    assert not data.exists()


def test_the_base_configurations_are_valid(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(ANOMALY)
    (tmp_path / "r.toml").write_text(RECALIB)
    assert load_pipeline_config(tmp_path / "a.toml").data.zero_bias.events == 240
    assert load_config(tmp_path / "r.toml").models[1].centres == 50


@pytest.mark.parametrize(("old", "new", "where", "says"), ANOMALY_CASES)
@pytest.mark.usefixtures("no_work")
def test_anomaly_config_refused_before_any_work(
    tmp_path: Path, old: str, new: str, where: str, says: str
) -> None:
    assert ANOMALY.count(old) == 1
    _run_refused(tmp_path, "anomaly", ANOMALY.replace(old, new), where, says)


@pytest.mark.parametrize(("old", "new", "where", "says"), RECALIB_CASES)
@pytest.mark.usefixtures("no_work")
def test_recalib_config_refused_before_any_work(
    tmp_path: Path, old: str, new: str, where: str, says: str
) -> None:
    assert RECALIB.count(old) == 1
    _run_refused(tmp_path, "recalib", RECALIB.replace(old, new), where, says)


@pytest.mark.parametrize(("task", "text"), [("anomaly", ANOMALY), ("recalib", RECALIB)])
def test_a_bad_tracking_uri_option_is_refused_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, task: str, text: str
) -> None:
    # --tracking-uri replaces the file's checked value: the task checks it before its data
    monkeypatch.setattr("l1scout.production.driver.produce", _fail)
    monkeypatch.setattr("l1scout.tasks.anomaly.data.load_anomaly_data", _fail)
    monkeypatch.setattr("l1scout.tasks.recalib.study._load_datasets", _fail)
    config = tmp_path / "study.toml"
    config.write_text(text)
    out, data = tmp_path / "out", tmp_path / "data"
    args = ["run", task, str(config), "--out", str(out), "--data", str(data)]
    result = runner.invoke(app, [*args, "--tracking-uri", "htp://host:5000"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(
        "error: tracking URI 'htp://host:5000': unknown scheme 'htp'; expected a path or a URI"
    )
    assert len(result.output.splitlines()) == 1
    assert not out.exists()
    assert not data.exists()


ONE_VAE = ANOMALY.replace('[[models]]\nkind = "vicreg"\nname = "v5"\n', "")
ONE_NN = RECALIB.replace('[[models]]\nkind = "krr"\ncentres = 50\nsigma = 0.3\n', "")


@pytest.mark.parametrize(
    ("task", "text", "old", "new", "where", "says"),
    [
        ("anomaly", ONE_VAE, "beta = 0.5", "beta = 2.0", "models[0].beta", "less than or equal"),
        ("recalib", ONE_NN, 'arch = "32x3"', 'arch = "12"', "models[0].arch", "<width>x<blocks>"),
    ],
)
@pytest.mark.usefixtures("no_work")
def test_the_only_model_bad_is_one_line_without_a_false_at_least_1_item(
    tmp_path: Path, task: str, text: str, old: str, new: str, where: str, says: str
) -> None:
    # pydantic also reported "models: Tuple should have at least 1 item after validation, not 0"
    # (it counts the entries that validated); _run_refused asserts the output is one line
    assert text.count("[[models]]") == 1
    _run_refused(tmp_path, task, text.replace(old, new), where, says)


RATE_ONLY = """
name = "rate-only"
[data]
zero_bias = { process = "minbias", events = 60 }
signals = []
pileup = 0.0
seed = 7
pool_size = 10
shard_size = 60
fractions = [0.4, 0.3, 0.3]
engine = { kind = "single" }
[train]
epochs = 1
batch_size = 64
[[models]]
kind = "vae"
name = "first"
hidden = [8]
latent = 2
[[models]]
kind = "vae"
name = "second"
hidden = [4]
latent = 2
[evaluation]
rates_khz = [3000.0, 10000.0]
min_pass = 3
[tracking]
experiment = "rate-only"
uri = "{uri}"
[deploy]
onnx = false
firmware = false
fpga_estimate = false
"""


@pytest.mark.slow
def test_no_signals_is_a_rate_only_study(tmp_path: Path) -> None:
    """``signals = []`` runs: thresholds and rates reported, no efficiency, the first model kept."""
    config = tmp_path / "rate-only.toml"
    config.write_text(RATE_ONLY.replace("{uri}", f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"))
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", "anomaly", str(config), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["best"] == "first"  # nothing to compare the models on: the first is kept
    assert summary["selection"]["value"] is None
    assert summary["selection"]["figure"].startswith("none (a rate-only study")
    metrics = json.loads((out / "report" / "metrics.json").read_text())
    # 30 % of 60 zero-bias events as the test split: 10,000 kHz of 31,039 kHz is about 6 events
    assert metrics["n_events/zero_bias"] > 0
    assert "threshold/10000kHz" in metrics
    assert 0 < metrics["rate/10000kHz"] <= 31_038.96
    assert not [k for k in metrics if k.startswith(("eff", "auc", "pure_eff", "menu_eff"))]
    page = (out / "report" / "index.html").read_text()
    assert "Rate-only study" in page
    assert "Signal efficiency at fixed zero-bias rate" not in page
    assert "none: a rate-only study" in page
    assert sorted(p.name for p in (out / "report").glob("*.png")) == ["scores.png"]
