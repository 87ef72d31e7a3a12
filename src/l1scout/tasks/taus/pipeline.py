"""The soft-tau study in one call: data -> training -> evaluation -> ONNX, firmware -> MLflow -> report.

:func:`run_taus` is what ``l1scout run taus [CONFIG]`` runs. Its stages, each
timed (:data:`STAGES`, :attr:`TauPipelineResult.stage_seconds`):

1. **data**: the samples, produced where missing
   (:func:`~l1scout.tasks.taus.data.ensure_tau_samples`).
2. **candidates**: the files read one at a time into one
   :class:`~l1scout.tasks.taus.dataset.TauDataset` per configured method
   (CLUE, anti-kT R = 0.4, NNPuppiTau's cones),
   :func:`~l1scout.tasks.taus.dataset.load_tau_datasets`: memory holds the
   candidates plus one file's PUPPI candidates, not every event's.
3. **train**: NNPuppiTau and one transformer per clustering
   (:func:`~l1scout.tasks.taus.study.train_tau_models`), each written to
   ``models/<name>.pt`` (:func:`~l1scout.tasks.taus.model_files.save_tau_models`,
   atomically). With ``[models] load`` set, nothing is trained: the saved
   models of that folder are read and checked **first, before the data
   stage** (:func:`~l1scout.tasks.taus.model_files.load_tau_models`: a
   missing or bad file stops the run with one line naming it), and this
   stage only hands them on; the report and ``summary.json`` say where they
   came from, and there are no training curves or times.
4. **evaluate**: RECO / ID efficiencies, fakes, responses, charge accuracy and
   the di-tau working points at ``rate.rate_khz``
   (:func:`~l1scout.tasks.taus.study.evaluate_tau_models`; working points
   chosen on validation, quoted on test).
5. **onnx**: every model through :func:`l1scout.deploy.onnx.export_onnx`
   (the transformers as :func:`~l1scout.tasks.taus.transformer.export_transformer`
   writes them), ONNX Runtime checked against torch on the model's **test**
   candidates (:func:`l1scout.deploy.onnx.onnx_parity`, largest absolute
   difference over every output). The transformers must agree to
   :data:`ONNX_TOLERANCE` (1e-5); NNPuppiTau's fixed-point network to half an
   output LSB (its ONNX graph rounds as the torch model does). Each ONNX file
   is logged as an MLflow model and registered as
   ``<tracking.registered_model>-<model>`` with ``tracking.alias``.
6. **firmware** (unless ``firmware=False`` or ``deploy.firmware = false``):
   NNPuppiTau's hls4ml project, compiled; every test candidate through its
   integer emulation must equal the quantized torch model **bit for bit**, and
   the first :data:`HLS4ML_CHECKED` through hls4ml's C++ must equal the
   integer emulation.
7. **mlflow**: the child runs of the models (below), their ONNX models
   logged and registered.
8. **report**: :func:`l1scout.tasks.taus.report.write_tau_report`, then
   ``summary.json`` (written atomically) beside it.

MLflow: one parent run (the configuration as parameters; the di-tau
efficiencies and rates, RECO / ID efficiencies, parity, firmware and timing
metrics; the report, ``summary.json`` and the ONNX files as artifacts) and one
child run per model (its per-epoch losses, its ONNX model, registered), all
tagged with the dataset hash of the samples.

Every file goes under the output folder: ``models/<model>.pt`` (trained
models only), ``onnx/<model>.onnx``, ``firmware/nnpuppitau/``, ``report/``,
``summary.json``.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from l1scout._files import atomic_write_bytes
from l1scout._timing import Timer, stage
from l1scout.errors import L1ScoutError
from l1scout.tasks._tracking import with_tracking_uri
from l1scout.tasks.taus.config import TauConfig

if TYPE_CHECKING:
    from l1scout.tasks.taus.dataset import TauDataset
    from l1scout.tasks.taus.results import TauEvaluation, TauModels
    from l1scout.track.runs import TrackedRun

__all__ = [
    "HLS4ML_CHECKED",
    "ONNX_TOLERANCE",
    "STAGES",
    "FirmwareCheck",
    "OnnxCheck",
    "TauPipelineResult",
    "run_taus",
]

_log = logging.getLogger(__name__)

#: The stages, in order, as they appear in :attr:`TauPipelineResult.stage_seconds`.
STAGES = ("data", "candidates", "train", "evaluate", "onnx", "firmware", "mlflow", "report")
#: Largest |torch - ONNX Runtime| allowed for a float model (the transformers).
ONNX_TOLERANCE = 1e-5
#: Test candidates also run through hls4ml's compiled C++ (the rest: its integer emulation).
HLS4ML_CHECKED = 2000
_TEST = 2

#: ``progress(stage, done, total)``: production, then one bar per training.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class OnnxCheck:
    """One model's ONNX export and its parity with torch.

    Attributes:
        model: ``"nnpuppitau"``, ``"transformer_clue"`` or ``"transformer_ak4"``.
        path: the ``.onnx`` file.
        candidates: test candidates compared.
        max_abs_diff: largest |torch - ONNX Runtime| over every output.
        tolerance: the allowed difference (:data:`ONNX_TOLERANCE`, or half an
            output LSB for NNPuppiTau's fixed-point network).
        registered: ``"<name> v<version> @<alias>"`` in the MLflow registry.
    """

    model: str
    path: Path
    candidates: int
    max_abs_diff: float
    tolerance: float
    registered: str = ""

    @property
    def ok(self) -> bool:
        """Whether the difference is within the tolerance."""
        return self.max_abs_diff <= self.tolerance


@dataclass(frozen=True)
class FirmwareCheck:
    """NNPuppiTau's firmware and its emulation check on the test candidates.

    Attributes:
        path: the hls4ml project folder.
        candidates: test candidates through the integer emulation.
        bit_exact: every one equals the quantized torch model bit for bit.
        hls4ml_checked: the first of them also run through hls4ml's C++.
        hls4ml_agrees: hls4ml's C++ equals the integer emulation on those.
    """

    path: Path
    candidates: int
    bit_exact: bool
    hls4ml_checked: int
    hls4ml_agrees: bool


@dataclass
class TauPipelineResult:
    """What :func:`run_taus` made.

    ``model_files``: the saved models, name -> ``models/<name>.pt`` (empty
    when they were loaded); ``models_loaded_from``: the ``[models] load``
    folder they were read from (None: trained in this run).
    """

    report: Path
    summary: Path
    evaluation: TauEvaluation
    onnx: dict[str, OnnxCheck] = field(default_factory=dict)
    firmware: FirmwareCheck | None = None
    stage_seconds: dict[str, float] = field(default_factory=dict)
    train_seconds: dict[str, float] = field(default_factory=dict)
    run_id: str = ""
    dataset_hash: str = ""
    model_files: dict[str, Path] = field(default_factory=dict)
    models_loaded_from: Path | None = None


def _slug(text: str) -> str:
    """A metric-name piece: lower case, runs of other characters as ``_``.

    >>> _slug("NNPuppiTau (double-tau seed)")
    'nnpuppitau_double-tau_seed'
    """
    return re.sub(r"[^a-z0-9.-]+", "_", text.lower()).strip("_")


def _test_index(ds: TauDataset) -> np.ndarray:
    return np.flatnonzero(ds.split == _TEST)


def _train_progress(cfg: TauConfig, progress: Progress | None) -> Any:
    """The study's per-epoch callback: drives the bars and keeps the history for MLflow."""
    history: dict[str, list[dict[str, float]]] = {}
    totals = {"nnpuppitau": cfg.nnpuppitau.epochs}

    def on_epoch(name: str, epoch: int, metrics: Mapping[str, float]) -> None:
        history.setdefault(name, []).append({k: float(v) for k, v in metrics.items()})
        if progress is not None:
            total = totals.get(name, cfg.transformer.train.max_epochs)
            progress(f"train {name}", min(epoch + 1, total), total)

    return on_epoch, history


def _events_and_datasets(
    cfg: TauConfig, data_dir: Path, times: Timer, progress: Progress | None
) -> tuple[dict[str, TauDataset], str]:
    from l1scout.tasks.taus.data import ensure_tau_samples
    from l1scout.tasks.taus.dataset import load_tau_datasets

    with stage(times, "data"):
        files, digest = ensure_tau_samples(cfg, data_dir, progress=progress)
    with stage(times, "candidates"):
        # file by file: only one file's PUPPI candidates in memory at a time
        zb = cfg.data.zero_bias.process
        datasets: dict[str, TauDataset] = load_tau_datasets(
            files[zb],
            {s: files[s] for s in cfg.data.signal_names},
            cfg.candidates.methods,
            cfg.candidates,
            splits=cfg.splits,
            zero_bias_name=zb,
            view=cfg.data.view,
            puppi_weights=cfg.data.puppi_weights,
        )
    for m, ds in datasets.items():
        _log.info("%s: %d candidates, %d matched to a tau", m, len(ds), int(ds.is_tau.sum()))
    return datasets, digest


def _deployables(
    models: TauModels, datasets: Mapping[str, TauDataset]
) -> list[tuple[str, Any, np.ndarray]]:
    """(model name, torch model, its packed test inputs) of every trained model."""
    out: list[tuple[str, Any, np.ndarray]] = []
    if models.nnpuppitau is not None:
        ds = datasets["nnpuppitau"]
        x = np.ascontiguousarray(ds.nnpuppitau[_test_index(ds)], dtype=np.float32)
        out.append(("nnpuppitau", models.nnpuppitau.model, x))
    for method, trained in models.transformers.items():
        ds = datasets[method]
        x = ds.transformer.subset(_test_index(ds).astype(np.int64)).packed()
        out.append((f"transformer_{method}", trained.model, x))
    return out


def _export(name: str, model: Any, x: np.ndarray, folder: Path) -> OnnxCheck:
    """Write *model* as ONNX and measure its parity with torch on *x*."""
    from l1scout.deploy.onnx import export_onnx, onnx_parity
    from l1scout.tasks.taus.nnpuppitau import N_INPUTS
    from l1scout.tasks.taus.transformer import export_transformer

    path = folder / f"{name}.onnx"
    if name == "nnpuppitau":
        export_onnx(model, N_INPUTS, path)
        spec = model.spec
        tolerance = ONNX_TOLERANCE if spec is None else 0.5 * spec.output.lsb
    else:
        export_transformer(model, path)
        tolerance = ONNX_TOLERANCE
    diff = onnx_parity(model, path, x) if len(x) else 0.0
    check = OnnxCheck(name, path, len(x), diff, tolerance)
    if not check.ok:
        _log.warning("%s: ONNX differs from torch by %.3g, more than %.3g", path, diff, tolerance)
    return check


def _firmware(models: TauModels, datasets: Mapping[str, TauDataset], folder: Path) -> FirmwareCheck:
    """NNPuppiTau's hls4ml project; its emulation against the quantized torch model on test."""
    import torch

    from l1scout.tasks.taus.nnpuppitau import build_nnpuppitau_firmware

    if models.nnpuppitau is None:  # the config has no nnpuppitau method
        msg = "firmware: no NNPuppiTau model (candidates.methods lacks 'nnpuppitau')"
        raise L1ScoutError(msg)
    model = models.nnpuppitau.model
    ds = datasets["nnpuppitau"]
    x = np.ascontiguousarray(ds.nnpuppitau[_test_index(ds)], dtype=np.float32)
    project = build_nnpuppitau_firmware(model, folder / "nnpuppitau")
    fast = project.predict(x, engine="integer")
    with torch.no_grad():
        want = model.eval()(torch.from_numpy(x)).numpy()
    bit_exact = bool(np.array_equal(fast.view(np.uint32), want.view(np.uint32)))
    n_ref = min(len(x), HLS4ML_CHECKED)
    agrees = bool(
        np.array_equal(project.predict(x[:n_ref]).view(np.uint32), fast[:n_ref].view(np.uint32))
    )
    if not (bit_exact and agrees):
        _log.warning(
            "%s: emulation not bit-exact (torch: %s, hls4ml C++: %s)",
            project.path,
            bit_exact,
            agrees,
        )
    return FirmwareCheck(project.path, len(x), bit_exact, n_ref, agrees)


def _eff(e: Any) -> dict[str, float]:
    return {"": float(e.value), ".low": float(e.low), ".high": float(e.high)}


def _metrics(
    evaluation: TauEvaluation,
    onnx: Mapping[str, OnnxCheck],
    fw: FirmwareCheck | None,
    times: Mapping[str, float],
    train_seconds: Mapping[str, float],
) -> dict[str, float]:
    """The parent run's metrics (names: letters, digits, ``. _ - /``)."""
    out: dict[str, float] = {}
    for d in evaluation.ditau.values():
        key = f"ditau.{d.method}"
        for suffix, v in _eff(d.test.efficiency).items():
            out[f"{key}.efficiency{suffix}"] = v
        for suffix, v in _eff(d.test_beats_range.efficiency).items():
            out[f"{key}.efficiency_beats_range{suffix}"] = v
        out[f"{key}.rate_khz"] = float(d.test.rate.rate_khz)
        out[f"{key}.rate_khz.low"] = float(d.test.rate.low_khz)
        out[f"{key}.rate_khz.high"] = float(d.test.rate.high_khz)
        out[f"{key}.val_rate_khz"] = float(d.search.best.rate.rate_khz)
    if evaluation.menu_seed is not None:
        row = evaluation.menu_seed
        out["ditau.nnpuppitau_menu_seed.efficiency"] = float(row.efficiency.value)
        out["ditau.nnpuppitau_menu_seed.rate_khz"] = float(row.rate.rate_khz)
    for m, ev in evaluation.methods.items():
        for which, binned in (("reco", ev.efficiency.reco), ("id", ev.efficiency.id)):
            if binned is not None and binned.overall is not None:
                for suffix, v in _eff(binned.overall).items():
                    out[f"{m}.{which}_efficiency{suffix}"] = v
        out[f"{m}.fakes_per_event.reco"] = float(ev.fakes_reco.per_event[0])
        out[f"{m}.fakes_per_event.id"] = float(ev.fakes_id.per_event[0])
    for name, c in onnx.items():
        out[f"onnx.{name}.max_abs_diff"] = c.max_abs_diff
    if fw is not None:
        out["firmware.nnpuppitau.bit_exact"] = float(fw.bit_exact and fw.hls4ml_agrees)
        out["firmware.nnpuppitau.candidates"] = float(fw.candidates)
    out.update({f"stage.{k}.seconds": v for k, v in times.items()})
    out.update({f"train.{k}.seconds": v for k, v in train_seconds.items()})
    return {k: v for k, v in out.items() if math.isfinite(v)}


def _model_runs(
    cfg: TauConfig,
    parent: TrackedRun,
    digest: str,
    history: Mapping[str, list[dict[str, float]]],
    onnx: dict[str, OnnxCheck],
    train_seconds: Mapping[str, float],
    loaded_from: Path | None = None,
) -> None:
    """One child run per model: its per-epoch losses; its ONNX model logged and registered.

    Loaded models (*loaded_from*) have no losses; their runs are tagged with the folder.
    """
    from l1scout.track.registry import register_model
    from l1scout.track.runs import start_run

    tracking = cfg.tracking
    names = list(dict.fromkeys([*train_seconds, *onnx]))
    for name in names:
        params: dict[str, Any] = (
            {"nnpuppitau": cfg.nnpuppitau.model_dump(mode="json")}
            if name == "nnpuppitau"
            else {"transformer": cfg.transformer.model_dump(mode="json")}
        )
        with start_run(
            tracking.experiment,
            run_name=name,
            params=params,
            tags={"l1scout.stage": "train", "l1scout.model": name}
            | ({} if loaded_from is None else {"l1scout.loaded_from": str(loaded_from)}),
            dataset_hash=digest,
            parent=parent,
        ) as run:
            for epoch, metrics in enumerate(history.get(name, [])):
                finite = {k: v for k, v in metrics.items() if math.isfinite(v)}
                run.log_metrics(finite, step=epoch)
            if name in train_seconds:
                run.log_metrics({"train.seconds": train_seconds[name]})
            check = onnx.get(name)
            if check is not None:
                run.log_metrics({"onnx.max_abs_diff": check.max_abs_diff})
                uri = run.log_onnx_model(check.path, name="model")
                model_name = f"{tracking.registered_model}-{name.replace('_', '-')}"
                reg = register_model(uri, model_name, alias=tracking.alias, uri=run.uri)
                onnx[name] = OnnxCheck(
                    check.model,
                    check.path,
                    check.candidates,
                    check.max_abs_diff,
                    check.tolerance,
                    f"{reg.name} v{reg.version} @{reg.alias}",
                )


def _models_line(cfg: TauConfig, out: Path) -> str:
    """Where the models came from, for the report and the summary."""
    if cfg.models.load is not None:
        return (
            f"loaded from {cfg.models.load} ([models] load): not trained here, no training curves"
        )
    return f"trained here; saved in {out / 'models'}"


def _header(
    cfg: TauConfig, datasets: Mapping[str, TauDataset], digest: str, models: str
) -> dict[str, str]:
    """The report's setup lines."""
    any_ds = next(iter(datasets.values()))
    samples = ", ".join(
        f"{name} ({int(np.sum(any_ds.event_sample == i))} events)"
        for i, name in enumerate(any_ds.samples)
    )
    return {
        "config": cfg.name,
        "samples": f"{samples}; pileup {cfg.data.pileup:g}, {cfg.data.view} view",
        "candidates": ", ".join(f"{m} ({len(ds)})" for m, ds in datasets.items()),
        "rate": f"{cfg.rate.rate_khz:g} kHz of a {cfg.rate.crossing_rate_khz:,.6g} kHz crossing rate",
        "models": models,
        "dataset hash": digest,
    }


def _summary(result: TauPipelineResult, cfg: TauConfig) -> dict[str, object]:
    ev = result.evaluation
    return {
        "name": cfg.name,
        "run_id": result.run_id,
        "dataset_hash": result.dataset_hash,
        "report": str(result.report),
        "rate_khz": cfg.rate.rate_khz,
        "table": ev.table(),
        "ditau_efficiency": {k: list(v) for k, v in ev.efficiencies().items()},
        "verdict": None if ev.verdict is None else ev.verdict.text,
        "onnx": {k: asdict(c) | {"path": str(c.path), "ok": c.ok} for k, c in result.onnx.items()},
        "firmware": None
        if result.firmware is None
        else asdict(result.firmware) | {"path": str(result.firmware.path)},
        "stage_seconds": result.stage_seconds,
        "train_seconds": result.train_seconds,
        "models": {
            "loaded_from": None
            if result.models_loaded_from is None
            else str(result.models_loaded_from),
            "files": {k: str(v) for k, v in result.model_files.items()},
        },
    }


def run_taus(
    cfg: TauConfig,
    out: Path | str,
    data_dir: Path | str | None = None,
    *,
    tracking_uri: str | None = None,
    firmware: bool = True,
    progress: Progress | None = None,
) -> TauPipelineResult:
    """Run the whole soft-tau study of *cfg* into the folder *out* (module docstring).

    Args:
        cfg: the study.
        out: the output folder (ONNX files, firmware, report, ``summary.json``).
        data_dir: where the samples are, and are produced if missing
            (default ``<out>/data``).
        tracking_uri: replaces ``tracking.uri`` (None: the config's, else
            ``$MLFLOW_TRACKING_URI``, else the local store).
        firmware: False skips the firmware stage whatever ``deploy.firmware`` says.
        progress: ``progress(stage, done, total)`` for the production and each training.

    Returns:
        The report, the summary, the evaluation, the ONNX and firmware checks,
        the wall time of each stage (s) and the MLflow parent run's id.

    Raises:
        ConfigError: a tracking URI of a scheme MLflow does not know (checked
            before any work).
        DataFormatError: with ``[models] load``, a missing or bad model file
            (checked before any work; one line naming the file).
        ProductionError: the samples could not be produced.
    """
    from l1scout.tasks.taus.model_files import load_tau_models, save_tau_models
    from l1scout.tasks.taus.study import evaluate_tau_models, train_tau_models
    from l1scout.track.runs import start_run

    cfg = with_tracking_uri(cfg, tracking_uri)
    out = Path(out)
    data_path = Path(data_dir) if data_dir is not None else out / "data"
    times: Timer = {}
    loaded = None if cfg.models.load is None else load_tau_models(cfg)  # before the data

    datasets, digest = _events_and_datasets(cfg, data_path, times, progress)
    on_epoch, history = _train_progress(cfg, progress)
    saved: dict[str, Path] = {}
    with stage(times, "train"):
        if loaded is not None:
            models = loaded
            _log.info("models: loaded from %s, not trained", cfg.models.load)
        else:
            models = train_tau_models(datasets, cfg, progress=on_epoch)
            saved = save_tau_models(models, out / "models")
    with stage(times, "evaluate"):
        evaluation = evaluate_tau_models(datasets, models, cfg)
    onnx: dict[str, OnnxCheck] = {}
    with stage(times, "onnx"):
        if cfg.deploy.onnx:
            for name, model, x in _deployables(models, datasets):
                onnx[name] = _export(name, model, x, out / "onnx")
    fw = None
    with stage(times, "firmware"):
        if firmware and cfg.deploy.firmware and models.nnpuppitau is not None:
            fw = _firmware(models, datasets, out / "firmware")

    with start_run(
        cfg.tracking.experiment,
        run_name=cfg.name,
        params={"taus": cfg.model_dump(mode="json")},
        tags={"l1scout.stage": "pipeline", "l1scout.task": "taus"},
        dataset_hash=digest,
        uri=cfg.tracking.uri,
    ) as parent:
        with stage(times, "mlflow"):
            _model_runs(cfg, parent, digest, history, onnx, models.seconds, cfg.models.load)
        with stage(times, "report"):
            from l1scout.tasks.taus.report import write_tau_report

            report = write_tau_report(
                evaluation,
                out / "report",
                header=_header(cfg, datasets, digest, _models_line(cfg, out)),
                timings=dict(times),
            )
        result = TauPipelineResult(
            report=report,
            summary=out / "summary.json",
            evaluation=evaluation,
            onnx=onnx,
            firmware=fw,
            stage_seconds=dict(times),
            train_seconds=dict(models.seconds),
            run_id=parent.run_id,
            dataset_hash=digest,
            model_files=saved,
            models_loaded_from=cfg.models.load,
        )
        text = json.dumps(_summary(result, cfg), indent=2, default=_json_default)
        atomic_write_bytes(result.summary, text.encode())
        parent.log_metrics(_metrics(evaluation, onnx, fw, times, models.seconds))
        parent.log_artifact(report.parent, "report")
        parent.log_artifact(result.summary)
        if onnx:
            parent.log_artifact(out / "onnx", "onnx")
        if saved:
            parent.log_artifact(out / "models", "models")
    return result


def _json_default(value: object) -> object:
    """JSON for numpy scalars and non-finite floats' stand-ins."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return str(value)
