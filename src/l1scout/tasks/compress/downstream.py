"""Downstream usefulness of the stored form: trigger models trained on original events, run on decoded ones.

A codec is useful when the physics run on what it stores gives what the
originals give. Two models are trained **once, on the original training
events** (:meth:`DownstreamModels.fit`) and then run unchanged on the
original and on the decoded test events of every codec:

* **anomaly score**: the anomaly task's VAE (:func:`l1scout.tasks.anomaly.train.train`,
  the AXOL1TL family, Govorkova et al., Nature Mach. Intell. 4 (2022) 154,
  arXiv:2108.03986) on zero-bias training events, with the
  :class:`~l1scout.io.scalers.PowerOfTwoRobustScaler` fitted on them, reading 57 trigger-style inputs built **from the PUPPI
  candidates** (:func:`particle_trigger_inputs`), since a decoded event has
  no separate trigger objects of its own to feed it. The default score is
  the VAE's reconstruction error (float layers): at pileup 200 about 64 % of
  zero-bias events have no candidate of PUPPI weight > 0 among their 128
  highest-pT ones, all 57 inputs are 0, and the AXOL1TL latent score (the sum
  of the latent means squared) collapsed on them in a trial on 10^4 zero-bias
  events (signal AUCs below 0.5), where the reconstruction error gave 0.997
  for the charged-Higgs signal;
* **event classifier**: the classify task's particle DeepSets
  (:class:`~l1scout.tasks.classify.models.ParticleDeepSets`, Zaheer et al.,
  arXiv:1703.06114; trained by :func:`~l1scout.tasks.classify.training.train_classifier`)
  over the candidates (:func:`particle_features`), one class per process; its
  score for signal ``s`` is the logit difference ``logit_s - logit_zb``
  (the log of the estimated likelihood ratio ``p(s | x) / p(zb | x)``).

An embedding-only codec stores no particles, so its embedding gets its own
models, fitted on the embeddings of the training events
(:meth:`EmbeddingModels.fit`): a **probe** (multinomial logistic regression of
scikit-learn on the standardised embedding, one class per process; score
``log p_s - log p_zb``) and an anomaly score, the squared **Mahalanobis
distance** to the zero-bias training embeddings (Ledoit-Wolf-shrunk
covariance, :mod:`l1scout.tasks.anomaly.distance`). They are compared with the
original-event models: probe vs classifier, Mahalanobis vs anomaly
(:data:`~l1scout.tasks.compress.measures.EMBEDDING_PAIRS`).

**Measures**: per score and signal, the AUC against zero bias and the
efficiency at a fixed zero-bias rate, and their ratios stored / original
(:mod:`l1scout.tasks.compress.measures`: the rate's choice, the intervals).
:meth:`DownstreamModels.evaluate` gives the scores ``"anomaly"`` and
``"classifier"``, :meth:`EmbeddingModels.evaluate` ``"mahalanobis"`` and
``"probe"``.

Example (the 57 inputs of one hand-made event: a 50 GeV photon, a 20 GeV
muon and two 40 GeV charged pions, far apart: one jet each):
    >>> from l1scout.tasks.compress.fidelity import _events_from
    >>> ev = _events_from([[(50.0, 0.0, 0.0, 22, 0, 0.0, 1.0), (40.0, 1.0, 1.0),
    ...                     (40.0, -1.0, -2.0), (20.0, 0.5, 3.0, 13, -1, 0.0, 1.0)]])
    >>> x = particle_trigger_inputs(ev).reshape(19, 3)
    >>> x[1].tolist(), x[5].tolist(), float(x[2:5].sum()), float(x[6:9].sum())
    ([50.0, 0.0, 0.0], [20.0, 0.5, 3.0], 0.0, 0.0)
    >>> x[9:12, 0].tolist()
    [50.0, 40.0, 40.0]
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Self

import numpy as np
import numpy.typing as npt
import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from l1scout._jagged import event_index, offsets_from_counts
from l1scout._types import F32, F64, I64, B
from l1scout.errors import ConfigError, DataFormatError
from l1scout.io.ragged import gather, particle_type_one_hot, top_k
from l1scout.io.scalers import PowerOfTwoRobustScaler
from l1scout.io.trigger_inputs import N_TRIGGER_INPUTS
from l1scout.tasks._threads import torch_threads
from l1scout.tasks.anomaly.config import TrainConfig, VAEConfig
from l1scout.tasks.anomaly.distance import GaussianFit, fit_gaussian, squared_distance
from l1scout.tasks.anomaly.models import VAE, VICReg
from l1scout.tasks.anomaly.train import scores as anomaly_scores
from l1scout.tasks.anomaly.train import train as train_anomaly
from l1scout.tasks.classify.config import TrainingConfig
from l1scout.tasks.classify.models import ClassifierModelConfig, EventClassifier
from l1scout.tasks.classify.training import ModelInputs, train_classifier
from l1scout.tasks.compress.fidelity import particle_jets
from l1scout.tasks.compress.measures import (
    DEFAULT_MIN_EXPECTED,
    DownstreamResult,
    SignalMeasure,
    measure_scores,
)
from l1scout.tasks.rates import CROSSING_RATE_KHZ, DEFAULT_CL
from l1scout.tasks.scouting.events import StreamEvents

__all__ = [
    "PARTICLE_CLASSIFIER_FEATURES",
    "TRIGGER_JET_PT_MIN_GEV",
    "DownstreamConfig",
    "DownstreamModels",
    "EmbeddingModels",
    "particle_features",
    "particle_trigger_inputs",
]

_log = logging.getLogger(__name__)

#: Jets of the trigger-style inputs: the Level-1 PUPPI jets' threshold (``JetPuppiAK4``, 15 GeV).
TRIGGER_JET_PT_MIN_GEV = 15.0
#: Features of every candidate for the classifier (:func:`particle_features`).
PARTICLE_CLASSIFIER_FEATURES: tuple[str, ...] = (
    "LogPT",
    "Eta",
    "Phi",
    "DZ",
    "Charge",
    "IsPhoton",
    "IsElectron",
    "IsMuon",
    "IsChargedHadron",
    "IsNeutralHadron",
    "PuppiW",
    "PuppiPT",
)
_EVAL_BATCH = 4096

Events = Mapping[str, StreamEvents] | Sequence[StreamEvents]


# --------------------------------------------------------------------------- inputs


def _by_process(events: Events) -> dict[str, StreamEvents]:
    if isinstance(events, Mapping):
        return dict(events)
    out = {ev.process: ev for ev in events}
    if len(out) != len(events):
        msg = "events: expected one sample per process, got a process twice"
        raise DataFormatError(msg)
    return out


def _top_objects(events: StreamEvents, keep: B, ptw: F64, k: int) -> F32:
    """(n, k, 3) pT (weighted), eta, phi of the *k* highest weighted-pT candidates where *keep*."""
    n = events.n_events
    sel = np.flatnonzero(keep)
    ev = event_index(events.puppi_offsets)[sel]
    off = offsets_from_counts(np.bincount(ev, minlength=n))
    idx, mask = top_k(off, ptw[sel], k)
    cols = (ptw[sel], events.puppi["eta"][sel], events.puppi["phi"][sel])
    return np.stack([gather(np.asarray(v), idx, mask) for v in cols], axis=-1)


def particle_trigger_inputs(events: StreamEvents) -> F32:
    """The 57 anomaly-trigger inputs of every event built from its PUPPI candidates, (n, 57) float32.

    The layout of :func:`l1scout.io.trigger_inputs.trigger_inputs` (object-major,
    per object pT [GeV], eta, phi [rad]; MET, e/gamma 1-4, muon 1-4, jet 1-10;
    missing objects 0), every candidate's pT scaled by its PUPPI weight and the
    candidates of weight 0 left out:

    * MET: the magnitude and azimuth of the negative vector sum of the weighted
      transverse momenta, eta 0;
    * e/gamma: the 4 highest weighted-pT candidates coded photon or electron
      (:func:`l1scout.io.ragged.particle_type_one_hot`);
    * muons: the 4 highest coded muon;
    * jets: the 10 highest anti-kT R = 0.4 jets of the weighted candidates
      (:func:`~l1scout.tasks.compress.fidelity.particle_jets`) above
      :data:`TRIGGER_JET_PT_MIN_GEV`, any eta.

    Raises:
        DataFormatError: a candidate's pT, eta, phi or weight is not finite.
    """
    n = events.n_events
    p = events.puppi
    jets = particle_jets(events, pt_min=TRIGGER_JET_PT_MIN_GEV)
    ptw = np.asarray(p["pt"], dtype=np.float64) * np.asarray(p["puppi_w"], dtype=np.float64)
    phi = np.asarray(p["phi"], dtype=np.float64)
    ev = event_index(events.puppi_offsets)
    mex = -np.bincount(ev, ptw * np.cos(phi), minlength=n)
    mey = -np.bincount(ev, ptw * np.sin(phi), minlength=n)
    met = np.hypot(mex, mey)
    out = np.zeros((n, 19, 3), dtype=np.float32)
    out[:, 0, 0] = met
    out[:, 0, 2] = np.where(met > 0, np.arctan2(mey, mex), 0.0)
    types = particle_type_one_hot(np.asarray(p["pid"]), np.asarray(p["charge"]))
    real = ptw > 0
    out[:, 1:5] = _top_objects(events, real & (types[:, 0] | types[:, 1]), ptw, 4)
    out[:, 5:9] = _top_objects(events, real & types[:, 2], ptw, 4)
    idx, mask = top_k(jets.offsets, jets.pt, 10)
    for i, v in enumerate((jets.pt, jets.eta, jets.phi)):
        out[:, 9:19, i] = gather(v, idx, mask)
    return out.reshape(n, N_TRIGGER_INPUTS)


def particle_features(events: StreamEvents, k: int = 128) -> tuple[F32, B]:
    """The classifier's inputs: the *k* highest-pT candidates, ``(n, k, 12)`` float32 and a mask.

    Features :data:`PARTICLE_CLASSIFIER_FEATURES`: ln(pT / GeV), eta, phi (rad),
    z0 (mm; 0 for neutral candidates), charge (e), the one-hot particle type,
    the PUPPI weight and pT x weight (GeV). D0 is left out: the lossy codecs
    do not store it.

    Raises:
        ConfigError: *k* outside 1 ... 128.
    """
    if not 1 <= k <= 128:
        msg = f"k: expected 1 ... 128 candidates per event, got {k}"
        raise ConfigError(msg)
    p = events.puppi
    pt = np.asarray(p["pt"], dtype=np.float32)
    idx, mask = top_k(events.puppi_offsets, pt, k)
    charge = np.asarray(p["charge"], dtype=np.float32)
    w = np.asarray(p["puppi_w"], dtype=np.float32)
    cols = [
        np.log(np.maximum(pt, np.float32(1e-3))),
        np.asarray(p["eta"]),
        np.asarray(p["phi"]),
        np.where(charge != 0, np.asarray(p["dz"], dtype=np.float32), 0.0),
        charge,
        *particle_type_one_hot(np.asarray(p["pid"]), np.asarray(p["charge"])).T,
        w,
        pt * w,
    ]
    x = np.zeros((*idx.shape, len(cols)), dtype=np.float32)
    for i, c in enumerate(cols):
        gather(np.asarray(c), idx, mask, out=x[..., i])
    return x, mask


def _per_signal(
    all_scores: Mapping[str, Mapping[str, F64]], prefix: str, cfg: DownstreamConfig, rate: float
) -> dict[str, SignalMeasure]:
    """Measures of the per-signal scores ``<prefix>/<signal>``, each signal on its own score."""
    out: dict[str, SignalMeasure] = {}
    for name, per_process in all_scores.items():
        signal = name.removeprefix(f"{prefix}/")
        if not name.startswith(f"{prefix}/") or signal not in per_process:
            continue
        pair = {cfg.zero_bias: per_process[cfg.zero_bias], signal: per_process[signal]}
        one = measure_scores(
            {prefix: pair},
            cfg.zero_bias,
            rate_khz=rate,
            min_expected=cfg.min_expected,
            crossing_rate_khz=cfg.crossing_rate_khz,
            cl=cfg.cl,
        )
        out[signal] = one.measures[prefix][signal]
    return out


def _measure_one(scores: Mapping[str, F64], name: str, cfg: DownstreamConfig) -> DownstreamResult:
    return measure_scores(
        {name: scores},
        cfg.zero_bias,
        rate_khz=cfg.rate_khz,
        min_expected=cfg.min_expected,
        crossing_rate_khz=cfg.crossing_rate_khz,
        cl=cfg.cl,
    )


# --------------------------------------------------------------------------- models


class DownstreamConfig(BaseModel):
    """The downstream models and measures (module docstring).

    Attributes:
        zero_bias: the zero-bias process (the anomaly model's training sample).
        vae: the anomaly model (the anomaly task's VAE); default float, scored by
            its reconstruction error (module docstring: why not the latent score).
        vae_train: its training (epochs, batches, early stopping, seed).
        classifier: the particle classifier (kind ``"particles"``; small by default).
        classifier_train: its training.
        candidates: candidates per event the classifier reads (1 ... 128).
        probe_c: inverse L2 strength of the embedding probe's logistic regression.
        rate_khz: the fixed zero-bias rate (kHz); None: :func:`~l1scout.tasks.compress.measures.choose_rate_khz`.
        min_expected: zero-bias events expected above the threshold for a resolved rate.
        crossing_rate_khz: the crossing rate that normalises the rate (kHz).
        cl: confidence level of the intervals.
        threads: torch CPU threads (None: leave torch's setting).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    zero_bias: str = "minbias"
    vae: VAEConfig = Field(
        default_factory=lambda: VAEConfig(name="compress_vae", quantized=False, score="reco")
    )
    vae_train: TrainConfig = Field(
        default_factory=lambda: TrainConfig(epochs=30, batch_size=512, patience=5)
    )
    classifier: ClassifierModelConfig = Field(
        default_factory=lambda: ClassifierModelConfig(
            kind="particles", hidden=64, hidden_layers=2, dropout=0.0
        )
    )
    classifier_train: TrainingConfig = Field(
        default_factory=lambda: TrainingConfig(max_epochs=20, batch_size=256, patience=3)
    )
    candidates: Annotated[int, Field(ge=1, le=128)] = 128
    probe_c: float = Field(default=1.0, gt=0.0)
    rate_khz: float | None = Field(default=None, gt=0.0)
    min_expected: Annotated[int, Field(ge=1)] = DEFAULT_MIN_EXPECTED
    crossing_rate_khz: float = Field(default=CROSSING_RATE_KHZ, gt=0.0)
    cl: float = Field(default=DEFAULT_CL, gt=0.0, lt=1.0)
    threads: Annotated[int, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _particle_classifier(self) -> Self:
        if self.classifier.kind != "particles":
            msg = (
                f"classifier.kind: expected 'particles' (a set model), got {self.classifier.kind!r}"
            )
            raise ValueError(msg)
        return self


def _require(samples: Mapping[str, object], zero_bias: str, what: str) -> None:
    if zero_bias not in samples:
        msg = f"{what}: no {zero_bias!r} (the zero-bias process), got {sorted(samples)}"
        raise DataFormatError(msg)


def _processes(train: Mapping[str, object], zero_bias: str) -> tuple[str, ...]:
    _require(train, zero_bias, "training samples")
    others = sorted(p for p in train if p != zero_bias)
    if not others:
        msg = "training samples: expected at least one process besides zero bias"
        raise DataFormatError(msg)
    return (zero_bias, *others)


def _labelled(
    samples: Mapping[str, StreamEvents], processes: tuple[str, ...], k: int
) -> tuple[ModelInputs, I64]:
    xs, ms, ys = [], [], []
    for label, process in enumerate(processes):
        if process not in samples:
            msg = f"samples: no {process!r}, expected {list(processes)}"
            raise DataFormatError(msg)
        x, m = particle_features(samples[process], k)
        xs.append(x)
        ms.append(m)
        ys.append(np.full(x.shape[0], label, dtype=np.int64))
    return ModelInputs(np.concatenate(xs), np.concatenate(ms)), np.concatenate(ys)


@dataclass
class DownstreamModels:
    """The anomaly model and the classifier, trained on original events (module docstring).

    Attributes:
        config: what was trained.
        processes: the classifier's classes, zero bias first.
        vae: the anomaly model (eval mode).
        scaler: its input scaler (fitted on the zero-bias training inputs).
        classifier: the particle classifier (eval mode).
        seconds: wall time of the two trainings (s).
    """

    config: DownstreamConfig
    processes: tuple[str, ...]
    vae: VAE | VICReg
    scaler: PowerOfTwoRobustScaler
    classifier: EventClassifier
    seconds: dict[str, float] = field(default_factory=dict)

    @classmethod
    def fit(
        cls,
        train: Events,
        validation: Events,
        config: DownstreamConfig | None = None,
    ) -> DownstreamModels:
        """Train both models on the original training events (validation: early stopping).

        Args:
            train: one sample per process (a mapping process -> events, or a sequence).
            validation: the same processes' validation events.
            config: the models; default :class:`DownstreamConfig`.

        Raises:
            DataFormatError: no zero-bias sample, no other process, a process missing.
            L1ScoutError: a training diverged.
        """
        import time

        cfg = config or DownstreamConfig()
        tr, va = _by_process(train), _by_process(validation)
        processes = _processes(tr, cfg.zero_bias)
        with torch_threads(cfg.threads):
            t0 = time.perf_counter()
            x_tr = particle_trigger_inputs(tr[cfg.zero_bias])
            x_va = particle_trigger_inputs(va[cfg.zero_bias]) if cfg.zero_bias in va else x_tr
            scaler = PowerOfTwoRobustScaler(object_size=3).fit(x_tr)
            vae = train_anomaly(cfg.vae, cfg.vae_train, x_tr, x_va, scaler=scaler).model
            t1 = time.perf_counter()
            result = train_classifier(
                cfg.classifier,
                _labelled(tr, processes, cfg.candidates),
                _labelled(va, processes, cfg.candidates),
                len(processes),
                cfg.classifier_train,
            )
            t2 = time.perf_counter()
        model = result.model
        if not isinstance(model, EventClassifier):  # pragma: no cover - build_classifier's type
            msg = f"classifier: expected an EventClassifier, got {type(model).__name__}"
            raise DataFormatError(msg)
        model.eval()
        _log.info("downstream models: VAE %.1f s, classifier %.1f s", t1 - t0, t2 - t1)
        return cls(cfg, processes, vae, scaler, model, {"vae": t1 - t0, "classifier": t2 - t1})

    def _logits(self, events: StreamEvents) -> F64:
        x, m = particle_features(events, self.config.candidates)
        xt, mt = torch.from_numpy(x), torch.from_numpy(m)
        self.classifier.eval()
        with torch.no_grad(), torch_threads(self.config.threads):
            out = [
                self.classifier(xt[i : i + _EVAL_BATCH], mt[i : i + _EVAL_BATCH])
                for i in range(0, x.shape[0], _EVAL_BATCH)
            ]
        if not out:
            return np.zeros((0, len(self.processes)), dtype=np.float64)
        return torch.cat(out).to(torch.float64).numpy()

    def scores(self, events: Events) -> dict[str, dict[str, F64]]:
        """The scores of every test event: ``"anomaly"`` and ``"classifier/<signal>"`` -> process -> scores.

        The classifier's score for signal ``s`` is ``logit_s - logit_zb`` on every
        event of every process.

        Raises:
            DataFormatError: non-finite candidates.
        """
        samples = _by_process(events)
        cfg = self.config
        _require(samples, cfg.zero_bias, "events")
        out: dict[str, dict[str, F64]] = {"anomaly": {}}
        logits = {}
        with torch_threads(cfg.threads):
            for process, ev in samples.items():
                x = particle_trigger_inputs(ev)
                out["anomaly"][process] = anomaly_scores(self.vae, x, self.scaler)
                logits[process] = self._logits(ev)
        zb = self.processes.index(cfg.zero_bias)
        for j, signal in enumerate(self.processes):
            if j == zb:
                continue
            out[f"classifier/{signal}"] = {p: lg[:, j] - lg[:, zb] for p, lg in logits.items()}
        return out

    def evaluate(self, events: Events) -> DownstreamResult:
        """AUC and efficiency at the fixed rate of both models on *events* (one sample per process).

        Scores ``"anomaly"`` and ``"classifier"``; each signal of *events*
        against its zero-bias sample (the classifier: only the signals it was
        trained on).

        Raises:
            DataFormatError: no zero-bias sample, or non-finite candidates.
        """
        all_scores = self.scores(events)
        anomaly = _measure_one(all_scores.pop("anomaly"), "anomaly", self.config)
        measures = {
            **anomaly.measures,
            "classifier": _per_signal(all_scores, "classifier", self.config, anomaly.rate_khz),
        }
        return DownstreamResult(
            self.config.zero_bias, anomaly.rate_khz, anomaly.n_zero_bias, measures
        )


def _embeddings(data: Mapping[str, npt.ArrayLike], what: str) -> dict[str, F64]:
    out = {}
    dims = set()
    for process, e in data.items():
        arr = np.asarray(e, dtype=np.float64)
        if arr.ndim != 2 or not np.isfinite(arr).all():
            msg = (
                f"{what}[{process!r}]: expected finite embeddings of shape (n, d), got {arr.shape}"
            )
            raise DataFormatError(msg)
        dims.add(arr.shape[1])
        out[process] = arr
    if len(dims) > 1:
        msg = f"{what}: embeddings of different sizes {sorted(dims)}"
        raise DataFormatError(msg)
    return out


@dataclass
class EmbeddingModels:
    """The probe and the distance score of an embedding-only codec (module docstring).

    Attributes:
        config: the measures' settings (zero bias, rate, probe strength).
        processes: the probe's classes, zero bias first.
        mean, std: the standardisation of the embedding (training events, all processes).
        probe: the fitted ``sklearn.linear_model.LogisticRegression``.
        gaussian: the zero-bias fit of the Mahalanobis distance (standardised embedding).
    """

    config: DownstreamConfig
    processes: tuple[str, ...]
    mean: F64
    std: F64
    probe: object
    gaussian: GaussianFit

    @classmethod
    def fit(
        cls, train: Mapping[str, npt.ArrayLike], config: DownstreamConfig | None = None
    ) -> EmbeddingModels:
        """Fit both on the embeddings of the training events: process -> (n, d).

        Raises:
            DataFormatError: no zero-bias sample, no other process, or bad embeddings.
        """
        from sklearn.linear_model import LogisticRegression

        cfg = config or DownstreamConfig()
        emb = _embeddings(train, "train")
        processes = _processes(emb, cfg.zero_bias)
        x = np.concatenate([emb[p] for p in processes])
        y = np.concatenate([np.full(len(emb[p]), i) for i, p in enumerate(processes)])
        mean = x.mean(axis=0)
        std = x.std(axis=0)
        std = np.where(std > 1e-12, std, 1.0)
        probe = LogisticRegression(C=cfg.probe_c, max_iter=2000)
        probe.fit((x - mean) / std, y)
        gaussian = fit_gaussian((emb[cfg.zero_bias] - mean) / std)
        return cls(cfg, processes, mean, std, probe, gaussian)

    def scores(self, embeddings: Mapping[str, npt.ArrayLike]) -> dict[str, dict[str, F64]]:
        """``"mahalanobis"`` and ``"probe/<signal>"`` -> process -> score of each event.

        Raises:
            DataFormatError: bad embeddings.
        """
        emb = _embeddings(embeddings, "embeddings")
        _require(emb, self.config.zero_bias, "embeddings")
        zb = self.processes.index(self.config.zero_bias)
        out: dict[str, dict[str, F64]] = {"mahalanobis": {}}
        logp = {}
        for process, e in emb.items():
            z = (e - self.mean) / self.std
            out["mahalanobis"][process] = squared_distance(z, self.gaussian)
            logp[process] = self.probe.predict_log_proba(z)  # type: ignore[attr-defined]
        for j, signal in enumerate(self.processes):
            if j != zb:
                out[f"probe/{signal}"] = {p: lp[:, j] - lp[:, zb] for p, lp in logp.items()}
        return out

    def evaluate(self, embeddings: Mapping[str, npt.ArrayLike]) -> DownstreamResult:
        """AUC and efficiency at the fixed rate of the probe and the distance (scores ``"probe"``, ``"mahalanobis"``).

        Raises:
            DataFormatError: no zero-bias embeddings, or bad embeddings.
        """
        all_scores = self.scores(embeddings)
        dist = _measure_one(all_scores.pop("mahalanobis"), "mahalanobis", self.config)
        measures = {
            **dist.measures,
            "probe": _per_signal(all_scores, "probe", self.config, dist.rate_khz),
        }
        return DownstreamResult(self.config.zero_bias, dist.rate_khz, dist.n_zero_bias, measures)
