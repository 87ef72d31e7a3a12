"""The results of the classification study: per model and view, and the whole study with its headline tables.

:class:`ClassifyResult` is what :func:`l1scout.tasks.classify.pipeline.run_classify`
returns and what the report (:mod:`l1scout.tasks.classify.report`) draws:
one :class:`ModelResult` per view and model (its training, per-class AUC,
confusion matrix, trigger bits, ONNX check) and the headline tables
(:meth:`ClassifyResult.mean_auc_table`, :meth:`ClassifyResult.class_table`).

Example:
    >>> from pathlib import Path
    >>> OnnxCheck(Path("m.onnx"), 100, 3e-7).ok, OnnxCheck(Path("m.onnx"), 100, 2e-5).ok
    (True, False)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from l1scout._types import F32, F64, I64
from l1scout.tasks.classify.classes import ZERO_BIAS_CLASS

if TYPE_CHECKING:
    from l1scout.tasks.classify.metrics import TriggerBit
    from l1scout.tasks.classify.training import ClassifierTrainResult

__all__ = ["ONNX_TOLERANCE", "ClassifyResult", "ModelResult", "OnnxCheck"]

#: Largest ``|torch - ONNX|`` of the logits relative to the largest ``|torch|`` logit.
ONNX_TOLERANCE = 1e-5


@dataclass(frozen=True)
class OnnxCheck:
    """One model's ONNX export and its parity with torch on test events.

    Attributes:
        path: the ``.onnx`` file.
        events: test events compared.
        max_rel_diff: largest ``|torch - ONNX|`` logit over the largest ``|torch|`` logit.
        tolerance: :data:`ONNX_TOLERANCE`.
        registered: ``"<name> v<version> @<alias>"`` in the MLflow registry.
    """

    path: Path
    events: int
    max_rel_diff: float
    tolerance: float = ONNX_TOLERANCE
    registered: str = ""

    @property
    def ok(self) -> bool:
        """Whether the parity is within the tolerance."""
        return self.max_rel_diff <= self.tolerance


@dataclass
class ModelResult:
    """One model trained and evaluated on one view.

    Attributes:
        kind: the model's kind (``transformer``, ``mlp``, ``particles``).
        view: the view (``FullReco``, ``L1T``).
        training: the trained model and its history.
        model_file: ``models/<kind>-<view>.pt``.
        auc: float64 ``(C,)`` one-vs-rest ROC AUC per class on the test events
            (NaN where a class has no test event).
        mean_auc: the mean of the defined per-class AUCs.
        confusion: float64 ``(C, C)`` rows true class, columns predicted,
            each row normalised to 1.
        trigger_bits: per signal class and rate, the threshold and the efficiency.
        probabilities: float32 ``(n_test, C)`` the test events' class probabilities.
        onnx: the ONNX check (None: ``deploy.onnx`` off).
        run_id: the nested MLflow run's id.
    """

    kind: str
    view: str
    training: ClassifierTrainResult
    model_file: Path
    auc: F64
    mean_auc: float
    confusion: F64
    trigger_bits: list[TriggerBit]
    probabilities: F32
    onnx: OnnxCheck | None = None
    run_id: str = ""

    @property
    def key(self) -> str:
        """``<kind>-<view>``: the files' and the registered model's suffix."""
        return f"{self.kind}-{self.view}"

    def efficiency(self, class_name: str, rate_khz: float) -> float:
        """The trigger efficiency of *class_name* at *rate_khz* (NaN if not computed)."""
        for bit in self.trigger_bits:
            if bit.class_name == class_name and math.isclose(bit.rate_khz, rate_khz):
                return float(bit.efficiency.value)
        return math.nan


@dataclass
class ClassifyResult:
    """What :func:`run_classify` made.

    Attributes:
        report: the HTML report.
        summary: ``summary.json``.
        classes: the class names, in label order.
        views: the views.
        rates_khz: the trigger bits' rates.
        crossing_rate_khz: the crossing rate that normalises the zero-bias fractions.
        labels: int64 ``(n_test,)`` the test events' classes.
        models: one result per view and model, views outermost.
        events: events per split.
        class_events: per split, events per class.
        stage_seconds: wall time of each stage (s).
        run_id: the parent MLflow run's id.
        dataset_hash: the data's hash.
        source: the COLLIDE-2V source read, or None (produced).
    """

    report: Path
    summary: Path
    classes: tuple[str, ...]
    views: tuple[str, ...]
    rates_khz: tuple[float, ...]
    crossing_rate_khz: float
    labels: I64
    models: list[ModelResult]
    events: dict[str, int] = field(default_factory=dict)
    class_events: dict[str, list[int]] = field(default_factory=dict)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    run_id: str = ""
    dataset_hash: str = ""
    source: str | None = None

    def model(self, kind: str, view: str) -> ModelResult:
        """The result of *kind* on *view*.

        Raises:
            KeyError: no such model and view.
        """
        for m in self.models:
            if m.kind == kind and m.view == view:
                return m
        raise KeyError(f"{kind}-{view}")

    @property
    def kinds(self) -> tuple[str, ...]:
        """The model kinds, in configuration order."""
        return tuple(dict.fromkeys(m.kind for m in self.models))

    @property
    def headline_rate_khz(self) -> float:
        """The rate of the headline table's efficiencies: 10 kHz if computed, else the highest."""
        return 10.0 if 10.0 in self.rates_khz else max(self.rates_khz)

    def mean_auc_table(self) -> dict[str, dict[str, float]]:
        """Model kind -> view -> mean AUC: the first headline table."""
        return {k: {v: self.model(k, v).mean_auc for v in self.views} for k in self.kinds}

    def class_table(self, kind: str) -> list[dict[str, float | str]]:
        """Per class: AUC per view and the efficiency at :attr:`headline_rate_khz` per view."""
        rate = self.headline_rate_khz
        rows: list[dict[str, float | str]] = []
        for i, name in enumerate(self.classes):
            row: dict[str, float | str] = {"class": name}
            for v in self.views:
                row[f"AUC {v}"] = float(self.model(kind, v).auc[i])
            for v in self.views:
                row[f"eff {v}"] = (
                    math.nan
                    if name == ZERO_BIAS_CLASS
                    else self.model(kind, v).efficiency(name, rate)
                )
            rows.append(row)
        return rows
