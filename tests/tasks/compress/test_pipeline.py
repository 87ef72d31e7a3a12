"""``run_compress`` end to end on a tiny production: every number reproducible from the files it wrote.

One tiny real run (module fixture): 60 zero-bias, 20 ttbar and 20 light-scalar
(40 GeV) to tau tau events at pileup 10 from a pool of 50 collisions, the 32
highest-pT candidates, every baseline with a one-point quantization scan, a
one-point set-autoencoder scan and a one-point VICReg scan (2 epochs each),
the downstream models for 2 epochs, MLflow in a SQLite store under the test's
folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from l1scout.tasks.compress.config import CompressConfig
from l1scout.tasks.compress.pipeline import STAGES, run_compress
from l1scout.tasks.compress.results import CompressResult

TINY: dict[str, Any] = {
    "name": "compress-tiny",
    "data": {
        "zero_bias": {"process": "minbias", "events": 60},
        "processes": [
            {"process": "tt0123j_5f_ckm_LO_MLM_semiLeptonic", "events": 20},
            {"process": "light_scalar_tautau_m40", "events": 20},
        ],
        "pileup": 10.0,
        "candidates": 32,
        "seed": 5,
        "pool_size": 50,
        "shard_size": 60,
        "engine": {"kind": "single"},
    },
    "splits": {"fractions": [0.5, 0.25, 0.25]},
    "baselines": {"quantized": [{"pt": 8, "eta": 8, "phi": 8, "z0": 6, "puppi_w": 4}]},
    "learned": {
        "set_ae": {
            "latent": [4],
            "bits": [6],
            "hidden": 16,
            "slots": 32,
            "epochs": 2,
            "batch_size": 32,
            "threads": 1,
        },
        "vicreg": {
            "embed_dim": [4],
            "bits": [6],
            "hidden": 16,
            "epochs": 2,
            "batch_size": 32,
            "threads": 1,
        },
    },
    "fidelity": {"rate_khz": 10_000.0, "min_expected": 1, "min_events": 1, "downstream_epochs": 2},
    "deploy": {"events": 50, "batch": 25},
    "tracking": {"experiment": "compress-test"},
    "report": {"budgets": [100.0, 1000.0, 100_000.0], "dpi": 20},
}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, CompressResult]:
    root = tmp_path_factory.mktemp("compress-pipeline")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    cfg = CompressConfig.model_validate(TINY)
    result = run_compress(cfg, root / "out", root / "data", tracking_uri=uri)
    return root / "out", uri, result


@pytest.mark.slow
def test_bytes_per_event_are_the_files_on_disk(tiny_run: tuple[Path, str, CompressResult]) -> None:
    out, _, result = tiny_run
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["stage_seconds"]) == list(STAGES)
    n_test = sum(parts["test"] for parts in summary["events"].values())
    families = [c["family"] for c in summary["codecs"]]
    assert families == [
        "float16_parquet",
        "words_zstd",
        "int_pack",
        "quantized",
        "set_ae",
        "vicreg",
    ]
    for codec in summary["codecs"]:
        files = [Path(f) for f in codec["files"].values()]
        assert len(files) == 3  # one file per process
        assert all(f.parent.parent == out / "codecs" for f in files)
        size = sum(f.stat().st_size for f in files)
        assert codec["n_bytes"] == size
        assert codec["n_events"] == n_test
        assert codec["bytes_per_event"] == pytest.approx(size / n_test)
    # the goal's reference is the float16 Parquet files
    f16 = summary["codecs"][0]
    assert summary["goal"]["reference_bytes"] == pytest.approx(f16["bytes_per_event"])
    assert result.goal.budget == pytest.approx(f16["bytes_per_event"] / 10)


@pytest.mark.slow
def test_the_splits_are_disjoint_and_complete(tiny_run: tuple[Path, str, CompressResult]) -> None:
    _, _, result = tiny_run
    sizes = {"minbias": 60, "tt0123j_5f_ckm_LO_MLM_semiLeptonic": 20, "light_scalar_tautau_m40": 20}
    for process, parts in result.counts.items():
        assert sum(parts.values()) == sizes[process]
        assert all(n > 0 for n in parts.values())


@pytest.mark.slow
def test_the_two_hardware_bin_codecs_decode_to_the_same_events(
    tiny_run: tuple[Path, str, CompressResult],
) -> None:
    _, _, result = tiny_run
    by_family = {p.family: p for p in result.points}
    words, packed = by_family["words_zstd"], by_family["int_pack"]
    # both are lossless on the Phase-2 hardware bins: every fidelity number is identical
    assert words.fidelity == packed.fidelity
    assert words.downstream == packed.downstream
    # the embedding stores no particles: downstream measures only
    assert by_family["vicreg"].fidelity == {}
    assert "downstream/classifier_auc_ratio" in by_family["vicreg"].aggregate()
    # the learned codecs measured their particle / object split
    assert by_family["set_ae"].params["object_bytes_per_event"] > 0


@pytest.mark.slow
def test_the_report_mlflow_and_deployment(tiny_run: tuple[Path, str, CompressResult]) -> None:
    import mlflow

    out, uri, result = tiny_run
    page = (out / "report" / "report.html").read_text()
    for heading in ("The goal", "Codecs", "Best codec per byte budget", "Rate-distortion"):
        assert f"<h2>{heading}" in page
    plots = sorted((out / "report" / "plots").glob("rd_*.png"))
    assert len(plots) == len(result.fronts)  # one plot per measure
    assert (out / "report" / "plots" / "rd_resolution_ht.png") in plots
    for d in result.deploy:
        assert Path(d["onnx"]).is_file()
        assert d["onnx_vs_torch"] < 1e-4
        assert d["events_per_s"] > 0
    assert [d["encoder"] for d in result.deploy] == ["set_ae-d4", "vicreg-d4"]
    run = mlflow.MlflowClient(tracking_uri=uri).get_run(result.run_id)
    f16 = result.points[0]
    assert run.data.metrics[f"{f16.label}/bytes_per_event"] == pytest.approx(f16.bytes_per_event)
    assert run.data.tags["dataset.hash"] == result.dataset_hash
