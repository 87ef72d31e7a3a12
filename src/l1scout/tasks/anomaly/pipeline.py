"""The anomaly-trigger pipeline: data -> training (with a scan) -> evaluation -> registry -> firmware.

:func:`run_pipeline` is what ``l1scout run anomaly CONFIG`` and ``make demo``
run. Its stages, each timed:

1. **data**: zero bias and signals (:mod:`l1scout.tasks.anomaly.data`), produced
   where missing, the zero bias split train / validation / test and every
   signal validation / test; the power-of-two robust scaler fitted on the
   training zero bias; the reference menu calibrated to its target rates on
   the training zero bias (so the test zero bias that sets the anomaly
   thresholds is not the one that set the menu's).
2. **train**: every model of the config (a scanned model once per value), each
   an MLflow run (child of the pipeline's run) with its parameters and
   per-epoch metrics. A VICReg model gives one candidate per downstream score
   (autoencoder, Mahalanobis distance) from one training; the second score
   gets a run of its own, tagged with the run holding the weights.
3. **evaluate**: every candidate on the *validation* split (zero-bias
   validation events set the thresholds, the validation part of every signal
   gives the efficiencies; :func:`l1scout.tasks.anomaly.selection.assess`),
   logged as ``val/...`` metrics with its ``selection`` figure; the best is the
   highest figure (:func:`~l1scout.tasks.anomaly.selection.choose_best`). Only
   the chosen model is then evaluated on the *test* split (thresholds from the
   zero-bias test events, the test part of every signal, pure efficiencies
   against the menu), and those are the numbers of the report and of the
   chosen run's unprefixed metrics.
4. **register**: the chosen model is exported to ONNX, checked against torch,
   logged as an MLflow model and registered under the configured name with an
   alias.
5. **firmware**: the best *quantized* model's deployed part (the VAE encoder)
   goes through hls4ml to its bit-accurate C++ emulation; the emulation's
   decisions are compared with the trained model's at every threshold, its
   outputs in least significant bits; FLOPs and the da4ml LUT/latency estimate.
6. **report**: the HTML report (plots and tables), logged to the pipeline's run;
   it names the split and the figure that chose the model and the rate
   normalisation, and compares the VICReg scores side by side.

Without signals (``data.signals = []``) the study is rate-only: thresholds and
rates on the zero bias, no efficiencies, and the first model of the
configuration is kept (:data:`~l1scout.tasks.anomaly.selection.RATE_ONLY`).

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

from l1scout._files import atomic_write_bytes
from l1scout.tasks._tracking import check_tracking_uri
from l1scout.tasks.anomaly.deployment import (
    DeployResult,
    deploy_firmware,
    deploy_inputs,
    deploy_onnx,
    firmware_target,
)
from l1scout.tasks.anomaly.pipeline_config import PipelineConfig, expand_models
from l1scout.tasks.anomaly.selection import Candidate, choose_best
from l1scout.tasks.rates import describe_crossing_rate

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


def _save_model(model: torch.nn.Module, cfg: ModelConfig, folder: Path) -> Path:
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    atomic_write_bytes(folder / "model.pt", buffer.getvalue())
    atomic_write_bytes(folder / "config.json", cfg.model_dump_json(indent=2).encode())
    return folder


def _scorings(cfg: ModelConfig, model: Any) -> list[tuple[str, str | None, Any]]:
    """(candidate name, score, anomaly model) of a trained model: one, or one per VICReg score."""
    from l1scout.tasks.anomaly.models import VICReg

    if not isinstance(model, VICReg) or len(model.cfg.scores) == 1:
        scoring = model.scoring if isinstance(model, VICReg) else None
        return [(cfg.name, scoring, model)]
    return [(f"{cfg.name}-{s}", s, model.scorer(s)) for s in model.cfg.scores]


def _train_one(
    cfg: ModelConfig,
    config: PipelineConfig,
    data: AnomalyData,
    scaler: PowerOfTwoRobustScaler,
    parent: TrackedRun,
    out: Path,
    times: dict[str, float],
    progress: Progress | None,
) -> list[Candidate]:
    from l1scout.tasks.anomaly.selection import assess
    from l1scout.tasks.anomaly.train import train
    from l1scout.track.runs import start_run

    params = {"model": cfg.model_dump(mode="json"), "train": config.train.model_dump(mode="json")}
    candidates: list[Candidate] = []
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
            summary = {
                "train.seconds": result.seconds,
                "train.events": float(result.events),
                "train.epochs": float(len(result.history)),
            }
            if "distance" in result.phases:
                summary["distance.shrinkage"] = result.phases["distance"]["shrinkage"]
            run.log_metrics(summary)
        for i, (name, scoring, model) in enumerate(_scorings(cfg, result.model)):
            with _stage(times, "evaluate"):
                validation, selection = assess(model, data, scaler, config.evaluation)
            metrics = {f"val/{k}": v for k, v in validation.to_metrics().items()}
            if not selection.rate_only:
                metrics["selection"] = selection.value
            if i == 0:
                own = run
            else:  # another score of the same weights: a run of its own
                own = start_run(
                    config.tracking.experiment,
                    run_name=name,
                    params={**params, "scoring": scoring},
                    tags={
                        "l1scout.stage": "train",
                        "l1scout.model": cfg.name,
                        "l1scout.weights_run": run.run_id,
                    },
                    dataset_hash=data.dataset_hash,
                    uri=config.tracking.uri,
                    parent=parent,
                )
            if scoring is not None:
                own.set_tags({"l1scout.scoring": scoring})
            own.log_metrics(metrics)
            if own is not run:
                own.end()
            candidates.append(
                Candidate(
                    name=name,
                    config=cfg,
                    model=model,
                    run=own,
                    validation=validation,
                    selection=selection,
                    train_seconds=result.seconds,
                    events_trained=result.events,
                    epochs=len(result.history),
                    scoring=scoring,
                )
            )
    return candidates


def _model_rows(
    candidates: list[Candidate], deployed: list[DeployResult], best: str
) -> list[dict[str, object]]:
    by_name = {d.name: d for d in deployed}
    rows: list[dict[str, object]] = []
    for cand in candidates:
        dep = by_name.get(cand.name)
        val = cand.validation
        row: dict[str, object] = {
            "model": cand.name + (" (chosen)" if cand.name == best else ""),
            "kind": cand.config.kind + (f" ({cand.scoring})" if cand.scoring else ""),
        }
        if not cand.selection.rate_only:
            row[f"validation: {cand.selection.figure}"] = round(cand.selection.value, 4)
            row["validation: mean AUC"] = round(
                float(np.mean([s.auc for s in val.signals.values()])), 4
            )
        rows.append(
            row
            | {
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


def _comparisons(candidates: list[Candidate]) -> list[tuple[str, dict[str, Evaluation]]]:
    """The VICReg models evaluated with several scores: their validation evaluations side by side."""
    groups: dict[str, dict[str, Evaluation]] = {}
    for cand in candidates:
        if cand.scoring is not None and cand.name != cand.config.name:
            groups.setdefault(cand.config.name, {})[cand.scoring] = cand.validation
    return list(groups.items())


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
        ConfigError: a tracking URI of a scheme MLflow does not know (one given
            on the command line; a pipeline file's is checked when it is read).
        ProductionError: samples could not be produced.
    """
    from l1scout.io.scalers import PowerOfTwoRobustScaler
    from l1scout.tasks.anomaly.data import load_anomaly_data
    from l1scout.tasks.anomaly.menu import calibrate_menu, load_menu, menu_decisions, menu_rates
    from l1scout.tasks.anomaly.report import write_report
    from l1scout.tasks.anomaly.selection import reported_evaluation
    from l1scout.track.runs import start_run

    check_tracking_uri(config.tracking.uri)  # a --tracking-uri replaces the checked one
    out = Path(out)
    data_path = Path(data_dir) if data_dir is not None else out / "data"
    times: dict[str, float] = {}
    variants = expand_models(config)
    crossing = config.evaluation.crossing_rate_khz

    with _stage(times, "data"):
        data = load_anomaly_data(config.data, data_path, progress=progress)
        scaler = PowerOfTwoRobustScaler(object_size=3).fit(data.zb_train)
        scaler.save(out / "scaler.json")
        menu = load_menu(config.evaluation.menu)
        if config.evaluation.calibrate_menu:
            menu = calibrate_menu(menu, data.zb_train, crossing_rate_khz=crossing)
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
            cand
            for v in variants
            for cand in _train_one(v, config, data, scaler, parent, out, times, progress)
        ]
        best = choose_best(candidates)
        with _stage(times, "evaluate"):
            tested = reported_evaluation(best.model, data, scaler, config.evaluation, menus)
        best.evaluation = tested
        best.run.log_metrics(tested.to_metrics())
        best.run.set_tags({"l1scout.chosen": "true"})
        parent.log_params(
            {
                "chosen": best.name,
                "selection": {
                    "split": best.selection.split,
                    "figure": best.selection.figure,
                    "rate_khz": best.selection.rate_khz,
                },
                "rates": {
                    "crossing_rate_khz": crossing,
                    "normalisation": describe_crossing_rate(crossing),
                },
            }
        )
        deployed: list[DeployResult] = []
        x = deploy_inputs(data, scaler)
        result = DeployResult(name=best.name)
        deployed.append(result)
        with start_run(
            config.tracking.experiment,
            run_name=f"deploy-{best.name}",
            params={"model": best.config.model_dump(mode="json"), "scoring": best.scoring},
            tags={"l1scout.stage": "deploy", "l1scout.model": best.name},
            dataset_hash=data.dataset_hash,
            uri=config.tracking.uri,
            parent=parent,
        ) as run:
            with _stage(times, "register"):
                if config.deploy.onnx:
                    deploy_onnx(best, x, out / "deploy", result, run, config)
                    run.log_artifact(out / "deploy", "onnx")
            with _stage(times, "firmware"):
                if config.deploy.firmware or config.deploy.fpga_estimate:
                    target = firmware_target(candidates)
                    fw = result if target is best else DeployResult(name=target.name)
                    if fw is not result:
                        deployed.append(fw)
                    deploy_firmware(target, x, out / "firmware", fw, config)
                    if fw.firmware_path is not None:
                        run.log_artifact(fw.firmware_path, "firmware")
            for dep in deployed:
                prefix = "" if dep is result else f"{dep.name}/"
                run.log_metrics({prefix + k: v for k, v in dep.metrics().items()})

        with _stage(times, "report"):
            report = write_report(
                tested,
                out / "report",
                title=f"Anomaly trigger {config.name}: {best.name}",
                extra=_setup(config, data, best, tested),
                stage_times=dict(times),
                model_rows=_model_rows(candidates, deployed, best.name),
                menu=menu,
                menu_rates=menu_rates(menu, data.zb_test, crossing_rate_khz=crossing),
                comparisons=_comparisons(candidates),
            )
            parent.log_artifact(report.parent, "report")
            parent.log_metrics({f"stage.{k}.seconds": v for k, v in times.items()})
        summary = {
            "best": best.name,
            "selection": {
                "split": best.selection.split,
                "figure": best.selection.figure,
                "value": None if best.selection.rate_only else best.selection.value,
            },
            "crossing_rate_khz": crossing,
            "report": str(report),
            "stage_seconds": times,
            "deployed": [d.metrics() | {"name": d.name} for d in deployed],
        }
        atomic_write_bytes(out / "summary.json", json.dumps(summary, indent=2).encode())
    return PipelineResult(
        report=report,
        best=best.name,
        candidates=candidates,
        deployed=deployed,
        stage_seconds=times,
        run_id=parent.run_id,
    )


def _setup(
    config: PipelineConfig, data: AnomalyData, best: Candidate, evaluation: Evaluation
) -> dict[str, object]:
    """The report's setup lines; *evaluation* is the chosen model's on the test split."""
    zb_total = len(data.zb_train) + len(data.zb_val) + len(data.zb_test)
    lowest = evaluation.min_measurable_rate_khz
    n_val = sum(len(v) for v in data.signals_val.values())
    n_test = sum(len(v) for v in data.signals.values())
    val_frac, test_frac = config.data.signal_fractions
    setup: dict[str, object] = {
        "pipeline": config.name,
        "rate normalisation": describe_crossing_rate(config.evaluation.crossing_rate_khz),
        "zero bias": f"{config.data.zero_bias.process} at pileup {config.data.pileup:g}: "
        f"{zb_total} events (train {len(data.zb_train)}, validation {len(data.zb_val)}, "
        f"test {len(data.zb_test)})",
    }
    if best.selection.rate_only:
        setup["signals"] = "none: a rate-only study (thresholds and rates, no efficiencies)"
        setup["model chosen on"] = f"{best.selection.describe()}: {best.name}"
    else:
        setup["signals (test part)"] = ", ".join(f"{k} ({len(v)})" for k, v in data.signals.items())
        setup["signal split"] = (
            f"validation {100 * val_frac:g} % ({n_val} events), test "
            f"{100 * test_frac:g} % ({n_test} events), seed {config.data.signal_split_seed}"
        )
        setup["model chosen on"] = (
            f"{best.selection.describe()}: {best.name} with "
            f"{best.selection.value:.4g}, the highest of {config.name}'s models"
        )
    setup["numbers on this page"] = (
        f"{best.name} on the test split ({len(data.zb_test)} zero-bias test events, {n_test} "
        "signal test events), which took no part in the choice"
    )
    setup["lowest measurable rate"] = (
        f"{lowest:.3g} kHz (at least {config.evaluation.min_pass} zero-bias test events above "
        "threshold)"
        if math.isfinite(lowest)
        else "none"
    )
    setup["dataset hash"] = data.dataset_hash
    return setup
