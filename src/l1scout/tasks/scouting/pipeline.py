"""The scouting task in one call: data -> models -> orbits -> menu -> MLflow -> report.

:func:`run_scouting` is what ``l1scout run scouting [CONFIG]`` runs. Its
stages, each timed (:data:`STAGES`, :attr:`ScoutingResult.stage_seconds`):

1. **data**: the zero-bias and signal samples, produced where missing
   (:func:`~l1scout.tasks.scouting.samples.ensure_scouting_samples`).
2. **models** (``[models] train = true``): the demo anomaly and soft-tau
   models trained on the training part of the samples, their working points
   chosen on the validation part, exported to ONNX, checked against torch and
   registered in MLflow (:func:`~l1scout.tasks.scouting.models.train_scouting_models`);
   the menu's selections that load them (``models:/<prefix>-anomaly@<alias>``,
   ``-ditau``) get the working points. The menu that runs is written to
   ``menu.toml`` (with ``train = false``: the configured menu as it is).
3. **orbits**: the orbit part of every sample read as the stream sees it
   (:func:`~l1scout.tasks.scouting.events.read_stream_events`), encoded once
   (:func:`~l1scout.tasks.scouting.encode.encode_events`), placed in the
   filled crossings of ``orbits.n_orbits`` orbits with the signals injected
   at their luminosity and boost (:func:`~l1scout.tasks.scouting.orbits.plan_orbits`)
   and written as ``.l1sorb`` files with their truth sidecars
   (:func:`~l1scout.tasks.scouting.orbits.write_orbit_files`) in ``orbits/``.
4. **menu**: the menu over every orbit file (:func:`~l1scout.tasks.scouting.menu_run.run_menu`,
   in this process or on the ``[engine]``'s Dask workers; the merge is
   exact), written to ``menu/`` (``menu.json``, ``selected.parquet``,
   ``events.parquet``, ``table_<selection>.parquet``). The stage's wall time
   gives the orbits per second of the whole menu, files read included.
5. **mlflow**: the run's metrics (:func:`run_metrics`) and artifacts.
6. **report**: :func:`l1scout.tasks.scouting.report.write_scouting_report`,
   then ``summary.json`` (atomically) beside it.

Checked before any production: the menu file (it must load), a
``transformer.model.n_constituents`` equal to the menu's di-tau
``n_constituents``, and with ``train = false`` the menu's models (they must
load from the registry or their files).

MLflow: one run in ``tracking.experiment`` (the configuration as
parameters, the dataset hash as a tag) and, with a models stage, one child
run per model (its per-epoch losses, its ONNX model, registered).

Every file goes under the output folder: ``models/`` (ONNX files, the
anomaly scaler), ``menu.toml``, ``orbits/``, ``menu/``, ``report/``,
``summary.json``.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from l1scout._files import atomic_write_bytes
from l1scout._html import json_safe
from l1scout._timing import Timer, stage
from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks._tracking import with_tracking_uri
from l1scout.tasks.scouting.config import ScoutingConfig
from l1scout.tasks.scouting.pipeline_results import ScoutingResult, StreamFacts

if TYPE_CHECKING:
    from l1scout.tasks.scouting.menu import Menu
    from l1scout.tasks.scouting.ml_selections import DiTauParams
    from l1scout.tasks.scouting.models import ModelsResult
    from l1scout.tasks.scouting.results import MenuResult

__all__ = ["STAGES", "run_metrics", "run_scouting"]

_log = logging.getLogger(__name__)

#: The stages, in order, as they appear in :attr:`ScoutingResult.stage_seconds`.
STAGES = ("data", "models", "orbits", "menu", "mlflow", "report")

#: ``progress(stage, done, total)``: production, then one bar per training.
Progress = Callable[[str, int, int], None]


def _ditau_params(cfg: ScoutingConfig, menu: Menu) -> DiTauParams:
    """The menu's di-tau selection that loads the task's model (else the defaults), checked against *cfg*.

    Raises:
        ConfigError: its ``n_constituents`` differs from ``models.ditau.transformer.model.n_constituents``.
    """
    from l1scout.tasks.scouting.menu import DiTauSelection
    from l1scout.tasks.scouting.ml_selections import DiTauParams

    uri = f"models:/{cfg.model_names()['ditau']}@{cfg.tracking.alias}"
    found = [s for s in menu.selection if isinstance(s, DiTauSelection) and s.model == uri]
    params = found[0].params if found else DiTauParams()
    k = cfg.models.ditau.transformer.model.n_constituents
    if cfg.models.train and params.n_constituents != k:
        msg = (
            f"models.ditau.transformer.model.n_constituents: expected the menu's di-tau "
            f"n_constituents ({params.n_constituents}, {cfg.menu.file}), got {k}"
        )
        raise ConfigError(msg)
    if cfg.models.train and not found:
        _log.warning(
            "%s: no ditau selection loads %s; the model is trained all the same", cfg.menu.file, uri
        )
    return params


def _working_points(cfg: ScoutingConfig, models: ModelsResult) -> dict[str, dict[str, float]]:
    """Registry URI -> the fields the menu's selections of that model get."""
    names, alias = cfg.model_names(), cfg.tracking.alias
    return {f"models:/{names[k]}@{alias}": v for k, v in models.working_points.items()}


def _stream_facts(cfg: ScoutingConfig, paths: list[Path], plan: Any) -> StreamFacts:
    from l1scout.tasks.scouting.orbit_file import open_orbit_file

    words: dict[str, int] = {}
    for p in paths:
        with open_orbit_file(p) as f:
            for i in range(len(f)):
                for s in f.streams:
                    words[s] = words.get(s, 0) + f.n_words(i, s)
    return StreamFacts(
        n_orbits=plan.n_orbits,
        files=tuple(paths),
        words=words,
        distinct_zero_bias=plan.distinct_zero_bias,
        zero_bias_crossings=plan.zero_bias_crossings,
        injections=plan.injections(),
        filling=cfg.orbits.filling,
        lumi_cm2s=cfg.orbits.lumi_cm2s,
        candidates=cfg.orbits.candidates,
        plan=plan.summary(),
    )


def _orbits(cfg: ScoutingConfig, files: Mapping[str, list[Path]], folder: Path) -> StreamFacts:
    """The orbit part of every sample, encoded, planned into orbits and written (module docstring)."""
    from l1scout.tasks.scouting.encode import encode_events
    from l1scout.tasks.scouting.events import read_stream_events
    from l1scout.tasks.scouting.orbits import InjectedSignal, plan_orbits, write_orbit_files
    from l1scout.tasks.scouting.training_events import ORBIT, event_parts

    fractions = cfg.splits.fractions

    def orbit_part(identity: str, numbers: np.ndarray) -> np.ndarray:
        return np.asarray(event_parts(identity, numbers, fractions) == ORBIT)

    encoded = []
    for process in cfg.data.processes:
        events = read_stream_events(files[process], cfg.orbits.candidates, keep=orbit_part)
        encoded.append(encode_events(events))
        _log.info("orbit part of %s: %d events", process, events.n_events)
    signals = [InjectedSignal.of(e, cfg.data.boost(e.process)) for e in encoded[1:]]
    o = cfg.orbits
    plan = plan_orbits(
        o.n_orbits,
        encoded[0].n_events,
        signals,
        seed=o.seed,
        lumi_cm2s=o.lumi_cm2s,
        first_orbit=o.first_orbit,
        filling=o.filling,
        zero_bias=cfg.data.zero_bias.process,
    )
    paths = write_orbit_files(
        plan,
        encoded,
        folder,
        o.orbits_per_file,
        o.run,
        stem=cfg.name,
        meta={"config": cfg.name, "candidates": o.candidates, "filling": o.filling},
    )
    return _stream_facts(cfg, paths, plan)


def _rate_metrics(prefix: str, r: Any) -> dict[str, float]:
    if r is None:
        return {}
    return {prefix: r.rate_khz, f"{prefix}.low": r.low_khz, f"{prefix}.high": r.high_khz}


def run_metrics(
    menu: MenuResult,
    stream: StreamFacts,
    times: Mapping[str, float],
    models: ModelsResult | None = None,
) -> dict[str, float]:
    """The run's MLflow metrics (names: letters, digits, ``. _ - /``; non-finite values left out).

    Per selection ``<name>.rate_khz`` (distinct zero bias) and
    ``.pure_rate_khz`` (each with ``.low`` / ``.high``), ``.raw_rate_khz`` (no
    interval: reused crossings are not independent trials), ``<name>.eff.<signal>``
    (with intervals); ``overlap.<a>.<b>.rate_khz``; ``stream.mb_per_orbit``,
    ``stream.words_per_orbit``, ``stream.zero_bias_reuse``, ``menu.orbits_per_second``,
    ``menu.skipped_bx``, ``menu.bad_files``; ``stage.<name>.seconds``; with
    models, ``anomaly.threshold``, ``ditau.class_threshold``, ... and
    ``onnx.<model>.max_diff``.
    """
    out: dict[str, float] = {}
    zb, raw, pure = menu.zero_bias_rates(), menu.raw_rates(), menu.pure_rates()
    for n in menu.selections:
        out |= _rate_metrics(f"{n}.rate_khz", zb[n])
        raw_khz = raw[n]
        if raw_khz is not None:  # no interval: reused crossings are not independent trials
            out[f"{n}.raw_rate_khz"] = raw_khz
        out |= _rate_metrics(f"{n}.pure_rate_khz", pure[n])
    for (n, s), e in menu.efficiencies().items():
        out |= {f"{n}.eff.{s}": e.value, f"{n}.eff.{s}.low": e.low, f"{n}.eff.{s}.high": e.high}
    for (a, b), r in menu.overlaps().items():
        out |= _rate_metrics(f"overlap.{a}.{b}.rate_khz", r)
    seconds = times.get("menu", 0.0)
    out |= {
        "stream.mb_per_orbit": stream.mb_per_orbit,
        "stream.words_per_orbit": stream.words_per_orbit,
        "stream.zero_bias_reuse": stream.zero_bias_reuse,
        "stream.distinct_zero_bias": float(stream.distinct_zero_bias),
        "menu.n_orbits": float(menu.n_orbits),
        "menu.orbits_per_second": menu.n_orbits / seconds if seconds > 0 else math.nan,
        "menu.skipped_bx": float(menu.skipped_bx),
        "menu.bad_files": float(len(menu.bad_files)),
    }
    out |= {f"stage.{k}.seconds": v for k, v in times.items()}
    if models is not None:
        for kind, points in models.working_points.items():
            out |= {f"{kind}.{k}": v for k, v in points.items()}
        for check in (models.anomaly, models.ditau):
            out[f"onnx.{check.kind}.max_diff"] = check.max_diff
            out[f"train.{check.kind}.seconds"] = check.train_seconds
    return {k: float(v) for k, v in out.items() if math.isfinite(v)}


def _summary(result: ScoutingResult, cfg: ScoutingConfig) -> dict[str, object]:
    m = result.models
    s = result.stream
    return {
        "name": cfg.name,
        "run_id": result.run_id,
        "dataset_hash": result.dataset_hash,
        "report": str(result.report),
        "menu_file": str(result.menu_file),
        "menu_folder": str(result.menu_folder),
        "stream": {
            "n_orbits": s.n_orbits,
            "files": [str(p) for p in s.files],
            "words": s.words,
            "words_per_orbit": s.words_per_orbit,
            "mb_per_orbit": s.mb_per_orbit,
            "distinct_zero_bias": s.distinct_zero_bias,
            "zero_bias_crossings": s.zero_bias_crossings,
            "zero_bias_reuse": s.zero_bias_reuse,
            "injections": s.injections,
            "filling": s.filling,
            "lumi_cm2s": s.lumi_cm2s,
            "candidates": s.candidates,
        },
        "menu": result.menu.summary(),
        "orbits_per_second": result.orbits_per_second,
        "models": None
        if m is None
        else {
            "working_points": m.working_points,
            "events": m.events,
            "anomaly_threshold": asdict(m.anomaly_threshold),
            "onnx": {
                c.kind: {
                    "path": str(c.path),
                    "max_diff": c.max_diff,
                    "tolerance": c.tolerance,
                    "ok": c.ok,
                    "compared": c.compared,
                    "registered": c.registered,
                    "model_uri": c.model_uri,
                    "train_seconds": c.train_seconds,
                    "best_epoch": c.best_epoch,
                }
                for c in (m.anomaly, m.ditau)
            },
        },
        "stage_seconds": result.stage_seconds,
    }


def _check_models_load(menu: Menu, uri: str | None) -> None:
    """Load the menu's models now (``train = false``): a missing one stops the run before any work."""
    from l1scout.tasks.scouting.menu import load_menu_models
    from l1scout.track.store import tracking_uri

    store = tracking_uri(uri)
    try:
        load_menu_models(menu, tracking_uri=store)
    except DataFormatError as exc:
        first = str(exc).splitlines()[0]
        msg = f"menu {menu.name!r}: {first}; register it first, or set [models] train = true"
        raise DataFormatError(msg) from None


def run_scouting(
    cfg: ScoutingConfig,
    out: Path | str,
    data_dir: Path | str | None = None,
    *,
    tracking_uri: str | None = None,
    progress: Progress | None = None,
) -> ScoutingResult:
    """Run the whole scouting task of *cfg* into the folder *out* (module docstring).

    Args:
        cfg: the run.
        out: the output folder.
        data_dir: where the samples are, and are produced if missing (default ``<out>/data``).
        tracking_uri: replaces ``tracking.uri`` (None: the config's, else
            ``$MLFLOW_TRACKING_URI``, else the local store).
        progress: ``progress(stage, done, total)`` for the production and each training.

    Returns:
        The report, the summary, the menu's result, the stream's facts, the
        models and the wall time of each stage (s).

    Raises:
        ConfigError: a bad menu, a tracking URI of an unknown scheme, a
            transformer whose slots differ from the menu's (all before any work).
        DataFormatError: with ``train = false``, a model of the menu that
            cannot be loaded (before any work); a sample without events in a part.
        ProductionError: the samples could not be produced.
    """
    from l1scout.tasks.scouting._menu_toml import resolve_menu, write_menu
    from l1scout.tasks.scouting.menu import load_menu
    from l1scout.tasks.scouting.menu_run import run_menu
    from l1scout.tasks.scouting.models import train_scouting_models
    from l1scout.tasks.scouting.samples import ensure_scouting_samples, scouting_dataset_hash
    from l1scout.track.runs import start_run

    cfg = with_tracking_uri(cfg, tracking_uri)
    out = Path(out)
    data_path = Path(data_dir) if data_dir is not None else out / "data"
    menu = load_menu(cfg.menu.file)  # before any work
    ditau = _ditau_params(cfg, menu)
    if not cfg.models.train:
        _check_models_load(menu, cfg.tracking.uri)
    times: Timer = {}

    with stage(times, "data"):
        files = ensure_scouting_samples(cfg.data, data_path, progress=progress)
        digest = scouting_dataset_hash(cfg.data, data_path)
    with start_run(
        cfg.tracking.experiment,
        run_name=cfg.name,
        params={"scouting": cfg.model_dump(mode="json")},
        tags={"l1scout.stage": "pipeline", "l1scout.task": "scouting"},
        dataset_hash=digest,
        uri=cfg.tracking.uri,
    ) as parent:
        models = None
        with stage(times, "models"):
            if cfg.models.train:
                models = train_scouting_models(
                    cfg, files, out, parent=parent, ditau=ditau, digest=digest, progress=progress
                )
                menu = resolve_menu(menu, _working_points(cfg, models))
        header = f"The menu of the scouting run {cfg.name!r} (from {cfg.menu.file})" + (
            ", with the working points of its models stage." if models else "."
        )
        menu_file = write_menu(menu, out / "menu.toml", header)
        with stage(times, "orbits"):
            stream = _orbits(cfg, files, out / "orbits")
        with stage(times, "menu"):
            engine = None if cfg.engine.kind == "single" else cfg.engine
            menu_result = run_menu(
                list(stream.files),
                menu,
                engine=engine,
                tracking_uri=parent.uri,
                zero_bias=cfg.data.zero_bias.process,
            )
        menu_folder = menu_result.write(out / "menu")
        with stage(times, "mlflow"):
            parent.log_metrics(run_metrics(menu_result, stream, times, models))
            parent.log_artifact(menu_file)
            parent.log_artifact(menu_folder, "menu")
        with stage(times, "report"):
            from l1scout.tasks.scouting.report import write_scouting_report

            report = write_scouting_report(
                menu_result,
                stream,
                out / "report",
                models=models,
                config=cfg,
                timings=dict(times),
                dataset_hash=digest,
            )
        result = ScoutingResult(
            report=report,
            summary=out / "summary.json",
            menu=menu_result,
            menu_file=menu_file,
            menu_folder=menu_folder,
            stream=stream,
            models=models,
            stage_seconds=dict(times),
            run_id=parent.run_id,
            dataset_hash=digest,
        )
        text = json.dumps(json_safe(_summary(result, cfg)), indent=2, default=str)
        atomic_write_bytes(result.summary, text.encode())
        parent.log_metrics({"stage.report.seconds": times["report"]})
        parent.log_artifact(report.parent, "report")
        parent.log_artifact(result.summary)
    return result
