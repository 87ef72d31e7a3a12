"""The MLPF evaluation on hand-made events: perfect predictions, degraded ones, stable metrics.

Events of two back-to-back "jets" of two charged pions and a photon each, plus
soft charged pileup. Every charged particle has a track, every photon its own
tower, so each generator particle is its own target. The rule-based PF
columns are the generator particles with a 2 % pT smear (PF: all; PF+CHS:
charged pileup removed; PUPPI: pileup weighted 0.05).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from l1scout.errors import DataFormatError
from l1scout.tasks.mlpf.study import (
    COLLECTIONS,
    MLPF,
    MLPF_PU,
    PF_CHS,
    PUPPI,
    TARGETS,
    TARGETS_PU,
    MLPFEvaluationSettings,
    evaluate_mlpf,
)
from l1scout.tasks.mlpf.targets import MLPFTargets

from ._study_events import SETTINGS, VIEW
from ._study_events import columns as _columns
from ._study_events import events as _events
from ._study_events import local as _local
from ._study_events import perfect as _perfect
from ._study_events import targets as _targets


@pytest.fixture(scope="module")
def sample() -> tuple[dict[str, Any], MLPFTargets]:
    g = _events(100)
    return _columns(g), _targets(g)


def test_perfect_predictions_give_the_targets_numbers(sample: Any) -> None:
    cols, t = sample
    ev = evaluate_mlpf(cols, VIEW, _perfect(t), t, SETTINGS)
    assert ev.n_events == 100
    for a, b in ((MLPF, TARGETS), (MLPF_PU, TARGETS_PU)):
        assert ev.n_particles[a] == ev.n_particles[b]
        np.testing.assert_array_equal(ev.jets[a].reco_pt, ev.jets[b].reco_pt)
        np.testing.assert_array_equal(ev.met[a].met_reco, ev.met[b].met_reco)
    # without pileup the targets are the hard generator particles: response 1, no spread
    jr = ev.jets[MLPF_PU]
    assert jr.efficiency.value.tolist() == [1.0, 1.0]
    np.testing.assert_allclose(jr.response.median, 1.0, atol=1e-9)
    np.testing.assert_allclose(jr.response.iqr, 0.0, atol=1e-9)
    np.testing.assert_allclose(ev.met[MLPF_PU].delta.iqr, 0.0, atol=1e-9)
    # every particle found, no fake; pileup perfectly separated by the head
    assert ev.particles["any"].efficiency.value[
        ~np.isnan(ev.particles["any"].efficiency.value)
    ].tolist() == [1.0, 1.0]
    assert np.nansum(ev.particles["any"].fake_rate.passed) == 0
    assert ev.pileup_mlpf is not None
    assert ev.pileup_mlpf.auc == 1.0
    assert ev.pileup_puppi is not None
    assert ev.pileup_puppi.auc == 1.0
    m = ev.metrics()
    assert m["jets.mlpf_pu_flag.pt20-60.resolution"] == pytest.approx(0.0, abs=1e-9)
    assert m["particles.any.efficiency"] == 1.0
    assert m["particles.any.fake_rate"] == 0.0
    # flagged MLPF (perfect) beats PF+CHS (2 % smear) in jet resolution everywhere
    texts = [v.text for v in ev.verdicts]
    assert any(
        t.startswith("MLPF + PU flag better than PF+CHS in jet resolution") and "20-200 GeV" in t
        for t in texts
    )
    assert not [v for v in ev.worse if v.collection == MLPF_PU]


def test_degraded_predictions_resolve_worse(sample: Any) -> None:
    cols, t = sample
    rng = np.random.default_rng(11)
    pred = _perfect(t)
    good = evaluate_mlpf(cols, VIEW, pred, t, SETTINGS)
    noise = np.exp(0.5 * rng.standard_normal(len(pred["pt"])))
    bad_pred = {**pred, "pt": pred["pt"] * noise, "energy": pred["energy"] * noise}
    bad_pred["cls"] = np.where(rng.random(len(pred["cls"])) < 0.3, 2, pred["cls"])
    bad = evaluate_mlpf(cols, VIEW, bad_pred, t, SETTINGS)
    for c in (MLPF, MLPF_PU):
        assert np.all(
            bad.jets[c].response.iqr_over_median > good.jets[c].response.iqr_over_median + 0.05
        )
        assert bad.met[c].response.iqr_over_median > good.met[c].response.iqr_over_median
    # the rule-based collections do not depend on the predictions
    for c in (PF_CHS, PUPPI, TARGETS):
        np.testing.assert_array_equal(bad.jets[c].reco_pt, good.jets[c].reco_pt)
    assert bad.metrics()["particles.charged_hadron.efficiency"] < 0.8
    worse = [v for v in bad.worse if v.quantity.startswith("jet resolution")]
    assert {(v.collection, v.reference, v.where) for v in worse} >= {
        (MLPF_PU, PF_CHS, "20-200 GeV"),
        (MLPF_PU, PUPPI, "20-200 GeV"),
    }
    phrase = "MLPF + PU flag worse than PF+CHS in jet resolution (IQR / median) at 20-200 GeV"
    assert any(v.text.startswith(phrase) for v in worse)
    assert bad.metrics()["verdicts.worse"] >= 2


def test_metric_keys_are_stable_and_finite(sample: Any) -> None:
    cols, t = sample
    pred = _perfect(t)
    rng = np.random.default_rng(2)
    noisy = {**pred, "pt": pred["pt"] * np.exp(0.1 * rng.standard_normal(len(pred["pt"])))}
    noisy["pileup_score"] = np.clip(
        pred["pileup_score"] + rng.uniform(-0.4, 0.4, len(pred["pt"])), 0, 1
    )
    a = evaluate_mlpf(cols, VIEW, pred, t, SETTINGS).metrics()
    b = evaluate_mlpf(cols, VIEW, noisy, t, SETTINGS).metrics()
    assert a.keys() == b.keys()
    assert all(math.isfinite(v) for v in [*a.values(), *b.values()])
    assert all(set(k) <= set("abcdefghijklmnopqrstuvwxyz0123456789._-") for k in a)
    for c in ("mlpf", "mlpf_pu_flag", "targets", "targets_-_pu", "pf_chs", "pf", "puppi"):
        assert f"met.{c}.resolution" in a
        assert f"jets.{c}.pt60-200.response_median" in a
    assert {"pileup.mlpf.auc", "pileup.puppi.auc", "events", "verdicts.worse"} <= a.keys()
    tables = evaluate_mlpf(cols, VIEW, noisy, t, SETTINGS).tables()
    assert [r["collection"] for r in tables["met"]] == list(COLLECTIONS)
    assert len(tables["jets"]) == len(COLLECTIONS) * 2


def test_no_pileup_gives_no_roc_and_a_plain_verdict() -> None:
    g = _events(20)
    hard = g["is_pu"] == 0
    off, _ = _local(g["offsets"], hard)
    g = {k: (off if k == "offsets" else v[hard]) for k, v in g.items()}
    cols, t = _columns(g), _targets(g)
    ev = evaluate_mlpf(cols, VIEW, _perfect(t), t, SETTINGS)
    assert ev.pileup_mlpf is None
    assert ev.pileup_puppi is None
    assert "pileup.mlpf.auc" not in ev.metrics()
    roc = [v for v in ev.verdicts if v.quantity == "pileup ROC AUC"]
    assert [v.outcome for v in roc] == ["not measured"]


def test_refusals(sample: Any) -> None:
    cols, t = sample
    pred = _perfect(t)
    with pytest.raises(DataFormatError, match="pileup_score"):
        evaluate_mlpf(
            cols, VIEW, {k: v for k, v in pred.items() if k != "pileup_score"}, t, SETTINGS
        )
    with pytest.raises(DataFormatError, match="predictions\\['pt'\\]"):
        evaluate_mlpf(cols, VIEW, {**pred, "pt": pred["pt"][:-1]}, t, SETTINGS)
    with pytest.raises(DataFormatError, match="PFPart"):
        evaluate_mlpf({k: v for k, v in cols.items() if "PFPart" not in k}, VIEW, pred, t, SETTINGS)
    with pytest.raises(ValueError, match="pt_edges"):
        MLPFEvaluationSettings(pt_edges=(20.0, 10.0))
    with pytest.raises(ValueError, match="extra"):
        MLPFEvaluationSettings(bins=3)  # type: ignore[call-arg]


def test_bootstrap_error_matches_the_normal_asymptote() -> None:
    """IQR of n normal values: se = 0.5 sigma / (sqrt(n) phi(0.6745)) = 1.573 sigma / sqrt(n)."""
    from l1scout.tasks.mlpf._verdicts import bootstrap_se

    n, sigma = 4000, 0.1
    values = np.random.default_rng(8).normal(1.0, sigma, n)
    se = bootstrap_se(values, np.random.default_rng(9), 400)
    expected = 0.5 * sigma / (math.sqrt(n) * math.exp(-0.5 * 0.6745**2) / math.sqrt(2 * math.pi))
    assert se == pytest.approx(expected, rel=0.15)
