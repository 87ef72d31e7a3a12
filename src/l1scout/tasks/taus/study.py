"""Training and evaluation of the soft-tau study: NNPuppiTau, the transformer, di-tau working points.

The stage after the data (:mod:`l1scout.tasks.taus.dataset`): from one
:class:`~l1scout.tasks.taus.dataset.TauDataset` per candidate method,

1. :func:`train_tau_models` trains **NNPuppiTau** on its own seeded cones
   (the ``nnpuppitau`` method; training split; ID target: matched to a truth
   tau; pT target: visible pT / cone pT, on the matched cones only) and the
   **transformer** once per clustering the configuration lists among
   ``clue`` and ``ak4`` (training split; the validation split drives early
   stopping and reduce-on-plateau). Both are deterministic for the seeds of
   the configuration (``nnpuppitau.seed``, ``transformer.train.seed``) and a
   fixed thread count. With ``[models] load`` set it trains nothing: it reads
   the saved models of that folder instead, built from the configured
   architectures and checked (:func:`~l1scout.tasks.taus.model_files.load_tau_models`).
2. :func:`evaluate_tau_models` measures every method as the seed study plots
   it (Camagni et al., "Deep learning-based identification of soft taus in
   the L1 scouting stream for Phase-2", AI-INFN hackathon, Pavia, November
   2025), with **the test split only** for every number it quotes: RECO and
   ID efficiency vs visible pT (Clopper-Pearson intervals), fakes per
   zero-bias event, pT response before and after the regression, charge
   accuracy. **Choices use the validation split**: the di-tau working point
   (class score, opposite-sign charge score, ``|delta vz|``) is the grid
   search of :func:`~l1scout.tasks.taus.ditau.search_ditau` on validation,
   at a zero-bias rate ``<= rate.rate_khz`` (50 kHz) there; its efficiency
   and rate are then quoted on test (the test rate may come out above the
   target by its statistical fluctuation).

**Scores per method.** CLUE and AK4 candidates: the transformer's tau
probability (class score and ID score), charge probability, vz (mm) and
regressed pT. NNPuppiTau cones: NNPuppiTau's ID score and its pT correction
times the cone pT. NNPuppiTau has **no charge output**: its charge score is
the charge of the cone's seed as a 0 / 1 "probability" (+1 -> 1), so the
opposite-sign score of a pair is exactly 1 or 0; its vz is the seed's ``DZ``
(mm). The seed is the cone's first constituent (in decreasing pT) that is a
charged hadron or an electron at the cone axis (NNPuppiTau's seeding,
:func:`l1scout.reco.taus.nnpuppitau_candidates`: the seed is the
highest-pT such candidate of its cone); in the rare cone whose seed is not
among the ``n_constituents`` slots the charge score is 0.5 and vz 0.

**Di-tau signal.** Signal events (any signal sample) with at least two prompt
hadronic truth taus of visible pT in ``evaluation.ditau_vis_pt`` (5-60 GeV):
the total di-tau efficiency is the fraction of them that pass. The
comparison table holds the working points of transformer + CLUE,
transformer + AK4 and NNPuppiTau (a search on its ID score, like the others),
and NNPuppiTau's double-tau menu seed
(:func:`~l1scout.tasks.taus.nnpuppitau.double_tau_decision` on the regressed
pT, fixed thresholds: its rate is whatever it is, far below 50 kHz on soft
taus).

**The verdict** (:class:`~l1scout.tasks.taus.results.Verdict`): the test
di-tau efficiency of each transformer working point against NNPuppiTau's
(both at the same target rate) on the signal events whose taus lie in
``evaluation.beats_vis_pt`` (20-60 GeV): "yes" when an interval lies above
NNPuppiTau's, "no" when every one lies below, else "not resolved at this
statistics" (:func:`~l1scout.tasks.taus.results.compare_efficiencies`).

Example (the seed charge of NNPuppiTau cones, one cone whose second slot is
its charged-hadron seed at the axis):
    >>> from l1scout.tasks.taus.transformer import transformer_inputs
    >>> x = transformer_inputs([0, 2], pt=[20.0, 10.0], eta=[0.1, 0.0], phi=[0.0, 0.0],
    ...     dz=[0.0, 7.0], charge=[0, -1], pid=[22, -211], axis_eta=[0.0], axis_phi=[0.0])
    >>> q, vz = seed_charge_and_vz(x)
    >>> q.tolist(), vz.round(6).tolist()
    ([0.0], [7.0])
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping

import numpy as np
import torch

from l1scout._jagged import offsets_from_counts
from l1scout._types import F64, B
from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.taus.config import TauConfig
from l1scout.tasks.taus.dataset import TauDataset
from l1scout.tasks.taus.ditau import (
    ComparisonRow,
    ScoredCandidates,
    comparison_row,
    evaluate_ditau,
    search_ditau,
)
from l1scout.tasks.taus.metrics import (
    charge_accuracy,
    fakes_per_event,
    regression_response,
    tau_efficiency,
)
from l1scout.tasks.taus.model_files import load_tau_models
from l1scout.tasks.taus.nnpuppitau import (
    double_tau_decision,
    predict_nnpuppitau,
    train_nnpuppitau,
)
from l1scout.tasks.taus.results import (
    NOT_RESOLVED,
    CandidateScores,
    DiTauResult,
    MethodEvaluation,
    TauEvaluation,
    TauModels,
    Verdict,
    compare_efficiencies,
)
from l1scout.tasks.taus.transformer import (
    FEATURE_NAMES,
    SoftTauTransformer,
    TransformerInputs,
    decode_outputs,
)
from l1scout.tasks.taus.transformer_training import TransformerTrainResult, train_transformer

__all__ = [
    "TRANSFORMER_METHODS",
    "candidate_scores",
    "evaluate_scores",
    "evaluate_tau_models",
    "predict_transformer",
    "seed_charge_and_vz",
    "train_tau_models",
]

_log = logging.getLogger(__name__)

#: The clusterings the transformer is trained on (one model each).
TRANSFORMER_METHODS: tuple[str, ...] = ("clue", "ak4")
#: Table labels of the methods.
_LABELS = {
    "clue": "transformer + CLUE",
    "ak4": "transformer + AK4",
    "nnpuppitau": "NNPuppiTau",
}
_TRAIN, _VALIDATION, _TEST = 0, 1, 2
_F = {name: i for i, name in enumerate(FEATURE_NAMES)}

#: ``progress(name, epoch, metrics)`` after every epoch of a training
#: (``name``: ``"nnpuppitau"`` or ``"transformer_<method>"``).
Progress = Callable[[str, int, Mapping[str, float]], None]


# ---------------------------------------------------------------- training


def _need(datasets: Mapping[str, TauDataset], cfg: TauConfig) -> None:
    missing = [m for m in cfg.candidates.methods if m not in datasets]
    if missing:
        msg = f"datasets: no TauDataset for the configured method(s) {', '.join(missing)}"
        raise ConfigError(msg)
    for name, ds in datasets.items():
        if ds.method != name:
            msg = f"datasets[{name!r}]: holds the candidates of {ds.method!r}"
            raise ConfigError(msg)


def _split(ds: TauDataset, split: int) -> np.ndarray:
    return np.flatnonzero(ds.split == split).astype(np.int64)


def train_tau_models(
    datasets: Mapping[str, TauDataset],
    cfg: TauConfig,
    *,
    progress: Progress | None = None,
) -> TauModels:
    """Train NNPuppiTau and one transformer per clustering (module docstring).

    With ``cfg.models.load`` set, nothing is trained: the models are read from
    that folder (:func:`~l1scout.tasks.taus.model_files.load_tau_models`; no
    training history, ``seconds`` empty) and *progress* is never called.

    Args:
        datasets: method -> its candidates (:func:`~l1scout.tasks.taus.dataset.build_tau_dataset`),
            at least every method of ``cfg.candidates.methods``.
        cfg: the study (``nnpuppitau``, ``transformer``).
        progress: called after every epoch (:data:`Progress`).

    Raises:
        ConfigError: a configured method without its dataset.
        DataFormatError: a training or validation split without candidates,
            or without a true tau; with ``models.load``, a missing or bad model
            file (one line naming the file).
    """
    _need(datasets, cfg)
    if cfg.models.load is not None:
        _log.info("models: loaded from %s, not trained", cfg.models.load)
        return load_tau_models(cfg)
    methods = cfg.candidates.methods
    seconds: dict[str, float] = {}
    nnp = None
    if "nnpuppitau" in methods:
        ds = datasets["nnpuppitau"]
        idx = _split(ds, _TRAIN)
        _nonempty(ds, idx, "training")
        tau = ds.is_tau[idx]
        target = np.full(idx.size, np.nan)
        target[tau] = ds.targets.pt[idx][tau] / ds.pt[idx][tau]
        start = time.perf_counter()
        nnp = train_nnpuppitau(ds.nnpuppitau[idx], tau, target, cfg.nnpuppitau)
        seconds["nnpuppitau"] = time.perf_counter() - start
        if progress is not None:
            for epoch, loss in enumerate(nnp.loss[1:]):
                progress("nnpuppitau", epoch, {"loss": loss, "id_loss": nnp.id_loss[epoch + 1]})
    transformers: dict[str, TransformerTrainResult] = {}
    for method in (m for m in methods if m in TRANSFORMER_METHODS):
        ds = datasets[method]
        tr, va = _split(ds, _TRAIN), _split(ds, _VALIDATION)
        _nonempty(ds, tr, "training")
        _nonempty(ds, va, "validation")
        name = f"transformer_{method}"

        def on_epoch(epoch: int, metrics: Mapping[str, float], name: str = name) -> None:
            if progress is not None:
                progress(name, epoch, metrics)

        start = time.perf_counter()
        transformers[method] = train_transformer(
            ds.transformer.subset(tr),
            ds.targets.subset(tr),
            cfg.transformer,
            validation=(ds.transformer.subset(va), ds.targets.subset(va)),
            on_epoch=on_epoch,
        )
        seconds[name] = time.perf_counter() - start
        _log.info("%s: %.1f s, best epoch %d", name, seconds[name], transformers[method].best_epoch)
    return TauModels(nnp, transformers, seconds)


def _nonempty(ds: TauDataset, idx: np.ndarray, what: str) -> None:
    if idx.size == 0 or not ds.is_tau[idx].any():
        msg = (
            f"{ds.method} candidates: the {what} split has {idx.size} candidates and "
            f"{int(ds.is_tau[idx].sum())} true taus; need both"
        )
        raise DataFormatError(msg)


# ---------------------------------------------------------------- scores


def predict_transformer(
    model: SoftTauTransformer, inputs: TransformerInputs, *, batch: int = 4096
) -> dict[str, F64]:
    """The transformer's decoded outputs (:func:`~l1scout.tasks.taus.transformer.decode_outputs`) for *inputs*."""
    if len(inputs) == 0:
        k = inputs.mask.shape[1]
        return decode_outputs([np.zeros(0)] * 4 + [np.zeros((0, k))])
    x = torch.from_numpy(inputs.packed())
    model.eval()
    with torch.no_grad():
        parts = [model(x[i : i + batch]) for i in range(0, len(inputs), batch)]
    joined = [torch.cat([p[j] for p in parts]).double().numpy() for j in range(len(parts[0]))]
    return decode_outputs(joined)


def seed_charge_and_vz(inputs: TransformerInputs) -> tuple[F64, F64]:
    """Per NNPuppiTau cone, its seed's charge as a 0 / 1 probability of +1, and its ``DZ`` (mm).

    The seed: the first slot holding a charged hadron or an electron at the
    axis (``DEta = DPhi = 0``; module docstring). Without one: 0.5 and 0.
    """
    f, mask = inputs.features, inputs.mask
    seed_type = (f[..., _F["IsChargedHadron"]] > 0.5) | (f[..., _F["IsElectron"]] > 0.5)
    at_axis = (f[..., _F["DEta"]] == 0) & (f[..., _F["DPhi"]] == 0)
    ok = mask & seed_type & at_axis
    has = ok.any(axis=1)
    first = np.argmax(ok, axis=1)
    rows = np.arange(f.shape[0])
    charge = f[rows, first, _F["Charge"]].astype(np.float64)
    vz = f[rows, first, _F["VZ"]].astype(np.float64) * 100.0  # the VZ feature is DZ / 100 mm
    q = np.where(has, (charge > 0).astype(np.float64), 0.5)
    return q, np.where(has, vz, 0.0)


def candidate_scores(ds: TauDataset, models: TauModels) -> CandidateScores:
    """The identification's scores of every candidate of *ds* (module docstring).

    Raises:
        ConfigError: no model for the method.
    """
    if ds.method == "nnpuppitau":
        if models.nnpuppitau is None:
            msg = "models.nnpuppitau: no NNPuppiTau model for the nnpuppitau candidates"
            raise ConfigError(msg)
        n = len(ds)
        score, corr = (
            predict_nnpuppitau(models.nnpuppitau.model, ds.nnpuppitau) if n else (np.zeros(0),) * 2
        )
        q, vz = seed_charge_and_vz(ds.transformer)
        return CandidateScores("NNPuppiTau", score, q, vz, ds.pt * corr)
    trained = models.transformers.get(ds.method)
    if trained is None:
        msg = f"models.transformers: no transformer for the {ds.method} candidates"
        raise ConfigError(msg)
    if len(ds) == 0:
        z = np.zeros(0)
        return CandidateScores("transformer", z, z, z, z)
    out = predict_transformer(trained.model, ds.transformer)
    return CandidateScores(
        "transformer", out["tau_score"], out["charge_score"], out["vz"], out["pt"]
    )


# ---------------------------------------------------------------- evaluation


def _scored(ds: TauDataset, s: CandidateScores, events: B, what: str) -> ScoredCandidates:
    keep = events[ds.event]
    counts = np.diff(ds.event_offsets)[events]
    vz = np.zeros(len(ds)) if s.vz is None else s.vz
    return ScoredCandidates.build(
        offsets_from_counts(counts),
        s.id_score[keep],
        s.charge_score[keep],
        vz[keep],
        what=what,
    )


def _ditau_events(ds: TauDataset, vis_pt: tuple[float, float]) -> B:
    """Signal events with at least two truth taus of visible pT in ``[low, high)``."""
    lo, hi = vis_pt
    taus = ds.taus
    inside = (taus.vis_pt >= lo) & (taus.vis_pt < hi)
    n = np.bincount(taus.event[inside], minlength=ds.event_sample.size)
    out: B = (n >= 2) & (ds.event_sample > 0)
    return out


def _method_evaluation(ds: TauDataset, s: CandidateScores, cfg: TauConfig) -> MethodEvaluation:
    ev = cfg.evaluation
    edges = np.asarray(ev.pt_edges)
    taus = ds.taus
    in_test = ds.event_split[taus.event] == _TEST
    vis = taus.vis_pt[in_test]
    cand = ds.tau_candidate[in_test]
    hit = cand >= 0
    c = np.maximum(cand, 0)
    score = np.where(hit, s.id_score[c] if len(ds) else np.nan, np.nan)
    eff = tau_efficiency(vis, hit, edges, id_score=score, id_threshold=ev.id_threshold)
    zb = (ds.event_sample == 0) & (ds.event_split == _TEST)
    keep = zb[ds.event]
    off = offsets_from_counts(np.diff(ds.event_offsets)[zb])
    crossing = cfg.rate.crossing_rate_khz
    reco = fakes_per_event(off, ds.pt[keep], edges, crossing_rate_khz=crossing)
    ided = fakes_per_event(
        off,
        ds.pt[keep],
        edges,
        selected=s.id_score[keep] > ev.id_threshold,
        crossing_rate_khz=crossing,
    )
    resp = charge = None
    if hit.any():
        m = cand[hit]
        resp = regression_response(vis[hit], ds.pt[m], s.pt[m], edges)
        true_q = taus.charge[in_test][hit]
        charge = charge_accuracy(true_q, s.charge_score[m], vis_pt=vis[hit], edges=edges)
    return MethodEvaluation(ds.method, s.id_name, eff, reco, ided, resp, charge)


def _ditau(ds: TauDataset, s: CandidateScores, cfg: TauConfig, label: str) -> DiTauResult:
    ev, rate = cfg.evaluation, cfg.rate
    zb = ds.event_sample == 0
    signal = _ditau_events(ds, ev.ditau_vis_pt)
    beats = _ditau_events(ds, ev.beats_vis_pt)
    val, test = ds.event_split == _VALIDATION, ds.event_split == _TEST
    for events, split, field in (
        (signal & val, "validation", "ditau_vis_pt"),
        (signal & test, "test", "ditau_vis_pt"),
        (beats & test, "test", "beats_vis_pt"),
    ):
        if not events.any():
            lo, hi = getattr(ev, field)
            msg = (
                f"evaluation.{field}: no {split} event of the signals has two prompt hadronic "
                f"taus of {lo:g}-{hi:g} GeV visible pT; produce more signal events "
                f"(data.signals) or widen evaluation.{field}"
            )
            raise ConfigError(msg)
    pairs, crossing = ev.max_candidates, rate.crossing_rate_khz
    search = search_ditau(
        _scored(ds, s, zb & val, f"{ds.method} zero bias (validation)"),
        _scored(ds, s, signal & val, f"{ds.method} di-tau signal (validation)"),
        rate_khz=rate.rate_khz,
        charge_thresholds=ev.charge_thresholds,
        dvz_cuts=ev.dvz_cuts if s.vz is not None else (math.inf,),
        min_pass=rate.min_pass,
        max_candidates=pairs,
        crossing_rate_khz=crossing,
    )
    b = search.best
    cuts = (b.class_threshold, b.charge_threshold, b.dvz_cut)
    zb_test = _scored(ds, s, zb & test, f"{ds.method} zero bias (test)")
    on_test, in_range = (
        evaluate_ditau(
            zb_test,
            _scored(ds, s, events & test, f"{ds.method} di-tau signal {what} (test)"),
            *cuts,
            max_candidates=pairs,
            crossing_rate_khz=crossing,
        )
        for events, what in ((signal, ev.ditau_vis_pt), (beats, ev.beats_vis_pt))
    )
    note = "chosen on validation, quoted on test"
    if s.id_name == "NNPuppiTau":
        note += "; charge score: the seed's charge (0/1); vz: the seed's DZ"
    return DiTauResult(label, ds.method, search, on_test, in_range, note)


def _menu_seed(ds: TauDataset, s: CandidateScores, cfg: TauConfig) -> ComparisonRow:
    menu = cfg.evaluation.double_tau
    test = ds.event_split == _TEST
    parts = []
    for events in (
        (ds.event_sample == 0) & test,
        _ditau_events(ds, cfg.evaluation.ditau_vis_pt) & test,
    ):
        keep = events[ds.event]
        off = offsets_from_counts(np.diff(ds.event_offsets)[events])
        parts.append(double_tau_decision(s.pt[keep], ds.eta[keep], s.id_score[keep], off, menu))
    return comparison_row(
        "NNPuppiTau (double-tau seed)",
        (parts[0], parts[1]),
        note=f"menu seed (offline-scaled pT >= {menu.min_pt:g} GeV), not tuned to the rate; test",
        crossing_rate_khz=cfg.rate.crossing_rate_khz,
    )


def _verdict(ditau: Mapping[str, DiTauResult], vis_pt: tuple[float, float]) -> Verdict | None:
    base = next((d for d in ditau.values() if d.method == "nnpuppitau"), None)
    others = [d for d in ditau.values() if d.method in TRANSFORMER_METHODS]
    if base is None or not others:
        return None
    ref = base.test_beats_range.efficiency
    per: dict[str, str] = {
        d.method: compare_efficiencies(d.test_beats_range.efficiency, ref) for d in others
    }
    answer: str
    if "better" in per.values():
        answer = "yes"
    elif all(v == "worse" for v in per.values()):
        answer = "no"
    else:
        answer = NOT_RESOLVED
    lo, hi = vis_pt
    parts = [f"{d.label} {_pct(d.test_beats_range.efficiency)} ({per[d.method]})" for d in others]
    text = (
        f"di-tau efficiency at {base.search.target_rate_khz:g} kHz, taus of {lo:g}-{hi:g} GeV "
        f"(test): {'; '.join(parts)}; {base.label} {_pct(ref)}: {answer}"
    )
    return Verdict(answer, (lo, hi), per, text)


def _pct(e: object) -> str:
    value, low, high = (getattr(e, k) for k in ("value", "low", "high"))
    return f"{100 * value:.1f} % [{100 * low:.1f}, {100 * high:.1f}]"


def evaluate_scores(
    datasets: Mapping[str, TauDataset],
    scores: Mapping[str, CandidateScores],
    cfg: TauConfig,
) -> TauEvaluation:
    """:func:`evaluate_tau_models` from given scores (method -> :class:`CandidateScores`).

    Quoted numbers come from the test split only; the di-tau working points
    are chosen on the validation split (module docstring).

    Raises:
        ConfigError: a configured method without its dataset or scores; a
            zero-bias split too small for the rate.
        DataFormatError: scores of the wrong length.
    """
    _need(datasets, cfg)
    methods = cfg.candidates.methods
    for m in methods:
        if m not in scores:
            msg = f"scores: none for the configured method {m!r}"
            raise ConfigError(msg)
        s, n = scores[m], len(datasets[m])
        arrays = (s.id_score, s.charge_score, s.pt) + (() if s.vz is None else (s.vz,))
        if any(np.shape(a) != (n,) for a in arrays):
            msg = f"scores[{m!r}]: expected {n} values per array (one per candidate)"
            raise DataFormatError(msg)
    per: dict[str, MethodEvaluation] = {
        m: _method_evaluation(datasets[m], scores[m], cfg) for m in methods
    }
    ditau: dict[str, DiTauResult] = {}
    for m in methods:
        label = _LABELS[m] + (f" ({cfg.rate.rate_khz:g} kHz search)" if m == "nnpuppitau" else "")
        ditau[label] = _ditau(datasets[m], scores[m], cfg, label)
    menu = None
    if "nnpuppitau" in methods:
        menu = _menu_seed(datasets["nnpuppitau"], scores["nnpuppitau"], cfg)
    verdict = _verdict(ditau, cfg.evaluation.beats_vis_pt)
    return TauEvaluation(per, ditau, menu, verdict, np.asarray(cfg.evaluation.pt_edges))


def evaluate_tau_models(
    datasets: Mapping[str, TauDataset], models: TauModels, cfg: TauConfig
) -> TauEvaluation:
    """Evaluate every configured method on the **test** split (module docstring).

    Per method: RECO / ID efficiency vs visible pT, fakes per zero-bias
    event, pT response before and after the regression, charge accuracy. The
    di-tau working points are **chosen on the validation split** (rate
    ``<= cfg.rate.rate_khz`` there) and their efficiency and rate **quoted on
    the test split**; NNPuppiTau's double-tau menu seed on test; the verdict
    on the transformer against NNPuppiTau.

    Raises:
        ConfigError: a configured method without its dataset or model; a
            zero-bias split too small for the rate.
    """
    _need(datasets, cfg)
    scores: dict[str, CandidateScores] = {
        m: candidate_scores(datasets[m], models) for m in cfg.candidates.methods
    }
    return evaluate_scores(datasets, scores, cfg)
