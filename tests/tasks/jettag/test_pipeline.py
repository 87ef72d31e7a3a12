"""The whole jet-tagging task through `l1scout run jettag` on a hand-made COLLIDE-2V folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pytest
from typer.testing import CliRunner

from l1scout.cli.app import app
from l1scout.tasks.jettag.results import ONNX_TOLERANCE
from l1scout.tasks.rates import CROSSING_RATE_KHZ

from ._collide import write_collide_folder

runner = CliRunner()

_CONFIG = """
name = "jettag-test"

[data]
samples = [
  {{ process = "QCD_HT50toInf", events = 40 }},
  {{ process = "HH_4b", events = 16 }},
  {{ process = "minbias", events = 40 }},
]
source = "{source}"

[splits]
fractions = [0.5, 0.25, 0.25]

[model]
phi_widths = [8]
rho_widths = [8]

[training]
max_epochs = 3
batch_size = 32
threads = 1

[hh4b]
rates_khz = [{rate}]
mistag_rates = [0.5]
n_btags = [1]
min_pass = 1

[tracking]
experiment = "jettag-test"
registered_model = "jettag-test"

[deploy]
parity_jets = 50
emulation_jets = 3000
hls_jets = 0
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Any]:
    root = tmp_path_factory.mktemp("jettag-pipeline")
    source = write_collide_folder(
        root / "collide",
        {"QCD_HT50toInf": 40, "HH_4b": 16, "minbias": 40},
        signals=("HH_4b",),
        varied=("minbias", "QCD_HT50toInf"),
    )
    config = root / "jettag.toml"
    config.write_text(_CONFIG.format(source=source, rate=0.125 * CROSSING_RATE_KHZ))
    out = root / "out"
    uri = f"sqlite:///{root / 'mlflow.db'}"
    result = runner.invoke(
        app,
        [
            "run",
            "jettag",
            str(config),
            "--out",
            str(out),
            "--data",
            str(root / "data"),
            "--tracking-uri",
            uri,
        ],
    )
    assert result.exit_code == 0, result.output
    return out, uri, result


@pytest.mark.slow
def test_the_command_reads_collide_trains_both_views_and_writes_everything(
    run: tuple[Path, str, Any],
) -> None:
    out, uri, result = run
    summary = json.loads((out / "summary.json").read_text())
    assert not (out.parent / "data").exists()  # read from the source, nothing produced
    assert sum(summary["events"].values()) == 96
    assert set(summary["views"]) == {"L1T", "FullReco"}
    for view, v in summary["views"].items():
        # the training sample's labelled test jets: gluon and b jets, separable by content
        assert v["class_counts"]["g"] == v["class_counts"]["b"] > 0
        assert v["onnx_parity"] <= ONNX_TOLERANCE
        assert (out / "models" / f"jettag_{view}.pt").is_file()
        # the card's BTag bit is set on every b jet and no gluon jet of the hand-made files
        assert v["btag"]["card_eff"] == 1.0
        assert v["btag"]["card_mistag"] == 0.0
    assert summary["auc_table"][-1]["class"] == "mean"
    fw = summary["firmware"]
    assert fw["emulation_bit_exact"]
    assert fw["emulation_jets"] == 3000
    # HH -> 4b: 40 zero-bias events, 5 at each HT of 90 x (1 + 0.25 k), k = 0 ... 7 (up to
    # 247.5 GeV); 12.5 % of the crossings is the 5 highest: the threshold is the next, 225 GeV
    hh = summary["hh4b"]
    assert hh["zero_bias_events"] == 40
    assert hh["signal_events"] == 16
    rows = {r["working_point"]: r for r in hh["rows"]}
    assert set(rows) == {"mistag 0.5", "card BTag"}
    card = rows["card BTag"]
    # every event has one card-b-tagged jet: both seeds cut the same HT
    assert card["ht_threshold"] == card["btag_ht_threshold"] == 225.0
    assert card["threshold_drop"] == 0.0
    # the signal's HT is 90 GeV: below the threshold
    assert card["ht_efficiency"] == 0.0
    assert (out / "report" / "report.html").is_file()
    assert "report:" in result.stdout
    client = mlflow.MlflowClient(tracking_uri=uri)
    metrics = client.get_run(summary["run_id"]).data.metrics
    assert metrics["firmware.emulation_bit_exact"] == 1.0
    assert np.isclose(metrics["auc.L1T.mean"], summary["views"]["L1T"]["mean_auc"])
    assert str(client.get_model_version_by_alias("jettag-test", "champion").version) == "1"


def test_jettag_is_a_task_of_l1scout_run() -> None:
    from l1scout.cli.run import TASKS
    from l1scout.tasks.jettag.config import demo_config

    task = TASKS["jettag"]
    assert task.load(None) == demo_config()
