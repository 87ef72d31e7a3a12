"""The models stage of the scouting task: the demo anomaly and soft-tau models, trained here.

The menu's ``anomaly`` and ``ditau`` selections load their models from the
MLflow registry (``models:/l1scout-scouting-anomaly@demo``,
``models:/l1scout-scouting-ditau@demo``). With ``[models] train = true``
(:class:`~l1scout.tasks.scouting.config.ModelsConfig`) this stage makes them
from the task's own samples, with the other tasks' own training code:

* **Splits.** Every event of every sample falls in the training, validation
  or orbit part by :func:`l1scout.io.torchdata.split_of` of (file identity,
  ``Event_Number``) with ``splits.fractions``; the models see only the first
  two, the orbits only the third
  (:func:`~l1scout.tasks.scouting.training_events.event_parts`; the events
  are read by :mod:`l1scout.tasks.scouting.training_events`).
* **Anomaly model.** The 57 trigger inputs of the zero-bias training part
  **as the menu computes them** (the events' object words decoded into
  :func:`~l1scout.tasks.scouting.ml_selections.anomaly_inputs`, the layout of
  :func:`l1scout.io.trigger_inputs.trigger_inputs` on hardware values); a
  :class:`~l1scout.io.scalers.PowerOfTwoRobustScaler` fitted on them; a small
  VAE trained by :func:`l1scout.tasks.anomaly.train.train` (early stopping on
  the validation part). What is exported is :class:`RawAnomalyScore`: the
  scaler as :class:`~l1scout.tasks.anomaly.train.ScalerLayer`, then the
  model's score, so **the ONNX graph takes the raw 57 inputs** (float32
  ``[n, 57]`` in the trigger-input order) and returns the score ``[n]``; the
  scaler's JSON is also written beside it (``models/anomaly_scaler.json``),
  for reference only (the menu must not apply it a second time). The
  threshold: :func:`l1scout.tasks.rates.threshold_for_rate` of the scores on
  the zero-bias validation part at ``models.anomaly.rate_khz``.
* **Soft-tau model.** The PUPPI candidates of the tau signals and the zero
  bias, **as the stream carries them**: the ``orbits.candidates`` highest-pT
  candidates of each event (:func:`l1scout.io.ragged.top_k`), through the
  hardware word and back (:func:`l1scout.tasks.scouting.words.puppi_to_hardware`,
  :func:`~l1scout.tasks.scouting.words.puppi_physical`: pT in 0.25 GeV steps,
  angles in pi/720, z0 in 0.5 mm, neutral PUPPI weights in 1/256, charged
  weights 0 or 1), so training and the menu see the same numbers; CLUE
  candidates on the ``pT x PuppiW`` of those
  (:func:`l1scout.tasks.taus.dataset.build_tau_dataset`, matched to the prompt
  hadronic truth taus of ``Gen_PartHS``); a small transformer trained by
  :func:`l1scout.tasks.taus.transformer_training.train_transformer` (training
  part; validation part for early stopping), without the pileup head's
  target (the stream has no ``IsPU``). The working point: the grid search
  of :func:`l1scout.tasks.taus.ditau.search_ditau` on the validation part
  (zero-bias events against the signal events with two prompt hadronic taus
  of ``models.ditau.vis_pt``) at ``models.ditau.rate_khz``.
* **Working points on the menu's own numbers.** Both working points are
  computed after registration, on the scores of the registered models as
  the menu loads them (:func:`~l1scout.tasks.scouting.ml_selections.load_scorer`
  of ``models:/<name>@<alias>``, ONNX Runtime), not on torch's: torch and
  ONNX Runtime differ by about 1e-7, and where many events share one score
  (a model whose ReLUs are all off for them) a threshold taken from one and
  applied to the other would let the whole tied block through.
* **Export and registry.** Each model goes to ONNX
  (:func:`l1scout.deploy.onnx.export_onnx`,
  :func:`l1scout.tasks.taus.transformer.export_transformer`), is checked
  against torch on its validation inputs (largest absolute difference at most
  :data:`ONNX_TOLERANCE`, relative to ``max(1, |torch|)`` for the anomaly
  score), logged in a child run of the task's MLflow run and registered as
  ``<tracking.registered_model>-anomaly`` / ``-ditau`` with
  ``tracking.alias``.

Example (the raw-input scorer: scaler then score, as the ONNX graph computes it):
    >>> import torch
    >>> from l1scout.tasks.anomaly.config import VAEConfig
    >>> from l1scout.tasks.anomaly.models import build_model
    >>> from l1scout.io.scalers import PowerOfTwoRobustScaler
    >>> x = np.random.default_rng(0).normal(size=(50, 57)).astype(np.float32)
    >>> scaler = PowerOfTwoRobustScaler(object_size=3).fit(x)
    >>> model = build_model(VAEConfig(name="m", hidden=(8,), latent=2, quantized=False))
    >>> raw = RawAnomalyScore(model, scaler)
    >>> from l1scout.tasks.anomaly.train import scores
    >>> want = scores(model, x, scaler)
    >>> got = raw(torch.from_numpy(x)).detach().double().numpy()
    >>> bool(np.allclose(got, want, rtol=1e-5)), got.shape
    (True, (50,))
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from l1scout._jagged import offsets_from_counts
from l1scout._types import F32, F64, I64, B
from l1scout.errors import DataFormatError
from l1scout.io.scalers import PowerOfTwoRobustScaler
from l1scout.io.trigger_inputs import N_TRIGGER_INPUTS
from l1scout.tasks.anomaly.train import ScalerLayer
from l1scout.tasks.rates import CROSSING_RATE_KHZ, Threshold
from l1scout.tasks.scouting.config import ScoutingConfig
from l1scout.tasks.scouting.training_events import (
    TRAIN,
    VALIDATION,
    stream_tau_events,
    stream_trigger_inputs,
)
from l1scout.tasks.taus.ditau import DiTauSearch, ScoredCandidates

if TYPE_CHECKING:
    from l1scout.tasks.scouting.ml_selections import DiTauParams, Scorer
    from l1scout.tasks.taus.dataset import TauDataset
    from l1scout.track.runs import TrackedRun

__all__ = [
    "NO_CLASS_CUT",
    "ONNX_TOLERANCE",
    "ModelCheck",
    "ModelsResult",
    "RawAnomalyScore",
    "ditau_signal_events",
    "scored_candidates",
    "train_scouting_models",
]

_log = logging.getLogger(__name__)

#: Largest |torch - ONNX Runtime| allowed (the anomaly score: relative to max(1, |torch|)).
ONNX_TOLERANCE = 1e-5
#: The di-tau class threshold written for a working point without a class cut (``-inf``).
NO_CLASS_CUT = -1.0
_LOWEST = float(np.finfo(np.float32).min)

#: ``progress(stage, done, total)``.
Progress = Callable[[str, int, int], None]


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class ModelCheck:
    """One exported model: its ONNX file, its parity with torch, its registered version.

    Attributes:
        kind: ``"anomaly"`` or ``"ditau"``.
        path: the ``.onnx`` file.
        compared: validation inputs compared (events or candidates).
        max_diff: largest |torch - ONNX Runtime| (anomaly: divided by max(1, |torch|)).
        tolerance: the allowed difference (:data:`ONNX_TOLERANCE`).
        train_seconds: wall time of the training (s).
        best_epoch: the epoch whose weights were kept.
        history: one metrics dict per epoch.
        registered: ``"<name> v<version> @<alias>"`` (empty until registered).
        model_uri: ``models:/<name>@<alias>`` (empty until registered).
    """

    kind: str
    path: Path
    compared: int
    max_diff: float
    tolerance: float
    train_seconds: float
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list, repr=False)
    registered: str = ""
    model_uri: str = ""

    @property
    def ok(self) -> bool:
        """Whether ONNX agrees with torch within the tolerance."""
        return self.max_diff <= self.tolerance


@dataclass(frozen=True)
class ModelsResult:
    """What the models stage made.

    Attributes:
        anomaly: the anomaly model's export.
        ditau: the soft-tau model's export.
        anomaly_threshold: the score threshold at ``models.anomaly.rate_khz``
            (accept ``score > threshold``), on the zero-bias validation part.
        ditau_search: the di-tau working point search on the validation part.
        scaler: the anomaly scaler's JSON (for reference: the ONNX graph applies it).
        events: per sample, events in the training and validation parts.
    """

    anomaly: ModelCheck
    ditau: ModelCheck
    anomaly_threshold: Threshold
    ditau_search: DiTauSearch
    scaler: Path
    events: dict[str, dict[str, int]]

    @property
    def working_points(self) -> dict[str, dict[str, float]]:
        """The menu's parameters: the anomaly threshold and the di-tau cuts.

        A class threshold of ``-inf`` (every event with a pair passing the
        charge and vz cuts) is written as :data:`NO_CLASS_CUT` (-1): the pair
        score is a tau probability in [0, 1] or ``-inf``, so ``> -1`` and
        ``> -inf`` accept the same events, and the menu takes finite
        thresholds only.
        """
        b = self.ditau_search.best
        return {
            "anomaly": {"threshold": max(float(self.anomaly_threshold.threshold), _LOWEST)},
            "ditau": {
                "class_threshold": max(float(b.class_threshold), NO_CLASS_CUT),
                "charge_threshold": float(b.charge_threshold),
                "dvz_cut": float(b.dvz_cut),
            },
        }


# ---------------------------------------------------------------- the anomaly model


class RawAnomalyScore(nn.Module):
    """An anomaly model's score from the RAW 57 trigger inputs: the scaler, then the score.

    ``forward(x)``: float32 ``(n, 57)`` in physical units -> float32 ``(n,)``,
    ``model.score(ScalerLayer(x))`` (the scaler's float64 subtract-and-shift,
    exactly :meth:`~l1scout.io.scalers.PowerOfTwoRobustScaler.transform`).

    Args:
        model: a trained anomaly model (:class:`~l1scout.tasks.anomaly.models.AnomalyModel`).
        scaler: the fitted scaler of its training.
    """

    def __init__(self, model: nn.Module, scaler: PowerOfTwoRobustScaler) -> None:
        super().__init__()
        self.scaler = ScalerLayer.from_scaler(scaler, N_TRIGGER_INPUTS)
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The score of each event, float32 ``(n,)``."""
        score: torch.Tensor = self.model.score(self.scaler(x))  # type: ignore[operator]
        return score.to(torch.float32)


def _torch_out(module: nn.Module, x: F32) -> F64:
    module.eval()
    with torch.no_grad():
        out = module(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
    return np.asarray(out.double().numpy(), dtype=np.float64)


def _anomaly_parity(module: nn.Module, path: Path, x: F32) -> float:
    """Largest |torch - ONNX| / max(1, |torch|) of the score over *x*."""
    from l1scout.deploy.onnx import OnnxModel

    if not len(x):
        return 0.0
    ref = _torch_out(module, x)
    got = OnnxModel(path).predict(np.ascontiguousarray(x, dtype=np.float32)).reshape(len(x))
    return float(np.max(np.abs(ref - got) / np.maximum(1.0, np.abs(ref))))


def _anomaly(
    cfg: ScoutingConfig, files: Sequence[Path], folder: Path, progress: Progress | None
) -> tuple[ModelCheck, F32, Path, dict[str, int]]:
    from l1scout.deploy.onnx import export_onnx
    from l1scout.tasks.anomaly.config import VAEConfig
    from l1scout.tasks.anomaly.train import train

    acfg = cfg.models.anomaly
    x, parts = stream_trigger_inputs(files, cfg.splits.fractions, cfg.orbits.candidates)
    x_tr, x_val = x[parts == TRAIN], x[parts == VALIDATION]
    if len(x_tr) < 2 or len(x_val) < 1:
        msg = (
            f"data.zero_bias: {len(x_tr)} training and {len(x_val)} validation events; "
            "the anomaly model needs at least 2 and 1 (more events, or other splits.fractions)"
        )
        raise DataFormatError(msg)
    scaler = PowerOfTwoRobustScaler(object_size=3).fit(x_tr)
    scaler_path = scaler.save(folder / "anomaly_scaler.json")
    vae = VAEConfig(
        name="scouting-anomaly",
        hidden=acfg.hidden,
        latent=acfg.latent,
        beta=acfg.beta,
        quantized=acfg.quantized,
        score="latent",
    )
    total = acfg.train.epochs

    def on_epoch(step: int, _metrics: Mapping[str, float]) -> None:
        if progress is not None:
            progress("train anomaly", min(step + 1, total), total)

    result = train(vae, acfg.train, x_tr, x_val, scaler=scaler, on_epoch=on_epoch)
    module = RawAnomalyScore(result.model, scaler).eval()
    path = export_onnx(module, N_TRIGGER_INPUTS, folder / "anomaly.onnx", output_names=("score",))
    diff = _anomaly_parity(module, path, x_val)
    check = ModelCheck(
        "anomaly",
        path,
        len(x_val),
        diff,
        ONNX_TOLERANCE,
        result.seconds,
        result.best_epoch,
        result.history,
    )
    _log.info("anomaly model: %.1f s, best epoch %d", result.seconds, result.best_epoch)
    return check, x_val, scaler_path, {"train": len(x_tr), "validation": len(x_val)}


def _anomaly_threshold(scorer: Scorer, x_val: F32, rate_khz: float) -> Threshold:
    """The threshold at *rate_khz* of the zero-bias validation scores of the menu's own scorer."""
    from l1scout.tasks.rates import threshold_for_rate
    from l1scout.tasks.scouting.ml_selections import _score

    score = _score(scorer, np.ascontiguousarray(x_val, dtype=np.float32))  # as the menu scores
    t = threshold_for_rate(score, rate_khz, crossing_rate_khz=CROSSING_RATE_KHZ)
    _log.info(
        "anomaly threshold %.6g at %g kHz: %d of %d validation zero bias",
        t.threshold,
        rate_khz,
        t.n_pass,
        t.n_total,
    )
    return t


# ---------------------------------------------------------------- the soft-tau model


def ditau_signal_events(ds: TauDataset, vis_pt: tuple[float, float]) -> B:
    """Per event: a signal event with at least two prompt hadronic truth taus of visible pT in ``[low, high)``."""
    lo, hi = vis_pt
    taus = ds.taus
    inside = (taus.vis_pt >= lo) & (taus.vis_pt < hi)
    n = np.bincount(taus.event[inside], minlength=ds.event_sample.size)
    out: B = (n >= 2) & (ds.event_sample > 0)
    return out


def scored_candidates(
    ds: TauDataset, scores: Mapping[str, F64], events: B, what: str
) -> ScoredCandidates:
    """The candidates of the *events* (bool per event) with their class, charge scores and vz (mm)."""
    keep = events[ds.event]
    counts = np.diff(ds.event_offsets)[events]
    return ScoredCandidates.build(
        offsets_from_counts(counts),
        scores["tau_score"][keep],
        scores["charge_score"][keep],
        scores["vz"][keep],
        what=what,
    )


def _ditau(
    cfg: ScoutingConfig,
    files: Mapping[str, Sequence[Path]],
    folder: Path,
    params: DiTauParams,
    progress: Progress | None,
) -> tuple[ModelCheck, TauDataset, dict[str, dict[str, int]]]:
    from l1scout.deploy.onnx import onnx_parity
    from l1scout.tasks.taus.config import CandidatesConfig, ClueParams
    from l1scout.tasks.taus.dataset import build_tau_dataset
    from l1scout.tasks.taus.transformer import TransformerInputs, export_transformer
    from l1scout.tasks.taus.transformer_training import train_transformer

    dcfg = cfg.models.ditau
    zb = cfg.data.zero_bias.process
    samples = {zb: files[zb], **{s: files[s] for s in cfg.tau_signals}}
    events = stream_tau_events(samples, cfg.splits.fractions, cfg.orbits.candidates)
    cands = CandidatesConfig(
        methods=("clue",),
        clue=ClueParams(dc=params.dc, rhoc=params.rhoc, dm=params.dm, pt_min=params.pt_min),
        match_dr=dcfg.match_dr,
        n_constituents=params.n_constituents,
    )
    ds = build_tau_dataset(events, "clue", cands, puppi_weights=True)
    counts = {
        name: {
            "train": int(np.sum((events.event_sample == i) & (events.event_split == TRAIN))),
            "validation": int(
                np.sum((events.event_sample == i) & (events.event_split == VALIDATION))
            ),
        }
        for i, name in enumerate(events.samples)
    }
    tr = np.flatnonzero(ds.split == TRAIN).astype(np.int64)
    va = np.flatnonzero(ds.split == VALIDATION).astype(np.int64)
    for idx, what in ((tr, "training"), (va, "validation")):
        if idx.size == 0 or not ds.is_tau[idx].any():
            msg = (
                f"CLUE candidates: the {what} part has {idx.size} candidates and "
                f"{int(ds.is_tau[idx].sum())} true taus; need both (more tau signal events)"
            )
            raise DataFormatError(msg)

    def inputs(idx: I64) -> TransformerInputs:
        sub = ds.transformer.subset(idx)
        return TransformerInputs(sub.features, sub.mask, None)  # the stream has no IsPU

    total = dcfg.transformer.train.max_epochs

    def on_epoch(epoch: int, _metrics: Mapping[str, float]) -> None:
        if progress is not None:
            progress("train ditau", min(epoch + 1, total), total)

    start = time.perf_counter()
    trained = train_transformer(
        inputs(tr),
        ds.targets.subset(tr),
        dcfg.transformer,
        validation=(inputs(va), ds.targets.subset(va)),
        on_epoch=on_epoch,
    )
    seconds = time.perf_counter() - start
    path = export_transformer(trained.model, folder / "ditau.onnx")
    x_val = inputs(va).packed()
    diff = onnx_parity(trained.model, path, x_val) if len(x_val) else 0.0
    check = ModelCheck(
        "ditau",
        path,
        len(x_val),
        diff,
        ONNX_TOLERANCE,
        seconds,
        trained.best_epoch,
        trained.history,
    )
    _log.info("di-tau model: %.1f s, best epoch %d", seconds, trained.best_epoch)
    return check, ds, counts


def _ditau_search(
    scorer: Scorer, ds: TauDataset, cfg: ScoutingConfig, params: DiTauParams
) -> DiTauSearch:
    """The di-tau working point on the validation part, scored by the menu's own scorer."""
    from l1scout.tasks.taus.ditau import search_ditau
    from l1scout.tasks.taus.transformer import decode_outputs

    dcfg = cfg.models.ditau
    scores = decode_outputs(scorer.run(ds.transformer.packed()))
    val = ds.event_split == VALIDATION
    zb_val = (ds.event_sample == 0) & val
    sig_val = ditau_signal_events(ds, dcfg.vis_pt) & val
    if not sig_val.any():
        lo, hi = dcfg.vis_pt
        msg = (
            f"models.ditau.vis_pt: no validation event of the tau signals has two prompt "
            f"hadronic taus of {lo:g}-{hi:g} GeV visible pT; more tau signal events"
        )
        raise DataFormatError(msg)
    search = search_ditau(
        scored_candidates(ds, scores, zb_val, "zero bias (validation)"),
        scored_candidates(ds, scores, sig_val, "di-tau signal (validation)"),
        rate_khz=dcfg.rate_khz,
        charge_thresholds=dcfg.charge_thresholds,
        dvz_cuts=dcfg.dvz_cuts,
        max_candidates=params.max_candidates,
        crossing_rate_khz=CROSSING_RATE_KHZ,
    )
    b = search.best
    _log.info(
        "di-tau working point: class > %.3g, os > %.3g, |dvz| < %g mm: "
        "efficiency %.3f, %d of %d validation zero bias",
        b.class_threshold,
        b.charge_threshold,
        b.dvz_cut,
        b.efficiency.value,
        b.rate.n_pass,
        b.rate.n_total,
    )
    return search


# ---------------------------------------------------------------- registry


def _register(
    cfg: ScoutingConfig, check: ModelCheck, parent: TrackedRun, digest: str, extra: Path | None
) -> ModelCheck:
    """Log *check*'s model in a child run of *parent* and register it with the alias."""
    from l1scout.track.registry import register_model
    from l1scout.track.runs import start_run

    name = cfg.model_names()[check.kind]
    params = (
        {"anomaly": cfg.models.anomaly.model_dump(mode="json")}
        if check.kind == "anomaly"
        else {"ditau": cfg.models.ditau.model_dump(mode="json")}
    )
    with start_run(
        cfg.tracking.experiment,
        run_name=f"{cfg.name}-{check.kind}",
        params=params,
        tags={"l1scout.stage": "train", "l1scout.model": check.kind, "l1scout.task": "scouting"},
        dataset_hash=digest,
        parent=parent,
    ) as run:
        for epoch, metrics in enumerate(check.history):
            run.log_metrics({k: v for k, v in metrics.items() if math.isfinite(v)}, step=epoch)
        run.log_metrics({"train.seconds": check.train_seconds, "onnx.max_diff": check.max_diff})
        if extra is not None:
            run.log_artifact(extra)
        uri = run.log_onnx_model(check.path, name="model")
        reg = register_model(uri, name, alias=cfg.tracking.alias, uri=run.uri)
    return ModelCheck(
        check.kind,
        check.path,
        check.compared,
        check.max_diff,
        check.tolerance,
        check.train_seconds,
        check.best_epoch,
        check.history,
        f"{reg.name} v{reg.version} @{reg.alias}",
        reg.alias_uri,
    )


def train_scouting_models(
    cfg: ScoutingConfig,
    files: Mapping[str, Sequence[Path]],
    out: Path,
    *,
    parent: TrackedRun,
    ditau: DiTauParams,
    digest: str = "",
    progress: Progress | None = None,
) -> ModelsResult:
    """Train, export, check and register the demo anomaly and soft-tau models (module docstring).

    Args:
        cfg: the run's configuration (``splits``, ``models``, ``orbits.candidates``, ``tracking``).
        files: sample name -> its files (the zero bias and the tau signals at least).
        out: the output folder; the models go to ``out/models/``.
        parent: the task's MLflow run (the models' runs nest under it).
        ditau: the menu's di-tau selection (CLUE's parameters, the slots, the
            pairing): the soft-tau model learns on the candidates it builds.
        digest: the samples' dataset hash (tagged on the runs).
        progress: ``progress(stage, done, total)`` after every epoch.

    Raises:
        DataFormatError: a part without events, or without true taus, or no
            di-tau signal event in the validation part.
        ConfigError: a zero-bias validation part too small for a rate.
    """
    from l1scout.tasks.scouting.ml_selections import load_scorer

    folder = out / "models"
    folder.mkdir(parents=True, exist_ok=True)
    zb = cfg.data.zero_bias.process
    anomaly, x_val, scaler, zb_counts = _anomaly(cfg, files[zb], folder, progress)
    ditau_check, ds, counts = _ditau(cfg, files, folder, ditau, progress)
    counts[zb] = zb_counts | counts.get(zb, {})
    for check in (anomaly, ditau_check):
        if not check.ok:
            _log.warning(
                "%s: ONNX differs from torch by %.3g, more than %.3g",
                check.path,
                check.max_diff,
                check.tolerance,
            )
    anomaly = _register(cfg, anomaly, parent, digest, scaler)
    ditau_check = _register(cfg, ditau_check, parent, digest, None)
    # the working points on the scores of the registered models as the menu loads them
    threshold = _anomaly_threshold(
        load_scorer(anomaly.model_uri, tracking_uri=parent.uri), x_val, cfg.models.anomaly.rate_khz
    )
    search = _ditau_search(
        load_scorer(ditau_check.model_uri, tracking_uri=parent.uri), ds, cfg, ditau
    )
    return ModelsResult(anomaly, ditau_check, threshold, search, scaler, counts)
