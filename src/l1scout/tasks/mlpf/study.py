"""The MLPF evaluation: MLPF against our rule-based particle flow, PF+CHS and PUPPI, on jets, MET and pileup.

:func:`evaluate_mlpf` takes the test events' file columns, the model's
per-element predictions (:func:`~l1scout.tasks.mlpf.model.decode_outputs`)
and the targets of the same events, and measures, as the MLPF study reports
it (J. Pata et al., Commun. Phys. 7 (2024) 124; CMS, arXiv:2601.17554; the
definitions in ``docs/physics/mlpf-metrics.md``):

* per **collection** (:data:`COLLECTIONS`): MLPF (elements whose particle
  probability exceeds ``particle_threshold``), MLPF with its pileup flag
  applied (particles whose pileup probability exceeds ``pileup_threshold``
  dropped), the targets (the ceiling: a perfect MLPF), the targets without
  their pure-pileup particles (the ceiling of the flagged MLPF), PF+CHS
  (``<View>_PFPart``), PF without CHS (``<View>_PUPPIPart`` unweighted) and
  PUPPI (``<View>_PUPPIPart`` weighted by ``PuppiW``), against the generator
  reference (visible stable particles of the hard collision):

  - the **jet response and resolution** in generator-jet pT bins (anti-kT
    R = 0.4, ``pT >= jet_pt_min``, matched with dR < ``match_dr``): matching
    efficiency, median, IQR and IQR / median of pT_reco / pT_gen
    (:func:`~l1scout.tasks.mlpf.metrics.jet_response`);
  - the **MET resolution**: median and IQR / median of MET_reco / MET_gen
    (:func:`~l1scout.tasks.mlpf.metrics.met_resolution`);

* the **per-class particle efficiency and fake rate** of MLPF against the
  targets, element by element, in target (or predicted) pT bins
  (:func:`~l1scout.tasks.mlpf.metrics.particle_efficiency_fake_rate`);
* two **per-particle pileup ROCs** (:func:`~l1scout.tasks.mlpf.metrics.pileup_roc`).
  They are **on different particle sets** and answer different questions:
  the MLPF head's is over the *true particles* (elements with a target), its
  score the predicted pileup probability, its label the target's (pileup
  energy fraction 1): it measures the head alone, as if the particle/none
  decision were perfect. PUPPI's is over the *PUPPI candidates* (every
  rule-based PF candidate), its score ``1 - PuppiW``, its label the
  candidate's truth ``IsPU``. The particle sets, their pileup fractions and
  what counts as one particle differ (a target tower merges all particles of
  a tower; a PF candidate is what PF made of it), so the two AUCs compare the
  two pileup taggers on their own inputs, not particle for particle: read
  the jet and MET numbers of "MLPF + PU flag" against PUPPI for the
  like-for-like comparison.
* **verdicts** (:class:`Verdict`): for MLPF and MLPF + PU flag against
  PF+CHS and PUPPI, the jet resolution per pT bin (adjacent bins of the same
  outcome merged into one range), the MET resolution, and the pileup AUC. A
  difference counts (``worse`` / ``better``) only when it exceeds
  ``significance`` times its bootstrap standard error (``n_bootstrap``
  resamples of the events' jets or MET, seeded: reproducible); otherwise it
  is ``not resolved``, and with fewer than ``min_count`` jets or events it is
  ``not measured``. Nothing in the verdicts is written by hand.

Momenta and energies in GeV, angles in rad.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Annotated, Any, Self

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from l1scout._arrays import flat_array
from l1scout._jagged import Jagged
from l1scout._types import F64
from l1scout.errors import DataFormatError
from l1scout.tasks.mlpf._verdicts import (
    Verdict,
    bin_label,
    jet_errors,
    jet_verdicts,
    met_error,
    met_verdicts,
    roc_verdict,
)
from l1scout.tasks.mlpf.metrics import (
    DEFAULT_REJECTIONS,
    ClassRates,
    JetResponse,
    MetResolution,
    PileupRoc,
    jet_response,
    met_resolution,
    particle_efficiency_fake_rate,
    pileup_roc,
)
from l1scout.tasks.mlpf.particles import (
    Particles,
    applied_pileup_flag,
    gen_particles_from_columns,
    particles_from_columns,
    particles_from_elements,
)
from l1scout.tasks.mlpf.targets import MLPFTargets

__all__ = [
    "COLLECTIONS",
    "MLPF",
    "MLPF_PU",
    "PF",
    "PF_CHS",
    "PREDICTION_KEYS",
    "PUPPI",
    "TARGETS",
    "TARGETS_PU",
    "MLPFEvaluation",
    "MLPFEvaluationSettings",
    "Verdict",
    "evaluate_mlpf",
    "metric_slug",
]

#: collection: MLPF's particles
MLPF = "MLPF"
#: collection: MLPF's particles with its pileup flag applied
MLPF_PU = "MLPF + PU flag"
#: collection: the targets (the ceiling)
TARGETS = "targets"
#: collection: the targets without pure-pileup particles (the ceiling of the flagged MLPF)
TARGETS_PU = "targets - PU"
#: collection: rule-based PF after charged-hadron subtraction
PF_CHS = "PF+CHS"
#: collection: rule-based PF, no pileup removal
PF = "PF"
#: collection: rule-based PF weighted by PUPPI
PUPPI = "PUPPI"
#: The collections, in the order of tables and plots.
COLLECTIONS: tuple[str, ...] = (MLPF, MLPF_PU, TARGETS, TARGETS_PU, PF_CHS, PF, PUPPI)
#: The keys :func:`evaluate_mlpf` reads from the predictions (those of ``decode_outputs``).
PREDICTION_KEYS: tuple[str, ...] = (
    "particle_score",
    "cls",
    "pt",
    "eta",
    "phi",
    "energy",
    "pileup_score",
)
_COMPARED = ((MLPF, PF_CHS), (MLPF, PUPPI), (MLPF_PU, PF_CHS), (MLPF_PU, PUPPI))

Edges = Annotated[tuple[float, ...], Field(min_length=2)]


class MLPFEvaluationSettings(BaseModel):
    """What :func:`evaluate_mlpf` measures and how.

    Attributes:
        pt_edges: generator-jet pT bin edges (GeV).
        eta_max: generator jets with ``|eta| < eta_max`` are evaluated.
        jet_pt_min: jet clustering threshold (GeV; 3 GeV as CMS, arXiv:2601.17554).
        match_dr: reco-to-generator jet matching radius.
        particle_threshold: an element is a particle when its particle
            probability is above this.
        pileup_threshold: a particle is flagged as pileup when its pileup
            probability is above this (0.5: the head's argmax).
        particle_pt_edges: pT bin edges of the per-class efficiency and fake rate (GeV).
        n_bootstrap: resamples of the bootstrap standard errors of the verdicts.
        significance: a difference is a verdict when above this many standard errors.
        min_count: fewer jets (per bin) or events than this: "not measured".
        seed: seed of the bootstrap.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    pt_edges: Edges = (10.0, 20.0, 30.0, 50.0, 100.0, 200.0, 500.0)
    eta_max: float = Field(default=2.5, gt=0.0)
    jet_pt_min: float = Field(default=3.0, ge=0.0)
    match_dr: float = Field(default=0.1, gt=0.0)
    particle_threshold: float = Field(default=0.5, ge=0.0, lt=1.0)
    pileup_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    particle_pt_edges: Edges = (0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 1000.0)
    n_bootstrap: int = Field(default=200, ge=10, le=10_000)
    significance: float = Field(default=2.0, gt=0.0)
    min_count: int = Field(default=10, ge=2)
    seed: int = Field(default=1, ge=0)

    @model_validator(mode="after")
    def _increasing(self) -> Self:
        for name in ("pt_edges", "particle_pt_edges"):
            e = getattr(self, name)
            if any(b <= a for a, b in itertools.pairwise(e)):
                msg = f"{name}: expected increasing bin edges, got {list(e)}"
                raise ValueError(msg)
        return self


def metric_slug(text: str) -> str:
    """A metric-name piece: lower case, runs of other characters than ``a-z0-9.-`` as ``_``.

    >>> metric_slug("MLPF + PU flag"), metric_slug("PF+CHS"), metric_slug("charged hadron")
    ('mlpf_pu_flag', 'pf_chs', 'charged_hadron')
    """
    return re.sub(r"[^a-z0-9.-]+", "_", text.lower()).strip("_")


@dataclass(frozen=True, eq=False)
class MLPFEvaluation:
    """Everything :func:`evaluate_mlpf` measured (module docstring).

    Attributes:
        settings: the settings used.
        view: the detector view of the PF collections and elements.
        n_events: test events.
        n_particles: particles per collection over all events.
        jets: jet response per collection (:data:`COLLECTIONS` order).
        jet_resolution_error: bootstrap standard error of IQR / median per pT bin.
        met: MET resolution per collection.
        met_resolution_error: bootstrap standard error of the MET IQR / median.
        particles: per-class efficiency and fake rate of MLPF (class name, and ``any``).
        pileup_mlpf: ROC of the MLPF pileup head on the true particles (None:
            no pileup or no hard particle among them).
        pileup_puppi: ROC of ``1 - PuppiW`` on the PUPPI candidates (None likewise).
        verdicts: the computed comparisons.
    """

    settings: MLPFEvaluationSettings
    view: str
    n_events: int
    n_particles: dict[str, int]
    jets: dict[str, JetResponse]
    jet_resolution_error: dict[str, F64]
    met: dict[str, MetResolution]
    met_resolution_error: dict[str, float]
    particles: dict[str, ClassRates]
    pileup_mlpf: PileupRoc | None
    pileup_puppi: PileupRoc | None
    verdicts: tuple[Verdict, ...]

    @property
    def worse(self) -> tuple[Verdict, ...]:
        """The verdicts where MLPF is worse."""
        return tuple(v for v in self.verdicts if v.outcome == "worse")

    def metrics(self) -> dict[str, float]:
        """Flat MLflow-safe metrics (names of letters, digits and ``. _ -``), finite values only.

        Names: ``jets.<collection>.pt<lo>-<hi>.{efficiency, response_median,
        response_iqr, resolution}``, ``met.<collection>.{response_median,
        resolution, delta_iqr}``, ``particles.<class>.{efficiency, fake_rate}``
        (over all pT bins), ``pileup.{mlpf, puppi}.auc`` and
        ``pileup.{mlpf, puppi}.hard_kept_at_<rejection>``, ``verdicts.worse``
        and ``events``. The names depend on the settings only; a value that is
        not defined (an empty bin) is left out.
        """
        out: dict[str, float] = {"events": float(self.n_events)}
        for name, jr in self.jets.items():
            c = metric_slug(name)
            e = jr.response.edges
            for k in range(len(e) - 1):
                key = f"jets.{c}.pt{bin_label(e[k], e[k + 1])}"
                out[f"{key}.efficiency"] = float(jr.efficiency.value[k])
                out[f"{key}.response_median"] = float(jr.response.median[k])
                out[f"{key}.response_iqr"] = float(jr.response.iqr[k])
                out[f"{key}.resolution"] = float(jr.response.iqr_over_median[k])
        for name, m in self.met.items():
            c = metric_slug(name)
            out[f"met.{c}.response_median"] = m.response.median
            out[f"met.{c}.resolution"] = m.response.iqr_over_median
            out[f"met.{c}.delta_iqr"] = m.delta.iqr
        for cls, rates in self.particles.items():
            c = metric_slug(cls)
            for what, rate in (("efficiency", rates.efficiency), ("fake_rate", rates.fake_rate)):
                total = int(rate.total.sum())
                out[f"particles.{c}.{what}"] = (
                    float(rate.passed.sum()) / total if total else math.nan
                )
        for which, roc in (("mlpf", self.pileup_mlpf), ("puppi", self.pileup_puppi)):
            if roc is not None:
                out[f"pileup.{which}.auc"] = roc.auc
                for r in DEFAULT_REJECTIONS:
                    out[f"pileup.{which}.hard_kept_at_{r:g}"] = roc.hard_kept_at(r)[0]
        out["verdicts.worse"] = float(len(self.worse))
        return {k: float(v) for k, v in out.items() if math.isfinite(v)}

    def tables(self) -> dict[str, list[dict[str, float | str]]]:
        """The report's tables as rows of column -> value (NaN where a value is missing).

        Keys: ``jets`` (collection, pT bin, generator jets, efficiency,
        median, IQR, IQR / median and its standard error), ``met``
        (collection, events, median, IQR / median, its standard error, IQR of
        the difference components), ``particles`` (class, pT bin, efficiency,
        fake rate with their counts; a last row per class over all bins),
        ``pileup`` (tagger, particle set, particles, AUC, hard particles kept
        at each rejection) and ``verdicts`` (quantity, collection, reference,
        range, outcome, detail).
        """
        jets: list[dict[str, float | str]] = [
            {
                "collection": name,
                "gen jet pT (GeV)": bin_label(e[k], e[k + 1]),
                "gen jets": float(jr.efficiency.total[k]),
                "efficiency": float(jr.efficiency.value[k]),
                "median": float(jr.response.median[k]),
                "IQR": float(jr.response.iqr[k]),
                "IQR / median": float(jr.response.iqr_over_median[k]),
                "std. error": float(self.jet_resolution_error[name][k]),
            }
            for name, jr in self.jets.items()
            for e in (jr.response.edges,)
            for k in range(len(e) - 1)
        ]
        met: list[dict[str, float | str]] = [
            {
                "collection": name,
                "events": float(m.response.n),
                "median": m.response.median,
                "IQR / median": m.response.iqr_over_median,
                "std. error": self.met_resolution_error[name],
                "IQR of MET difference (GeV)": m.delta.iqr,
            }
            for name, m in self.met.items()
        ]
        particles: list[dict[str, float | str]] = []
        for cls, r in self.particles.items():
            e = r.efficiency.edges
            bins = [(bin_label(e[k], e[k + 1]), slice(k, k + 1)) for k in range(len(e) - 1)]
            for label, s in [*bins, ("all", slice(None))]:
                row: dict[str, float | str] = {"class": cls, "pT (GeV)": label}
                for what, rate in (("efficiency", r.efficiency), ("fake rate", r.fake_rate)):
                    p, t = int(rate.passed[s].sum()), int(rate.total[s].sum())
                    row[what] = p / t if t else math.nan
                    row[f"{what} (n)"] = float(t)
                particles.append(row)
        pileup: list[dict[str, float | str]] = []
        for tagger, sample, roc in (
            ("MLPF pileup head", "true particles (targets)", self.pileup_mlpf),
            ("PUPPI (1 - PuppiW)", "PUPPI candidates (all PF)", self.pileup_puppi),
        ):
            row = {"tagger": tagger, "particles": sample}
            row["pileup / hard"] = f"{roc.n_pu:.0f} / {roc.n_hard:.0f}" if roc is not None else "-"
            row["AUC"] = roc.auc if roc is not None else math.nan
            for rej in DEFAULT_REJECTIONS:
                row[f"hard kept at {100 * rej:g} % PU rejected"] = (
                    roc.hard_kept_at(rej)[0] if roc is not None else math.nan
                )
            pileup.append(row)
        verdicts: list[dict[str, float | str]] = [
            {
                "quantity": v.quantity,
                "MLPF collection": v.collection,
                "reference": v.reference,
                "range": v.where,
                "outcome": v.outcome,
                "detail": v.detail,
            }
            for v in self.verdicts
        ]
        return {
            "jets": jets,
            "met": met,
            "particles": particles,
            "pileup": pileup,
            "verdicts": verdicts,
        }


# ---------------------------------------------------------------- building the collections


def _predictions(predictions: Mapping[str, np.ndarray], n: int) -> dict[str, npt.NDArray[Any]]:
    missing = [k for k in PREDICTION_KEYS if k not in predictions]
    if missing:
        msg = f"predictions: missing {', '.join(missing)}; expected the keys of decode_outputs"
        raise DataFormatError(msg)
    out: dict[str, npt.NDArray[Any]] = {
        k: flat_array(predictions[k], f"predictions[{k!r}]", n)
        for k in PREDICTION_KEYS
        if k != "cls"
    }
    out["cls"] = flat_array(predictions["cls"], "predictions['cls']", n, dtype=np.int64)
    return out


def _mlpf_particles(
    targets: MLPFTargets, pred: Mapping[str, npt.NDArray[Any]], threshold: float
) -> Particles:
    phi = np.asarray(pred["phi"], dtype=np.float64)
    return particles_from_elements(
        targets.elements.offsets,
        (np.asarray(pred["particle_score"]) > threshold).astype(np.int8),
        pred["pt"],
        pred["eta"],
        np.sin(phi),
        np.cos(phi),
        pred["energy"],
        cls=pred["cls"],
        pu_score=pred["pileup_score"],
    )


def _collections(
    columns: Mapping[str, Jagged],
    view: str,
    targets: MLPFTargets,
    pred: Mapping[str, npt.NDArray[Any]],
    s: MLPFEvaluationSettings,
) -> dict[str, Particles]:
    el = targets.elements
    mlpf = _mlpf_particles(targets, pred, s.particle_threshold)
    # the targets as MLPF's layout, with the label as pileup score: the flagged ceiling drops is_pu == 1
    target_pred = {
        "particle_score": el.is_particle.astype(np.float64),
        "cls": el.cls.astype(np.int64),
        "pt": el.pt,
        "eta": el.eta,
        "phi": np.arctan2(el.sin_phi, el.cos_phi),
        "energy": el.energy,
        "pileup_score": el.is_pu.astype(np.float64),
    }
    tgt = _mlpf_particles(targets, target_pred, 0.5)
    return {
        MLPF: mlpf,
        MLPF_PU: applied_pileup_flag(mlpf, threshold=s.pileup_threshold),
        TARGETS: tgt,
        TARGETS_PU: applied_pileup_flag(tgt, threshold=0.5),
        PF_CHS: particles_from_columns(columns, f"{view}_PFPart"),
        PF: particles_from_columns(columns, f"{view}_PUPPIPart"),
        PUPPI: particles_from_columns(columns, f"{view}_PUPPIPart", puppi=True),
    }


def _roc_or_none(score: npt.ArrayLike, label: npt.ArrayLike) -> PileupRoc | None:
    try:
        return pileup_roc(score, label)
    except DataFormatError:  # no pileup or no hard particle: no ROC
        return None


def evaluate_mlpf(
    columns: Mapping[str, Jagged],
    view: str,
    predictions: Mapping[str, np.ndarray],
    targets: MLPFTargets,
    settings: MLPFEvaluationSettings,
) -> MLPFEvaluation:
    """Evaluate MLPF's predictions against the rule-based reconstruction (module docstring).

    Args:
        columns: file columns of the test events, ``name -> (offsets, values)``:
            ``Gen_Part_*``, ``<view>_PFPart_*`` and ``<view>_PUPPIPart_*`` (with
            ``IsPU`` and ``PuppiW``).
        view: the detector view (``FullReco``).
        predictions: flat per element (tracks then towers per event, the
            order of ``targets.elements``): the keys of
            :func:`~l1scout.tasks.mlpf.model.decode_outputs` (:data:`PREDICTION_KEYS`).
        targets: the targets of the same events.
        settings: bins, thresholds, bootstrap.

    Raises:
        DataFormatError: a prediction missing, of the wrong length or not
            finite; a column missing; collections of different event counts.
    """
    el = targets.elements
    n_el = int(el.offsets[-1])
    pred = _predictions(predictions, n_el)
    colls = _collections(columns, view, targets, pred, settings)
    gen = gen_particles_from_columns(columns)
    if gen.n_events != el.offsets.size - 1:
        msg = (
            f"columns: expected the {el.offsets.size - 1} events of the targets, got {gen.n_events}"
        )
        raise DataFormatError(msg)
    s = settings
    rng = np.random.default_rng(s.seed)
    jets = {
        name: jet_response(
            p,
            gen,
            pt_edges=s.pt_edges,
            eta_max=s.eta_max,
            match_dr=s.match_dr,
            jet_pt_min=s.jet_pt_min,
        )
        for name, p in colls.items()
    }
    met = {name: met_resolution(p, gen) for name, p in colls.items()}
    jet_err = {name: jet_errors(jr, rng, s.n_bootstrap) for name, jr in jets.items()}
    gen_met_min = 1.0  # met_resolution's default: the ratio over events with MET_gen >= 1 GeV
    met_err = {name: met_error(m, gen_met_min, rng, s.n_bootstrap) for name, m in met.items()}

    is_p = (pred["particle_score"] > s.particle_threshold).astype(np.int8)
    pred_el = SimpleNamespace(offsets=el.offsets, is_particle=is_p, cls=pred["cls"], pt=pred["pt"])
    particles = particle_efficiency_fake_rate(pred_el, el, pt_edges=s.particle_pt_edges)

    true = el.is_particle != 0
    roc_mlpf = _roc_or_none(pred["pileup_score"][true], el.is_pu[true])
    pu_col = f"{view}_PUPPIPart"
    for field in ("PuppiW", "IsPU"):
        if f"{pu_col}_{field}" not in columns:
            msg = f"columns: missing {pu_col}_{field} for the PUPPI pileup ROC"
            raise DataFormatError(msg)
    w = flat_array(columns[f"{pu_col}_PuppiW"][1], f"{pu_col}_PuppiW")
    is_pu = flat_array(columns[f"{pu_col}_IsPU"][1], f"{pu_col}_IsPU", w.size, dtype=np.int64)
    roc_puppi = _roc_or_none(1.0 - w, is_pu)

    sig, n_min = s.significance, s.min_count
    verdicts = jet_verdicts(jets, jet_err, _COMPARED, significance=sig, min_count=n_min)
    verdicts += met_verdicts(met, met_err, _COMPARED, significance=sig, min_count=n_min)
    verdicts.append(
        roc_verdict(roc_mlpf, roc_puppi, (MLPF, PUPPI), significance=sig, min_count=n_min)
    )
    return MLPFEvaluation(
        settings=s,
        view=view,
        n_events=gen.n_events,
        n_particles={name: int(p.pt.size) for name, p in colls.items()},
        jets=jets,
        jet_resolution_error=jet_err,
        met=met,
        met_resolution_error=met_err,
        particles=particles,
        pileup_mlpf=roc_mlpf,
        pileup_puppi=roc_puppi,
        verdicts=tuple(verdicts),
    )
