"""The results of the soft-tau study's training and evaluation (:mod:`l1scout.tasks.taus.study`).

Plain frozen containers, and :func:`compare_efficiencies`, the rule by which
the study says that one method beats another: their efficiency intervals are
separated (the lower end of one above the upper end of the other), otherwise
the difference is not resolved at the statistics of the sample.

Example:
    >>> from l1scout.tasks.rates import efficiency
    >>> compare_efficiencies(efficiency(80, 100), efficiency(40, 100))
    'better'
    >>> compare_efficiencies(efficiency(8, 10), efficiency(6, 10))
    'not resolved'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from l1scout._types import F64
from l1scout.tasks.rates import Efficiency
from l1scout.tasks.taus.ditau import ComparisonRow, DiTauSearch, DiTauWorkingPoint, comparison_table
from l1scout.tasks.taus.metrics import (
    ChargeAccuracy,
    FakesPerEvent,
    RegressionResponse,
    TauEfficiency,
)
from l1scout.tasks.taus.nnpuppitau import TrainingResult
from l1scout.tasks.taus.transformer_training import TransformerTrainResult

__all__ = [
    "NOT_RESOLVED",
    "CandidateScores",
    "DiTauResult",
    "MethodEvaluation",
    "TauEvaluation",
    "TauModels",
    "Verdict",
    "compare_efficiencies",
]

#: The answer when the intervals overlap.
NOT_RESOLVED = "not resolved at this statistics"
Comparison = Literal["better", "worse", "not resolved"]


def compare_efficiencies(a: Efficiency, b: Efficiency) -> Comparison:
    """``"better"`` when *a*'s interval lies above *b*'s, ``"worse"`` below, else ``"not resolved"``."""
    if a.low > b.high:
        return "better"
    if a.high < b.low:
        return "worse"
    return "not resolved"


@dataclass(frozen=True)
class TauModels:
    """The trained identifications of a study.

    Attributes:
        nnpuppitau: NNPuppiTau trained on its own cones (None when the study
            has no ``nnpuppitau`` method).
        transformers: clustering method (``"clue"``, ``"ak4"``) -> the
            transformer trained on its candidates.
        seconds: wall time of each training (s), keyed ``"nnpuppitau"`` and
            ``"transformer_<method>"``.
    """

    nnpuppitau: TrainingResult | None
    transformers: dict[str, TransformerTrainResult]
    seconds: dict[str, float]


@dataclass(frozen=True, eq=False)
class CandidateScores:
    """What an identification says about every candidate of one method (all splits).

    Attributes:
        id_name: ``"transformer"`` or ``"NNPuppiTau"``.
        id_score: tau-vs-fake probability.
        charge_score: probability of charge +1 (NNPuppiTau: its seed's charge as 0 or 1).
        vz: vertex z (mm), or None when the identification has none (no dvz cut).
        pt: regressed pT (GeV).
    """

    id_name: str
    id_score: F64
    charge_score: F64
    vz: F64 | None
    pt: F64


@dataclass(frozen=True, eq=False)
class MethodEvaluation:
    """One candidate method on the test split.

    Attributes:
        method: ``"clue"``, ``"ak4"`` or ``"nnpuppitau"``.
        id_name: its identification.
        efficiency: RECO and ID efficiency of the test taus vs visible pT, with intervals.
        fakes_reco: every candidate of the zero-bias test events.
        fakes_id: those passing the ID threshold.
        response: pT response of the matched test taus, before (candidate pT)
            and after (regressed pT) the regression; None without a match.
        charge: charge accuracy of the matched test taus; None without a match.
    """

    method: str
    id_name: str
    efficiency: TauEfficiency
    fakes_reco: FakesPerEvent
    fakes_id: FakesPerEvent
    response: RegressionResponse | None
    charge: ChargeAccuracy | None


@dataclass(frozen=True, eq=False)
class DiTauResult:
    """A di-tau working point chosen on validation and measured on test.

    Attributes:
        label: its row in the comparison table.
        method: the candidate method.
        search: the grid search on the validation split (its rate ``<=`` the target).
        test: the chosen working point's efficiency and rate on the test split.
        test_beats_range: its efficiency on the test events whose taus lie in
            ``evaluation.beats_vis_pt`` (the rate is the whole zero bias's).
        note: how the scores were made.
    """

    label: str
    method: str
    search: DiTauSearch
    test: DiTauWorkingPoint
    test_beats_range: DiTauWorkingPoint
    note: str

    def row(self) -> ComparisonRow:
        """The comparison-table row: test efficiency and rate, the validation's flag."""
        wp = self.test
        return ComparisonRow(
            self.label,
            wp.efficiency,
            wp.rate,
            wp.class_threshold,
            wp.charge_threshold,
            wp.dvz_cut,
            self.search.measurable,
            self.note,
        )


@dataclass(frozen=True)
class Verdict:
    """The transformer against NNPuppiTau: di-tau efficiency at the target rate, taus in ``vis_pt``.

    Attributes:
        answer: ``"yes"`` (some clustering's interval lies above
            NNPuppiTau's), ``"no"`` (every one lies below), or
            :data:`NOT_RESOLVED`.
        vis_pt: the visible-pT range (GeV).
        per_method: transformer method -> ``"better"``, ``"worse"`` or ``"not resolved"``.
        text: one sentence with the numbers.
    """

    answer: str
    vis_pt: tuple[float, float]
    per_method: dict[str, str]
    text: str


@dataclass(frozen=True, eq=False)
class TauEvaluation:
    """Everything :func:`~l1scout.tasks.taus.study.evaluate_tau_models` measures.

    Attributes:
        methods: per candidate method, its test-split evaluation.
        ditau: per label, the di-tau working point (transformer + CLUE,
            transformer + AK4, NNPuppiTau at the target rate).
        menu_seed: NNPuppiTau's double-tau menu seed on the test split (fixed,
            not tuned to the target rate); None without NNPuppiTau.
        verdict: the transformer against NNPuppiTau; None without both.
        pt_edges: the visible-pT bins (GeV).
    """

    methods: dict[str, MethodEvaluation]
    ditau: dict[str, DiTauResult]
    menu_seed: ComparisonRow | None
    verdict: Verdict | None
    pt_edges: F64

    @property
    def rows(self) -> list[ComparisonRow]:
        """The comparison table's rows: the working points, then the menu seed."""
        out = [d.row() for d in self.ditau.values()]
        return out if self.menu_seed is None else [*out, self.menu_seed]

    def table(self) -> list[dict[str, object]]:
        """Printable rows (:func:`~l1scout.tasks.taus.ditau.comparison_table`)."""
        return comparison_table(self.rows)

    def efficiencies(self) -> dict[str, tuple[float, float, float]]:
        """Per label, the test di-tau efficiency ``(value, low, high)``."""
        return {
            r.method: (r.efficiency.value, r.efficiency.low, r.efficiency.high) for r in self.rows
        }
