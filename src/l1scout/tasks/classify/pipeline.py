"""The classification study in one call: data -> per view and model: train, evaluate, ONNX -> MLflow -> report.

:func:`run_classify` is what ``l1scout run classify [CONFIG]`` runs. Its
stages, each timed (:data:`STAGES`, :attr:`ClassifyResult.stage_seconds`):

1. **data**: the classes' events, produced where missing, or nothing with
   ``[data] source`` (:func:`~l1scout.tasks.classify.data.ensure_classify_samples`).
2. **read**: every file (or the source's process folders) read once into the
   object and particle inputs of every view, the labels and the splits
   (:func:`~l1scout.tasks.classify.data.load_classify_data`).
3. **train**: for every view and model, :func:`~l1scout.tasks.classify.training.train_classifier`
   on the train split, early stopping on the validation split; each model is
   written to ``models/<kind>-<view>.pt`` (state dict and configuration).
4. **evaluate**: on the test split, the class probabilities, the one-vs-rest
   ROC AUC of every class and their mean (the public figure of merit; the best
   published on COLLIDE-2V is 0.935), the confusion matrix (rows: true class,
   normalised) and the trigger bits: for every class but the zero-bias one,
   the threshold on its probability that the zero-bias test events pass at
   each ``evaluation.rates_khz`` and the class's efficiency there
   (:mod:`l1scout.tasks.classify.metrics`).
5. **onnx** (``deploy.onnx``): ``onnx/<kind>-<view>.onnx``, its logits
   compared with torch on the first ``deploy.parity_events`` test events:
   at most :data:`ONNX_TOLERANCE` (1e-5) relative to the largest logit.
6. **mlflow**: one parent run (the configuration, the headline metrics, the
   report and ``summary.json``) and one nested run per view and model (its
   per-epoch losses, its metrics, its ONNX model registered as
   ``<tracking.registered_model>-<kind>-<view>`` with ``tracking.alias``).
7. **report**: :func:`~l1scout.tasks.classify.report.write_classify_report`
   (the headline table: every model's mean AUC per view, and per class the AUC
   and the trigger efficiency in FullReco against L1T), then ``summary.json``.

Every file goes under the output folder: ``models/``, ``onnx/``, ``report/``,
``summary.json`` (and the samples under ``data/`` unless ``data_dir`` is given).
"""

from __future__ import annotations

import io
import json
import logging
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from l1scout._files import atomic_write_bytes
from l1scout._timing import Timer, stage
from l1scout.tasks._tracking import with_tracking_uri
from l1scout.tasks.classify.classes import ZERO_BIAS_CLASS
from l1scout.tasks.classify.config import ClassifyConfig
from l1scout.tasks.classify.results import ONNX_TOLERANCE, ClassifyResult, ModelResult, OnnxCheck

if TYPE_CHECKING:
    from torch import nn

    from l1scout.tasks.classify.data import ClassifyData
    from l1scout.tasks.classify.training import ClassifierTrainResult, ModelInputs
    from l1scout.track.runs import TrackedRun

__all__ = [
    "ONNX_TOLERANCE",
    "STAGES",
    "ClassifyResult",
    "ModelResult",
    "OnnxCheck",
    "run_classify",
]

_log = logging.getLogger(__name__)

#: The stages, in order, as they appear in :attr:`ClassifyResult.stage_seconds`.
STAGES = ("data", "read", "train", "evaluate", "onnx", "mlflow", "report")

#: ``progress(stage, done, total)``: the production, then each training's epochs.
Progress = Callable[[str, int, int], None]


def _save_model(model: nn.Module, kind: str, path: Path, extra: Mapping[str, Any]) -> Path:
    """The state dict and the configuration of *model* in *path*, written atomically."""
    import torch

    buf = io.BytesIO()
    torch.save({"kind": kind, "state_dict": model.state_dict(), **extra}, buf)
    atomic_write_bytes(path, buf.getvalue())
    return path


def _onnx_check(model: nn.Module, test: ModelInputs, path: Path, parity_events: int) -> OnnxCheck:
    """Export *model* and compare ONNX Runtime with torch on the first test events."""
    from l1scout.tasks.classify.models import classifier_onnx_parity, export_classifier_onnx

    export_classifier_onnx(model, path, test.x[:2], test.mask[:2])  # type: ignore[arg-type]
    n = min(parity_events, test.n_events)
    diff = classifier_onnx_parity(model, path, test.x[:n], test.mask[:n])  # type: ignore[arg-type]
    check = OnnxCheck(path, n, float(diff))
    if not check.ok:
        _log.warning("%s: ONNX differs from torch by %.3g > %.0e", path, diff, ONNX_TOLERANCE)
    return check


def _evaluate(
    cfg: ClassifyConfig,
    data: ClassifyData,
    kind: str,
    view: str,
    training: ClassifierTrainResult,
    test: ModelInputs,
    model_file: Path,
) -> ModelResult:
    """The test-set figures of merit of one trained model."""
    from l1scout.tasks.classify.metrics import confusion_matrix, one_vs_rest_auc, trigger_bits
    from l1scout.tasks.classify.training import predict_probabilities

    labels = data.test.label
    n_classes = len(data.classes)
    probs = predict_probabilities(training.model, test)
    auc = np.asarray(one_vs_rest_auc(probs, labels), dtype=np.float64)
    defined = auc[np.isfinite(auc)]
    mean = float(defined.mean()) if defined.size else math.nan
    confusion = np.asarray(
        confusion_matrix(labels, probs.argmax(axis=1), n_classes, normalize="true"),
        dtype=np.float64,
    )
    bits = trigger_bits(
        probs,
        labels,
        data.classes.index(ZERO_BIAS_CLASS),
        rates_khz=cfg.evaluation.rates_khz,
        crossing_rate_khz=cfg.evaluation.crossing_rate_khz,
        class_names=data.classes,
    )
    return ModelResult(kind, view, training, model_file, auc, mean, confusion, bits, probs)


def _model_metrics(m: ModelResult, classes: tuple[str, ...]) -> dict[str, float]:
    """One model's metrics (MLflow names: letters, digits, ``. _ - /``)."""
    from l1scout.tasks.rates import format_rate

    out: dict[str, float] = {"mean_auc": m.mean_auc}
    out |= {f"auc/{name}": float(a) for name, a in zip(classes, m.auc, strict=True)}
    for bit in m.trigger_bits:
        rate = format_rate(bit.rate_khz).replace(" ", "")
        out[f"eff/{bit.class_name}/{rate}"] = float(bit.efficiency.value)
    tr = m.training
    out["train.best_epoch"] = float(tr.best_epoch)
    out["train.epochs"] = float(len(tr.history))
    out["train.seconds"] = tr.seconds
    if m.onnx is not None:
        out["onnx.max_rel_diff"] = m.onnx.max_rel_diff
    return {k: v for k, v in out.items() if math.isfinite(v)}


def _log_model_run(
    cfg: ClassifyConfig, parent: TrackedRun, m: ModelResult, classes: tuple[str, ...], digest: str
) -> None:
    """The nested run of one model and view: history, metrics, the ONNX model registered."""
    from l1scout.track.registry import register_model
    from l1scout.track.runs import start_run

    mcfg = next(c for c in cfg.models if c.kind == m.kind)
    with start_run(
        cfg.tracking.experiment,
        run_name=f"{cfg.name}-{m.key}",
        params={"model": mcfg.model_dump(mode="json"), "view": m.view},
        tags={"l1scout.task": "classify", "l1scout.view": m.view, "l1scout.model": m.kind},
        dataset_hash=digest,
        parent=parent,
    ) as run:
        for epoch, h in enumerate(m.training.history):
            run.log_metrics({k: v for k, v in h.items() if math.isfinite(v)}, step=epoch)
        run.log_metrics(_model_metrics(m, classes))
        m.run_id = run.run_id
        if m.onnx is not None:
            uri = run.log_onnx_model(m.onnx.path, name="model")
            name = f"{cfg.tracking.registered_model}-{m.key}"
            reg = register_model(uri, name, alias=cfg.tracking.alias, uri=run.uri)
            m.onnx = OnnxCheck(
                m.onnx.path,
                m.onnx.events,
                m.onnx.max_rel_diff,
                m.onnx.tolerance,
                f"{reg.name} v{reg.version} @{reg.alias}",
            )


def _summary(result: ClassifyResult, cfg: ClassifyConfig) -> dict[str, object]:
    def num(x: float) -> float | None:
        return float(x) if math.isfinite(x) else None

    models = []
    for m in result.models:
        tr = m.training
        models.append(
            {
                "kind": m.kind,
                "view": m.view,
                "mean_auc": num(m.mean_auc),
                "auc": {c: num(a) for c, a in zip(result.classes, m.auc, strict=True)},
                "confusion": [[num(x) for x in row] for row in m.confusion],
                "trigger_bits": [
                    {
                        "class": b.class_name,
                        "rate_khz": b.rate_khz,
                        "threshold": num(b.threshold),
                        "efficiency": num(b.efficiency.value),
                        "efficiency_interval": [num(b.efficiency.low), num(b.efficiency.high)],
                        "passed": b.efficiency.passed,
                        "total": b.efficiency.total,
                        "measured_rate_khz": num(b.measured_rate.rate_khz),
                        "zero_bias_passed": b.measured_rate.n_pass,
                    }
                    for b in m.trigger_bits
                ],
                "training": {
                    "best_epoch": tr.best_epoch,
                    "epochs": len(tr.history),
                    "stopped_early": tr.stopped_early,
                    "seconds": tr.seconds,
                },
                "model_file": str(m.model_file),
                "onnx": None
                if m.onnx is None
                else {
                    "path": str(m.onnx.path),
                    "events": m.onnx.events,
                    "max_rel_diff": m.onnx.max_rel_diff,
                    "ok": m.onnx.ok,
                    "registered": m.onnx.registered,
                },
                "run_id": m.run_id,
            }
        )
    return {
        "name": cfg.name,
        "run_id": result.run_id,
        "dataset_hash": result.dataset_hash,
        "source": result.source,
        "report": str(result.report),
        "classes": list(result.classes),
        "views": list(result.views),
        "events": result.events,
        "class_events": result.class_events,
        "mean_auc": {
            k: {v: num(x) for v, x in row.items()} for k, row in result.mean_auc_table().items()
        },
        "models": models,
        "stage_seconds": result.stage_seconds,
    }


def _header(cfg: ClassifyConfig, data: ClassifyData, digest: str) -> dict[str, str]:
    """The report's setup lines."""
    d = cfg.data
    where = (
        f"read from {d.source} (COLLIDE-2V layout)"
        if d.source
        else f"produced, pileup {d.pileup:g}, plan seed {d.seed}"
    )
    splits = ", ".join(f"{k} {s.n_events}" for k, s in data.splits().items())
    models = "; ".join(
        f"{m.kind}: width {m.width}, {m.n_heads} heads, {m.n_layers} layers, ff {m.ff_dim}"
        if m.kind == "transformer"
        else f"{m.kind}: {m.hidden_layers} x {m.hidden} hidden"
        for m in cfg.models
    )
    t = cfg.training
    return {
        "config": cfg.name,
        "data": f"{len(data.classes)} classes x {d.events_per_class} events, {where}",
        "events": f"{splits} (train, validation, test)",
        "views": ", ".join(d.views),
        "models": models,
        "training": (
            f"Adam, learning rate {t.learning_rate:g}, batch {t.batch_size}, at most "
            f"{t.max_epochs} epochs, patience {t.patience}, seed {t.seed}"
        ),
        "dataset hash": digest,
    }


def run_classify(
    cfg: ClassifyConfig,
    out: Path | str,
    data_dir: Path | str | None = None,
    *,
    tracking_uri: str | None = None,
    progress: Progress | None = None,
) -> ClassifyResult:
    """Run the classification study of *cfg* into the folder *out* (module docstring).

    Args:
        cfg: the task's configuration.
        out: the output folder (models, ONNX files, report, ``summary.json``).
        data_dir: where the samples are, and are produced if missing (default
            ``<out>/data``; unused with ``[data] source``).
        tracking_uri: replaces ``tracking.uri`` (None: the config's, else
            ``$MLFLOW_TRACKING_URI``, else the local store).
        progress: ``progress(stage, done, total)`` for the production and the trainings.

    Raises:
        ConfigError: a tracking URI of a scheme MLflow does not know (checked first).
        ProductionError: the samples could not be produced.
        DataFormatError: the files lack a column, or a split has no event.
        L1ScoutError: a training diverged.
    """
    from l1scout.tasks._threads import torch_threads
    from l1scout.tasks.classify.data import ensure_classify_samples, load_classify_data
    from l1scout.tasks.classify.report import write_classify_report
    from l1scout.tasks.classify.training import model_inputs, train_classifier
    from l1scout.track.runs import start_run

    cfg = with_tracking_uri(cfg, tracking_uri)
    out = Path(out)
    data_path = Path(data_dir) if data_dir is not None else out / "data"
    times: Timer = {}
    tc = cfg.training

    with stage(times, "data"):
        files, digest = ensure_classify_samples(cfg, data_path, progress=progress)
    with stage(times, "read"):
        data = load_classify_data(cfg, files)
    n_classes = len(data.classes)
    results: list[ModelResult] = []
    for view in data.views:
        for mcfg in cfg.models:
            kind, key = mcfg.kind, f"{mcfg.kind}-{view}"
            split_inputs = {
                name: model_inputs(kind, s.views[view]) for name, s in data.splits().items()
            }

            def on_epoch(epoch: int, metrics: Mapping[str, float], key: str = key) -> None:
                if progress is not None:
                    progress(f"train {key}", epoch + 1, tc.max_epochs)
                _log.info(
                    "%s epoch %d: loss %.4f, val_loss %.4f",
                    key,
                    epoch,
                    metrics["loss"],
                    metrics["val_loss"],
                )

            with stage(times, "train"):
                training = train_classifier(
                    mcfg,
                    (split_inputs["train"], data.train.label),
                    (split_inputs["validation"], data.validation.label),
                    n_classes,
                    tc,
                    on_epoch=on_epoch,
                )
                if progress is not None:  # early stopping: close the bar
                    progress(f"train {key}", tc.max_epochs, tc.max_epochs)
                model_file = _save_model(
                    training.model,
                    kind,
                    out / "models" / f"{key}.pt",
                    {
                        "config": mcfg.model_dump(mode="json"),
                        "view": view,
                        "classes": list(data.classes),
                    },
                )
            with stage(times, "evaluate"), torch_threads(tc.threads):
                result = _evaluate(
                    cfg, data, kind, view, training, split_inputs["test"], model_file
                )
            with stage(times, "onnx"), torch_threads(tc.threads):
                if cfg.deploy.onnx:
                    result.onnx = _onnx_check(
                        training.model,
                        split_inputs["test"],
                        out / "onnx" / f"{key}.onnx",
                        cfg.deploy.parity_events,
                    )
            _log.info("%s: mean AUC %.4f", key, result.mean_auc)
            results.append(result)

    result_all = ClassifyResult(
        report=out / "report" / "report.html",
        summary=out / "summary.json",
        classes=data.classes,
        views=data.views,
        rates_khz=cfg.evaluation.rates_khz,
        crossing_rate_khz=cfg.evaluation.crossing_rate_khz,
        labels=data.test.label,
        models=results,
        events={k: s.n_events for k, s in data.splits().items()},
        class_events={k: s.class_counts(n_classes).tolist() for k, s in data.splits().items()},
        dataset_hash=digest,
        source=cfg.data.source,
    )
    with start_run(
        cfg.tracking.experiment,
        run_name=cfg.name,
        params={"classify": cfg.model_dump(mode="json")},
        tags={"l1scout.stage": "pipeline", "l1scout.task": "classify"},
        dataset_hash=digest,
        uri=cfg.tracking.uri,
    ) as run:
        result_all.run_id = run.run_id
        with stage(times, "mlflow"):
            for m in results:
                _log_model_run(cfg, run, m, data.classes, digest)
            run.log_metrics(
                {
                    f"mean_auc/{k}/{v}": x
                    for k, row in result_all.mean_auc_table().items()
                    for v, x in row.items()
                    if math.isfinite(x)
                }
            )
        with stage(times, "report"):
            report = write_classify_report(
                result_all, out / "report", header=_header(cfg, data, digest), timing=dict(times)
            )
        result_all.report = report
        result_all.stage_seconds = dict(times)
        text = json.dumps(_summary(result_all, cfg), indent=2, default=_json_default)
        atomic_write_bytes(result_all.summary, text.encode())
        run.log_artifact(report.parent, "report")
        run.log_artifact(result_all.summary)
    return result_all


def _json_default(value: object) -> object:
    """JSON for numpy scalars and paths; anything else as its text."""
    if isinstance(value, np.generic):
        return value.item()
    return str(value)
