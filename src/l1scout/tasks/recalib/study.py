"""The re-calibration study (``docs/physics/l1-algorithms.md``) as one call: data, models, tables, deployment, tracking, report.

:func:`run_study` runs a :class:`~l1scout.tasks.recalib.config.RecalibConfig`:

1. the muon and jet :class:`~l1scout.tasks.recalib.dataset.RegressionData`
   (made from events produced or read per ``[data]``, or passed in);
2. every model of the study fitted on its datasets (networks:
   :mod:`~l1scout.tasks.recalib.nn`; Nystrom kernel ridge regression:
   :mod:`~l1scout.tasks.recalib.krr`), each an MLflow child run of one parent
   run (parameters, per-epoch metrics, RMSE metrics, its ONNX file);
3. the RMSE table per dataset in the seed's form (:mod:`~l1scout.tasks.recalib.metrics`:
   the corrected objects against offline, the pT corrected as ``pT_L1 / (1 - r)``)
   and the operations per inference (:mod:`~l1scout.tasks.recalib.ops`);
4. every model exported to ONNX (the kernel models as kernel + matrix product)
   and run with ONNX Runtime on the test split: the largest difference to the
   fitted model is recorded;
5. the tuning curves of the ``[[scans]]``;
6. the hls4ml emulation of the small network (``32x3``), with its agreement
   to the torch model on test events;
7. the best muon model (lowest validation RMSE) registered with an alias;
8. the report (:mod:`~l1scout.tasks.recalib.report`): tables, by how much the
   corrected objects beat the uncorrected ones per target, plots, and the
   wall-clock time of every stage and of the whole study
   (:attr:`~l1scout.tasks.recalib.results.StudyResult.timings`).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from l1scout._types import F64
from l1scout.errors import ConfigError, L1ScoutError
from l1scout.tasks._tracking import check_tracking_uri
from l1scout.tasks.recalib.config import KRRSpec, NNSpec, RecalibConfig
from l1scout.tasks.recalib.metrics import column_label, correction_rmse, pt_cap, rmse_table
from l1scout.tasks.recalib.results import FirmwareCheck, ModelResult, StudyResult

if TYPE_CHECKING:
    import torch

    from l1scout.tasks.recalib.dataset import RegressionData

__all__ = ["ProgressFn", "run_study"]

_log = logging.getLogger(__name__)

#: ``progress(stage, done, total)``, as :func:`l1scout.cli._common.progress_bars` draws it.
ProgressFn = Callable[[str, int, int], None]
DATASETS: tuple[Literal["muon", "jet"], ...] = ("muon", "jet")


class _Run(Protocol):
    run_id: str

    def log_params(self, params: Mapping[str, Any]) -> None: ...
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None: ...
    def log_artifact(self, path: Path | str, subdir: str | None = None) -> None: ...
    def set_tags(self, tags: Mapping[str, str]) -> None: ...
    def log_onnx_model(self, path: Path | str, name: str = "model") -> str: ...


class _Tracker:
    """Opens MLflow runs through :mod:`l1scout.track`, or nothing when tracking is off."""

    def __init__(self, enabled: bool, experiment: str, uri: str | None) -> None:
        self.enabled = enabled
        self.experiment = experiment
        self.uri = uri

    @contextlib.contextmanager
    def run(
        self,
        name: str,
        *,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        dataset_hash: str | None = None,
        parent: _Run | None = None,
    ) -> Iterator[_Run | None]:
        if not self.enabled:
            yield None
            return
        from l1scout.track.runs import TrackedRun, start_run

        run = start_run(
            self.experiment,
            run_name=name,
            params=params,
            tags=tags,
            dataset_hash=dataset_hash,
            uri=self.uri,
            parent=parent if isinstance(parent, TrackedRun) else None,
        )
        with run as active:
            yield active


def _data_hash(datasets: Mapping[str, RegressionData]) -> str:
    """sha256 over every split's arrays (inputs and residuals) of every dataset, in order."""
    h = hashlib.sha256()
    for kind in sorted(datasets):
        d = datasets[kind]
        h.update(kind.encode())
        for split in sorted(d.x):
            for arr in (d.x_physical[split], d.residual[split]):
                a = np.ascontiguousarray(arr)
                h.update(str(a.shape).encode())
                h.update(a.tobytes())
    return h.hexdigest()


def _flat(prefix: str, values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in values.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, Mapping):
            out.update(_flat(key, v))
        elif isinstance(v, list | tuple):
            out[key] = ",".join(str(x) for x in v)
        else:
            out[key] = v
    return out


def _metric_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._-/" else "_" for c in text)


def _pt_cap(data: RegressionData) -> float | None:
    """The cap of the predicted pT residual: the training split's largest (metrics.pt_cap)."""
    return pt_cap(data.residual["train"], data.target_names)


def _physical_scorer(data: RegressionData) -> Callable[[F64], dict[str, float]]:
    cap = _pt_cap(data)

    def score(pred_std: F64) -> dict[str, float]:
        pred = data.unscale_targets(pred_std)
        r = correction_rmse(data.residual["val"], pred, data.target_names, pt_cap=cap)
        return {column_label(t): v for t, v in r.items()}

    return score


def _fit(
    spec: NNSpec | KRRSpec,
    data: RegressionData,
    threads: int | None,
    run: _Run | None,
) -> tuple[Any, torch.nn.Module, float, int | None, list[dict[str, float]]]:
    """(fit object, torch module, seconds, epochs, history)."""
    if isinstance(spec, NNSpec):
        from l1scout.tasks.recalib.nn import fit_network

        def on_epoch(epoch: int, metrics: Mapping[str, float]) -> None:
            if run is not None:
                run.log_metrics({k: v for k, v in metrics.items() if k != "epoch"}, step=epoch)

        nn_fit = fit_network(
            spec.arch,
            data.x["train"],
            data.y["train"],
            data.x["val"],
            data.y["val"],
            loss=spec.loss,
            weight_decay=spec.weight_decay,
            batch_size=spec.batch_size,
            learning_rate=spec.learning_rate,
            epochs=spec.epochs,
            patience=spec.patience,
            seed=spec.seed,
            threads=threads,
            on_epoch=on_epoch,
        )
        return nn_fit, nn_fit.model, nn_fit.seconds, len(nn_fit.history), nn_fit.history
    from l1scout.tasks.recalib.krr import fit_krr

    krr_fit = fit_krr(data.x["train"], data.y["train"], **spec.fit_kwargs())
    return krr_fit, krr_fit.model, krr_fit.seconds, None, []


def _fit_one(
    spec: NNSpec | KRRSpec,
    data: RegressionData,
    kind: str,
    out: Path,
    tracker: _Tracker,
    parent: _Run | None,
    threads: int | None,
    data_hash: str,
    plots: bool,
) -> ModelResult:
    from l1scout.deploy.onnx import OnnxModel, export_onnx
    from l1scout.tasks.recalib.ops import model_ops

    start = time.perf_counter()
    n_inputs = len(data.feature_names)
    cap = _pt_cap(data)
    params = {
        **_flat("", spec.model_dump(exclude={"datasets"})),
        "dataset": kind,
        "features": ",".join(data.feature_names),
        "targets": ",".join(data.target_names),
        **{f"rows.{s}": n for s, n in data.sizes.items()},
    }
    tags = {"l1scout.task": "recalib", "recalib.dataset": kind, "recalib.family": spec.kind}
    with tracker.run(
        f"{kind}/{spec.key}", params=params, tags=tags, dataset_hash=data_hash, parent=parent
    ) as run:
        fit, module, seconds, epochs, history = _fit(spec, data, threads, run)
        x_test = data.x["test"]
        pred_std = np.asarray(fit.predict(x_test), dtype=np.float64)
        val_std = np.asarray(fit.predict(data.x["val"]), dtype=np.float64)
        val_rmse = float(np.sqrt(np.mean((val_std - data.y["val"]) ** 2)))
        pred = data.unscale_targets(pred_std)
        rmse = correction_rmse(data.residual["test"], pred, data.target_names, pt_cap=cap)
        base = correction_rmse(data.residual["test"], np.zeros_like(pred), data.target_names)
        improvement = {t: (1.0 - rmse[t] / base[t]) if base[t] > 0 else 0.0 for t in rmse}
        ops = model_ops(module, n_inputs)
        onnx_path = export_onnx(
            module, n_inputs, out / "models" / kind / f"{spec.key}.onnx", output_names=("residual",)
        )
        onnx_pred = OnnxModel(onnx_path).predict(np.ascontiguousarray(x_test, dtype=np.float32))
        parity = float(np.max(np.abs(onnx_pred - pred_std))) if len(x_test) else 0.0
        parity32: float | None = None
        scale: float | None = None
        if isinstance(spec, KRRSpec):
            torch32 = np.asarray(fit.model.predict(x_test), dtype=np.float64)
            parity32 = float(np.max(np.abs(onnx_pred - torch32))) if len(x_test) else 0.0
            scale = fit.cancellation(x_test)
        model_uri: str | None = None
        if run is not None:
            metrics: dict[str, float] = {
                "train_seconds": seconds,
                "val_rmse": val_rmse,
                "ops.macs": float(ops.macs),
                "ops.flops": float(ops.flops),
                "ops.params": float(ops.params),
                "onnx.parity": parity,
            }
            for t in rmse:
                col = _metric_name(column_label(t))
                metrics[f"rmse.{col}"] = rmse[t]
                metrics[f"improvement.{col}"] = improvement[t]
            if parity32 is not None and scale is not None:
                metrics["onnx.parity_float32"] = parity32
                metrics["onnx.cancellation"] = scale
            run.log_metrics(metrics)
            model_uri = run.log_onnx_model(onnx_path, name=spec.key)
            if plots:
                from l1scout.tasks.recalib.report import plot_model

                png = out / "models" / kind / f"{spec.key}.png"
                for path in plot_model(data, spec.title, pred, png, history, pt_cap=cap):
                    run.log_artifact(path, subdir="plots")
    return ModelResult(
        key=spec.key,
        title=spec.title,
        family=spec.kind,
        dataset=kind,
        spec=spec,
        seconds=seconds,
        epochs=epochs,
        ops=ops,
        rmse=rmse,
        improvement=improvement,
        val_rmse=val_rmse,
        onnx=onnx_path,
        onnx_parity=parity,
        onnx_parity_float32=parity32,
        cancellation=scale,
        run_id=run.run_id if run is not None else None,
        model_uri=model_uri,
        history=history,
        test_prediction=pred,
        model=module,
        wall_seconds=time.perf_counter() - start,
    )


def _firmware(result: ModelResult, data: RegressionData, out: Path, events: int) -> FirmwareCheck:
    from l1scout.deploy.hls import build_firmware
    from l1scout.tasks.recalib.nn import predict_network

    x = np.ascontiguousarray(data.x["test"][:events], dtype=np.float32)
    start = time.perf_counter()
    try:
        project = build_firmware(
            result.model,
            len(data.feature_names),
            out / "firmware" / result.key,
            project_name="l1scout_recalib",
            compile=True,
        )
    except (L1ScoutError, OSError) as exc:
        _log.warning("firmware emulation of %s failed: %s", result.key, exc)
        return FirmwareCheck(
            model=result.key,
            path=None,
            events=0,
            max_abs_diff=float("nan"),
            lsb=None,
            within_lsb=float("nan"),
            rmse={},
            rmse_torch={},
            seconds=time.perf_counter() - start,
            error=str(exc),
        )
    seconds = time.perf_counter() - start
    emulated = np.asarray(project.predict(x), dtype=np.float64).reshape(len(x), -1)
    reference = predict_network(result.model, x).astype(np.float64)
    diff = np.abs(emulated - reference)
    lsb = project.output.lsb if project.output is not None else None
    within = float(np.mean(diff <= lsb)) if lsb is not None and diff.size else float("nan")
    truth = data.residual["test"][: len(x)]
    names, cap = data.target_names, _pt_cap(data)
    rmse = correction_rmse(truth, data.unscale_targets(emulated), names, pt_cap=cap)
    rmse_torch = correction_rmse(truth, data.unscale_targets(reference), names, pt_cap=cap)
    _log.info(
        "firmware %s: max |emulation - torch| = %.3g over %d events (%.0f s)",
        result.key,
        float(diff.max()) if diff.size else 0.0,
        len(x),
        seconds,
    )
    return FirmwareCheck(
        model=result.key,
        path=project.path,
        events=len(x),
        max_abs_diff=float(diff.max()) if diff.size else 0.0,
        lsb=lsb,
        within_lsb=within,
        rmse=rmse,
        rmse_torch=rmse_torch,
        seconds=seconds,
    )


def _load_datasets(
    config: RecalibConfig, data_dir: Path, progress: ProgressFn | None, timings: dict[str, float]
) -> dict[str, RegressionData]:
    """The datasets of ``[data]``; ``timings["samples"]`` gets the event production time."""
    from l1scout.tasks.recalib.config import JET_TARGET_SETS
    from l1scout.tasks.recalib.dataset import jet_dataset, muon_dataset
    from l1scout.tasks.recalib.samples import ensure_recalib_samples, load_events

    if config.data is None:  # pragma: no cover - run_study refuses it before any work
        msg = "the study has no [data] table"
        raise ConfigError(msg)
    kinds = [k for k in DATASETS if config.models_for(k)]
    seed = config.data.seed
    jet_targets = JET_TARGET_SETS[config.data.jet_targets]
    if config.data.synthetic is not None:
        from l1scout.tasks.recalib.synthetic import synthetic_dataset

        syn = config.data.synthetic
        counts = {"muon": syn.muons, "jet": syn.jets}
        return {
            k: synthetic_dataset(
                k,
                counts[k],
                seed=seed,
                noise_scale=syn.noise_scale,
                targets=jet_targets if k == "jet" else None,
            )
            for k in kinds
        }
    if config.data.samples is not None:
        t0 = time.perf_counter()
        paths = ensure_recalib_samples(config.data.samples, data_dir, progress=progress)
        timings["samples"] = time.perf_counter() - t0
        events = load_events(paths, kinds=kinds, muon_source=config.data.muon_source)
    else:
        events = load_events(
            str(config.data.files), kinds=kinds, muon_source=config.data.muon_source
        )
    out: dict[str, RegressionData] = {}
    if "muon" in kinds:
        out["muon"] = muon_dataset(events, seed=seed, source=config.data.muon_source)
    if "jet" in kinds:
        out["jet"] = jet_dataset(events, seed=seed, targets=jet_targets)
    return out


def _describe(data: RegressionData) -> dict[str, Any]:
    return {
        "rows": dict(data.sizes),
        "features": list(data.feature_names),
        "targets": list(data.target_names),
        "match": dict(data.match),
    }


def _l1_objects(config: RecalibConfig, kind: str) -> str:
    """Which Level-1 objects a dataset holds, in words, for the report."""
    if config.data is None:  # pragma: no cover - run_study refuses a study without data
        return "as given"
    if config.data.synthetic is not None:
        return "synthetic"
    if kind == "jet":
        return "L1T_JetPuppiAK4"
    if config.data.muon_source == "standalone":
        return "L1T_MuonStandalone (muon system; eta, phi at the second station)"
    return "L1T_MuonTight (tracker muons; phi bent to the second station)"


def _best_muon(models: list[ModelResult]) -> ModelResult | None:
    muon = [m for m in models if m.dataset == "muon"]
    return min(muon, key=lambda m: m.val_rmse) if muon else None


def run_study(
    config: RecalibConfig,
    out_dir: Path | str,
    progress: ProgressFn | None = None,
    *,
    datasets: Mapping[str, RegressionData] | None = None,
    data_dir: Path | str | None = None,
    tracking_uri: str | None = None,
    firmware: bool | None = None,
) -> StudyResult:
    """Run a re-calibration study and write its report (see the module docstring).

    Args:
        config: the study.
        out_dir: folder for the report, the ONNX files, the firmware project.
        progress: ``progress(stage, done, total)`` for the stages ``data``,
            ``models``, ``scans``.
        datasets: prebuilt ``{"muon": ..., "jet": ...}`` datasets (then ``[data]``
            is not read); a dataset missing here skips its models.
        data_dir: where samples are produced or found (default ``out_dir/data``).
        tracking_uri: overrides ``tracking.uri``.
        firmware: overrides ``outputs.firmware``.

    Returns:
        The result; ``result.report`` is the page.

    Raises:
        ConfigError: no data, or a model that cannot be fitted as configured
            (more kernel centres than training rows: checked before any fit).
        L1ScoutError: a stage failed (data production, a solver, an export).
    """
    from l1scout.tasks.recalib.krr import tuning_curve
    from l1scout.tasks.recalib.report import report_files, write_report

    check_tracking_uri(tracking_uri)  # the command line's, before any work
    if datasets is None and config.data is None:
        msg = (
            "the study has no [data] table and no datasets were given: add [data] to the study file"
        )
        raise ConfigError(msg)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = f"cannot create the output folder {out} ({exc.strerror or exc})"
        raise ConfigError(msg) from exc
    timings: dict[str, float] = {}
    started = t0 = time.perf_counter()
    if datasets is None:
        data_path = Path(data_dir) if data_dir else out / "data"
        data = _load_datasets(config, data_path, progress, timings)
    else:
        data = {k: v for k, v in datasets.items() if k in DATASETS}
    timings["datasets"] = time.perf_counter() - t0 - timings.get("samples", 0.0)
    work = [(kind, spec) for kind in DATASETS if kind in data for spec in config.models_for(kind)]
    if not work:
        msg = "no model to fit: no dataset of the study's models' 'datasets' is available"
        raise ConfigError(msg)
    problem = config.too_many_centres({k: d.sizes["train"] for k, d in data.items()})
    if problem is not None:  # the rows are known only now; checked before any fit
        msg = f"{problem} in the data read; lower the centres or read more events"
        raise ConfigError(msg)
    track = config.tracking
    tracker = _Tracker(track.enabled, track.experiment, tracking_uri or track.uri)
    data_hash = _data_hash(data)
    result = StudyResult(
        title=config.title,
        out_dir=out,
        tables={},
        models=[],
        timings=timings,
        data={
            k: {"l1_objects": _l1_objects(config, k) if datasets is None else "as given"}
            | _describe(v)
            for k, v in data.items()
        },
        threads=config.threads,
    )
    t0 = time.perf_counter()
    parent_params = _flat("", config.model_dump(mode="json", exclude={"models", "scans"}))
    parent_params["models"] = ",".join(m.key for m in config.models)
    with tracker.run(
        config.title,
        params=parent_params,
        tags={"l1scout.task": "recalib"},
        dataset_hash=data_hash,
    ) as parent:
        if parent is not None:
            timings["tracking"] = time.perf_counter() - t0
        result.parent_run_id = parent.run_id if parent is not None else None
        result.tracking_uri = getattr(parent, "uri", None) if parent is not None else None
        t0 = time.perf_counter()
        for i, (kind, spec) in enumerate(work):
            if progress is not None:
                progress("models", i, len(work))
            result.models.append(
                _fit_one(
                    spec,
                    data[kind],
                    kind,
                    out,
                    tracker,
                    parent,
                    config.threads,
                    data_hash,
                    config.outputs.plots,
                )
            )
        if progress is not None:
            progress("models", len(work), len(work))
        timings["models"] = time.perf_counter() - t0
        for kind in DATASETS:
            if kind not in data:
                continue
            d = data[kind]
            preds = {m.title: m.test_prediction for m in result.models if m.dataset == kind}
            result.tables[kind] = rmse_table(
                kind, d.target_names, d.residual["test"], preds, pt_cap=_pt_cap(d)
            )
        t0 = time.perf_counter()
        scans = [s for s in config.scans if s.dataset in data]
        for i, scan in enumerate(scans):
            if progress is not None:
                progress("scans", i, len(scans))
            d = data[scan.dataset]
            curve = tuning_curve(
                scan.parameter,
                scan.values,
                d.x["train"],
                d.y["train"],
                d.x["val"],
                d.y["val"],
                base={k: v for k, v in scan.model.fit_kwargs().items() if k != scan.parameter},
                score=_physical_scorer(d),
                label=scan.title,
            )
            result.curves.append(curve)
            if parent is not None:
                for step, _value in enumerate(curve.values):
                    parent.log_metrics(
                        {f"scan{i}.{_metric_name(t)}": curve.rmse[t][step] for t in curve.rmse},
                        step=step,
                    )
        if progress is not None and scans:
            progress("scans", len(scans), len(scans))
        timings["scans"] = time.perf_counter() - t0
        fw_spec = config.firmware_spec()
        do_firmware = config.outputs.firmware if firmware is None else firmware
        if do_firmware and fw_spec is not None and "muon" in data:
            t0 = time.perf_counter()
            target = next(m for m in result.models if m.dataset == "muon" and m.key == fw_spec.key)
            result.firmware = _firmware(target, data["muon"], out, config.outputs.firmware_events)
            timings["firmware"] = time.perf_counter() - t0
            if parent is not None and result.firmware.error is None:
                parent.log_metrics(
                    {
                        "firmware.max_abs_diff": result.firmware.max_abs_diff,
                        "firmware.within_lsb": result.firmware.within_lsb,
                        "firmware.build_seconds": result.firmware.seconds,
                    }
                )
        best = _best_muon(result.models)
        if parent is not None and track.register_best and best is not None and best.model_uri:
            from l1scout.track.registry import register_model

            t0 = time.perf_counter()
            result.registered = register_model(
                best.model_uri, track.model_name, alias=track.alias, uri=tracker.uri
            )
            parent.set_tags({"recalib.best_muon_model": best.key})
            timings["registry"] = time.perf_counter() - t0
        write_report(result, data, plots=config.outputs.plots, started=started)
        if parent is not None:
            table_metrics = {
                _metric_name(f"{kind}.{label}.{t}"): v
                for kind, table in result.tables.items()
                for label, values in table.rows
                for t, v in zip(table.columns, values, strict=True)
            }
            parent.log_metrics(table_metrics)
            for path in report_files(out):
                parent.log_artifact(path, subdir="report")
    return result
