"""The rate-distortion frontier, the best codec per budget, the goal check and the losses to quantization.

Hand-made points with answers worked out by hand, and the frontier checked
against a slow definition (a point is on it when no other point has fewer or
equal bytes and a value at least as good) on random points.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from l1scout.tasks.compress.frontier import (
    Better,
    CodecRow,
    RDPoint,
    badness,
    best_per_budget,
    cheapest_match,
    goal_check,
    learned_losses,
    pareto_front,
    points_of,
)


def _slow_front(points: list[RDPoint], better: Better) -> set[str]:
    """Not dominated: no other point with fewer or equal bytes and a value at least as good."""
    out = set()
    for i, p in enumerate(points):
        mine = badness(p.value, better)
        dominated = any(
            (q.bytes_per_event < p.bytes_per_event and badness(q.value, better) <= mine)
            or (q.bytes_per_event <= p.bytes_per_event and badness(q.value, better) < mine)
            # an exact tie in bytes and badness: the first given stays
            or (
                q.bytes_per_event == p.bytes_per_event
                and badness(q.value, better) == mine
                and j < i
            )
            for j, q in enumerate(points)
            if j != i
        )
        if not dominated:
            out.add(p.label)
    return out


@pytest.mark.parametrize("better", ["lower", "higher", "one"])
def test_the_front_matches_the_definition_on_random_points(better: Better) -> None:
    rng = np.random.default_rng(3)
    for trial in range(30):
        n = int(rng.integers(1, 25))
        b = rng.choice([8.0, 16.0, 32.0, 64.0, 100.0], size=n)
        v = np.round(rng.uniform(0.5, 1.5, size=n), 1)  # ties on purpose
        pts = [RDPoint(f"p{i}", "quantized", float(b[i]), float(v[i])) for i in range(n)]
        front = pareto_front(pts, better)
        assert {p.label for p in front} == _slow_front(pts, better), trial
        sizes = [p.bytes_per_event for p in front]
        assert sizes == sorted(sizes)
        bad = [badness(p.value, better) for p in front]
        assert all(x > y for x, y in itertools.pairwise(bad))  # strictly better with bytes


def test_higher_is_better_and_nearer_one_is_better() -> None:
    pts = [
        RDPoint("cheap", "set_ae", 10.0, 0.80),
        RDPoint("mid", "quantized", 20.0, 0.95),
        RDPoint("big", "float16_parquet", 400.0, 1.02),
        RDPoint("worse", "int_pack", 300.0, 0.90),
    ]
    assert [p.label for p in pareto_front(pts, "higher")] == ["cheap", "mid", "big"]
    # |1.02 - 1| = 0.02 < |0.95 - 1| = 0.05: big still improves on mid nearer one
    assert [p.label for p in pareto_front(pts, "one")] == ["cheap", "mid", "big"]
    pts.append(RDPoint("exact", "quantized", 50.0, 1.0))
    assert [p.label for p in pareto_front(pts, "one")] == ["cheap", "mid", "exact"]


def test_best_per_budget_takes_the_best_that_fits() -> None:
    pts = [
        RDPoint("q4", "quantized", 20.0, 0.30),
        RDPoint("ae", "set_ae", 12.0, 0.10),
        RDPoint("q8", "quantized", 60.0, 0.02),
        RDPoint("f16", "float16_parquet", 400.0, 0.02),
    ]
    got = best_per_budget(pts, (10.0, 12.0, 59.9, 60.0, 1000.0), "lower")
    assert [(b, p.label if p else None) for b, p in got] == [
        (10.0, None),
        (12.0, "ae"),  # exactly at the budget fits
        (59.9, "ae"),
        (60.0, "q8"),
        (1000.0, "q8"),  # a tie in value goes to the fewer bytes
    ]


def test_points_skip_missing_and_non_finite_values() -> None:
    rows = [
        CodecRow("a", "quantized", 10.0, {"r": 0.1}),
        CodecRow("b", "quantized", 20.0, {"r": math.nan}),
        CodecRow("c", "vicreg", 5.0, {}),
        CodecRow("d", "quantized", math.inf, {"r": 0.1}),
    ]
    assert [p.label for p in points_of(rows, "r")] == ["a"]


def _row(
    label: str, family: str, size: float, ht: float, met: float, response: float = 1.0
) -> CodecRow:
    metrics = {"resolution/ht": ht, "resolution/met": met}
    return CodecRow(
        label, family, size, metrics | {"response/ht": response, "response/met": response}
    )


def test_a_decoder_far_from_the_original_scale_never_reaches_the_goal() -> None:
    rows = [
        _row("f16", "float16_parquet", 500.0, 0.001, 0.001),
        _row("zero", "set_ae", 10.0, 0.0, 0.0, response=0.0),  # HT = 0 everywhere: no width
        _row("low", "set_ae", 20.0, 0.01, 0.01, response=0.94),
        _row("ok", "set_ae", 30.0, 0.01, 0.01, response=1.04),
    ]
    check = goal_check(rows)
    assert check.passing == ("ok",)
    no_response = CodecRow("n", "set_ae", 5.0, {"resolution/ht": 0.0, "resolution/met": 0.0})
    assert goal_check([*rows, no_response]).passing == ("ok",)


def test_the_goal_is_met_only_below_the_budget_with_both_resolutions() -> None:
    rows = [
        _row("f16", "float16_parquet", 500.0, 0.001, 0.001),
        _row("q10", "quantized", 80.0, 0.01, 0.02),
        _row("q6", "quantized", 45.0, 0.03, 0.06),  # MET misses 5 %
        _row("ae", "set_ae", 30.0, 0.20, 0.30),
    ]
    check = goal_check(rows)
    assert check.reference_bytes == 500.0
    assert check.budget == 50.0
    assert not check.met
    assert check.cheapest == "q10"
    assert check.reduction == pytest.approx(500.0 / 80.0)
    assert check.text().startswith(
        "not met: HT and MET resolution <= 5 % needs 80 bytes/event (q10)"
    )
    rows.append(_row("ae2", "set_ae", 50.0, 0.05, 0.049))  # exactly at the budget and the goal
    check = goal_check(rows)
    assert check.met
    assert check.passing == ("ae2",)
    assert check.text().startswith("met: ")
    looser = goal_check(rows, goal=0.1, factor=5.0)
    assert looser.passing == ("q6", "ae2", "q10")
    assert looser.budget == 100.0


def test_the_goal_without_the_reference_or_any_good_codec() -> None:
    no_ref = goal_check([_row("q", "quantized", 10.0, 0.01, 0.01)])
    assert not no_ref.met
    assert math.isnan(no_ref.reference_bytes)
    assert no_ref.text().startswith("not checked")
    none_good = goal_check([_row("f16", "float16_parquet", 100.0, 0.5, math.nan)])
    assert none_good.cheapest is None
    assert not none_good.met
    assert none_good.text().startswith("not met: no codec reaches")


def test_learned_losses_name_the_quantized_setting_that_wins() -> None:
    rows = [
        CodecRow("ae-d16", "set_ae", 20.0, {"res": 0.30, "auc": 0.90}),
        CodecRow("ae-d64", "set_ae", 60.0, {"res": 0.05, "auc": 0.99}),
        CodecRow("emb", "vicreg", 10.0, {"auc": 0.97}),
        CodecRow("q4", "quantized", 15.0, {"res": 0.25, "auc": 0.95}),
        CodecRow("q6", "quantized", 20.0, {"res": 0.10, "auc": 0.91}),
        CodecRow("int", "int_pack", 5.0, {"res": 0.0, "auc": 1.0}),  # not "simple quantization"
    ]
    losses = learned_losses(rows, {"res": "lower", "auc": "higher"})
    got = [(x.measure, x.learned, x.quantized) for x in losses]
    # ae-d16 loses on res to q6 (best at <= 20 bytes) and on auc to q4; ae-d64 and emb win
    assert got == [("res", "ae-d16", "q6"), ("auc", "ae-d16", "q4")]
    assert losses[0].quantized_value == 0.10
    with_int = learned_losses(rows, {"res": "lower"}, simple=("quantized", "int_pack"))
    assert [(x.learned, x.quantized) for x in with_int] == [("ae-d16", "int"), ("ae-d64", "int")]


def test_cheapest_match_is_what_quantization_needs_at_any_size() -> None:
    rows = [
        CodecRow("ae", "set_ae", 30.0, {"res": 0.15, "auc": 0.97}),
        CodecRow("q4", "quantized", 150.0, {"res": 0.30, "auc": 0.99}),
        CodecRow("q6", "quantized", 200.0, {"res": 0.10, "auc": 0.95}),
        CodecRow("q8", "quantized", 300.0, {"res": 0.01, "auc": 1.00}),
        CodecRow("int", "int_pack", 100.0, {"res": 0.0, "auc": 1.0}),  # not quantization
    ]
    match = cheapest_match(rows, "ae", "res", "lower")
    assert match is not None
    assert (match.label, match.bytes_per_event) == ("q6", 200.0)  # q4 is cheaper but worse
    auc = cheapest_match(rows, "ae", "auc", "higher")
    assert auc is not None
    assert auc.label == "q4"
    packed = cheapest_match(rows, "ae", "res", "lower", simple=("int_pack",))
    assert packed is not None
    assert packed.label == "int"
    rows.append(CodecRow("ae2", "set_ae", 10.0, {"res": 0.001}))
    assert cheapest_match(rows, "ae2", "res", "lower") is None  # no quantized setting is as good
