"""``l1scout run classify``: the whole study end to end on a hand-made COLLIDE-2V file set.

The files (:mod:`._collide_files`) are read through ``[data] source`` (nothing
is produced); three classes whose leading jet and PUPPI candidate carry the
class, tiny models, the real evaluation, report, ONNX export with its parity
check and MLflow in a SQLite store under the test's folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pytest
from typer.testing import CliRunner

from l1scout.cli.app import app
from l1scout.tasks.classify.classes import EVENT_CLASSES
from l1scout.tasks.classify.config import load_classify_config
from l1scout.tasks.classify.pipeline import ONNX_TOLERANCE, STAGES, ClassifyResult, run_classify

from ._collide_files import write_collide_set

runner = CliRunner()

CLASSES = ("qcd", "minbias", "z_bb", "hh_4b")
PROCESSES = tuple(next(c.process for c in EVENT_CLASSES if c.name == n) for n in CLASSES)

TINY = """
name = "classify-tiny"

[data]
classes = ["qcd", "minbias", "z_bb", "hh_4b"]
events_per_class = 32
source = "{source}"

[splits]
fractions = [0.5, 0.25, 0.25]

[[models]]
kind = "transformer"
width = 8
n_heads = 2
n_layers = 1
ff_dim = 8
hidden = 8
dropout = 0.0

[[models]]
kind = "mlp"
hidden = 16
hidden_layers = 1
dropout = 0.0

[[models]]
kind = "particles"
hidden = 8
hidden_layers = 1
dropout = 0.0

[training]
learning_rate = 1e-2
batch_size = 16
max_epochs = 12
patience = 12
threads = 1

[evaluation]
rates_khz = [1.0, 10.0]

[deploy]
parity_events = 50

[tracking]
experiment = "classify-test"
registered_model = "classify-test"
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[ClassifyResult, Path, str]:
    root = tmp_path_factory.mktemp("classify")
    source = write_collide_set(root / "collide", PROCESSES, 32)
    config = root / "tiny.toml"
    config.write_text(TINY.format(source=source))
    uri = f"sqlite:///{root / 'mlflow.db'}"
    result = run_classify(load_classify_config(config), root / "out", tracking_uri=uri)
    return result, root, uri


@pytest.mark.slow
def test_every_model_and_view_is_trained_evaluated_exported_and_tracked(
    run: tuple[ClassifyResult, Path, str],
) -> None:
    result, root, uri = run
    out = root / "out"
    assert set(result.stage_seconds) == set(STAGES)
    assert not (out / "data").exists()  # read from the source, nothing produced
    assert [(m.kind, m.view) for m in result.models] == [
        (k, v) for v in ("FullReco", "L1T") for k in ("transformer", "mlp", "particles")
    ]
    for m in result.models:
        assert m.model_file.is_file()
        assert m.onnx is not None
        assert m.onnx.path.is_file()
        assert m.onnx.max_rel_diff <= ONNX_TOLERANCE
        assert m.onnx.registered.startswith(f"classify-test-{m.kind}-{m.view} v1")
        assert m.auc.shape == (4,)
        assert m.probabilities.shape == (result.labels.size, 4)
        np.testing.assert_allclose(m.confusion.sum(axis=1), 1.0, rtol=1e-9)
        # one bit per signal class and rate
        assert {(b.class_name, b.rate_khz) for b in m.trigger_bits} == {
            (c, r) for c in ("qcd", "z_bb", "hh_4b") for r in (1.0, 10.0)
        }
    # the leading jet's pT tells the class: the MLP on the flat objects separates them
    assert result.model("mlp", "FullReco").mean_auc > 0.95
    assert result.model("mlp", "L1T").mean_auc > 0.95
    summary = json.loads(result.summary.read_text())
    assert summary["source"] == str(root / "collide")
    assert summary["classes"] == list(CLASSES)
    assert set(summary["mean_auc"]) == {"transformer", "mlp", "particles"}
    assert summary["mean_auc"]["mlp"]["L1T"] == pytest.approx(result.model("mlp", "L1T").mean_auc)
    assert sum(summary["events"].values()) == 4 * 32
    page = result.report.read_text()
    for text in ("Mean one-vs-rest ROC AUC", "L1T - FullReco", "Trigger bits", "hh_4b"):
        assert text in page
    assert "nan" not in page
    assert (result.report.parent / "roc.png").is_file()
    # a client of the test's store: the process-wide tracking URI is left alone
    mlf = mlflow.MlflowClient(tracking_uri=uri)
    experiment = mlf.get_experiment_by_name("classify-test")
    assert experiment is not None
    runs = mlf.search_runs([experiment.experiment_id])
    assert len(runs) == 1 + 6  # the study and one nested run per model and view
    parent = mlf.get_run(result.run_id)
    assert parent.data.metrics["mean_auc/mlp/L1T"] == pytest.approx(
        result.model("mlp", "L1T").mean_auc
    )


@pytest.mark.slow
def test_the_headline_tables_compare_the_views_class_by_class(
    run: tuple[ClassifyResult, Path, str],
) -> None:
    result, _, _ = run
    table = result.mean_auc_table()
    assert set(table) == {"transformer", "mlp", "particles"}
    rows = result.class_table("mlp")
    assert [r["class"] for r in rows] == list(CLASSES)
    assert np.isnan(rows[1]["eff FullReco"])  # the zero-bias class has no trigger bit
    mlp = result.model("mlp", "L1T")
    assert rows[3]["AUC L1T"] == mlp.auc[3]
    assert rows[3]["eff L1T"] == mlp.efficiency("hh_4b", 10.0)


def test_classify_is_a_task_of_l1scout_run_and_a_bad_config_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "--help"])
    assert result.exit_code == 0
    assert "classify:" in " ".join(result.output.split())
    bad = tmp_path / "bad.toml"
    bad.write_text('[data]\nclasses = ["qcd"]\n')
    result = runner.invoke(app, ["run", "classify", str(bad), "-o", str(tmp_path / "o")])
    assert result.exit_code != 0
    assert "bad.toml" in result.output
    assert "data.classes" in result.output
    assert not (tmp_path / "o").exists()
