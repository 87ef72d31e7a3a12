"""What the jet-tagging task measures: the per-view tagger results, the firmware check, the whole run.

The dataclasses :func:`l1scout.tasks.jettag.pipeline.run_jettag` returns and
:mod:`l1scout.tasks.jettag.report` writes; the headline table is
:meth:`JetTagResult.auc_table` (AUC per class per view).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from l1scout.tasks.jettag.labels import JET_CLASSES

if TYPE_CHECKING:
    from l1scout.tasks.jettag.evaluation import BTagComparison, PtResponse
    from l1scout.tasks.jettag.hh4b import HH4bResult
    from l1scout.tasks.jettag.training import JetTagTrainResult

__all__ = [
    "ONNX_TOLERANCE",
    "FirmwareCheck",
    "JetTagResult",
    "JetTagViewResult",
    "metric_class_name",
]

#: Largest ``max |torch - ONNX| / max |torch|`` over a batch of test jets.
ONNX_TOLERANCE = 1e-5


def metric_class_name(name: str) -> str:
    """A class name as MLflow metric names allow it (``tau+`` -> ``tau_plus``).

    >>> metric_class_name("tau+"), metric_class_name("tau-"), metric_class_name("b")
    ('tau_plus', 'tau_minus', 'b')
    """
    return name.replace("+", "_plus").replace("-", "_minus")


@dataclass
class JetTagViewResult:
    """The tagger of one view and its figures on the test jets.

    Attributes:
        view: the view.
        training: the trained model and its history.
        model_file: ``models/jettag_<view>.pt``.
        test_jets: labelled test jets the AUCs are measured on.
        class_counts: class name -> labelled test jets of that class.
        auc: class name -> one-vs-rest ROC AUC (NaN: class absent).
        roc: class name -> (signal efficiencies, background efficiencies).
        btag: the b score against the card's ``BTag`` bit.
        response: the pT response, raw and regressed.
        onnx: the ONNX file (None: off).
        onnx_parity: ``max |torch - ONNX| / max |torch|`` on test jets (None: off).
    """

    view: str
    training: JetTagTrainResult
    model_file: Path
    test_jets: int
    class_counts: dict[str, int]
    auc: dict[str, float]
    roc: dict[str, tuple[list[float], list[float]]]
    btag: BTagComparison
    response: PtResponse
    onnx: Path | None = None
    onnx_parity: float | None = None

    @property
    def mean_auc(self) -> float:
        """Mean AUC over the classes present."""
        values = [v for v in self.auc.values() if math.isfinite(v)]
        return float(np.mean(values)) if values else float("nan")

    @property
    def onnx_ok(self) -> bool | None:
        """Whether the parity is within :data:`ONNX_TOLERANCE` (None: no check)."""
        return None if self.onnx_parity is None else self.onnx_parity <= ONNX_TOLERANCE


@dataclass(frozen=True)
class FirmwareCheck:
    """The quantized L1T tagger's firmware against the torch model.

    Attributes:
        path: the hls4ml project folder (None: not built).
        emulation_jets: jets through the integer emulation.
        emulation_bit_exact: its outputs equal torch's bit for bit.
        emulation_seconds: its wall time (s).
        hls_jets: jets through hls4ml's C++ emulation (0: not built).
        hls_bit_exact: its outputs equal torch's (None: not built).
        build_seconds: writing and compiling the hls4ml project (s).
        note: why a step was skipped.
    """

    path: Path | None
    emulation_jets: int
    emulation_bit_exact: bool
    emulation_seconds: float
    hls_jets: int = 0
    hls_bit_exact: bool | None = None
    build_seconds: float = 0.0
    note: str = ""


@dataclass
class JetTagResult:
    """What :func:`run_jettag` made.

    Attributes:
        report: ``report/report.html``.
        summary: ``summary.json``.
        views: view -> its tagger's result.
        firmware: the firmware check (None: off or a float model).
        hh4b: the HH -> 4b seed table (L1T view).
        events: events per split.
        source: where the events came from.
        stage_seconds: wall time of each stage (s).
        run_id: the MLflow run's id.
        dataset_hash: the data's hash.
    """

    report: Path
    summary: Path
    views: dict[str, JetTagViewResult]
    firmware: FirmwareCheck | None
    hh4b: HH4bResult | None
    events: dict[str, int] = field(default_factory=dict)
    source: str = ""
    stage_seconds: dict[str, float] = field(default_factory=dict)
    run_id: str = ""
    dataset_hash: str = ""

    def auc_table(self) -> list[dict[str, Any]]:
        """The headline: per class, the AUC in every view (and the labelled test jets), then the mean."""
        rows: list[dict[str, Any]] = []
        for name in JET_CLASSES:
            row: dict[str, Any] = {"class": name}
            for view, vr in self.views.items():
                row[view] = vr.auc.get(name, float("nan"))
                row[f"{view} jets"] = vr.class_counts.get(name, 0)
            rows.append(row)
        mean: dict[str, Any] = {"class": "mean"}
        for view, vr in self.views.items():
            mean[view] = vr.mean_auc
            mean[f"{view} jets"] = vr.test_jets
        rows.append(mean)
        return rows
