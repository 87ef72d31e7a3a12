"""The MLPF evaluation metrics: hand-made events with known answers, slow references, sklearn.

Jets of hand-made events (known response, a scaled collection, a missing or
displaced jet) and of random events against a slow loop-and-dict reference of
the matching and binning; MET of known vectors; medians and IQRs against
``np.percentile`` and the coverage of the median interval; per-class
efficiencies and fake rates on a hand-made element list; the pileup ROC
against ``sklearn.metrics``; the file-column readers; the one-line refusals.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score, roc_curve

from l1scout._jagged import delta_r, offsets_from_counts
from l1scout.errors import ConfigError, DataFormatError
from l1scout.reco.jets import JetDefinitionSpec, cluster_jets
from l1scout.tasks.mlpf.metrics import (
    jet_response,
    median_iqr,
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
    particles_from_targets,
)
from l1scout.tasks.mlpf.targets import mlpf_targets
from l1scout.tasks.rates import clopper_pearson

# ------------------------------------------------------------------ building events


def _massless(events: list[list[tuple[float, float, float]]], **extra: Any) -> Particles:
    """Massless particles from per-event lists of (pT, eta, phi)."""
    flat = [p for ev in events for p in ev]
    pt = np.array([p[0] for p in flat], dtype=np.float64)
    eta = np.array([p[1] for p in flat], dtype=np.float64)
    phi = np.array([p[2] for p in flat], dtype=np.float64)
    off = offsets_from_counts([len(ev) for ev in events])
    return Particles(off, pt, eta, phi, pt * np.cosh(eta), **extra)


def _scaled(p: Particles, factor: float) -> Particles:
    return Particles(p.offsets, p.pt * factor, p.eta, p.phi, p.energy * factor)


def _random_events(rng: np.random.Generator, n_events: int) -> Particles:
    """Events of a few well separated 'jets' of 1-3 particles each."""
    events = []
    for _ in range(n_events):
        ev: list[tuple[float, float, float]] = []
        n_jets = int(rng.integers(1, 5))
        phis = rng.permutation(np.linspace(-np.pi, np.pi, 8, endpoint=False))[:n_jets]
        for phi0 in phis:
            eta0 = rng.uniform(-2.0, 2.0)
            ev.extend(
                (
                    float(rng.uniform(5.0, 80.0)),
                    eta0 + rng.normal(0, 0.05),
                    float(phi0 + rng.normal(0, 0.05)),
                )
                for _ in range(int(rng.integers(1, 4)))
            )
        events.append(ev)
    return _massless(events)


def _one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


# ------------------------------------------------------------------ jets


def test_back_to_back_pair_has_response_one() -> None:
    events = [[(40.0, 0.0, 0.0), (40.0, 0.0, np.pi)], [(70.0, 0.5, 1.0), (70.0, -0.5, 1.0 - np.pi)]]
    gen = _massless(events)
    r = jet_response(gen, gen, pt_edges=[20.0, 50.0, 100.0], eta_max=2.5)
    assert r.efficiency.total.tolist() == [2, 2]
    assert r.efficiency.value.tolist() == [1.0, 1.0]
    np.testing.assert_allclose(r.response.median, [1.0, 1.0], rtol=1e-12)
    np.testing.assert_allclose(r.response.iqr, [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(np.sort(r.gen_pt), [40.0, 40.0, 70.0, 70.0], rtol=1e-12)


def test_scaled_collection_has_response_0p9_and_no_spread() -> None:
    """Anti-kT is blind to a common momentum scale: the same jets, 0.9 times the pT."""
    gen = _random_events(np.random.default_rng(3), 60)
    r = jet_response(_scaled(gen, 0.9), gen, pt_edges=[3.0, 30.0, 60.0, 1000.0], eta_max=2.5)
    assert r.efficiency.total.sum() > 100
    np.testing.assert_allclose(r.response.median, 0.9, rtol=1e-12)
    np.testing.assert_allclose(r.response.iqr, 0.0, atol=1e-12)
    np.testing.assert_allclose(r.response.iqr_over_median, 0.0, atol=1e-12)


def test_missing_and_displaced_jets_lower_the_efficiency() -> None:
    gen = _massless(
        [[(40.0, 0.0, 0.0), (40.0, 0.0, np.pi)], [(30.0, 1.0, 0.5), (30.0, -1.0, -2.5)]]
    )
    reco = _massless(
        [
            [(40.0, 0.0, 0.0)],  # the jet at phi = pi is missing
            [(30.0, 1.0, 0.5 + 0.05), (30.0, -1.0, -2.5 + 0.15)],  # matched / displaced past 0.1
        ]
    )
    r = jet_response(reco, gen, pt_edges=[20.0, 100.0], eta_max=2.5, cl=0.95)
    assert (r.efficiency.passed.tolist(), r.efficiency.total.tolist()) == ([2], [4])
    assert r.efficiency.value[0] == 0.5
    low, high = clopper_pearson(2, 4, 0.95)
    assert (r.efficiency.low[0], r.efficiency.high[0]) == (low, high)
    assert int(np.isnan(r.reco_pt).sum()) == 2
    # a wider matching radius takes the displaced jet back
    wide = jet_response(reco, gen, pt_edges=[20.0, 100.0], eta_max=2.5, match_dr=0.2)
    assert wide.efficiency.passed.tolist() == [3]


def test_eta_acceptance_and_pt_threshold() -> None:
    gen = _massless([[(40.0, 0.0, 0.0), (40.0, 3.0, 2.0), (2.0, -1.0, -2.0)]])
    r = jet_response(gen, gen, pt_edges=[0.0, 100.0], eta_max=2.5, jet_pt_min=3.0)
    assert r.gen_pt.tolist() == [40.0]  # the forward jet is out, the 2 GeV one below threshold


def _reference_jet_response(
    reco: Particles, gen: Particles, edges: list[float], eta_max: float, max_dr: float
) -> tuple[list[int], list[int], list[list[float]]]:
    """Slow reference: loops over events and pairs, greedy matching by increasing dR."""
    spec = JetDefinitionSpec("antikt", 0.4, 3.0)
    rj, gj = (cluster_jets(p.offsets, p.px, p.py, p.pz, p.energy, spec) for p in (reco, gen))
    n_bins = len(edges) - 1
    total, passed = [0] * n_bins, [0] * n_bins
    ratios: list[list[float]] = [[] for _ in range(n_bins)]
    for ev in range(reco.n_events):
        r_idx = range(int(rj.offsets[ev]), int(rj.offsets[ev + 1]))
        g_idx = range(int(gj.offsets[ev]), int(gj.offsets[ev + 1]))
        pairs = sorted(
            (float(delta_r(rj.eta[i], rj.phi[i], gj.eta[j], gj.phi[j])), i, j)
            for i in r_idx
            for j in g_idx
        )
        used_r: set[int] = set()
        match: dict[int, int] = {}
        for dr, i, j in pairs:
            if dr < max_dr and i not in used_r and j not in match:
                used_r.add(i)
                match[j] = i
        for j in g_idx:
            if abs(gj.eta[j]) >= eta_max:
                continue
            k = next((b for b in range(n_bins) if edges[b] <= gj.pt[j] < edges[b + 1]), None)
            if k is None:
                continue
            total[k] += 1
            if j in match:
                passed[k] += 1
                ratios[k].append(float(rj.pt[match[j]] / gj.pt[j]))
    return total, passed, ratios


def test_jet_response_matches_a_slow_reference_on_smeared_events() -> None:
    rng = np.random.default_rng(7)
    gen = _random_events(rng, 80)
    n = len(gen.pt)
    smear = rng.normal(1.0, 0.15, n).clip(0.3)
    keep = rng.random(n) > 0.1  # lose some particles: some jets move or vanish
    phi = gen.phi + rng.normal(0, 0.03, n)
    reco = Particles(gen.offsets, gen.pt * smear, gen.eta, phi, gen.energy * smear).take(keep)
    edges = [3.0, 20.0, 50.0, 100.0, 400.0]
    r = jet_response(reco, gen, pt_edges=edges, eta_max=2.0)
    total, passed, ratios = _reference_jet_response(reco, gen, edges, 2.0, 0.1)
    assert r.efficiency.total.tolist() == total
    assert r.efficiency.passed.tolist() == passed
    assert 0 < sum(passed) < sum(total)
    for k, values in enumerate(ratios):
        p25, med, p75 = np.percentile(values, [25, 50, 75])
        assert r.response.bins[k].median == pytest.approx(med, rel=1e-12)
        assert r.response.bins[k].iqr == pytest.approx(p75 - p25, rel=1e-12)
        assert r.response.iqr_over_median[k] == pytest.approx((p75 - p25) / med, rel=1e-12)


# ------------------------------------------------------------------ MET


def test_met_of_known_vectors() -> None:
    gen = _massless([[(3.0, 0.0, 0.0), (4.0, 0.0, np.pi / 2)], [(10.0, 0.5, np.pi)]])
    # reco: event 0 lost the 4 GeV particle; event 1 measures 8 GeV
    reco = _massless([[(3.0, 0.0, 0.0)], [(8.0, 0.5, np.pi)]])
    r = met_resolution(reco, gen, met_edges=[0.0, 6.0, 20.0])
    np.testing.assert_allclose(r.met_gen, [5.0, 10.0], rtol=1e-12)
    np.testing.assert_allclose(r.met_reco, [3.0, 8.0], rtol=1e-12)
    # MET vector is minus the sum: gen (-3, -4), reco (-3, 0); gen (10, 0), reco (8, 0)
    np.testing.assert_allclose(r.dx, [0.0, -2.0], atol=1e-12)
    np.testing.assert_allclose(r.dy, [4.0, 0.0], atol=1e-12)
    assert r.response.n == 2
    assert r.response.median == pytest.approx(np.median([0.6, 0.8]))
    assert r.binned_response is not None
    assert r.binned_delta is not None
    np.testing.assert_allclose(r.binned_response.median, [0.6, 0.8])
    assert r.binned_delta.n.tolist() == [2, 2]  # x and y of each event
    assert r.delta.n == 4


def test_met_ratio_skips_events_without_generator_met() -> None:
    gen = _massless([[(5.0, 0.0, 0.0), (5.0, 0.0, np.pi)], [(6.0, 0.0, 0.0)]])
    reco = _massless([[(5.0, 0.0, 0.0)], [(6.0, 0.0, 0.0)]])
    r = met_resolution(reco, gen)
    assert r.met_gen[0] == pytest.approx(0.0, abs=1e-12)
    assert r.response.n == 1
    assert r.response.median == pytest.approx(1.0)
    assert r.delta.n == 4  # the differences of every event
    assert met_resolution(reco, gen, gen_met_min=10.0).response.n == 0


# ------------------------------------------------------------------ medians and IQRs


@pytest.mark.parametrize("n", [1, 2, 7, 100, 1001])
def test_median_iqr_against_numpy_percentile(n: int) -> None:
    x = np.random.default_rng(n).lognormal(size=n)
    s = median_iqr(x)
    p25, med, p75 = np.percentile(x, [25, 50, 75])
    assert (s.n, s.median, s.p25, s.p75) == (n, med, p25, p75)
    assert s.iqr == pytest.approx(p75 - p25)
    assert s.iqr_over_median == pytest.approx((p75 - p25) / med)
    assert s.median_low <= s.median <= s.median_high


def test_median_interval_order_statistics_and_coverage() -> None:
    # textbook: n = 10 at 95 % is [x_(2), x_(9)]; n = 5 cannot be bounded at 95 %
    s = median_iqr(np.arange(1.0, 11.0), cl=0.95)
    assert (s.median_low, s.median_high) == (2.0, 9.0)
    small = median_iqr(np.arange(5.0), cl=0.95)
    assert (small.median_low, small.median_high) == (-np.inf, np.inf)
    empty = median_iqr([])
    assert empty.n == 0
    assert math.isnan(empty.median)
    # coverage of the true median (ln 2 for a unit exponential) is at least cl
    rng = np.random.default_rng(11)
    hits = 0
    for _ in range(1000):
        m = median_iqr(rng.exponential(size=25), cl=0.6827)
        hits += m.median_low <= math.log(2) <= m.median_high
    assert hits / 1000 >= 0.6827 - 0.03


# ------------------------------------------------------------------ per-element efficiency and fakes


def test_particle_efficiency_and_fake_rate_on_a_hand_made_element_list() -> None:
    # element:       0   1   2   3   4   5   6   7
    t_is = np.array([1, 1, 1, 1, 0, 0, 1, 1])
    t_cls = np.array([1, 1, 3, 3, 0, 0, 2, 1])
    t_pt = np.array([5.0, 15.0, 5.0, 15.0, 0.0, 0.0, 5.0, 25.0])
    p_is = np.array([1, 1, 1, 0, 1, 1, 1, 1])
    p_cls = np.array([1, 2, 3, 3, 1, 3, 0, 1])  # element 3: class but no particle; 6: class 0
    p_pt = np.array([5.0, 15.0, 5.0, 0.0, 5.0, 15.0, 5.0, 25.0])
    off = np.array([0, 3, 8])
    target = SimpleNamespace(offsets=off, is_particle=t_is, cls=t_cls, pt=t_pt)
    pred = SimpleNamespace(offsets=off, is_particle=p_is, cls=p_cls, pt=p_pt)
    r = particle_efficiency_fake_rate(pred, target, pt_edges=[0.0, 10.0, 20.0])
    ch = r["charged hadron"]  # targets: el 0 (5), 1 (15); el 7 (25) is outside the edges
    assert (ch.efficiency.passed.tolist(), ch.efficiency.total.tolist()) == ([1, 0], [1, 1])
    assert ch.efficiency_any.passed.tolist() == [1, 1]
    # predicted charged hadrons: el 0 (true), 4 (on none); el 7 outside the edges
    assert (ch.fake_rate.passed.tolist(), ch.fake_rate.total.tolist()) == ([1, 0], [2, 0])
    assert ch.wrong_class_rate.passed.tolist() == [0, 0]
    ph = r["photon"]  # targets: el 2 (5, found), 3 (15, no particle predicted)
    assert (ph.efficiency.passed.tolist(), ph.efficiency.total.tolist()) == ([1, 0], [1, 1])
    assert (ph.fake_rate.passed.tolist(), ph.fake_rate.total.tolist()) == ([0, 1], [1, 1])
    nh = r["neutral hadron"]  # target el 6 predicts a particle of class 0; el 1 predicted nh
    assert nh.efficiency.passed.tolist() == [0, 0]
    assert nh.efficiency_any.passed.tolist() == [1, 0]
    assert (nh.wrong_class_rate.passed.tolist(), nh.wrong_class_rate.total.tolist()) == (
        [0, 1],
        [0, 1],
    )
    assert np.isnan(nh.fake_rate.value[0])
    assert nh.fake_rate.value[1] == 0.0
    everything = r["any"]
    assert everything.efficiency.passed.tolist() == [3, 1]
    assert everything.efficiency.total.tolist() == [3, 2]
    assert (everything.fake_rate.passed.tolist(), everything.fake_rate.total.tolist()) == (
        [1, 1],
        [4, 2],
    )
    lo, hi = clopper_pearson(3, 3)
    assert (everything.efficiency.low[0], everything.efficiency.high[0]) == (lo, hi)
    assert set(r) == {"charged hadron", "neutral hadron", "photon", "electron", "muon", "any"}


def test_efficiency_of_targets_against_themselves_is_one() -> None:
    t = mlpf_targets(
        gen_offsets=[0, 2], gen_pid=[211, 22], gen_status=[1, 1], gen_charge=[1, 0],
        gen_pt=[10.0, 5.0], gen_eta=[0.0, 1.0], gen_phi=[0.0, 2.0], gen_mass=[0.13957, 0.0],
        gen_is_pu=[0, 1], track_offsets=[0, 1], track_gen_index=[0], tower_offsets=[0, 2],
        contrib_offsets=[0, 2], contrib_tower=[0, 1], contrib_gen_index=[0, 1],
        contrib_energy=[7.0, 7.5],
    )  # fmt: skip
    r = particle_efficiency_fake_rate(t.elements, t.elements, pt_edges=[0.0, 100.0])
    assert r["any"].efficiency.value.tolist() == [1.0]
    assert r["any"].fake_rate.value.tolist() == [0.0]
    p = particles_from_targets(t.elements)
    assert p.offsets.tolist() == [0, 2]
    np.testing.assert_allclose(p.pt, [10.0, 5.0])
    np.testing.assert_allclose(p.phi, [0.0, 2.0], atol=1e-12)
    assert p.cls is not None
    assert p.cls.tolist() == [1, 3]
    assert p.pu_score is not None
    assert p.pu_score.tolist() == [0.0, 1.0]


# ------------------------------------------------------------------ pileup ROC and flag


@pytest.mark.parametrize("weighted", [False, True])
def test_pileup_roc_against_sklearn(weighted: bool) -> None:
    rng = np.random.default_rng(5)
    y = (rng.random(3000) < 0.7).astype(np.int64)
    score = np.round(rng.normal(y * 1.2, 1.0), 1)  # rounded: many ties
    w = rng.exponential(size=3000) if weighted else None
    roc = pileup_roc(score, y, w)
    fpr, tpr, thr = roc_curve(y, score, sample_weight=w, drop_intermediate=False)
    np.testing.assert_allclose(roc.hard_flagged, fpr, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(roc.pu_flagged, tpr, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(roc.thresholds[1:], thr[1:])
    assert roc.thresholds[0] == np.inf
    assert roc.auc == pytest.approx(roc_auc_score(y, score, sample_weight=w), rel=1e-12)
    # the hard particles kept at a fixed rejection: a direct count
    keep, t = roc.hard_kept_at(0.9)
    ww = np.ones(len(y)) if w is None else w
    flagged = score >= t
    assert (ww * flagged * y).sum() / (ww * y).sum() >= 0.9
    assert keep == pytest.approx((ww * ~flagged * (1 - y)).sum() / (ww * (1 - y)).sum())


def test_pileup_flag_drops_the_extra_jet() -> None:
    hard = [(40.0, 0.0, 0.0), (40.0, 0.0, np.pi)]
    gen = _massless([hard])
    reco = _massless([[*hard, (20.0, 1.5, 1.5)]], pu_score=np.array([0.1, 0.3, 0.95]))
    flagged = applied_pileup_flag(reco, threshold=0.5)
    assert flagged.pt.tolist() == [40.0, 40.0]
    assert jet_response(reco, gen, pt_edges=[3.0, 100.0], eta_max=2.5).n_reco_jets == 3
    assert jet_response(flagged, gen, pt_edges=[3.0, 100.0], eta_max=2.5).n_reco_jets == 2
    weighted = applied_pileup_flag(reco, threshold=1.0, mode="weight")
    np.testing.assert_allclose(weighted.pt, [36.0, 28.0, 1.0])
    np.testing.assert_allclose(weighted.energy, reco.energy * [0.9, 0.7, 0.05])


# ------------------------------------------------------------------ file columns


def _col(counts: list[int], values: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    return offsets_from_counts(counts), np.asarray(values)


def test_particles_from_columns_pf_chs_puppi() -> None:
    c = [3, 1]
    cols = {
        "V_PUPPIPart_PT": _col(c, [10.0, 4.0, 2.0, 8.0]),
        "V_PUPPIPart_Eta": _col(c, [0.0, 0.5, -1.0, 2.0]),
        "V_PUPPIPart_Phi": _col(c, [0.0, 1.0, 2.0, 3.0]),
        "V_PUPPIPart_E": _col(c, [10.0, 4.5, 3.1, 30.0]),
        "V_PUPPIPart_PID": _col(c, [211, 22, -11, 0]),
        "V_PUPPIPart_Charge": _col(c, [1, 0, 1, 0]),
        "V_PUPPIPart_IsRecoPU": _col(c, [0, 0, 1, 0]),
        "V_PUPPIPart_PuppiW": _col(c, [1.0, 0.5, 0.0, 0.25]),
    }
    pf = particles_from_columns(cols, "V_PUPPIPart")
    assert pf.offsets.tolist() == [0, 3, 4]
    assert pf.cls is not None
    assert pf.cls.tolist() == [1, 3, 4, 2]
    assert pf.pu_score is not None
    assert pf.pu_score.tolist() == [0.0, 0.5, 1.0, 0.75]
    chs = particles_from_columns(cols, "V_PUPPIPart", chs=True)
    assert chs.offsets.tolist() == [0, 2, 3]
    assert chs.pt.tolist() == [10.0, 4.0, 8.0]
    puppi = particles_from_columns(cols, "V_PUPPIPart", puppi=True)
    assert puppi.offsets.tolist() == [0, 2, 3]
    assert puppi.pt.tolist() == [10.0, 2.0, 2.0]
    assert puppi.energy.tolist() == [10.0, 2.25, 7.5]
    del cols["V_PUPPIPart_IsRecoPU"]
    with pytest.raises(DataFormatError, match="V_PUPPIPart_IsRecoPU") as exc:
        particles_from_columns(cols, "V_PUPPIPart", chs=True)
    _one_line(exc)


def test_gen_particles_from_columns_keeps_visible_hard_particles() -> None:
    c = [4, 1]
    cols = {
        "Gen_Part_PID": _col(c, [211, 12, 22, 2, 211]),
        "Gen_Part_Status": _col(c, [1, 1, 1, 23, 1]),
        "Gen_Part_Charge": _col(c, [1, 0, 0, 0, -1]),
        "Gen_Part_PT": _col(c, [3.0, 5.0, 4.0, 9.0, 1.0]),
        "Gen_Part_Eta": _col(c, [0.0, 0.0, 0.0, 0.0, 0.0]),
        "Gen_Part_Phi": _col(c, [0.0, 0.0, 0.0, 0.0, 0.0]),
        "Gen_Part_Mass": _col(c, [4.0, 0.0, 0.0, 0.3, 0.0]),
        "Gen_Part_IsPU": _col(c, [0, 0, 0, 0, 1]),
    }
    gen = gen_particles_from_columns(cols)
    assert gen.offsets.tolist() == [0, 2, 2]
    assert gen.pt.tolist() == [3.0, 4.0]
    assert gen.energy.tolist() == [5.0, 4.0]
    assert gen_particles_from_columns(cols, hard_only=False).offsets.tolist() == [0, 2, 3]


def test_particles_from_elements_selects_particles() -> None:
    p = particles_from_elements(
        [0, 2, 3], [0, 1, 1], [9.0, 2.0, 3.0], [0.0, 0.1, 0.2], [0.0, 1.0, 0.0],
        [1.0, 0.0, -1.0], [9.0, 2.0, 3.1], cls=[0, 2, 5], pu_score=[0.0, 0.2, 0.7],
    )  # fmt: skip
    assert p.offsets.tolist() == [0, 1, 2]
    np.testing.assert_allclose(p.phi, [np.pi / 2, np.pi])
    assert p.cls is not None
    assert p.cls.tolist() == [2, 5]


# ------------------------------------------------------------------ refusals


def test_refusals_are_one_line() -> None:
    one = _massless([[(10.0, 0.0, 0.0)]])
    two = _massless([[(10.0, 0.0, 0.0)], []])
    with pytest.raises(DataFormatError, match="same number of events") as exc:
        jet_response(one, two, pt_edges=[0.0, 1.0], eta_max=2.5)
    _one_line(exc)
    with pytest.raises(DataFormatError, match="same number of events"):
        met_resolution(one, two)
    with pytest.raises(DataFormatError, match=r"particles\.pt: 1 NaN") as exc:
        Particles(np.array([0, 1]), [np.nan], [0.0], [0.0], [1.0])
    _one_line(exc)
    with pytest.raises(DataFormatError, match=r"particles\.eta: expected 2 values"):
        Particles(np.array([0, 2]), [1.0, 1.0], [0.0], [0.0, 0.0], [1.0, 1.0])
    with pytest.raises(ConfigError, match=r"particles\.offsets"):
        Particles(np.array([1, 2]), [1.0], [0.0], [0.0], [1.0])
    with pytest.raises(DataFormatError, match=r"particles\.energy: expected values >= 0"):
        Particles(np.array([0, 1]), [1.0], [0.0], [0.0], [-1.0])
    with pytest.raises(ConfigError, match="pt_edges"):
        jet_response(one, one, pt_edges=[10.0, 5.0], eta_max=2.5)
    with pytest.raises(ConfigError, match="eta_max"):
        jet_response(one, one, pt_edges=[0.0, 5.0], eta_max=-1.0)
    with pytest.raises(ConfigError, match="max_dr"):
        jet_response(one, one, pt_edges=[0.0, 5.0], eta_max=2.5, match_dr=0.0)
    e1 = SimpleNamespace(offsets=np.array([0, 2]), is_particle=[1, 0], cls=[1, 0], pt=[1.0, 0.0])
    e2 = SimpleNamespace(offsets=np.array([0, 1, 2]), is_particle=[1, 0], cls=[1, 0], pt=[1.0, 0.0])
    with pytest.raises(DataFormatError, match=r"pred\.offsets: expected the same elements") as exc:
        particle_efficiency_fake_rate(e2, e1, pt_edges=[0.0, 5.0])
    _one_line(exc)
    with pytest.raises(DataFormatError, match=r"score: 1 NaN") as exc:
        pileup_roc([0.1, np.nan], [0, 1])
    _one_line(exc)
    with pytest.raises(DataFormatError, match="is_pu: expected 0 or 1"):
        pileup_roc([0.1, 0.2], [0, 2])
    with pytest.raises(DataFormatError, match="pileup and hard particles"):
        pileup_roc([0.1, 0.2], [1, 1])
    with pytest.raises(DataFormatError, match="weights: expected values >= 0"):
        pileup_roc([0.1, 0.2], [0, 1], [1.0, -1.0])
    with pytest.raises(ConfigError, match="pu_score: expected a score"):
        applied_pileup_flag(one)
    with pytest.raises(DataFormatError, match="pu_score: expected 1 values"):
        applied_pileup_flag(one, [0.1, 0.2])
    with pytest.raises(DataFormatError, match=r"pu_score: expected probabilities"):
        applied_pileup_flag(one, [1.5], 2.0, mode="weight")
    with pytest.raises(ConfigError, match="cl="):
        median_iqr([1.0], cl=1.0)
