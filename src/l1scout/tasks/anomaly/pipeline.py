"""The anomaly-trigger pipeline: data -> training (with a scan) -> evaluation -> registry -> firmware.

:func:`run_pipeline` is what ``l1scout run anomaly CONFIG`` and ``make demo``
run. Its stages, each timed:

1. **data**: zero bias and signals (:mod:`l1scout.tasks.anomaly.data`), produced
   where missing; the power-of-two robust scaler fitted on the training zero
   bias; the reference menu calibrated to its target rates on the training
   zero bias (so the test zero bias that sets the anomaly thresholds is not
   the one that set the menu's).
2. **train**: every model of the config (a scanned model once per value), each
   an MLflow run (child of the pipeline's run) with its parameters and
   per-epoch metrics.
3. **evaluate**: scores on the zero-bias test split and on every signal;
   thresholds for the configured rates, efficiencies, pure efficiencies, AUC
   (:func:`l1scout.tasks.anomaly.metrics.evaluate`); the metrics land in the
   model's run.
4. **register**: the best model (highest mean signal efficiency at the
   selection rate) is exported to ONNX, checked against torch, logged as an
   MLflow model and registered under the configured name with an alias.
5. **firmware**: the best *quantized* model's deployed part (the VAE encoder)
   goes through hls4ml to its bit-accurate C++ emulation; the emulation's
   decisions are compared with the trained model's at every threshold, its
   outputs in least significant bits; FLOPs and the da4ml LUT/latency estimate.
6. **report**: the HTML report (plots and tables), logged to the pipeline's run.

Every artifact goes under the output folder: ``models/<name>/``, ``deploy/``,
``firmware/<name>/``, ``report/index.html``, ``scaler.json``.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from l1scout._files import atomic_write_bytes
from l1scout._types import F32
from l1scout.errors import ConfigError, L1ScoutError
from l1scout.tasks.anomaly.parity import decision_agreement, max_lsb_difference
from l1scout.tasks.anomaly.pipeline_config import PipelineConfig, expand_models

if TYPE_CHECKING:
    import torch

    from l1scout.io.scalers import PowerOfTwoRobustScaler
    from l1scout.tasks.anomaly.config import ModelConfig
    from l1scout.tasks.anomaly.data import AnomalyData
    from l1scout.tasks.anomaly.metrics import Evaluation
    from l1scout.track.runs import TrackedRun

__all__ = ["STAGES", "Candidate", "DeployResult", "PipelineResult", "run_pipeline"]

_log = logging.getLogger(__name__)

#: The stages, in order, as they appear in :attr:`PipelineResult.stage_seconds`.
STAGES = ("data", "train", "evaluate", "register", "firmware", "report")

Progress = Callable[[str, int, int], None]


@dataclass
class Candidate:
    """One trained model: its config, run, evaluation and test scores."""

    config: ModelConfig
    model: Any
    run_id: str
    evaluation: Evaluation
    train_seconds: float
    events_trained: int
    epochs: int
    selection: float


@dataclass
class DeployResult:
    """What deployment measured for one model (None: the step did not run)."""

    name: str
    onnx_path: Path | None = None
    onnx_max_diff: float | None = None
    onnx_max_rel_diff: float | None = None
    firmware_path: Path | None = None
    firmware_agreement_min: float | None = None
    firmware_max_lsb: float | None = None
    flops: int | None = None
    macs: int | None = None
    params: int | None = None
    luts: int | None = None
    latency_ns: float | None = None
    registered: str | None = None

    def metrics(self) -> dict[str, float]:
        """The numeric results as MLflow metrics (missing ones left out)."""
        names = {
            "onnx.max_abs_diff": self.onnx_max_diff,
            "onnx.max_rel_diff": self.onnx_max_rel_diff,
            "firmware.decision_agreement_min": self.firmware_agreement_min,
            "firmware.max_lsb_diff": self.firmware_max_lsb,
            "ops.flops": self.flops,
            "ops.macs": self.macs,
            "ops.params": self.params,
            "fpga.luts": self.luts,
            "fpga.latency_ns": self.latency_ns,
        }
        return {k: float(v) for k, v in names.items() if v is not None}


@dataclass
class PipelineResult:
    """What :func:`run_pipeline` made."""

    report: Path
    best: str
    candidates: list[Candidate]
    deployed: list[DeployResult]
    stage_seconds: dict[str, float] = field(default_factory=dict)
    run_id: str = ""


@contextmanager
def _stage(times: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        times[name] = times.get(name, 0.0) + time.perf_counter() - start
        _log.info("stage %s: %.1f s", name, times[name])


def _selection_rate(config: PipelineConfig, evaluation: Evaluation) -> float | None:
    """The rate the best model is chosen at (None: no configured rate is measurable)."""
    if config.evaluation.select_rate_khz is not None:
        return config.evaluation.select_rate_khz
    measurable = [t.rate_khz for t in evaluation.thresholds if t.measurable]
    return min(measurable) if measurable else None


def _selection_value(evaluation: Evaluation, rate: float | None) -> float:
    if rate is None:
        return float(np.mean([s.auc for s in evaluation.signals.values()]))
    return float(np.mean([s.efficiency_at(rate).value for s in evaluation.signals.values()]))


def _save_model(model: torch.nn.Module, cfg: ModelConfig, folder: Path) -> Path:
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    atomic_write_bytes(folder / "model.pt", buffer.getvalue())
    atomic_write_bytes(folder / "config.json", cfg.model_dump_json(indent=2).encode())
    return folder


def _scaled(scaler: PowerOfTwoRobustScaler, x: F32) -> F32:
    return np.ascontiguousarray(scaler.transform(x), dtype=np.float32)


def _train_one(
    cfg: ModelConfig,
    config: PipelineConfig,
    data: AnomalyData,
    scaler: PowerOfTwoRobustScaler,
    menus: tuple[npt.NDArray[np.bool_], dict[str, npt.NDArray[np.bool_]]],
    parent: TrackedRun,
    out: Path,
    times: dict[str, float],
    progress: Progress | None,
) -> Candidate:
    from l1scout.tasks.anomaly.metrics import evaluate
    from l1scout.tasks.anomaly.train import scores, train
    from l1scout.track.runs import start_run

    params = {"model": cfg.model_dump(mode="json"), "train": config.train.model_dump(mode="json")}
    with start_run(
        config.tracking.experiment,
        run_name=cfg.name,
        params=params,
        tags={"l1scout.stage": "train", "l1scout.model": cfg.name},
        dataset_hash=data.dataset_hash,
        uri=config.tracking.uri,
        parent=parent,
    ) as run:
        epochs = config.train.epochs

        def on_epoch(epoch: int, metrics: Mapping[str, float]) -> None:
            run.log_metrics(metrics, step=epoch)
            if progress is not None:
                progress(f"train {cfg.name}", min(epoch + 1, epochs), epochs)

        with _stage(times, "train"):
            result = train(
                cfg, config.train, data.zb_train, data.zb_val, scaler=scaler, on_epoch=on_epoch
            )
            if progress is not None:
                progress(f"train {cfg.name}", epochs, epochs)
            folder = _save_model(result.model, cfg, out / "models" / cfg.name)
            run.log_artifact(folder, "model")
            run.log_metrics(
                {
                    "train.seconds": result.seconds,
                    "train.events": float(result.events),
                    "train.epochs": float(len(result.history)),
                }
            )
        with _stage(times, "evaluate"):
            zb_menu, sig_menu = menus
            evaluation = evaluate(
                scores(result.model, data.zb_test, scaler),
                {k: scores(result.model, v, scaler) for k, v in data.signals.items()},
                rates_khz=config.evaluation.rates_khz,
                min_pass=config.evaluation.min_pass,
                zb_menu=zb_menu,
                signal_menu=sig_menu,
            )
            rate = _selection_rate(config, evaluation)
            selection = _selection_value(evaluation, rate)
            run.log_metrics({**evaluation.to_metrics(), "selection": selection})
        return Candidate(
            config=cfg,
            model=result.model,
            run_id=run.run_id,
            evaluation=evaluation,
            train_seconds=result.seconds,
            events_trained=result.events,
            epochs=len(result.history),
            selection=selection,
        )


def _parity(model: Any, path: Path, x: F32) -> tuple[float, float]:
    """Largest |torch - onnx| and |torch - onnx| / max(1, |torch|), from one run of each."""
    import torch

    from l1scout.deploy.onnx import OnnxModel

    if not len(x):
        return 0.0, 0.0
    with torch.no_grad():
        ref = model.eval()(torch.from_numpy(x)).double().numpy().reshape(len(x), -1)
    got = OnnxModel(path).predict(x).astype(np.float64).reshape(len(x), -1)
    diff = np.abs(ref - got)
    return float(diff.max()), float(np.max(diff / np.maximum(1.0, np.abs(ref))))


def _onnx(
    cand: Candidate,
    x: F32,
    folder: Path,
    result: DeployResult,
    run: TrackedRun,
    config: PipelineConfig,
) -> None:
    from l1scout.deploy.onnx import export_onnx
    from l1scout.track.registry import register_model

    deployable = cand.model.deployable()
    path = export_onnx(deployable, x.shape[1], folder / f"{cand.config.name}.onnx")
    result.onnx_path = path
    result.onnx_max_diff, result.onnx_max_rel_diff = _parity(deployable, path, x)
    uri = run.log_onnx_model(path, name="model")
    registered = register_model(
        uri, config.tracking.registered_model, alias=config.tracking.alias, uri=config.tracking.uri
    )
    result.registered = f"{registered.name} v{registered.version} @{registered.alias}"


#: Events of the firmware check that also run through hls4ml's C++ emulation.
_HLS4ML_CHECKED = 10_000


def _firmware(
    cand: Candidate,
    x: F32,
    folder: Path,
    result: DeployResult,
    config: PipelineConfig,
) -> None:
    import torch

    from l1scout.deploy.flops import count_ops
    from l1scout.deploy.fpga import estimate_fpga
    from l1scout.deploy.hls import build_firmware

    deployable = cand.model.deployable().eval()
    spec = cand.config.quant  # only quantized latent VAEs reach here
    ops = count_ops(deployable, x.shape[1])
    result.flops, result.macs, result.params = ops.flops, ops.macs, ops.params
    if config.deploy.firmware:
        project = build_firmware(deployable, x.shape[1], folder / cand.config.name, spec=spec)
        result.firmware_path = project.path
        # all events through the integer emulation (bit-exact with hls4ml's C++, ~70x
        # faster); the first _HLS4ML_CHECKED through hls4ml's C++ too, which must agree
        fast = project.predict(x, engine="integer")
        n_ref = min(len(x), _HLS4ML_CHECKED)
        if not np.array_equal(
            project.predict(x[:n_ref]).view(np.uint32), fast[:n_ref].view(np.uint32)
        ):
            raise L1ScoutError(f"{project.path}: integer emulation differs from hls4ml's C++")
        emulated = np.asarray(fast, dtype=np.float64).reshape(x.shape[0], -1)
        with torch.no_grad():
            trained = deployable(torch.from_numpy(x)).double().numpy().reshape(x.shape[0], -1)
        lsb = project.output.lsb if project.output is not None else spec.output.lsb
        result.firmware_max_lsb = max_lsb_difference(trained, emulated, lsb)
        thresholds = [t.threshold for t in cand.evaluation.thresholds]
        agreement = decision_agreement(
            cand.model.score_from_deployed(trained),
            cand.model.score_from_deployed(emulated),
            thresholds,
        )
        result.firmware_agreement_min = float(agreement.min()) if agreement.size else 1.0
    if config.deploy.fpga_estimate:
        estimate = estimate_fpga(deployable, spec)
        result.luts, result.latency_ns = estimate.luts, estimate.latency_ns


def _firmware_ready(cfg: ModelConfig) -> bool:
    """Only the quantized AXOL1TL encoder (latent score) is the firmware the trigger runs."""
    return cfg.kind == "vae" and cfg.quantized and cfg.score == "latent"


def _firmware_target(candidates: list[Candidate]) -> Candidate:
    """The best quantized AXOL1TL encoder: what goes to firmware."""
    ready = [c for c in candidates if _firmware_ready(c.config)]
    if not ready:
        raise ConfigError(
            "deploy.firmware and deploy.fpga_estimate need a quantized model among the models "
            "(kind = 'vae', quantized = true, score = 'latent'); add one or set them to false"
        )
    return max(ready, key=lambda c: c.selection)


def _deploy_inputs(data: AnomalyData, scaler: PowerOfTwoRobustScaler) -> F32:
    """Every test event (zero bias and signals), scaled: what parity is measured on."""
    parts = [data.zb_test, *data.signals.values()]
    return _scaled(scaler, np.concatenate(parts, axis=0).astype(np.float32))


def _model_rows(
    candidates: list[Candidate], deployed: list[DeployResult], best: str
) -> list[dict[str, object]]:
    by_name = {d.name: d for d in deployed}
    rows: list[dict[str, object]] = []
    for cand in candidates:
        dep = by_name.get(cand.config.name)
        rows.append(
            {
                "model": cand.config.name + (" (best)" if cand.config.name == best else ""),
                "kind": cand.config.kind,
                "selection": round(cand.selection, 4),
                "epochs": cand.epochs,
                "train s": round(cand.train_seconds, 1),
                "ONNX max |diff|": None if dep is None else dep.onnx_max_diff,
                "ONNX max rel. diff": None if dep is None else dep.onnx_max_rel_diff,
                "firmware min agreement": None if dep is None else dep.firmware_agreement_min,
                "firmware max LSB": None if dep is None else dep.firmware_max_lsb,
                "FLOPs": None if dep is None else dep.flops,
                "LUTs (da4ml)": None if dep is None else dep.luts,
                "latency ns (da4ml)": None if dep is None else dep.latency_ns,
            }
        )
    return rows


def run_pipeline(
    config: PipelineConfig,
    out: Path | str,
    *,
    data_dir: Path | str | None = None,
    progress: Progress | None = None,
) -> PipelineResult:
    """Run the whole anomaly-trigger study of *config* into the folder *out*.

    Args:
        config: the pipeline configuration.
        out: the output folder (models, ONNX, firmware, report).
        data_dir: where the samples are (and are produced if missing);
            default ``<out>/data``.
        progress: called as ``progress(stage, done, total)`` (production and
            training progress).

    Returns:
        The report path, the best model, every candidate and deployment result,
        and the wall time of each stage (s).

    Raises:
        ConfigError: an inconsistent configuration (for example no quantized
            model while firmware is asked for).
        ProductionError: samples could not be produced.
    """
    from l1scout.io.scalers import PowerOfTwoRobustScaler
    from l1scout.tasks.anomaly.data import load_anomaly_data
    from l1scout.tasks.anomaly.menu import calibrate_menu, load_menu, menu_decisions, menu_rates
    from l1scout.tasks.anomaly.report import write_report
    from l1scout.track.runs import start_run

    out = Path(out)
    data_path = Path(data_dir) if data_dir is not None else out / "data"
    times: dict[str, float] = {}
    variants = expand_models(config)

    with _stage(times, "data"):
        data = load_anomaly_data(config.data, data_path, progress=progress)
        scaler = PowerOfTwoRobustScaler(object_size=3).fit(data.zb_train)
        scaler.save(out / "scaler.json")
        menu = load_menu(config.evaluation.menu)
        if config.evaluation.calibrate_menu:
            menu = calibrate_menu(menu, data.zb_train)
        menus = (
            menu_decisions(menu, data.zb_test),
            {k: menu_decisions(menu, v) for k, v in data.signals.items()},
        )

    with start_run(
        config.tracking.experiment,
        run_name=config.name,
        params={"pipeline": config.model_dump(mode="json")},
        tags={"l1scout.stage": "pipeline"},
        dataset_hash=data.dataset_hash,
        uri=config.tracking.uri,
    ) as parent:
        parent.log_artifact(out / "scaler.json")
        candidates = [
            _train_one(v, config, data, scaler, menus, parent, out, times, progress)
            for v in variants
        ]
        best = max(candidates, key=lambda c: c.selection)
        deployed: list[DeployResult] = []
        x = _deploy_inputs(data, scaler)
        result = DeployResult(name=best.config.name)
        deployed.append(result)
        with start_run(
            config.tracking.experiment,
            run_name=f"deploy-{best.config.name}",
            params={"model": best.config.model_dump(mode="json")},
            tags={"l1scout.stage": "deploy", "l1scout.model": best.config.name},
            dataset_hash=data.dataset_hash,
            uri=config.tracking.uri,
            parent=parent,
        ) as run:
            with _stage(times, "register"):
                if config.deploy.onnx:
                    _onnx(best, x, out / "deploy", result, run, config)
                    run.log_artifact(out / "deploy", "onnx")
            with _stage(times, "firmware"):
                if config.deploy.firmware or config.deploy.fpga_estimate:
                    target = _firmware_target(candidates)
                    fw = result if target is best else DeployResult(name=target.config.name)
                    if fw is not result:
                        deployed.append(fw)
                    _firmware(target, x, out / "firmware", fw, config)
                    if fw.firmware_path is not None:
                        run.log_artifact(fw.firmware_path, "firmware")
            for dep in deployed:
                prefix = "" if dep is result else f"{dep.name}/"
                run.log_metrics({prefix + k: v for k, v in dep.metrics().items()})

        with _stage(times, "report"):
            report = write_report(
                best.evaluation,
                out / "report",
                title=f"Anomaly trigger {config.name}: {best.config.name}",
                extra=_setup(config, data, best),
                stage_times=dict(times),
                model_rows=_model_rows(candidates, deployed, best.config.name),
                menu=menu,
                menu_rates=menu_rates(menu, data.zb_test),
            )
            parent.log_artifact(report.parent, "report")
            parent.log_metrics({f"stage.{k}.seconds": v for k, v in times.items()})
        summary = {
            "best": best.config.name,
            "report": str(report),
            "stage_seconds": times,
            "deployed": [d.metrics() | {"name": d.name} for d in deployed],
        }
        atomic_write_bytes(out / "summary.json", json.dumps(summary, indent=2).encode())
    return PipelineResult(
        report=report,
        best=best.config.name,
        candidates=candidates,
        deployed=deployed,
        stage_seconds=times,
        run_id=parent.run_id,
    )


def _setup(config: PipelineConfig, data: AnomalyData, best: Candidate) -> dict[str, object]:
    zb_total = len(data.zb_train) + len(data.zb_val) + len(data.zb_test)
    lowest = best.evaluation.min_measurable_rate_khz
    return {
        "pipeline": config.name,
        "zero bias": f"{config.data.zero_bias.process} at pileup {config.data.pileup:g}: "
        f"{zb_total} events (train {len(data.zb_train)}, val {len(data.zb_val)}, "
        f"test {len(data.zb_test)})",
        "signals": ", ".join(f"{k} ({len(v)})" for k, v in data.signals.items()),
        "lowest measurable rate": f"{lowest:.3g} kHz (at least {config.evaluation.min_pass} "
        "zero-bias test events above threshold)"
        if math.isfinite(lowest)
        else "none",
        "best model": f"{best.config.name} (selection value {best.selection:.4g})",
        "dataset hash": data.dataset_hash,
    }
