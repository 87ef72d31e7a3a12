"""Model-based selections of the scouting stream: soft di-tau and anomaly score, on ONNX Runtime.

**Models** (:func:`load_scorer`): a source is ``models:/<name>@<alias>`` (or
``models:/<name>/<version>``), loaded from the MLflow registry with
:func:`l1scout.track.registry.load_model` (only the ONNX models l1scout writes
are loaded), or the path of an ``.onnx`` file, run by
:class:`l1scout.deploy.onnx.OnnxModel`. Either way the graph runs in ONNX
Runtime on the CPU, and each is loaded once per process (a cache keyed by the
file, or by the artifact location the registry resolves the URI to now, so a
moved alias loads the new version).

**Di-tau** (:func:`ditau_select`), the soft-tau study's path
(:mod:`l1scout.tasks.taus`) on the decoded PUPPI candidates of each BX:
CLUE tau candidates (:func:`l1scout.reco.taus.clue_tau_candidates` on
``pT x PuppiW``, as the taus task with ``puppi_weights``), the transformer's
inputs (:func:`l1scout.tasks.taus.transformer.transformer_inputs`: constituent
``pT x PuppiW``, eta, phi, ``z0`` as ``DZ`` in mm, charge and the PDG id the
word codes), the exported transformer
(:func:`~l1scout.tasks.taus.transformer.export_transformer`) and its decoded
outputs (:func:`~l1scout.tasks.taus.transformer.decode_outputs`), then the
taus task's di-tau decision (:func:`l1scout.tasks.taus.ditau.ditau_decisions`)
at a working point (class, opposite-sign charge and ``|dvz|`` cuts).

**Anomaly** (:func:`anomaly_select`): the 57 inputs of
:mod:`l1scout.io.trigger_inputs` (MET with eta 0, the 4 e/gamma, 4 muons and 10
jets of highest pT, each (pT, eta, phi), zero-padded) rebuilt from the decoded
object words (:func:`anomaly_inputs`; the e/gamma stream already carries the
merged electrons and photons), optionally scaled by a
:class:`~l1scout.io.scalers.PowerOfTwoRobustScaler` file, scored by the ONNX
model (output ``[n]`` or ``[n, 1]``); a BX passes when ``score > threshold``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from l1scout._jagged import offsets_from_counts
from l1scout._types import F32, I64
from l1scout.errors import DataFormatError
from l1scout.io.ragged import gather, top_k
from l1scout.io.trigger_inputs import N_TRIGGER_INPUTS
from l1scout.reco.taus import TauCandidates, clue_tau_candidates
from l1scout.tasks.scouting.selections import SelectionOutput
from l1scout.tasks.taus.ditau import ScoredCandidates, ditau_event_scores
from l1scout.tasks.taus.transformer import TransformerInputs, decode_outputs, transformer_inputs

__all__ = [
    "REGISTRY_PREFIX",
    "DiTauParams",
    "Scorer",
    "anomaly_inputs",
    "anomaly_select",
    "clear_model_cache",
    "ditau_inputs",
    "ditau_select",
    "load_scorer",
]

_log = logging.getLogger(__name__)

#: A model source starting with this is a registry URI; anything else is an ONNX file.
REGISTRY_PREFIX = "models:/"


class Scorer(Protocol):
    """A loaded model: every output of the graph for a float32 batch."""

    def run(self, x: F32) -> list[np.ndarray]:
        """All outputs, in the graph's order."""


class _Registered:
    """A registry model (``mlflow.pyfunc`` of the onnx flavour): outputs in the graph's order."""

    def __init__(self, model: Any) -> None:
        self._model = model

    def run(self, x: F32) -> list[np.ndarray]:
        out = self._model.predict(np.ascontiguousarray(x, dtype=np.float32))
        values = out.values() if isinstance(out, Mapping) else [out]
        return [np.asarray(v, dtype=np.float32) for v in values]


class _OnnxFile:
    def __init__(self, path: Path) -> None:
        from l1scout.deploy.onnx import OnnxModel

        self._model = OnnxModel(path)

    def run(self, x: F32) -> list[np.ndarray]:
        return list(self._model.run(x))


_CACHE: dict[tuple[str, str], Scorer] = {}


def clear_model_cache() -> None:
    """Forget the models loaded in this process (:func:`load_scorer` loads them again)."""
    _CACHE.clear()


def load_scorer(source: str, *, tracking_uri: str | None = None) -> Scorer:
    """The model of *source*, loaded once per process (module docstring).

    Args:
        source: ``models:/<name>@<alias>`` (or another ``models:/`` URI) or an ONNX file path.
        tracking_uri: the MLflow store of a registry source
            (:func:`l1scout.track.store.tracking_uri`).

    Raises:
        DataFormatError: no such ONNX file, a file ONNX Runtime cannot load,
            a registry name, version or alias the store does not have, or a
            registry model that is not an l1scout ONNX model.
        ConfigError: a malformed ``models:/`` URI.
    """
    if source.startswith(REGISTRY_PREFIX):
        from mlflow.exceptions import MlflowException

        from l1scout.track.registry import load_model, model_location
        from l1scout.track.store import tracking_uri as resolve

        store = resolve(tracking_uri)
        try:
            key = ("registry", model_location(source, uri=store))
            if key not in _CACHE:
                _log.info("loading %s from %s", source, store)
                _CACHE[key] = _Registered(load_model(source, uri=store))
        except MlflowException as exc:  # no such name, version or alias in the store
            first = str(exc.message).splitlines()[0] if exc.message else type(exc).__name__
            msg = f"model {source}: cannot be loaded from {store} ({first})"
            raise DataFormatError(msg) from None
        return _CACHE[key]
    path = Path(source).resolve()
    key = ("onnx", str(path))
    if key not in _CACHE:
        _CACHE[key] = _OnnxFile(path)
    return _CACHE[key]


# ---------------------------------------------------------------- anomaly


def _top_objects(
    offsets: npt.ArrayLike, objects: Mapping[str, np.ndarray], k: int, what: str
) -> F32:
    """(n, k, 3): the k highest-pT objects (pT, eta, phi), stable order on ties, zero-padded."""
    off = np.asarray(offsets, dtype=np.int64)
    n = int(off[-1])
    cols = []
    for key in ("pt", "eta", "phi"):
        v = np.asarray(objects[key])
        if v.shape != (n,):
            msg = f"{what} {key}: expected {n} values (the last offset), got shape {v.shape}"
            raise DataFormatError(msg)
        cols.append(v)
    idx, mask = top_k(off, cols[0].astype(np.float32), k)
    return np.stack([gather(v, idx, mask) for v in cols], axis=-1)


def anomaly_inputs(
    sums: Mapping[str, np.ndarray],
    egamma: tuple[npt.ArrayLike, Mapping[str, np.ndarray]],
    muons: tuple[npt.ArrayLike, Mapping[str, np.ndarray]],
    jets: tuple[npt.ArrayLike, Mapping[str, np.ndarray]],
) -> F32:
    """The 57 anomaly-trigger inputs of each BX (:func:`l1scout.io.trigger_inputs.trigger_inputs` order).

    Args:
        sums: ``met`` (GeV) and ``met_phi`` (rad), one value per BX.
        egamma: (per-BX offsets, decoded ``pt``, ``eta``, ``phi``) of the e/gamma stream.
        muons: the same for the muons.
        jets: the same for the jets.

    Returns:
        float32 (n_bx, 57): MET (pT, 0, phi), e/gamma 1-4, muons 1-4, jets 1-10.

    >>> none = ([0, 0], {"pt": np.zeros(0), "eta": np.zeros(0), "phi": np.zeros(0)})
    >>> mu = ([0, 2], {"pt": np.array([7.0, 30.0]), "eta": np.array([0.5, -1.0]),
    ...                "phi": np.array([0.25, 2.0])})
    >>> x = anomaly_inputs({"met": np.array([12.0]), "met_phi": np.array([1.0])}, none, mu, none)
    >>> x.shape, x[0, :3].tolist(), x[0, 15:21].tolist()
    ((1, 57), [12.0, 0.0, 1.0], [30.0, -1.0, 2.0, 7.0, 0.5, 0.25])
    """
    met = np.asarray(sums["met"], dtype=np.float32)
    n = met.shape[0]
    out = np.zeros((n, 19, 3), dtype=np.float32)
    out[:, 0, 0] = met
    out[:, 0, 2] = np.asarray(sums["met_phi"], dtype=np.float32)
    for (off, obj), lo, k, what in (
        (egamma, 1, 4, "e/gamma"),
        (muons, 5, 4, "muon"),
        (jets, 9, 10, "jet"),
    ):
        if np.asarray(off).shape != (n + 1,):
            msg = f"{what} offsets: expected {n + 1} (one per BX + 1), got shape {np.shape(off)}"
            raise DataFormatError(msg)
        out[:, lo : lo + k] = _top_objects(off, obj, k, what)
    return out.reshape(n, N_TRIGGER_INPUTS)


def _score(scorer: Scorer, x: F32) -> np.ndarray:
    y = np.asarray(scorer.run(x)[0], dtype=np.float64)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.shape != (x.shape[0],):
        msg = f"anomaly model: expected one score per BX ([n] or [n, 1]), got shape {y.shape}"
        raise DataFormatError(msg)
    return y


def anomaly_select(
    x: F32, scorer: Scorer, threshold: float, *, scaler: Any | None = None
) -> SelectionOutput:
    """BXs whose anomaly score is ``> threshold``; the table: ``bx_index`` and ``score``.

    Args:
        x: the raw inputs (:func:`anomaly_inputs`), float32 (n, 57).
        scorer: the model (:func:`load_scorer`).
        threshold: the score threshold (strict).
        scaler: a fitted :class:`~l1scout.io.scalers.PowerOfTwoRobustScaler`
            applied first, or None.
    """
    if x.shape[0] == 0:
        return SelectionOutput(
            np.zeros(0, np.bool_), {"bx_index": np.zeros(0, np.int64), "score": np.zeros(0)}
        )
    xs = x if scaler is None else np.ascontiguousarray(scaler.transform(x), dtype=np.float32)
    score = _score(scorer, xs)
    passed = score > threshold
    rows = np.flatnonzero(passed)
    return SelectionOutput(passed, {"bx_index": rows.astype(np.int64), "score": score[rows]})


# ---------------------------------------------------------------- di-tau


@dataclass(frozen=True)
class DiTauParams:
    """CLUE's parameters, the transformer's slots and the working point of the di-tau selection.

    Attributes:
        dc, rhoc, dm, pt_min: CLUE's parameters (:class:`l1scout.tasks.taus.config.ClueParams`).
        n_constituents: the transformer's constituent slots (the model's).
        class_threshold: both candidates' tau score ``>`` this.
        charge_threshold: the pair's opposite-sign probability ``>`` this.
        dvz_cut: ``|vz1 - vz2| <`` this (mm).
        max_candidates: pair only the leading candidates by class score (None: any pair).
    """

    dc: float = 0.2
    rhoc: float = 5.0
    dm: float = 0.4
    pt_min: float = 0.0
    n_constituents: int = 16
    class_threshold: float = 0.5
    charge_threshold: float = float("-inf")
    dvz_cut: float = float("inf")
    max_candidates: int | None = None


def ditau_inputs(
    offsets: npt.ArrayLike, puppi: Mapping[str, np.ndarray], params: DiTauParams
) -> tuple[TauCandidates, TransformerInputs]:
    """The CLUE tau candidates of each BX and their transformer inputs (module docstring).

    Args:
        offsets: per-BX offsets of the PUPPI candidates.
        puppi: decoded candidates (:func:`l1scout.tasks.scouting.words.puppi_physical`
            keys ``pt``, ``eta``, ``phi``, ``puppi_w``, ``pdgid``, ``charge``, ``z0``).
        params: CLUE's parameters and the slots.
    """
    off = np.asarray(offsets, dtype=np.int64)
    pt, w = np.asarray(puppi["pt"], np.float64), np.asarray(puppi["puppi_w"], np.float64)
    eta, phi = np.asarray(puppi["eta"], np.float64), np.asarray(puppi["phi"], np.float64)
    # CLUE on the BXs with candidates only (the flat arrays are the same; CLUE
    # costs about 20 us per event even when it is empty), then back on every BX
    counts = np.diff(off)
    busy = counts > 0
    cand = clue_tau_candidates(
        offsets_from_counts(counts[busy]), pt, eta, phi, weights=w, dc=params.dc,
        rhoc=params.rhoc, dm=params.dm, pt_min=params.pt_min,
    )  # fmt: skip
    per_bx = np.zeros(counts.size, dtype=np.int64)
    per_bx[busy] = np.diff(cand.offsets)
    cand = dataclasses.replace(cand, offsets=offsets_from_counts(per_bx))
    idx = cand.constituents
    ptw = pt * w
    inputs = transformer_inputs(
        cand.constituent_offsets,
        pt=ptw[idx],
        eta=eta[idx],
        phi=phi[idx],
        dz=np.asarray(puppi["z0"], np.float64)[idx],
        charge=np.asarray(puppi["charge"], np.int64)[idx],
        pid=np.asarray(puppi["pdgid"], np.int64)[idx],
        axis_eta=cand.eta,
        axis_phi=cand.phi,
        n_constituents=params.n_constituents,
    )
    return cand, inputs


def ditau_select(
    offsets: npt.ArrayLike,
    puppi: Mapping[str, np.ndarray],
    scorer: Scorer,
    params: DiTauParams,
) -> SelectionOutput:
    """BXs passing the di-tau working point (module docstring).

    The table: ``bx_index``, ``n_candidates`` (CLUE candidates of the BX) and
    ``pair_score`` (the best pair's smaller tau score among pairs passing the
    charge and vz cuts, :func:`~l1scout.tasks.taus.ditau.ditau_event_scores`).
    """
    cand, inputs = ditau_inputs(offsets, puppi, params)
    n_bx = cand.offsets.size - 1
    if n_bx == 0:
        empty: I64 = np.zeros(0, np.int64)
        return SelectionOutput(
            np.zeros(0, np.bool_),
            {"bx_index": empty, "n_candidates": empty, "pair_score": np.zeros(0)},
        )
    if len(inputs):
        out = decode_outputs(scorer.run(inputs.packed()))
        tau, charge, vz = out["tau_score"], out["charge_score"], out["vz"]
    else:
        tau = charge = vz = np.zeros(0)
    scored = ScoredCandidates.build(cand.offsets, tau, charge, vz, what="scouting BXs")
    m = ditau_event_scores(
        scored, params.charge_threshold, params.dvz_cut, max_candidates=params.max_candidates
    )
    passed = m > params.class_threshold
    rows = np.flatnonzero(passed)
    counts = np.diff(cand.offsets)
    return SelectionOutput(
        passed,
        {"bx_index": rows.astype(np.int64), "n_candidates": counts[rows], "pair_score": m[rows]},
    )
