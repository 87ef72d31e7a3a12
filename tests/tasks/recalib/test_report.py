"""The report: table renderings, physical values, the written page."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from l1scout.errors import ConfigError
from l1scout.tasks.recalib.config import KRRSpec, NNSpec
from l1scout.tasks.recalib.dataset import residuals
from l1scout.tasks.recalib.metrics import UNCORRECTED, correction_rmse, rmse_table
from l1scout.tasks.recalib.ops import OpsRow, kernel_ops
from l1scout.tasks.recalib.report import (
    SEED_RMSE,
    corrected_values,
    ops_markdown,
    ops_rich,
    report_files,
    rmse_markdown,
    rmse_rich,
    write_report,
)
from l1scout.tasks.recalib.results import ModelResult, StudyResult
from l1scout.tasks.recalib.synthetic import synthetic_dataset


def _table() -> object:
    true = np.array([[0.2, 0.1, 0.4], [-0.2, -0.1, -0.4]])
    return rmse_table("muon", ("dpt_over_pt", "deta", "dphi"), true, {"NN 32x3": true * 0.75})


def test_markdown_tables_by_hand() -> None:
    lines = rmse_markdown(_table()).splitlines()  # type: ignore[arg-type]
    # pT: r = 0.2, r_hat = 0.15: (1 - 0.2) / (1 - 0.15) - 1 = -0.0588;
    #     r = -0.2, r_hat = -0.15: 1.2 / 1.15 - 1 = 0.0435; RMS 0.05172, -74.1% of 0.2
    assert lines[:4] == [
        "| model | phi | eta | pT/pT_reco - 1 | phi vs L1 | eta vs L1 | pT/pT_reco - 1 vs L1 |",
        "|---|---|---|---|---|---|---|",
        "| L1 (no correction) | 0.4 | 0.1 | 0.2 |  |  |  |",
        "| NN 32x3 | 0.1 | 0.025 | 0.05172 | -75.0% | -75.0% | -74.1% |",
    ]
    assert lines[5].startswith("RMS over the 2 test muons of: phi: phi - phi_reco")
    rows = [
        OpsRow("NN 128x4", 50_048, 102_147, 51_587, 66_432, "H (D + N_l H + T)", "muon", 4, 3),
        OpsRow("KRR", 700, 1897, 700),
    ]
    assert ops_markdown(rows).splitlines() == [
        "| dataset | model | D -> T | MACs | FLOPs | parameters | seed Table 8 | how the seed counted |",
        "|---|---|---|---|---|---|---|---|",
        "| muon | NN 128x4 | 4 -> 3 | 50,048 | 102,147 | 51,587 | 66,432 | H (D + N_l H + T) |",
        "|  | KRR |  | 700 | 1,897 | 700 |  |  |",
    ]


def test_rich_tables_render() -> None:
    console = Console(record=True, width=200)
    console.print(rmse_rich(_table()))  # type: ignore[arg-type]
    console.print(ops_rich([OpsRow("NN 32x3", 3296, 7107, 3683, 3296)]))
    text = console.export_text()
    assert UNCORRECTED in text
    assert "-75.0%" in text
    assert "3,296" in text
    assert "pT/pT_reco - 1" in text


def test_corrected_values_invert_the_residual_definition() -> None:
    data = synthetic_dataset("muon", 200, seed=4)
    x = data.x_physical["test"]
    pt, eta, phi = x[:, 0], x[:, 1], x[:, 2]
    rng = np.random.default_rng(0)
    pt_reco = pt * rng.uniform(0.7, 1.4, len(pt))
    eta_reco = eta + rng.normal(0, 0.02, len(pt))
    phi_reco = np.mod(phi + rng.normal(0, 0.3, len(pt)), 2 * np.pi)
    res = residuals(pt, eta, phi, pt_reco, eta_reco, phi_reco)
    got = corrected_values(data, "test", res)
    np.testing.assert_allclose(got["pt"], pt_reco, rtol=1e-12)
    np.testing.assert_allclose(got["eta"], eta_reco, atol=1e-12)
    d = np.abs(got["phi"] - phi_reco)
    np.testing.assert_allclose(np.minimum(d, 2 * np.pi - d), 0.0, atol=1e-9)
    with pytest.raises(ConfigError, match="pt_cap"):
        corrected_values(data, "test", np.ones_like(res))
    capped = corrected_values(data, "test", np.ones_like(res), pt_cap=0.5)
    np.testing.assert_allclose(capped["pt"], 2 * pt, rtol=1e-12)


def _result(tmp_path: Path) -> tuple[StudyResult, dict[str, object]]:
    data = synthetic_dataset("muon", 400, seed=2)
    true = data.residual["test"]
    names = data.target_names
    models = []
    for spec, factor in ((NNSpec(arch="32x3"), 0.3), (KRRSpec(centres=100), 0.6)):
        pred = true * (1 - factor)
        rmse = correction_rmse(true, pred, names)
        base = correction_rmse(true, np.zeros_like(pred), names)
        models.append(
            ModelResult(
                key=spec.key,
                title=spec.title,
                family=spec.kind,
                dataset="muon",
                spec=spec,
                seconds=1.5,
                epochs=3 if spec.kind == "nn" else None,
                ops=kernel_ops("gaussian", n_inputs=4, centres=100, n_outputs=3),
                rmse=rmse,
                improvement={t: 1 - rmse[t] / base[t] for t in rmse},
                val_rmse=0.5,
                onnx=tmp_path / f"{spec.key}.onnx",
                onnx_parity=1e-7,
                onnx_parity_float32=None if spec.kind == "nn" else 2e-7,
                cancellation=None if spec.kind == "nn" else 10.0,
                run_id=None,
                model_uri=None,
                history=[
                    {"epoch": 1.0, "train_loss": 1.0, "val_loss": 0.9, "val_rmse": 0.95},
                    {"epoch": 2.0, "train_loss": 0.5, "val_loss": 0.6, "val_rmse": 0.77},
                ]
                if spec.kind == "nn"
                else [],
                test_prediction=pred,
                wall_seconds=2.5,
            )
        )
    table = rmse_table("muon", names, true, {m.title: m.test_prediction for m in models})
    result = StudyResult(
        title="report test",
        out_dir=tmp_path / "out",
        tables={"muon": table},
        models=models,
        timings={"models": 2.0},
        data={
            "muon": {
                "rows": data.sizes,
                "features": list(data.feature_names),
                "targets": list(names),
                "match": data.match,
            }
        },
    )
    return result, {"muon": data}


@pytest.mark.slow
def test_write_report(tmp_path: Path) -> None:
    result, datasets = _result(tmp_path)
    started = time.perf_counter() - 100.0  # the study began 100 s ago
    page = write_report(result, datasets, started=started)  # type: ignore[arg-type]
    assert page == tmp_path / "out" / "index.html"
    text = page.read_text()
    # the stages measured by the study, then the plots and the whole study
    assert list(result.timings) == ["models", "plots", "total"]
    assert 100.0 < result.timings["total"] < 100.0 + 60.0
    assert result.timings["plots"] < result.timings["total"] - 100.0 + 1e-9
    assert "How long the study took" in text
    assert re.search(r"the whole study took 1 min \d\d s", text)
    for label in (UNCORRECTED, "NN 32x3", "Nystrom KRR, Gaussian, M=100", *SEED_RMSE):
        assert label in text
    for line in result.summary():
        assert line.replace(">", "&gt;") in text
    numbers = json.loads((tmp_path / "out" / "results.json").read_text())
    assert numbers["tables"]["muon"] == result.tables["muon"].records()
    assert numbers["ops"][0]["macs"] == 700
    plots = sorted(p.name for p in (tmp_path / "out" / "plots").iterdir())
    assert plots == ["offline_vs_l1_muon.png", "residuals_muon.png", "training.png"]
    for name in plots:
        assert f"plots/{name}" in text
        assert (tmp_path / "out" / "plots" / name).read_bytes()[:4] == b"\x89PNG"
    assert [p.name for p in report_files(tmp_path / "out")] == [
        "index.html",
        "results.json",
        "plots",
    ]
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no temp files
    # summary: the better model (the network, error 30% of the residual) is named per target
    lines = result.summary()
    assert all("(NN 32x3) beats" in line for line in lines)
    assert all("(-70.0%)" in line for line in lines if not line.startswith("muon pT"))
    # pT: the corrected pT's error is (1 - r) / (1 - 0.7 r) - 1 = -0.3 r / (1 - 0.7 r), not 0.3 r
    r = datasets["muon"].residual["test"][:, 0]  # type: ignore[attr-defined]
    gain = 1 - np.sqrt(np.mean((0.3 * r / (1 - 0.7 * r)) ** 2)) / np.sqrt(np.mean(r**2))
    assert f"({-gain * 100:+.1f}%)" in next(line for line in lines if line.startswith("muon pT"))


def test_write_report_without_plots(tmp_path: Path) -> None:
    result, datasets = _result(tmp_path)
    page = write_report(result, datasets, plots=False)  # type: ignore[arg-type]
    assert "<img" not in page.read_text()
    assert not (tmp_path / "out" / "plots").exists()


def test_summary_says_by_how_much_per_target(tmp_path: Path) -> None:
    true = np.array([[0.2, 0.1, 0.4], [-0.2, -0.1, -0.4]])  # dpt_over_pt, deta, dphi
    # prediction = f * truth, error = (1 - f) * truth for eta (0.5% better) and phi (50% better);
    # pT: f = -0.2, (1 - r) / (1 + 0.2 r) - 1 = -0.2308 (r = 0.2) and 0.25 (r = -0.2): RMS 0.2406
    pred = true * np.array([-0.2, 0.005, 0.5])
    table = rmse_table("muon", ("dpt_over_pt", "deta", "dphi"), true, {"NN 32x3": pred})
    result = StudyResult(title="t", out_dir=tmp_path, tables={"muon": table}, models=[])
    phi, eta, pt = result.summary()
    assert phi == (
        "muon phi: the best correction (NN 32x3) beats the uncorrected L1 objects by 50.0%: "
        "RMSE 0.4 -> 0.2 (-50.0%)"
    )
    assert eta.startswith(
        "muon eta: the best correction (NN 32x3) is no better than the uncorrected"
    )
    assert pt == (
        "muon pT/pT_reco - 1: the best correction (NN 32x3) does not beat the uncorrected L1 "
        "objects: RMSE 0.2 -> 0.2406 (+20.3%)"
    )
