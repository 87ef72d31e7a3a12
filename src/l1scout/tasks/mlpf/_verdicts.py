"""The computed verdicts of the MLPF evaluation: where MLPF is worse, better or not resolved.

Used by :func:`l1scout.tasks.mlpf.study.evaluate_mlpf`. A resolution (IQR /
median, lower is better) or an AUC (higher is better) of an MLPF collection is
compared with a rule-based one: the difference counts (``worse`` or
``better``) when it exceeds ``significance`` times its standard error, the two
errors added in quadrature as if independent (they share the generator jets,
so the test is conservative); otherwise it is ``not resolved``; with fewer
than ``min_count`` jets, events or particles of one class it is
``not measured``. Standard errors: the bootstrap (seeded resamples) for IQR /
median, Hanley & McNeil (Radiology 143 (1982) 29, eq. 2) for an AUC.

>>> v = Verdict("jet resolution", "MLPF", "PF+CHS", "30-100 GeV", "worse", "0.2 vs 0.1")
>>> v.text
'MLPF worse than PF+CHS in jet resolution at 30-100 GeV: 0.2 vs 0.1'
>>> outcome(0.2, 0.1, 0.01, 0.01, 50, 50, significance=2.0, min_count=10, lower_is_better=True)[0]
'worse'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from l1scout._types import F64
from l1scout.tasks.mlpf.metrics import JetResponse, MetResolution, PileupRoc

__all__ = [
    "Outcome",
    "Verdict",
    "auc_se",
    "bin_label",
    "bootstrap_se",
    "fmt",
    "jet_errors",
    "jet_verdicts",
    "met_error",
    "met_verdicts",
    "outcome",
    "roc_verdict",
]

Outcome = Literal["worse", "better", "not resolved", "not measured"]
# values resampled at once by the bootstrap (8 bytes each, plus the indices)
_BOOT_VALUES = 4_000_000


@dataclass(frozen=True)
class Verdict:
    """One computed comparison of an MLPF collection with a rule-based one.

    Attributes:
        quantity: e.g. ``"jet resolution (IQR / median)"``, ``"MET resolution
            (IQR / median)"`` or ``"pileup ROC AUC"``.
        collection: the MLPF collection (``MLPF`` or ``MLPF + PU flag``).
        reference: the rule-based one (``PF+CHS`` or ``PUPPI``).
        where: the range, e.g. ``"30-100 GeV"`` (jets) or ``"all events"``.
        outcome: ``worse``, ``better``, ``not resolved`` or ``not measured``
            (for the MLPF collection, against the reference).
        detail: the numbers behind it.
    """

    quantity: str
    collection: str
    reference: str
    where: str
    outcome: Outcome
    detail: str

    @property
    def text(self) -> str:
        """The sentence, e.g. "MLPF worse than PF+CHS in jet resolution at 30-100 GeV: ..."."""
        if self.outcome in ("worse", "better"):
            head = f"{self.collection} {self.outcome} than {self.reference}"
        elif self.outcome == "not resolved":
            head = f"{self.collection} and {self.reference} not resolved"
        else:
            head = f"{self.collection} vs {self.reference} not measured"
        prep = "at" if self.where.endswith("GeV") else "over"
        return f"{head} in {self.quantity} {prep} {self.where}: {self.detail}"


def bin_label(lo: float, hi: float) -> str:
    """``"lo-hi"`` with ``%g`` numbers."""
    return f"{lo:g}-{hi:g}"


def fmt(x: float) -> str:
    """3 significant digits, ``-`` for NaN or infinity."""
    return f"{x:.3g}" if math.isfinite(x) else "-"


def bootstrap_se(values: F64, rng: np.random.Generator, n_boot: int) -> float:
    """Bootstrap standard error of IQR / median of *values* (NaN below 2 values)."""
    if values.size < 2:
        return math.nan
    rows = max(1, _BOOT_VALUES // values.size)  # resamples per block: bounded memory
    parts = []
    for start in range(0, n_boot, rows):
        idx = rng.integers(0, values.size, size=(min(rows, n_boot - start), values.size))
        p25, med, p75 = np.percentile(values[idx], [25.0, 50.0, 75.0], axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            parts.append(np.where(med > 0, (p75 - p25) / med, np.nan))
    r = np.concatenate(parts)
    r = r[np.isfinite(r)]
    return float(np.std(r, ddof=1)) if r.size > 1 else math.nan


def auc_se(roc: PileupRoc) -> float:
    """Standard error of an AUC (Hanley & McNeil 1982, eq. 2; the weighted counts as counts)."""
    a, n1, n2 = roc.auc, roc.n_pu, roc.n_hard
    q1, q2 = a / (2.0 - a), 2.0 * a * a / (1.0 + a)
    var = (a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n2 - 1) * (q2 - a * a)) / (n1 * n2)
    return math.sqrt(max(var, 0.0))


def jet_errors(jr: JetResponse, rng: np.random.Generator, n_boot: int) -> F64:
    """Bootstrap standard error of IQR / median of pT_reco / pT_gen per generator-pT bin."""
    ok = np.isfinite(jr.reco_pt)
    ratio, gen_pt = jr.reco_pt[ok] / jr.gen_pt[ok], jr.gen_pt[ok]
    e = jr.response.edges
    out = np.full(len(e) - 1, np.nan)
    for k in range(len(e) - 1):
        sel = (gen_pt >= e[k]) & (gen_pt < e[k + 1])
        out[k] = bootstrap_se(ratio[sel], rng, n_boot)
    return out


def met_error(m: MetResolution, gen_met_min: float, rng: np.random.Generator, n_boot: int) -> float:
    """Bootstrap standard error of IQR / median of MET_reco / MET_gen (MET_gen >= gen_met_min)."""
    pos = m.met_gen >= gen_met_min
    return bootstrap_se(m.met_reco[pos] / m.met_gen[pos], rng, n_boot)


def outcome(
    value: float,
    ref: float,
    se: float,
    se_ref: float,
    n: int,
    n_ref: int,
    *,
    significance: float,
    min_count: int,
    lower_is_better: bool,
) -> tuple[Outcome, float]:
    """The outcome of *value* against *ref*, and the difference in standard errors (> 0: worse)."""
    if min(n, n_ref) < min_count or not all(math.isfinite(x) for x in (value, ref, se, se_ref)):
        return "not measured", math.nan
    sigma = math.hypot(se, se_ref)
    diff = value - ref if lower_is_better else ref - value
    z = diff / sigma if sigma > 0 else (math.copysign(math.inf, diff) if diff else 0.0)
    if z > significance:
        return "worse", z
    if z < -significance:
        return "better", z
    return "not resolved", z


def jet_verdicts(
    jets: Mapping[str, JetResponse],
    errors: Mapping[str, F64],
    compared: Sequence[tuple[str, str]],
    *,
    significance: float,
    min_count: int,
) -> list[Verdict]:
    """Jet resolution per pT bin of each (MLPF, reference) pair; adjacent bins of one outcome merged."""
    out: list[Verdict] = []
    for coll, ref in compared:
        a, b = jets[coll].response, jets[ref].response
        e = a.edges
        per_bin = []
        for k in range(len(e) - 1):
            va, vb = float(a.iqr_over_median[k]), float(b.iqr_over_median[k])
            res, z = outcome(
                va,
                vb,
                float(errors[coll][k]),
                float(errors[ref][k]),
                int(a.n[k]),
                int(b.n[k]),
                significance=significance,
                min_count=min_count,
                lower_is_better=True,
            )
            per_bin.append(
                (res, f"{fmt(va)} vs {fmt(vb)} ({bin_label(e[k], e[k + 1])} GeV, {fmt(z)} s.e.)")
            )
        k = 0
        while k < len(per_bin):
            j = k
            while j + 1 < len(per_bin) and per_bin[j + 1][0] == per_bin[k][0]:
                j += 1
            details = "; ".join(d for _, d in per_bin[k : j + 1])
            where = f"{bin_label(e[k], e[j + 1])} GeV"
            quantity = "jet resolution (IQR / median)"
            out.append(Verdict(quantity, coll, ref, where, per_bin[k][0], details))
            k = j + 1
    return out


def met_verdicts(
    met: Mapping[str, MetResolution],
    errors: Mapping[str, float],
    compared: Sequence[tuple[str, str]],
    *,
    significance: float,
    min_count: int,
) -> list[Verdict]:
    """MET resolution (IQR / median of MET_reco / MET_gen) of each (MLPF, reference) pair."""
    out = []
    for coll, ref in compared:
        a, b = met[coll].response, met[ref].response
        va, vb = a.iqr_over_median, b.iqr_over_median
        res, z = outcome(
            va,
            vb,
            errors[coll],
            errors[ref],
            a.n,
            b.n,
            significance=significance,
            min_count=min_count,
            lower_is_better=True,
        )
        detail = f"{fmt(va)} vs {fmt(vb)} ({fmt(z)} s.e.)"
        out.append(Verdict("MET resolution (IQR / median)", coll, ref, "all events", res, detail))
    return out


def roc_verdict(
    mlpf: PileupRoc | None,
    puppi: PileupRoc | None,
    names: tuple[str, str],
    *,
    significance: float,
    min_count: int,
) -> Verdict:
    """The pileup AUC of the MLPF head against PUPPI's (different particle sets; said in the detail)."""
    quantity, where = "pileup ROC AUC", "all particles"
    if mlpf is None or puppi is None:
        detail = "no pileup or no hard particle in one of the two particle sets"
        return Verdict(quantity, *names, where, "not measured", detail)
    res, z = outcome(
        mlpf.auc,
        puppi.auc,
        auc_se(mlpf),
        auc_se(puppi),
        int(min(mlpf.n_pu, mlpf.n_hard)),
        int(min(puppi.n_pu, puppi.n_hard)),
        significance=significance,
        min_count=min_count,
        lower_is_better=False,
    )
    detail = (
        f"AUC {mlpf.auc:.3f} (MLPF head, true particles) vs {puppi.auc:.3f} (PUPPI candidates), "
        f"{fmt(z)} s.e.; different particle sets, not a particle-for-particle comparison"
    )
    return Verdict(quantity, *names, where, res, detail)
