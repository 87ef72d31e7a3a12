"""The MLPF report: written with its plots and metrics, holds the collections and numbers, no "nan"."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from l1scout.errors import ConfigError
from l1scout.tasks.mlpf.report import write_mlpf_report
from l1scout.tasks.mlpf.study import COLLECTIONS, MLPFEvaluation, evaluate_mlpf

from ._study_events import SETTINGS, VIEW, columns, events, local, perfect, targets


def _evaluation(*, pileup: bool = True, noise: float = 0.5) -> MLPFEvaluation:
    g = events(100)
    if not pileup:
        hard = g["is_pu"] == 0
        off, _ = local(g["offsets"], hard)
        g = {k: (off if k == "offsets" else v[hard]) for k, v in g.items()}
    cols, t = columns(g), targets(g)
    pred = perfect(t)
    rng = np.random.default_rng(4)
    n = np.exp(noise * rng.standard_normal(len(pred["pt"])))
    return evaluate_mlpf(
        cols, VIEW, {**pred, "pt": pred["pt"] * n, "energy": pred["energy"] * n}, t, SETTINGS
    )


@pytest.fixture(scope="module")
def evaluation() -> MLPFEvaluation:
    return _evaluation()


def _text(page: str) -> str:
    return re.sub(r"<[^>]+>", " ", page)


def test_report_written_with_collections_numbers_and_plots(tmp_path: Path, evaluation: Any) -> None:
    history = {"train loss": [3.0, 2.0, 1.5], "val loss": [3.2, 2.4, float("nan")]}
    timing = {"MLPF ONNX ms/event": 12.5, "PF+CHS+PUPPI ms/event": 3.25, "train": 61.0}
    path = write_mlpf_report(
        evaluation,
        tmp_path / "out",
        header={"config": "demo <ttbar>", "data": "hand-made"},
        history=history,
        timing=timing,
    )
    assert path == tmp_path / "out" / "report.html"
    page = path.read_text()
    text = _text(page)
    assert "demo &lt;ttbar&gt;" in page  # escaped
    for name in COLLECTIONS:  # every collection has its rows in the jet and MET tables
        assert page.count(f"<td>{html.escape(name)}</td>") >= 3
    assert "PF+CHS" in text
    assert "PUPPI" in text
    assert "MLPF + PU flag" in text
    # the numbers of the tables: a jet resolution and the MET resolution, as evaluated
    jr = evaluation.jets["MLPF"].response.iqr_over_median
    assert f"{jr[1]:.3g}" in text
    assert f"{evaluation.met['PF+CHS'].response.iqr_over_median:.3g}" in text
    assert f"{evaluation.pileup_mlpf.auc:.3g}" in text
    # the worse verdicts are written out plainly
    assert evaluation.worse
    assert "Where MLPF is worse" in text
    for v in evaluation.worse:
        assert v.text.split(":")[0] in text
    # history and timing sections, and the timing values
    assert "Training history" in text
    assert "12.5" in text
    assert "3.25" in text
    assert "61 s" in text  # a stage without a unit in its name: seconds
    # the plots are beside the page, and every image the page shows exists
    images = re.findall(r"<img src='([^']+)'", page)
    assert set(images) == {"jets.png", "pileup_roc.png", "particles.png", "history.png"}
    for name in images:
        assert (path.parent / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = json.loads((path.parent / "metrics.json").read_text())
    assert metrics == pytest.approx(evaluation.metrics())
    assert not [p.name for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp files


def test_missing_values_are_dashes_never_nan(tmp_path: Path) -> None:
    ev = _evaluation(pileup=False)  # no pileup: no ROC; empty particle-pT bins: NaN rates
    assert ev.pileup_mlpf is None
    assert any(np.isnan(r.efficiency.value).any() for r in ev.particles.values())
    path = write_mlpf_report(ev, tmp_path, header={}, history={"loss": [float("nan")]}, timing=None)
    page = path.read_text()
    assert not re.search(r"\bnan\b", page, re.IGNORECASE)
    assert not re.search(r"\binf\b", page, re.IGNORECASE)
    assert "<td class='num'>-</td>" in page
    assert "pileup_roc.png" not in page  # nothing to draw
    assert "Timing" not in _text(page)


def test_unwritable_folder_is_a_config_error(tmp_path: Path, evaluation: Any) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="cannot write the MLPF report"):
        write_mlpf_report(evaluation, blocker / "sub", header={}, history=None, timing=None)


def test_each_sample_and_the_transfer_study_have_their_sections(
    tmp_path: Path, evaluation: Any
) -> None:
    from l1scout.tasks.mlpf.transfer import TransferRun, TransferStudy

    noisy = _evaluation(noise=1.5)
    study = TransferStudy(
        view="FullRecoCLD",
        collection="MLPF + PU flag",
        jet_pt_range=(20.0, 100.0),
        runs=(
            TransferRun("fine-tuned", 10, 1, 0.21, 0.31, 0, 1, 1.0, 1.0),
            TransferRun("from scratch", 10, 1, 0.41, 0.51, 0, 1, 2.0, 1.0),
        ),
        reference={"jet_resolution": 0.125, "met_resolution": 0.35},
        zero_shot={"jet_resolution": 0.5, "met_resolution": 0.6},
        n_test_events=50,
    )
    path = write_mlpf_report(
        evaluation,
        tmp_path,
        header={},
        history=None,
        timing=None,
        by_sample={"ttbar": evaluation, "QCD <multijet>": noisy},
        transfer=study,
    )
    page = path.read_text()
    text = _text(page)
    assert "Each sample alone" in text
    assert "QCD &lt;multijet&gt; (100 test events)" in page
    # the pivot: IQR / median (efficiency) of the collection in its first pT bin
    jr = noisy.jets["MLPF"]
    cell = f"{jr.response.iqr_over_median[0]:.3g} ({100 * jr.efficiency.value[0]:.1f} %)"
    assert cell in text
    for v in noisy.worse:  # the noisy sample's worse verdicts are listed in its section
        assert html.escape(v.text) in page
    assert "Transfer to FullRecoCLD" in text
    assert "0.125" in text
    assert "0.41" in text
    assert (tmp_path / "transfer.png").read_bytes()[:4] == b"\x89PNG"
