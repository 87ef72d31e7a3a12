"""The jet-tagging task in one call: data -> per view: train, evaluate, ONNX -> firmware -> HH -> 4b -> report.

:func:`run_jettag` is what ``l1scout run jettag [CONFIG]`` runs. Its stages,
each timed (:attr:`JetTagResult.stage_seconds`):

1. **data**: the samples, produced where missing, or found in ``data.source``
   (:func:`~l1scout.tasks.jettag.data.ensure_jettag_samples`).
2. **read**: every file read once into the jets of both views and the
   events' splits (:func:`~l1scout.tasks.jettag.data.load_jettag_data`).
3. **train / evaluate / onnx** per view (``data.views``, L1T first): the
   tagger trained on the train and validation jets of every sample but the
   seed study's two (the signal and the zero bias, which stay unseen so that
   all their events measure the seed), ``models/jettag_<view>.pt``; on the
   test jets of the same samples: per-class one-vs-rest AUC and ROC, the b
   score against the card's ``BTag`` bit, the pT response
   (:mod:`~l1scout.tasks.jettag.evaluation`); ONNX export and parity with
   torch on ``deploy.parity_jets`` test jets (<= :data:`ONNX_TOLERANCE`).
4. **firmware** (``deploy.firmware``, a quantized L1T model): the integer
   emulation against the torch model on ``deploy.emulation_jets`` jets (the
   test jets, repeated to that number), and the hls4ml project's C++
   against torch on ``deploy.hls_jets`` of them: both must be equal bit for
   bit (:mod:`~l1scout.tasks.jettag.firmware`).
5. **hh4b**: in the L1T view, the L1T tagger's b score on every jet of the
   signal and zero-bias events, the working points at the ``hh4b.mistag_rates``
   of the light test jets, plus the card's ``BTag`` bit as a working point;
   the seeds' thresholds at equal rate (:mod:`~l1scout.tasks.jettag.hh4b`).
6. **mlflow**: one run: configuration, per-view metrics, parity, firmware,
   the seed table; the L1T ONNX model registered.
7. **report**: ``report/report.html`` and ``summary.json``, written atomically.

The headline: AUC per class per view (:meth:`JetTagResult.auc_table`).
"""

from __future__ import annotations

import io
import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from l1scout._files import atomic_write_bytes
from l1scout._html import json_safe
from l1scout._timing import Timer, stage
from l1scout.tasks._tracking import with_tracking_uri
from l1scout.tasks.jettag.config import JetTagConfig
from l1scout.tasks.jettag.labels import JET_CLASSES
from l1scout.tasks.jettag.results import (
    ONNX_TOLERANCE,
    FirmwareCheck,
    JetTagResult,
    JetTagViewResult,
    metric_class_name,
)

if TYPE_CHECKING:
    from l1scout.tasks.jettag.data import JetTagData
    from l1scout.tasks.jettag.features import JetTagInputs
    from l1scout.tasks.jettag.hh4b import HH4bResult
    from l1scout.tasks.jettag.model import JetTagDeepSets
    from l1scout.tasks.jettag.training import JetTagTrainResult
    from l1scout.track.runs import TrackedRun

__all__ = ["CARD_WORKING_POINT", "run_jettag"]

_log = logging.getLogger(__name__)

#: The name of the card's ``BTag & 1`` as a working point of the seed study.
CARD_WORKING_POINT = "card BTag"

Progress = Callable[[str, int, int], None]


def _save_model(model: JetTagDeepSets, path: Path, training: Mapping[str, Any]) -> Path:
    """``torch.save`` of the configuration, sizes and weights, written atomically."""
    import torch

    payload = {
        "config": model.config.model_dump(mode="json"),
        "n_constituents": model.n_constituents,
        "n_features": model.n_features,
        "state_dict": model.state_dict(),
        "training": dict(training),
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return atomic_write_bytes(path, buffer.getvalue())


def _train_samples(data: JetTagData, cfg: JetTagConfig) -> list[int]:
    seed = {cfg.data.signal, cfg.data.zero_bias}
    return [i for i, name in enumerate(data.samples) if name not in seed]


def _evaluate_view(
    view: str,
    training: JetTagTrainResult,
    model_file: Path,
    test: JetTagInputs,
    threads: int | None,
) -> JetTagViewResult:
    from l1scout.tasks.jettag.evaluation import (
        btag_comparison,
        per_class_auc,
        pt_response,
        roc_points,
    )
    from l1scout.tasks.jettag.training import class_probabilities, corrected_pt, predict_jettag

    out = predict_jettag(training.model, test.constituents, test.mask, threads=threads)
    p = class_probabilities(out)
    labelled = test.label >= 0
    y = test.label[labelled]
    auc = per_class_auc(p[labelled], y)
    roc: dict[str, tuple[list[float], list[float]]] = {}
    for c, name in enumerate(JET_CLASSES):
        if math.isfinite(auc[c]):
            eff, bkg = roc_points(p[labelled][y == c, c], p[labelled][y != c, c])
            roc[name] = (eff.tolist(), bkg.tolist())
    counts = np.bincount(y, minlength=len(JET_CLASSES))
    return JetTagViewResult(
        view=view,
        training=training,
        model_file=model_file,
        test_jets=int(y.size),
        class_counts={n: int(counts[i]) for i, n in enumerate(JET_CLASSES)},
        auc={n: float(auc[i]) for i, n in enumerate(JET_CLASSES)},
        roc=roc,
        btag=btag_comparison(p[labelled], y, test.btag[labelled]),
        response=pt_response(test.jet_pt, corrected_pt(out, test.jet_pt), test.gen_pt),
    )


def _onnx(vr: JetTagViewResult, test: JetTagInputs, cfg: JetTagConfig, folder: Path) -> None:
    from l1scout.tasks.jettag.model import export_jettag_onnx, jettag_onnx_parity

    path = export_jettag_onnx(vr.training.model, folder / f"jettag_{vr.view}.onnx")
    n = min(cfg.deploy.parity_jets, test.constituents.shape[0])
    vr.onnx = path
    vr.onnx_parity = jettag_onnx_parity(
        vr.training.model, path, test.constituents[:n], test.mask[:n]
    )
    if vr.onnx_parity > ONNX_TOLERANCE:
        _log.warning(
            "%s: ONNX differs from torch by %.3g (> %.0e)", path, vr.onnx_parity, ONNX_TOLERANCE
        )


def _firmware(
    model: JetTagDeepSets, test: JetTagInputs, cfg: JetTagConfig, folder: Path
) -> FirmwareCheck:
    from l1scout.tasks.jettag.firmware import build_jettag_firmware, emulate_jettag
    from l1scout.tasks.jettag.training import predict_jettag

    n_test = test.constituents.shape[0]
    if n_test == 0:
        return FirmwareCheck(None, 0, False, 0.0, note="no test jets")
    reps = -(-cfg.deploy.emulation_jets // n_test)
    idx = np.tile(np.arange(n_test), reps)[: cfg.deploy.emulation_jets]
    x, mask = test.constituents[idx], test.mask[idx]
    threads = cfg.training.threads
    reference = predict_jettag(model, x, mask, threads=threads)
    t0 = time.perf_counter()
    emulated = emulate_jettag(model, x, mask, threads=threads)
    emu_s = time.perf_counter() - t0
    exact = bool(np.array_equal(emulated, reference))
    if cfg.deploy.hls_jets == 0:
        return FirmwareCheck(
            None, idx.size, exact, emu_s, note="hls4ml not built (deploy.hls_jets = 0)"
        )
    t0 = time.perf_counter()
    fw = build_jettag_firmware(model, folder)
    n_hls = min(cfg.deploy.hls_jets, n_test)
    hls = fw.predict(test.constituents[:n_hls], test.mask[:n_hls])
    build_s = time.perf_counter() - t0
    hls_exact = bool(np.array_equal(hls, reference[:n_hls]))
    if not (exact and hls_exact):
        _log.warning(
            "firmware differs from the quantized model (integer %s, hls4ml %s)", exact, hls_exact
        )
    return FirmwareCheck(fw.path, idx.size, exact, emu_s, n_hls, hls_exact, build_s)


def _hh4b(
    data: JetTagData, cfg: JetTagConfig, model: JetTagDeepSets, light_test: JetTagInputs
) -> HH4bResult:
    """The seed study in the L1T view (module docstring, stage 5)."""
    from l1scout.tasks.jettag.evaluation import b_score
    from l1scout.tasks.jettag.hh4b import btag_working_point, count_btagged, hh4b_study
    from l1scout.tasks.jettag.training import class_probabilities, predict_jettag
    from l1scout.tasks.rates import crossing_rate_khz

    h = cfg.hh4b
    sig_i = data.samples.index(cfg.data.signal)
    zb_i = data.samples.index(cfg.data.zero_bias)
    jets = data.jets("L1T", samples=[sig_i, zb_i])
    threads = cfg.training.threads
    score = b_score(
        class_probabilities(predict_jettag(model, jets.constituents, jets.mask, threads=threads))
    )
    light_score = b_score(
        class_probabilities(
            predict_jettag(model, light_test.constituents, light_test.mask, threads=threads)
        )
    )
    in_ht = (jets.jet_pt > h.ht_pt_min) & (np.abs(jets.jet_eta) < h.ht_eta_max)
    ev = jets.event[in_ht]
    n = data.n_events
    wps: dict[str, float] = {}
    counts: dict[str, np.ndarray] = {}
    all_light = np.ones(light_score.size, dtype=bool)
    for mistag in h.mistag_rates:
        name = f"mistag {mistag:g}"
        wps[name] = btag_working_point(light_score, all_light, mistag)
        counts[name] = count_btagged(ev, score[in_ht], wps[name], n)
    wps[CARD_WORKING_POINT] = 0.5
    counts[CARD_WORKING_POINT] = count_btagged(
        ev, (jets.btag[in_ht] & 1).astype(np.float64), 0.5, n
    )
    zb = data.sample == zb_i
    sig = data.sample == sig_i
    ht = data.views["L1T"].ht
    return hh4b_study(
        ht[zb],
        {k: v[zb] for k, v in counts.items()},
        ht[sig],
        {k: v[sig] for k, v in counts.items()},
        rates_khz=h.rates_khz,
        n_btags=h.n_btags,
        working_points=wps,
        crossing_rate_khz=crossing_rate_khz(h.crossing_rate),
        min_pass=h.min_pass,
    )


def _metrics(result: JetTagResult) -> dict[str, float]:
    out: dict[str, float] = {}
    for view, vr in result.views.items():
        for name, v in vr.auc.items():
            out[f"auc.{view}.{metric_class_name(name)}"] = v
        out[f"auc.{view}.mean"] = vr.mean_auc
        out[f"btag.{view}.card_eff"] = vr.btag.card_eff
        out[f"btag.{view}.card_mistag"] = vr.btag.card_mistag
        out[f"btag.{view}.tagger_mistag_at_card_eff"] = vr.btag.tagger_mistag_at_card_eff
        out[f"response.{view}.raw_median"] = vr.response.raw_median
        out[f"response.{view}.regressed_median"] = vr.response.regressed_median
        out[f"response.{view}.regressed_resolution"] = vr.response.regressed_resolution
        if vr.onnx_parity is not None:
            out[f"onnx.{view}.parity"] = vr.onnx_parity
        out[f"train.{view}.best_epoch"] = float(vr.training.best_epoch)
        out[f"train.{view}.seconds"] = vr.training.seconds
    fw = result.firmware
    if fw is not None:
        out["firmware.emulation_bit_exact"] = float(fw.emulation_bit_exact)
        out["firmware.emulation_jets"] = float(fw.emulation_jets)
        if fw.hls_bit_exact is not None:
            out["firmware.hls_bit_exact"] = float(fw.hls_bit_exact)
    if result.hh4b is not None:
        for row in result.hh4b.rows:
            key = f"hh4b.{row.rate_khz:g}kHz.{row.working_point.replace(' ', '_')}.{row.n_btag}b"
            out[f"{key}.ht_threshold"] = row.ht_threshold
            out[f"{key}.btag_ht_threshold"] = row.btag_ht_threshold
            out[f"{key}.threshold_drop"] = row.threshold_drop
            out[f"{key}.ht_efficiency"] = row.ht_only_efficiency.value
            out[f"{key}.btag_efficiency"] = row.with_btag_efficiency.value
    out.update({f"stage.{k}.seconds": v for k, v in result.stage_seconds.items()})
    return {k: float(v) for k, v in out.items() if math.isfinite(float(v))}


def _summary(result: JetTagResult, cfg: JetTagConfig) -> dict[str, Any]:
    views: dict[str, Any] = {}
    for view, vr in result.views.items():
        tr = vr.training
        views[view] = {
            "model_file": str(vr.model_file),
            "test_jets": vr.test_jets,
            "class_counts": vr.class_counts,
            "auc": vr.auc,
            "mean_auc": vr.mean_auc,
            "btag": {
                "card_eff": vr.btag.card_eff,
                "card_mistag": vr.btag.card_mistag,
                "tagger_mistag_at_card_eff": vr.btag.tagger_mistag_at_card_eff,
                "n_b": vr.btag.n_b,
                "n_light": vr.btag.n_light,
            },
            "response": vr.response.__dict__,
            "onnx": None if vr.onnx is None else str(vr.onnx),
            "onnx_parity": vr.onnx_parity,
            "onnx_ok": vr.onnx_ok,
            "training": {
                "epochs": len(tr.history),
                "best_epoch": tr.best_epoch,
                "stopped_early": tr.stopped_early,
                "seconds": tr.seconds,
                "train_jets": tr.train_jets,
            },
        }
    fw = result.firmware
    summary: dict[str, Any] = json_safe(
        {
            "name": cfg.name,
            "run_id": result.run_id,
            "dataset_hash": result.dataset_hash,
            "source": result.source,
            "report": str(result.report),
            "events": result.events,
            "auc_table": result.auc_table(),
            "views": views,
            "firmware": None if fw is None else {**fw.__dict__, "path": str(fw.path)},
            "hh4b": None
            if result.hh4b is None
            else {
                "zero_bias_events": result.hh4b.zero_bias_events,
                "signal_events": result.hh4b.signal_events,
                "working_points": dict(result.hh4b.working_points),
                "rows": result.hh4b.table(),
            },
            "stage_seconds": result.stage_seconds,
        }
    )
    return summary


def _log_run(run: TrackedRun, result: JetTagResult, cfg: JetTagConfig) -> None:
    from l1scout.track.registry import register_model

    for view, vr in result.views.items():
        for epoch, metrics in enumerate(vr.training.history):
            run.log_metrics(
                {f"{view}.{k}": float(v) for k, v in metrics.items() if math.isfinite(float(v))},
                step=epoch,
            )
    l1 = result.views.get("L1T")
    if l1 is not None and l1.onnx is not None:
        uri = run.log_onnx_model(l1.onnx, name="model")
        t = cfg.tracking
        register_model(uri, t.registered_model, alias=t.alias, uri=run.uri)


def run_jettag(
    cfg: JetTagConfig,
    out: Path | str,
    data_dir: Path | str | None = None,
    *,
    tracking_uri: str | None = None,
    firmware: bool = True,
    progress: Progress | None = None,
) -> JetTagResult:
    """Run the whole jet-tagging task of *cfg* into the folder *out* (module docstring).

    Args:
        cfg: the task's configuration.
        out: the output folder (models, ONNX, firmware, report, ``summary.json``).
        data_dir: where the samples are, and are produced if missing (default ``<out>/data``).
        tracking_uri: replaces ``tracking.uri``.
        firmware: False skips the firmware stage whatever ``deploy.firmware`` says.
        progress: ``progress(stage, done, total)`` for the production and the training.

    Raises:
        ConfigError: a bad tracking URI (before any work), or a process without files in ``data.source``.
        ProductionError: the samples could not be produced.
        DataFormatError: the files lack a column, or a split has no jet.
        L1ScoutError: a training diverged.
    """
    from l1scout.tasks.jettag.data import (
        SPLIT_NAMES,
        ensure_jettag_samples,
        load_jettag_data,
        take_jets,
    )
    from l1scout.tasks.jettag.report import write_jettag_report
    from l1scout.tasks.jettag.training import train_jettag
    from l1scout.track.runs import start_run

    cfg = with_tracking_uri(cfg, tracking_uri)
    out = Path(out)
    data_path = Path(data_dir) if data_dir is not None else out / "data"
    times: Timer = {}
    tc = cfg.training

    with stage(times, "data"):
        files, digest = ensure_jettag_samples(cfg, data_path, progress=progress)
    source = cfg.data.source or str(data_path / "samples")
    with stage(times, "read"):
        data = load_jettag_data(cfg, files, source=source)
    train_samples = _train_samples(data, cfg)
    views: dict[str, JetTagViewResult] = {}
    for view in cfg.data.views:
        bar = f"train {view}"

        def on_epoch(epoch: int, metrics: Mapping[str, float], bar: str = bar) -> None:
            if progress is not None:
                progress(bar, epoch + 1, tc.max_epochs)
            _log.info("%s epoch %d: val_loss %.4f", bar, epoch, metrics["val_loss"])

        with stage(times, f"train {view}"):
            training = train_jettag(
                data.jets(view, 0, samples=train_samples),
                data.jets(view, 1, samples=train_samples),
                cfg.model,
                tc,
                on_epoch=on_epoch,
            )
            if progress is not None:
                progress(bar, tc.max_epochs, tc.max_epochs)
            model_file = _save_model(
                training.model,
                out / "models" / f"jettag_{view}.pt",
                {"best_epoch": training.best_epoch, "epochs": len(training.history)},
            )
        test = data.jets(view, 2, samples=train_samples)
        with stage(times, f"evaluate {view}"):
            vr = _evaluate_view(view, training, model_file, test, tc.threads)
        if cfg.deploy.onnx:
            with stage(times, f"onnx {view}"):
                _onnx(vr, test, cfg, out / "onnx")
        views[view] = vr
    l1 = views["L1T"]
    l1_test = data.jets("L1T", 2, samples=train_samples)
    fw: FirmwareCheck | None = None
    if firmware and cfg.deploy.firmware and cfg.model.quantized:
        with stage(times, "firmware"):
            fw = _firmware(l1.training.model, l1_test, cfg, out / "firmware")
    with stage(times, "hh4b"):
        light = l1_test.label == JET_CLASSES.index("uds")
        light |= l1_test.label == JET_CLASSES.index("g")
        hh4b = _hh4b(data, cfg, l1.training.model, take_jets(l1_test, light))
    events = dict(zip(SPLIT_NAMES, data.events_per_split().values(), strict=True))
    with start_run(
        cfg.tracking.experiment,
        run_name=cfg.name,
        params={"jettag": cfg.model_dump(mode="json")},
        tags={"l1scout.stage": "pipeline", "l1scout.task": "jettag"},
        dataset_hash=digest,
        uri=cfg.tracking.uri,
    ) as run:
        result = JetTagResult(
            report=out / "report" / "report.html",
            summary=out / "summary.json",
            views=views,
            firmware=fw,
            hh4b=hh4b,
            events=events,
            source=source,
            run_id=run.run_id,
            dataset_hash=digest,
        )
        with stage(times, "mlflow"):
            _log_run(run, result, cfg)
        with stage(times, "report"):
            result.stage_seconds = dict(times)
            result.report = write_jettag_report(result, cfg, out / "report")
        result.stage_seconds = dict(times)
        text = json.dumps(_summary(result, cfg), indent=2)
        atomic_write_bytes(result.summary, text.encode())
        run.log_metrics(_metrics(result))
        run.log_artifact(result.report.parent, "report")
        run.log_artifact(result.summary)
        run.log_artifact(out / "models", "models")
        if (out / "onnx").is_dir():
            run.log_artifact(out / "onnx", "onnx")
    return result
