"""What the re-calibration study returns: one result per fitted model, the firmware check, the study.

Kept apart from :mod:`~l1scout.tasks.recalib.study` (which makes them) so that
the report (:mod:`~l1scout.tasks.recalib.report`) reads them without importing
the study.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from l1scout._types import F64
from l1scout.tasks.recalib.config import KRRSpec, NNSpec
from l1scout.tasks.recalib.metrics import RMSETable, column_label
from l1scout.tasks.recalib.ops import SEED_INPUTS, SEED_OUTPUTS, OpsRow, seed_figure, seed_note

if TYPE_CHECKING:
    from l1scout.deploy.flops import OpCount
    from l1scout.tasks.recalib.krr import TuningCurve
    from l1scout.track.registry import RegisteredModel

__all__ = ["SAME", "FirmwareCheck", "ModelResult", "StudyResult"]

#: A relative RMSE change within this is reported as no change.
SAME = 0.01


@dataclass
class ModelResult:
    """One model fitted on one dataset.

    Attributes:
        key: the model's key (files, runs).
        title: its row label.
        family: ``"nn"`` or ``"krr"``.
        dataset: ``"muon"`` or ``"jet"``.
        spec: its configuration.
        seconds: training time (s).
        epochs: epochs run (networks), else None.
        ops: operations per inference.
        rmse: test RMSE per target (physical residuals).
        improvement: ``1 - rmse / rmse_L1`` per target.
        val_rmse: RMSE of the standardised validation targets (model selection).
        onnx: the exported ONNX file.
        onnx_parity: max |fitted model - ONNX Runtime| on the test split, in
            model-output units (standardised targets).
        onnx_parity_float32: kernel models: max |torch inference module - ONNX|.
        cancellation: kernel models: ``max sum_j |alpha_j k(x, c_j)|`` on the test
            split (:meth:`~l1scout.tasks.recalib.krr.KRRFit.cancellation`); float32
            rounding errors are ~1e-7 of it.
        run_id: its MLflow run (None without tracking).
        model_uri: its logged ONNX model (None without tracking).
        history: per-epoch metrics (networks).
        test_prediction: predicted physical residuals of the test split.
        model: the fitted torch module (the network, or the float32 kernel model).
        wall_seconds: wall-clock time of the whole model stage: fit, predictions,
            ONNX export and check, plots and MLflow logging (s).
    """

    key: str
    title: str
    family: Literal["nn", "krr"]
    dataset: str
    spec: NNSpec | KRRSpec
    seconds: float
    epochs: int | None
    ops: OpCount
    rmse: dict[str, float]
    improvement: dict[str, float]
    val_rmse: float
    onnx: Path
    onnx_parity: float
    onnx_parity_float32: float | None
    cancellation: float | None
    run_id: str | None
    model_uri: str | None
    history: list[dict[str, float]] = field(default_factory=list)
    test_prediction: F64 = field(default_factory=lambda: np.zeros((0, 0)))
    model: Any = None
    wall_seconds: float = 0.0


@dataclass(frozen=True)
class FirmwareCheck:
    """The hls4ml emulation of one network against its torch model.

    Attributes:
        model: the network's key.
        path: the hls4ml project folder (None if the build failed).
        events: test events compared.
        max_abs_diff: max |emulation - torch| (model-output units).
        lsb: the output format's least significant bit (None: unknown).
        within_lsb: fraction of outputs within one output LSB of torch... (NaN without an LSB).
        rmse: test RMSE per target with the emulated outputs (physical).
        rmse_torch: the same events' RMSE with the torch outputs.
        seconds: build and compile time (s).
        error: why the build failed (None: it did not).
    """

    model: str
    path: Path | None
    events: int
    max_abs_diff: float
    lsb: float | None
    within_lsb: float
    rmse: dict[str, float]
    rmse_torch: dict[str, float]
    seconds: float
    error: str | None = None


@dataclass
class StudyResult:
    """What :func:`run_study` made.

    Attributes:
        title: the study's title.
        out_dir: the output folder (report, models, plots).
        tables: dataset -> RMSE table.
        models: every fitted model.
        curves: the tuning curves.
        firmware: the firmware check (None: not run).
        parent_run_id: the MLflow parent run (None without tracking).
        tracking_uri: the MLflow tracking URI (None without tracking).
        registered: the registered best muon model (None: not registered).
        timings: wall-clock seconds per stage, in order (``samples``: event
            production, ``datasets``: reading and building the datasets, ``tracking``:
            opening the MLflow parent run, ``models``,
            ``scans``, ``firmware``, ``registry``, ``plots``), and ``total``: from
            the start of :func:`~l1scout.tasks.recalib.study.run_study` to the
            report page (the page and MLflow's copy of it take the rest).
        data: dataset -> rows per split, features, targets and match numbers.
        threads: the torch threads the models were fitted with (None: as set).
    """

    title: str
    out_dir: Path
    tables: dict[str, RMSETable]
    models: list[ModelResult]
    curves: list[TuningCurve] = field(default_factory=list)
    firmware: FirmwareCheck | None = None
    parent_run_id: str | None = None
    tracking_uri: str | None = None
    registered: RegisteredModel | None = None
    timings: dict[str, float] = field(default_factory=dict)
    data: dict[str, dict[str, Any]] = field(default_factory=dict)
    threads: int | None = None

    @property
    def report(self) -> Path:
        """The report page, ``out_dir/index.html``."""
        return self.out_dir / "index.html"

    def ops_rows(self) -> list[OpsRow]:
        """The operations table: one row per model and dataset (the dataset sets D and T)."""
        rows: list[OpsRow] = []
        for kind in ("muon", "jet"):
            for m in self.models:
                if m.dataset != kind:
                    continue
                if isinstance(m.spec, NNSpec):
                    seed = seed_figure("nn", arch=m.spec.arch)
                    note = seed_note("nn", arch=m.spec.arch)
                else:
                    seed = seed_figure("krr", centres=m.spec.centres)
                    note = seed_note("krr", centres=m.spec.centres)
                n_in, n_out = _shape(self.data, m.dataset)
                same = (n_in, n_out) == (SEED_INPUTS, SEED_OUTPUTS)  # Table 8: the seed's muons
                rows.append(
                    OpsRow(
                        label=m.title,
                        macs=m.ops.macs,
                        flops=m.ops.flops,
                        params=m.ops.params,
                        seed=seed if same else None,
                        seed_note=note if same else "",
                        dataset=m.dataset,
                        inputs=n_in,
                        outputs=n_out,
                    )
                )
        return rows

    def summary(self) -> list[str]:
        """By how much the corrected objects beat the uncorrected ones, per dataset and target.

        One line per target with the best model's RMSE against the uncorrected
        one; a change within :data:`SAME` (1%) is reported as no gain.
        """
        lines = []
        for kind, table in self.tables.items():
            if len(table.rows) < 2:
                continue
            for target in table.targets:
                best = table.best(target)
                before, after = table.baseline[target], table.rmse(best)[target]
                gain = table.improvement(best)[target]
                if gain > SAME:
                    verdict = f"beats the uncorrected L1 objects by {gain * 100:.1f}%"
                elif gain >= -SAME:
                    verdict = "is no better than the uncorrected L1 objects (within 1%)"
                else:
                    verdict = "does not beat the uncorrected L1 objects"
                lines.append(
                    f"{kind} {column_label(target)}: the best correction ({best}) {verdict}: "
                    f"RMSE {before:.4g} -> {after:.4g} ({-gain * 100:+.1f}%)"
                )
        return lines


def _shape(data: Mapping[str, Mapping[str, Any]], kind: str) -> tuple[int, int]:
    """(inputs, outputs) of a dataset's models."""
    d = data.get(kind, {})
    return len(d.get("features", ())), len(d.get("targets", ()))
