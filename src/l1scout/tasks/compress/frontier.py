"""The rate-distortion picture: points per fidelity measure, the Pareto frontier, the best codec per budget.

Every codec setting measured on the test events is one :class:`CodecRow`:
its label, family, stored bytes per event (from the file written) and its
fidelity measures by name (``resolution/ht``, ``distance/pt``,
``downstream/anomaly_auc_ratio`` ...). For one measure the rows give rate-distortion
points (:func:`points_of`); a measure is better lower (a resolution, a
distance), higher (an AUC ratio) or closer to one (a median response):
:func:`badness` puts the three on one scale, so that:

* :func:`pareto_front`: the points no other point beats at the same or
  fewer bytes, by increasing bytes;
* :func:`best_per_budget`: at each byte budget the best point that fits;
* :func:`goal_check`: the issue's goal, an HT and a MET resolution of
  ``goal`` (5 %) or better at ``factor`` (10) times fewer bytes per event
  than float16 Parquet + zstd, met or not, with the cheapest codec that
  reaches the resolution;
* :func:`learned_losses`: where a learned codec loses to plain quantization
  (a quantized setting at no more bytes that is at least as good);
* :func:`cheapest_match`: the fewest bytes plain quantization needs to be at
  least as good as a given codec on a measure, whatever its size.

Pure functions of the rows: no file, no model.

Example:
    >>> pts = [RDPoint("a", "quantized", 10.0, 0.2), RDPoint("b", "quantized", 20.0, 0.1),
    ...        RDPoint("c", "set_ae", 15.0, 0.3)]
    >>> [p.label for p in pareto_front(pts, "lower")]
    ['a', 'b']
    >>> [(b, p.label if p else None) for b, p in best_per_budget(pts, (5.0, 16.0, 40.0), "lower")]
    [(5.0, None), (16.0, 'a'), (40.0, 'b')]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "LEARNED_FAMILIES",
    "Better",
    "CodecRow",
    "GoalCheck",
    "Loss",
    "RDPoint",
    "badness",
    "best_per_budget",
    "cheapest_match",
    "goal_check",
    "learned_losses",
    "pareto_front",
    "points_of",
]

#: Which way a measure is better: lower (resolution, distance), higher (AUC ratio), nearer one (response).
Better = Literal["lower", "higher", "one"]
#: The learned codec families (the others are baselines).
LEARNED_FAMILIES: tuple[str, ...] = ("set_ae", "vicreg")
#: The float16 Parquet + zstd baseline (what COLLIDE-2V stores): the goal's reference.
_REFERENCE = "float16_parquet"


@dataclass(frozen=True)
class RDPoint:
    """One codec setting on one fidelity measure.

    Attributes:
        label: the codec setting.
        family: its family.
        bytes_per_event: stored bytes per event (from the file written).
        value: the measure's value.
    """

    label: str
    family: str
    bytes_per_event: float
    value: float


@dataclass(frozen=True)
class CodecRow:
    """One codec setting measured on the test events: bytes and every fidelity measure by name."""

    label: str
    family: str
    bytes_per_event: float
    metrics: Mapping[str, float] = field(default_factory=dict)


def badness(value: float, better: Better) -> float:
    """*value* on a lower-is-better scale: itself, its negative, or its distance to one.

    >>> badness(0.1, "lower"), badness(0.9, "higher"), badness(1.05, "one")
    (0.1, -0.9, 0.050000000000000044)
    """
    if better == "lower":
        return value
    if better == "higher":
        return -value
    return abs(value - 1.0)


def points_of(rows: Sequence[CodecRow], key: str) -> list[RDPoint]:
    """The rows' points of the measure *key*; rows without it, or with a non-finite value or size, left out."""
    out = []
    for r in rows:
        v = r.metrics.get(key)
        if v is not None and math.isfinite(v) and math.isfinite(r.bytes_per_event):
            out.append(RDPoint(r.label, r.family, r.bytes_per_event, float(v)))
    return out


def pareto_front(points: Sequence[RDPoint], better: Better) -> list[RDPoint]:
    """The points no other beats at the same or fewer bytes, by increasing bytes.

    A point is on the front when every point with fewer or equal bytes is
    strictly worse (ties in bytes: the better one; exact ties: the first).

    >>> pts = [RDPoint("x", "q", 10.0, 0.5), RDPoint("y", "q", 10.0, 0.4), RDPoint("z", "q", 30, 0.4)]
    >>> [p.label for p in pareto_front(pts, "lower")]
    ['y']
    """
    order = sorted(
        range(len(points)),
        key=lambda i: (points[i].bytes_per_event, badness(points[i].value, better), i),
    )
    front: list[RDPoint] = []
    best = math.inf
    for i in order:
        b = badness(points[i].value, better)
        if b < best:
            front.append(points[i])
            best = b
    return front


def best_per_budget(
    points: Sequence[RDPoint], budgets: Sequence[float], better: Better
) -> list[tuple[float, RDPoint | None]]:
    """At each budget (bytes per event), the best point that fits (``<=``), None when none does.

    Ties in value go to the fewer bytes (then the first given).
    """
    out: list[tuple[float, RDPoint | None]] = []
    for budget in budgets:
        fits = [p for p in points if p.bytes_per_event <= budget]
        best = min(fits, key=lambda p: (badness(p.value, better), p.bytes_per_event), default=None)
        out.append((float(budget), best))
    return out


@dataclass(frozen=True)
class GoalCheck:
    """The goal: HT and MET resolution <= ``goal`` at >= ``factor`` x fewer bytes than float16 + zstd.

    Attributes:
        met: the goal is reached (False too when there is no reference).
        reference_bytes: bytes per event of float16 Parquet + zstd (nan: not measured).
        budget: ``reference_bytes / factor``.
        goal: the resolution goal (0.05: 5 %).
        factor: the reduction asked for.
        passing: labels of the codecs within the budget that reach the resolution, by bytes.
        cheapest: the fewest-bytes codec that reaches the resolution at any size (None: none does).
        cheapest_bytes: its bytes per event (nan: none).
        reduction: ``reference_bytes / cheapest_bytes``: the reduction reached (nan: none).
        ht_key, met_key: the measures read.
    """

    met: bool
    reference_bytes: float
    budget: float
    goal: float
    factor: float
    passing: tuple[str, ...]
    cheapest: str | None
    cheapest_bytes: float
    reduction: float
    ht_key: str
    met_key: str

    def text(self) -> str:
        """One sentence: met or not, and the numbers.

        >>> GoalCheck(False, 400.0, 40.0, 0.05, 10.0, (), "q8", 80.0, 5.0, "h", "m").text()
        'not met: HT and MET resolution <= 5 % needs 80 bytes/event (q8), 5x fewer than float16 + zstd (400); the goal is 10x (40)'
        """
        pct = f"{100 * self.goal:g} %"
        if not math.isfinite(self.reference_bytes):
            return f"not checked: float16 + zstd was not measured (HT and MET resolution <= {pct})"
        if self.cheapest is None:
            return (
                f"not met: no codec reaches an HT and MET resolution <= {pct} "
                f"(float16 + zstd: {self.reference_bytes:.3g} bytes/event)"
            )
        head = "met" if self.met else "not met"
        return (
            f"{head}: HT and MET resolution <= {pct} needs {self.cheapest_bytes:.3g} bytes/event "
            f"({self.cheapest}), {self.reduction:.3g}x fewer than float16 + zstd "
            f"({self.reference_bytes:.3g}); the goal is {self.factor:g}x ({self.budget:.3g})"
        )


def goal_check(
    rows: Sequence[CodecRow],
    *,
    goal: float = 0.05,
    factor: float = 10.0,
    ht_key: str = "resolution/ht",
    met_key: str = "resolution/met",
    reference_family: str = _REFERENCE,
) -> GoalCheck:
    """Check the goal on *rows* (a codec without both measures never passes).

    The reference is the cheapest row of *reference_family* (float16 Parquet +
    zstd, one setting).

    A codec reaches the resolution only when its HT and MET responses (the
    median of decoded / original, ``response/ht``, ``response/met``) are also
    within *goal* of 1: a resolution is a width around the median, and a
    decoder that returns a constant (e.g. HT = 0 in every event) has no width.

    >>> def row(label, family, size, res, resp=1.0):
    ...     return CodecRow(label, family, size, {"resolution/ht": res[0], "resolution/met": res[1],
    ...                                           "response/ht": resp, "response/met": resp})
    >>> rows = [row("f16", "float16_parquet", 400.0, (0.001, 0.002)),
    ...         row("q6", "quantized", 35.0, (0.04, 0.05)),
    ...         row("q4", "quantized", 20.0, (0.09, 0.2)),
    ...         row("zero", "set_ae", 10.0, (0.0, 0.0), resp=0.0)]
    >>> c = goal_check(rows)
    >>> c.met, c.passing, c.cheapest, c.reduction
    (True, ('q6',), 'q6', 11.428571428571429)
    """
    refs = [r.bytes_per_event for r in rows if r.family == reference_family]
    reference = min(refs) if refs else math.nan
    budget = reference / factor

    def ok(r: CodecRow) -> bool:
        ht, met = r.metrics.get(ht_key, math.nan), r.metrics.get(met_key, math.nan)
        responses = [
            r.metrics.get(k.replace("resolution/", "response/"), math.nan)
            for k in (ht_key, met_key)
        ]
        centred = all(abs(x - 1.0) <= goal for x in responses)  # nan compares False
        return bool(ht <= goal and met <= goal and centred)

    good = sorted((r for r in rows if ok(r)), key=lambda r: (r.bytes_per_event, r.label))
    passing = tuple(r.label for r in good if r.bytes_per_event <= budget)
    cheapest = good[0] if good else None
    c_bytes = cheapest.bytes_per_event if cheapest else math.nan
    return GoalCheck(
        met=bool(passing),
        reference_bytes=reference,
        budget=budget,
        goal=goal,
        factor=factor,
        passing=passing,
        cheapest=cheapest.label if cheapest else None,
        cheapest_bytes=c_bytes,
        reduction=reference / c_bytes if cheapest else math.nan,
        ht_key=ht_key,
        met_key=met_key,
    )


@dataclass(frozen=True)
class Loss:
    """A learned codec beaten by quantization on one measure.

    Attributes:
        measure: the measure's key.
        learned: the learned codec's label.
        learned_bytes, learned_value: its bytes per event and value.
        quantized: the best quantized setting at no more bytes that is at least as good.
        quantized_bytes, quantized_value: its bytes per event and value.
    """

    measure: str
    learned: str
    learned_bytes: float
    learned_value: float
    quantized: str
    quantized_bytes: float
    quantized_value: float


def learned_losses(
    rows: Sequence[CodecRow],
    measures: Mapping[str, Better],
    *,
    learned: Sequence[str] = LEARNED_FAMILIES,
    simple: Sequence[str] = ("quantized",),
) -> list[Loss]:
    """Every (measure, learned codec) where a *simple* codec at no more bytes is at least as good.

    The simple codec named is the best of those (then the fewest bytes). A
    learned codec that no quantized setting matches is not listed: it wins
    on that measure.

    >>> rows = [CodecRow("ae", "set_ae", 30.0, {"r": 0.2}), CodecRow("q", "quantized", 25.0, {"r": 0.1})]
    >>> [(x.learned, x.quantized) for x in learned_losses(rows, {"r": "lower"})]
    [('ae', 'q')]
    """
    out: list[Loss] = []
    for key, better in measures.items():
        pts = points_of(rows, key)
        simple_pts = [p for p in pts if p.family in simple]
        for p in (p for p in pts if p.family in learned):
            mine = badness(p.value, better)
            beats = [
                q
                for q in simple_pts
                if q.bytes_per_event <= p.bytes_per_event and badness(q.value, better) <= mine
            ]
            if beats:
                q = min(beats, key=lambda q: (badness(q.value, better), q.bytes_per_event))
                out.append(
                    Loss(
                        key,
                        p.label,
                        p.bytes_per_event,
                        p.value,
                        q.label,
                        q.bytes_per_event,
                        q.value,
                    )
                )
    return out


def cheapest_match(
    rows: Sequence[CodecRow],
    label: str,
    key: str,
    better: Better,
    *,
    simple: Sequence[str] = ("quantized",),
) -> RDPoint | None:
    """The fewest-bytes *simple* setting at least as good as the codec *label* on *key* (None: none is).

    What quantization needs to match a (learned) codec, at any size: with
    :func:`learned_losses` it says plainly where each wins.

    >>> rows = [CodecRow("ae", "set_ae", 30.0, {"r": 0.2}), CodecRow("q6", "quantized", 200.0, {"r": 0.1}),
    ...         CodecRow("q4", "quantized", 150.0, {"r": 0.3}), CodecRow("q8", "quantized", 300.0, {"r": 0.01})]
    >>> cheapest_match(rows, "ae", "r", "lower").label
    'q6'
    >>> cheapest_match(rows, "ae", "nosuch", "lower") is None
    True
    """
    pts = points_of(rows, key)
    mine = [p for p in pts if p.label == label]
    if not mine:
        return None
    target = badness(mine[0].value, better)
    good = [p for p in pts if p.family in simple and badness(p.value, better) <= target]
    return min(good, key=lambda p: (p.bytes_per_event, badness(p.value, better)), default=None)
