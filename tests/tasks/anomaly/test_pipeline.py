from __future__ import annotations

import json
from pathlib import Path

import pytest

from l1scout.errors import ConfigError
from l1scout.tasks.anomaly.pipeline_config import (
    demo_config,
    expand_models,
    load_pipeline_config,
)

TINY = """
name = "tiny"
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
[[models]]
kind = "vae"
name = "v3"
[[models]]
kind = "vicreg"
name = "v5"
backbone_epochs = 1
[scan]
parameter = "beta"
values = [0.25, 0.75]
models = ["v3"]
[evaluation]
rates_khz = [100.0, 5000.0]
min_pass = 3
[tracking]
experiment = "tiny"
registered_model = "tiny-ad"
alias = "champion"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pipeline.toml"
    path.write_text(text)
    return path


def test_scan_expands_into_one_model_per_value(tmp_path: Path) -> None:
    config = load_pipeline_config(_write(tmp_path, TINY))
    models = expand_models(config)
    assert [m.name for m in models] == ["v3-beta0.25", "v3-beta0.75", "v5"]
    assert [getattr(m, "beta", None) for m in models[:2]] == [0.25, 0.75]
    # everything else of the scanned model is kept
    assert models[0].hidden == models[1].hidden == (32, 16)


def test_demo_defaults_are_valid() -> None:
    config = demo_config()
    assert config.data.pileup == 200.0
    assert config.evaluation.crossing_rate == "phase2"
    assert config.evaluation.crossing_rate_khz == pytest.approx(2760 * 11.246)
    names = [m.name for m in expand_models(config)]
    assert "axol1tl_v3" in names
    assert any(n.startswith("axol1tl_v4-beta") for n in names)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('models = ["v3"]', 'models = ["v9"]'), "scan.models: unknown models"),
        (('parameter = "beta"', 'parameter = "gamma"'), "not a setting of model 'v3'"),
        (("values = [0.25, 0.75]", "values = [0.25, 7.0]"), "beta"),
        (('name = "v5"', 'name = "v3"'), "model names must be unique"),
        (('process = "ADC2021_A50_4l"', 'process = "ADC2021_A5_4l"'), "data.signals[0].process"),
        (("min_pass = 3", "min_pass = 0"), "evaluation.min_pass"),
        (
            ("min_pass = 3", 'min_pass = 3\ncrossing_rate = "run2"'),
            "evaluation.crossing_rate: expected 'phase2', 'run3' or a rate in kHz",
        ),
        (
            ("min_pass = 3", "min_pass = 3\ncrossing_rate = -1.0"),
            "evaluation.crossing_rate: expected a positive finite rate",
        ),
        (
            ("min_pass = 3", "min_pass = 3\ncrossing_rate = 1000.0"),
            "evaluation: rates_khz: expected positive rates up to the crossing rate 1,000 kHz",
        ),
        (
            ("fractions = [0.5, 0.2, 0.3]", "signal_fractions = [0.5, 0.6]"),
            "data.signal_fractions: expected two positive numbers",
        ),
        (('alias = "champion"', 'alias = "champion"\ncolour = "red"'), "tracking.colour"),
    ],
)
def test_config_errors_name_the_field(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    old, new = change
    assert old in TINY
    path = _write(tmp_path, TINY.replace(old, new, 1))
    with pytest.raises(ConfigError, match=None) as info:
        expand_models(load_pipeline_config(path))
    assert message in str(info.value)


@pytest.mark.slow
def test_tiny_pipeline_end_to_end(tmp_path: Path) -> None:
    import mlflow

    from l1scout.tasks.anomaly.pipeline import STAGES, run_pipeline

    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    (tmp_path / "mlruns").mkdir()
    config = load_pipeline_config(
        _write(tmp_path, TINY.replace('alias = "champion"', f'alias = "champion"\nuri = "{uri}"'))
    )
    result = run_pipeline(config, tmp_path / "out")

    assert set(result.stage_seconds) == set(STAGES)
    names = [c.name for c in result.candidates]
    # one candidate per VICReg score, from one training
    assert names == ["v3-beta0.25", "v3-beta0.75", "v5-autoencoder", "v5-mahalanobis"]
    v5 = result.candidates[2:]
    assert v5[0].model.model is v5[1].model.model
    assert [c.scoring for c in v5] == ["autoencoder", "mahalanobis"]

    # chosen on the validation split; only the chosen one has test numbers
    best = next(c for c in result.candidates if c.name == result.best)
    assert best.selection.value == max(c.selection.value for c in result.candidates)
    assert {c.selection.split for c in result.candidates} == {"validation"}
    assert best.evaluation is not None
    assert [c.evaluation for c in result.candidates if c is not best] == [None] * 3
    for c in result.candidates:
        assert c.validation.n_zero_bias == best.selection.n_zero_bias  # the validation zero bias
    assert best.evaluation.n_zero_bias != best.selection.n_zero_bias  # the test zero bias
    assert best.evaluation.crossing_rate_khz == pytest.approx(31_038.96)

    page = result.report.read_text()
    text = " ".join(page.split())
    assert "ADC2021_A50_4l" in page
    assert "not measurable" in page.lower()  # 100 kHz needs ~780 zero-bias test events
    assert "31,039 kHz (Phase-2: 2760 colliding bunch pairs x 11.246 kHz" in text
    assert f"{best.selection.figure} on the validation split" in text
    assert "which took no part in the choice" in text
    assert "Scores of v5 side by side (validation split)" in text

    # ONNX of the registered model follows torch; the firmware follows the quantized model
    registered = result.deployed[0]
    assert registered.onnx_max_rel_diff is not None
    assert registered.onnx_max_rel_diff <= 1e-5
    firmware = next(d for d in result.deployed if d.firmware_path is not None)
    assert firmware.firmware_agreement_min is not None
    assert firmware.firmware_agreement_min >= 0.999
    assert firmware.firmware_max_lsb is not None
    assert firmware.firmware_max_lsb <= 1.0
    assert firmware.luts is not None
    assert firmware.luts > 0

    # the report's numbers are the ones in MLflow, and the alias points at a loadable model
    client = mlflow.MlflowClient(tracking_uri=uri)
    logged = client.get_run(best.run_id).data.metrics
    for key, value in best.evaluation.to_metrics().items():
        assert logged[key] == pytest.approx(value)
    assert logged["selection"] == pytest.approx(best.selection.value)
    for c in result.candidates:
        metrics = client.get_run(c.run_id).data.metrics
        assert metrics["selection"] == pytest.approx(c.selection.value)
        for key, value in c.validation.to_metrics().items():
            assert metrics[f"val/{key}"] == pytest.approx(value)
        if c is not best:  # no test numbers for a model that was not chosen
            assert not [k for k in metrics if k.startswith(("eff/", "auc/", "rate/"))]
    second = client.get_run(v5[1].run_id).data.tags
    assert second["l1scout.weights_run"] == v5[0].run_id
    assert second["l1scout.scoring"] == "mahalanobis"
    params = client.get_run(result.run_id).data.params
    assert params["selection.split"] == "validation"
    assert params["selection.figure"] == best.selection.figure
    assert params["chosen"] == best.name
    assert float(params["rates.crossing_rate_khz"]) == pytest.approx(31_038.96)
    version = client.get_model_version_by_alias("tiny-ad", "champion")
    assert str(version.version) == "1"
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["best"] == result.best
    assert summary["selection"]["split"] == "validation"


def test_the_full_size_example_is_valid() -> None:
    example = Path(__file__).parents[3] / "examples" / "anomaly" / "pipeline.toml"
    config = load_pipeline_config(example)
    assert config.data.zero_bias.events == 1_000_000
    assert len(expand_models(config)) == 10
