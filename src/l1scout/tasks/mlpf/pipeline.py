"""The MLPF task in one call: data -> training -> evaluation -> ONNX, Triton -> MLflow -> report.

:func:`run_mlpf` is what ``l1scout run mlpf [CONFIG]`` runs. Its stages, each
timed (:data:`STAGES`, :attr:`MLPFPipelineResult.stage_seconds`):

1. **data**: the samples, produced where missing
   (:func:`~l1scout.tasks.mlpf.data.ensure_mlpf_samples`).
2. **read**: the files read one at a time into the elements and targets of
   each split, and the evaluation columns of the test events
   (:func:`~l1scout.tasks.mlpf.data.load_mlpf_data`).
3. **train**: :func:`~l1scout.tasks.mlpf.training.train_mlpf` on the train
   split, early stopping on the validation split; the model is written to
   ``models/mlpf.pt`` (:func:`~l1scout.tasks.mlpf.training.save_mlpf_model`,
   atomically).
4. **predict**: the model on the test events, its outputs put back in the
   files' element order through each padded batch's ``index`` and decoded
   (:func:`~l1scout.tasks.mlpf.training.predict_mlpf`).
5. **evaluate**: MLPF, MLPF with its pileup flag, PF+CHS and PUPPI on jets,
   MET, particles and the pileup ROC (:func:`~l1scout.tasks.mlpf.study.evaluate_mlpf`),
   on all test events and, with more than one sample, on each sample's
   test events alone (top-quark pairs and QCD separately).
6. **onnx** (``deploy.onnx``): ``onnx/mlpf.onnx``
   (:func:`~l1scout.tasks.mlpf.model.export_mlpf`), checked against torch on
   the first ``deploy.parity_events`` (100) test events, a few events per
   batch (:func:`~l1scout.tasks.mlpf.model.mlpf_onnx_parity`): at most
   :data:`REGRESSION_TOLERANCE` (1e-4) relative on the regression and the
   same argmax of every classification output.
7. **triton** (``deploy.triton``): a Triton model repository beside the
   ONNX file, ``onnx/triton/mlpf/config.pbtxt`` and
   ``onnx/triton/mlpf/1/model.onnx`` (:func:`l1scout.deploy.triton.write_triton_repository`).
8. **mlflow**: one run: the configuration as parameters, the per-epoch losses
   (step = epoch), the evaluation's metrics, the parity and the stage times;
   the ONNX model logged and registered as ``tracking.registered_model`` with
   ``tracking.alias``; tagged with the dataset hash.
9. **transfer** (``transfer.enabled``): the pre-trained model fine-tuned
   and a model trained from scratch on a second detector card's samples, by
   training-set size and seed (:func:`~l1scout.tasks.mlpf.transfer.run_transfer`);
   its table, plot and metrics go into the report, the summary and the run.
10. **report**: :func:`~l1scout.tasks.mlpf.report.write_mlpf_report`, then
    ``summary.json`` (written atomically) beside it; both logged as artifacts.

Every file goes under the output folder: ``models/mlpf.pt``,
``onnx/mlpf.onnx``, ``onnx/triton/``, ``report/``, ``summary.json`` (and the
samples under ``data/`` unless ``data_dir`` is given).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from l1scout._files import atomic_write_bytes
from l1scout._timing import Timer, stage
from l1scout.tasks._tracking import with_tracking_uri
from l1scout.tasks.mlpf.config import MLPFConfig

if TYPE_CHECKING:
    from l1scout.tasks.mlpf.data import MLPFData, MLPFSplit
    from l1scout.tasks.mlpf.model import MLPFModel
    from l1scout.tasks.mlpf.study import MLPFEvaluation
    from l1scout.tasks.mlpf.training import MLPFTrainResult
    from l1scout.tasks.mlpf.transfer import TransferStudy
    from l1scout.track.runs import TrackedRun

__all__ = [
    "MODEL_NAME",
    "REGRESSION_TOLERANCE",
    "STAGES",
    "MLPFOnnxCheck",
    "MLPFPipelineResult",
    "run_mlpf",
]

_log = logging.getLogger(__name__)

#: The stages, in order, as they appear in :attr:`MLPFPipelineResult.stage_seconds`.
STAGES = (
    "data",
    "read",
    "train",
    "predict",
    "evaluate",
    "onnx",
    "triton",
    "mlflow",
    "transfer",
    "report",
)
#: Largest relative |ONNX - torch| of the regression outputs (above 1; absolute below).
REGRESSION_TOLERANCE = 1e-4
#: The model's file name (``models/<name>.pt``, ``onnx/<name>.onnx``) and Triton name.
MODEL_NAME = "mlpf"

#: ``progress(stage, done, total)``: the production, then the training's epochs.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class MLPFOnnxCheck:
    """The ONNX export and its parity with torch on test events.

    Attributes:
        path: the ``.onnx`` file.
        events: test events compared.
        regression: largest relative difference of the regression outputs
            (:class:`~l1scout.tasks.mlpf.model.MLPFParity`).
        logits: largest absolute difference of any logit.
        same_argmax: the particle, class and pileup argmax agree on every real element.
        tolerance: :data:`REGRESSION_TOLERANCE`.
        registered: ``"<name> v<version> @<alias>"`` in the MLflow registry.
    """

    path: Path
    events: int
    regression: float
    logits: float
    same_argmax: bool
    tolerance: float = REGRESSION_TOLERANCE
    registered: str = ""

    @property
    def ok(self) -> bool:
        """Whether the regression is within the tolerance and every argmax agrees."""
        return self.same_argmax and self.regression <= self.tolerance


@dataclass
class MLPFPipelineResult:
    """What :func:`run_mlpf` made.

    Attributes:
        report: the HTML report.
        summary: ``summary.json``.
        evaluation: the evaluation on the test events.
        by_sample: the evaluation of each sample's test events alone (sample
            process -> evaluation; empty with one sample).
        transfer: the transfer study (None: ``transfer.enabled`` off).
        training: the trained model and its history.
        model_file: ``models/mlpf.pt``.
        onnx: the ONNX check (None: ``deploy.onnx`` off).
        triton: the Triton ``config.pbtxt`` (None: skipped).
        events: events per split.
        stage_seconds: wall time of each stage (s).
        run_id: the MLflow run's id.
        dataset_hash: the samples' hash.
    """

    report: Path
    summary: Path
    evaluation: MLPFEvaluation
    training: MLPFTrainResult
    model_file: Path
    by_sample: dict[str, MLPFEvaluation] = field(default_factory=dict)
    transfer: TransferStudy | None = None
    onnx: MLPFOnnxCheck | None = None
    triton: Path | None = None
    events: dict[str, int] = field(default_factory=dict)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    run_id: str = ""
    dataset_hash: str = ""


def _onnx_check(cfg: MLPFConfig, model: MLPFModel, test: MLPFSplit, folder: Path) -> MLPFOnnxCheck:
    """Export *model* and compare ONNX Runtime with torch on the first test events, batch by batch."""
    from l1scout.tasks.mlpf.features import pad_events
    from l1scout.tasks.mlpf.model import export_mlpf, mlpf_onnx_parity
    from l1scout.tasks.mlpf.training import event_batches, subset_elements

    path = export_mlpf(model, folder / f"{MODEL_NAME}.onnx")
    n = min(cfg.deploy.parity_events, test.n_events)
    counts = test.element_counts()[:n]
    w = model.config.bin_size
    groups = event_batches(
        counts,
        batch_events=cfg.training.batch_events,
        batch_elements=cfg.training.batch_elements,
        multiple=w,
    )
    regression, logits, same = 0.0, 0.0, True
    for ev in groups:
        sub, _ = subset_elements(test.elements, ev)
        x = pad_events(sub, multiple=w).x
        parity = mlpf_onnx_parity(model, path, x, threads=cfg.training.threads)
        regression = max(regression, parity.regression)
        logits = max(logits, parity.logits)
        same = same and parity.same_argmax
    check = MLPFOnnxCheck(path, n, regression, logits, same)
    if not check.ok:
        _log.warning(
            "%s: ONNX differs from torch (regression %.3g > %.3g, or an argmax differs: %s)",
            path,
            regression,
            REGRESSION_TOLERANCE,
            not same,
        )
    return check


def _triton(onnx_path: Path) -> Path:
    """The Triton model repository beside *onnx_path* (``triton/mlpf/``); its ``config.pbtxt``."""
    from l1scout.deploy.triton import write_triton_repository

    return write_triton_repository(onnx_path, onnx_path.parent / "triton", model_name=MODEL_NAME)


def _finite(metrics: Mapping[str, float]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if math.isfinite(float(v))}


def _metrics(
    evaluation: MLPFEvaluation,
    training: MLPFTrainResult,
    onnx: MLPFOnnxCheck | None,
    times: Mapping[str, float],
    by_sample: Mapping[str, MLPFEvaluation],
    transfer: TransferStudy | None,
) -> dict[str, float]:
    """The run's metrics (names: letters, digits, ``. _ - /``).

    Per sample: ``sample.<process>.<metric>``; the transfer study:
    ``transfer.<mode>.n<events>.{jet_resolution, met_resolution}`` (mean over
    seeds) and ``transfer.{pretrained, pf_chs}.{jet_resolution, met_resolution}``.
    """
    from l1scout.tasks.mlpf.study import metric_slug

    out = dict(evaluation.metrics())
    for name, ev in by_sample.items():
        out.update({f"sample.{metric_slug(name)}.{k}": v for k, v in ev.metrics().items()})
    if transfer is not None:
        out.update(_transfer_metrics(transfer))
    best = training.history[training.best_epoch] if training.history else {}
    out["train.best_epoch"] = float(training.best_epoch)
    out["train.epochs"] = float(len(training.history))
    out["train.seconds"] = training.seconds
    if best:
        out["train.best_val_loss"] = best["val_loss"]
    if onnx is not None:
        out["onnx.regression_rel_diff"] = onnx.regression
        out["onnx.logits_abs_diff"] = onnx.logits
        out["onnx.same_argmax"] = float(onnx.same_argmax)
        out["onnx.events"] = float(onnx.events)
    out.update({f"stage.{k}.seconds": v for k, v in times.items()})
    return _finite(out)


def _transfer_metrics(study: TransferStudy) -> dict[str, float]:
    from l1scout.tasks.mlpf.study import metric_slug

    out: dict[str, float] = {}
    for row in study.table():
        mode = str(row["mode"])
        key = (
            "pretrained"
            if mode.startswith("pre-trained")
            else "pf_chs"
            if float(row["training events"]) == 0.0
            else f"{metric_slug(mode)}.n{int(float(row['training events']))}"
        )
        out[f"transfer.{key}.jet_resolution"] = float(row["jet resolution"])
        out[f"transfer.{key}.met_resolution"] = float(row["MET resolution"])
    return out


def _evaluate_by_sample(
    cfg: MLPFConfig, data: MLPFData, predictions: Mapping[str, np.ndarray]
) -> dict[str, MLPFEvaluation]:
    """Each sample's test events evaluated alone (empty with one sample)."""
    from l1scout.tasks.mlpf.study import evaluate_mlpf
    from l1scout.tasks.mlpf.training import subset_elements
    from l1scout.tasks.mlpf.transfer import subset_split

    test = data.test
    if len(data.samples) < 2:
        return {}
    out: dict[str, MLPFEvaluation] = {}
    for i, name in enumerate(data.samples):
        events = np.flatnonzero(test.sample == i)
        if events.size == 0:
            continue
        sub = subset_split(test, events)
        _, rows = subset_elements(test.elements, events)
        pred = {k: np.asarray(v)[rows] for k, v in predictions.items()}
        out[name] = evaluate_mlpf(
            sub.columns or {}, cfg.data.view_name, pred, sub.targets, cfg.evaluation
        )
    return out


def _header(cfg: MLPFConfig, data: MLPFData, digest: str, model_file: Path) -> dict[str, str]:
    """The report's setup lines."""
    test = data.test
    samples = ", ".join(
        f"{name} ({int(np.sum(test.sample == i))} test events)"
        for i, name in enumerate(data.samples)
    )
    splits = ", ".join(f"{k} {s.n_events}" for k, s in data.splits().items())
    m = cfg.model
    return {
        "config": cfg.name,
        "samples": f"{samples}; pileup {cfg.data.pileup:g}, {cfg.data.view} view",
        "events": f"{splits} (train, validation, test)",
        "elements per test event": f"{test.n_elements / max(test.n_events, 1):.0f} (tracks and towers)",
        "model": (
            f"{m.n_layers} layers x {m.n_heads} heads, width {m.width}, attention windows "
            f"of {m.bin_size} elements; saved in {model_file}"
        ),
        "dataset hash": digest,
    }


def _log_run(
    cfg: MLPFConfig,
    run: TrackedRun,
    training: MLPFTrainResult,
    onnx: MLPFOnnxCheck | None,
) -> MLPFOnnxCheck | None:
    """The per-epoch losses; the ONNX model logged and registered (the check gains its name)."""
    from l1scout.track.registry import register_model

    for epoch, metrics in enumerate(training.history):
        run.log_metrics(_finite(metrics), step=epoch)
    if onnx is None:
        return None
    uri = run.log_onnx_model(onnx.path, name="model")
    tracking = cfg.tracking
    reg = register_model(uri, tracking.registered_model, alias=tracking.alias, uri=run.uri)
    return MLPFOnnxCheck(
        onnx.path,
        onnx.events,
        onnx.regression,
        onnx.logits,
        onnx.same_argmax,
        onnx.tolerance,
        f"{reg.name} v{reg.version} @{reg.alias}",
    )


def _summary(result: MLPFPipelineResult, cfg: MLPFConfig) -> dict[str, object]:
    tr = result.training
    onnx = result.onnx
    return {
        "name": cfg.name,
        "run_id": result.run_id,
        "dataset_hash": result.dataset_hash,
        "report": str(result.report),
        "events": result.events,
        "model_file": str(result.model_file),
        "training": {
            "best_epoch": tr.best_epoch,
            "epochs": len(tr.history),
            "stopped_early": tr.stopped_early,
            "seconds": tr.seconds,
            "best_val_loss": tr.history[tr.best_epoch]["val_loss"] if tr.history else None,
        },
        "metrics": {
            k: (v if math.isfinite(v) else None) for k, v in result.evaluation.metrics().items()
        },
        "onnx": None if onnx is None else asdict(onnx) | {"path": str(onnx.path), "ok": onnx.ok},
        "triton": None if result.triton is None else str(result.triton),
        "by_sample": {
            name: {k: (v if math.isfinite(v) else None) for k, v in ev.metrics().items()}
            for name, ev in result.by_sample.items()
        },
        "transfer": None if result.transfer is None else result.transfer.table(),
        "stage_seconds": result.stage_seconds,
    }


def run_mlpf(
    cfg: MLPFConfig,
    out: Path | str,
    data_dir: Path | str | None = None,
    *,
    tracking_uri: str | None = None,
    progress: Progress | None = None,
) -> MLPFPipelineResult:
    """Run the whole MLPF task of *cfg* into the folder *out* (module docstring).

    Args:
        cfg: the task's configuration.
        out: the output folder (model, ONNX, Triton repository, report, ``summary.json``).
        data_dir: where the samples are, and are produced if missing
            (default ``<out>/data``).
        tracking_uri: replaces ``tracking.uri`` (None: the config's, else
            ``$MLFLOW_TRACKING_URI``, else the local store).
        progress: ``progress(stage, done, total)`` for the production and the training.

    Returns:
        The report, the summary, the evaluation, the training, the checks, the
        wall time of each stage (s) and the MLflow run's id.

    Raises:
        ConfigError: a tracking URI of a scheme MLflow does not know (checked
            before any work).
        ProductionError: the samples could not be produced.
        DataFormatError: the files lack a column, or a split has no event.
        L1ScoutError: the training diverged.
    """
    from l1scout.tasks._threads import torch_threads
    from l1scout.tasks.mlpf.data import ensure_mlpf_samples, load_mlpf_data
    from l1scout.tasks.mlpf.report import write_mlpf_report
    from l1scout.tasks.mlpf.study import evaluate_mlpf
    from l1scout.tasks.mlpf.training import (
        predict_mlpf,
        save_mlpf_model,
        train_mlpf,
    )
    from l1scout.tasks.mlpf.transfer import run_transfer
    from l1scout.track.runs import start_run

    cfg = with_tracking_uri(cfg, tracking_uri)
    out = Path(out)
    data_path = Path(data_dir) if data_dir is not None else out / "data"
    times: Timer = {}
    tc = cfg.training

    with stage(times, "data"):
        files, digest = ensure_mlpf_samples(cfg, data_path, progress=progress)
    with stage(times, "read"):
        data = load_mlpf_data(files, view=cfg.data.view_name, fractions=cfg.splits.fractions)

    def on_epoch(epoch: int, metrics: Mapping[str, float]) -> None:
        if progress is not None:
            progress("train mlpf", epoch + 1, tc.max_epochs)
        _log.info("epoch %d: loss %.4f, val_loss %.4f", epoch, metrics["loss"], metrics["val_loss"])

    with stage(times, "train"):
        training = train_mlpf(
            data.train, data.validation, cfg.model, cfg.loss, tc, on_epoch=on_epoch
        )
        if progress is not None:  # early stopping: close the bar
            progress("train mlpf", tc.max_epochs, tc.max_epochs)
        model_file = save_mlpf_model(
            training.model,
            out / "models" / f"{MODEL_NAME}.pt",
            training={"best_epoch": training.best_epoch, "epochs": len(training.history)},
        )
    with stage(times, "predict"), torch_threads(tc.threads):
        test = data.test
        predictions = predict_mlpf(
            training.model,
            test.elements,
            batch_events=tc.batch_events,
            batch_elements=tc.batch_elements,
        )
    with stage(times, "evaluate"):
        evaluation = evaluate_mlpf(
            test.columns or {}, cfg.data.view_name, predictions, test.targets, cfg.evaluation
        )
        by_sample = _evaluate_by_sample(cfg, data, predictions)
    onnx: MLPFOnnxCheck | None = None
    with stage(times, "onnx"), torch_threads(tc.threads):
        if cfg.deploy.onnx:
            onnx = _onnx_check(cfg, training.model, test, out / "onnx")
    triton: Path | None = None
    with stage(times, "triton"):
        if cfg.deploy.triton and onnx is not None:
            triton = _triton(onnx.path)

    with start_run(
        cfg.tracking.experiment,
        run_name=cfg.name,
        params={"mlpf": cfg.model_dump(mode="json")},
        tags={"l1scout.stage": "pipeline", "l1scout.task": "mlpf"},
        dataset_hash=digest,
        uri=cfg.tracking.uri,
    ) as run:
        with stage(times, "mlflow"):
            onnx = _log_run(cfg, run, training, onnx)
        transfer: TransferStudy | None = None
        with stage(times, "transfer"), torch_threads(tc.threads):
            if cfg.transfer.enabled:
                transfer = run_transfer(cfg, training.model, data_path, progress=progress)
        with stage(times, "report"):
            report = write_mlpf_report(
                evaluation,
                out / "report",
                header=_header(cfg, data, digest, model_file),
                history=training.curves(),
                timing=dict(times),
                by_sample=by_sample,
                transfer=transfer,
            )
        result = MLPFPipelineResult(
            report=report,
            summary=out / "summary.json",
            evaluation=evaluation,
            training=training,
            model_file=model_file,
            by_sample=by_sample,
            transfer=transfer,
            onnx=onnx,
            triton=triton,
            events={k: s.n_events for k, s in data.splits().items()},
            stage_seconds=dict(times),
            run_id=run.run_id,
            dataset_hash=digest,
        )
        text = json.dumps(_summary(result, cfg), indent=2, default=_json_default)
        atomic_write_bytes(result.summary, text.encode())
        run.log_metrics(_metrics(evaluation, training, onnx, times, by_sample, transfer))
        run.log_artifact(report.parent, "report")
        run.log_artifact(result.summary)
        run.log_artifact(model_file, "models")
        if onnx is not None:
            run.log_artifact(out / "onnx", "onnx")
    return result


def _json_default(value: object) -> object:
    """JSON for numpy scalars and paths; anything else as its text."""
    if isinstance(value, np.generic):
        return value.item()
    return str(value)
