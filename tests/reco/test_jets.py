"""Jets: batch clustering against FastJet's classic interface, flavour, b-tagging, sums."""

from __future__ import annotations

import math
from typing import Any

import fastjet
import numpy as np
import pytest

from l1scout.errors import ConfigError
from l1scout.pdg import heavy_flavour
from l1scout.reco.jets import (
    JetDefinitionSpec,
    Jets,
    btag,
    cluster_jets,
    constituent_sums,
    jet_flavour,
)

# ---------------------------------------------------------------------------
# event making


def _event(
    rng: np.random.Generator, n_soft: int, sprays: list[tuple[float, float, float, int]]
) -> np.ndarray:
    """(n, 4) px, py, pz, E: soft particles over |eta| < 4 plus hard collimated sprays.

    Each spray is (total pT in GeV, eta, phi, number of particles); a tenth of
    all particles carry a pion mass.
    """
    pts = [rng.exponential(0.8, n_soft) + 0.2]
    etas = [rng.uniform(-4.0, 4.0, n_soft)]
    phis = [rng.uniform(-math.pi, math.pi, n_soft)]
    for pt, eta, phi, n in sprays:
        pts.append(pt * rng.dirichlet(np.ones(n)))
        etas.append(eta + rng.normal(0.0, 0.06, n))
        phis.append(phi + rng.normal(0.0, 0.06, n))
    pt_a, eta_a, phi_a = np.concatenate(pts), np.concatenate(etas), np.concatenate(phis)
    order = rng.permutation(pt_a.shape[0])  # sprays not at the end of the collection
    pt_a, eta_a, phi_a = pt_a[order], eta_a[order], phi_a[order]
    mass = np.where(rng.random(pt_a.shape[0]) < 0.1, 0.13957, 0.0)
    px, py, pz = pt_a * np.cos(phi_a), pt_a * np.sin(phi_a), pt_a * np.sinh(eta_a)
    e = np.sqrt(px**2 + py**2 + pz**2 + mass**2)
    return np.column_stack([px, py, pz, e])


def _batch(events: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    offsets = np.zeros(len(events) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(ev) for ev in events])
    flat = np.concatenate(events) if events else np.zeros((0, 4))
    return offsets, flat[:, 0].copy(), flat[:, 1].copy(), flat[:, 2].copy(), flat[:, 3].copy()


@pytest.fixture(scope="module")
def batch() -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(2024)
    events = [
        _event(rng, 1500, [(450.0, 0.3, 1.0, 25), (380.0, -1.2, -2.1, 15), (60.0, 2.0, 3.0, 8)]),
        np.zeros((0, 4)),
        _event(rng, 3000, [(800.0, -0.5, 2.9, 30), (300.0, 1.5, -0.4, 12)]),
        _event(rng, 1000, [(250.0, 2.5, -3.0, 10), (700.0, 0.0, 0.2, 40), (40.0, -3.0, 0.5, 5)]),
    ]
    return _batch(events)


# ---------------------------------------------------------------------------
# the reference: FastJet's classic interface, one event at a time

_CLASSIC_ALGORITHMS = {
    "antikt": fastjet.antikt_algorithm,
    "kt": fastjet.kt_algorithm,
    "cambridge": fastjet.cambridge_algorithm,
}


def _classic(
    ev: np.ndarray, spec: JetDefinitionSpec, user_index: np.ndarray | None = None
) -> list[tuple[float, float, float, float, list[int]]]:
    """(pt, eta, phi, mass, constituent indices) per jet, pT descending."""
    if user_index is None:
        user_index = np.arange(len(ev))
    particles = []
    for row, idx in zip(ev, user_index, strict=True):
        pj = fastjet.PseudoJet(*(float(x) for x in row))
        pj.set_user_index(int(idx))
        particles.append(pj)
    if not particles:
        return []
    jet_def = fastjet.JetDefinition(_CLASSIC_ALGORITHMS[spec.algorithm], spec.radius)
    assert jet_def.recombination_scheme() == fastjet.E_scheme
    sequence = fastjet.ClusterSequence(particles, jet_def)
    out = [
        (j.pt(), j.eta(), j.phi(), j.m(), sorted(c.user_index() for c in j.constituents()))
        for j in sequence.inclusive_jets(spec.pt_min)
    ]
    return sorted(out, key=lambda t: -t[0])


def _assert_same_as_classic(jets: Jets, offsets: np.ndarray, reference: list[list[Any]]) -> None:
    assert len(jets.offsets) == len(offsets)
    for k, ref in enumerate(reference):
        lo, hi = jets.offsets[k], jets.offsets[k + 1]
        assert hi - lo == len(ref), f"event {k}: {hi - lo} jets, classic has {len(ref)}"
        for j, (pt, eta, phi, mass, constituents) in zip(range(lo, hi), ref, strict=True):
            np.testing.assert_allclose(jets.pt[j], pt, rtol=1e-6)
            np.testing.assert_allclose(jets.eta[j], eta, rtol=1e-6, atol=1e-9)
            dphi = (jets.phi[j] - phi + math.pi) % (2 * math.pi) - math.pi
            assert abs(dphi) < 1e-6 * max(abs(phi), 1.0)
            np.testing.assert_allclose(jets.mass[j], max(mass, 0.0), rtol=1e-6, atol=1e-9)
            mine = jets.constituents[jets.constituent_offsets[j] : jets.constituent_offsets[j + 1]]
            assert mine.tolist() == constituents


def _events_of(offsets: np.ndarray, *arrays: np.ndarray) -> list[np.ndarray]:
    flat = np.column_stack(arrays)
    return [flat[offsets[k] : offsets[k + 1]] for k in range(len(offsets) - 1)]


# ---------------------------------------------------------------------------
# clustering


@pytest.mark.parametrize(("radius", "pt_min", "min_jets"), [(0.4, 15.0, 20), (0.8, 200.0, 6)])
def test_matches_classic_interface(
    batch: tuple[np.ndarray, ...], radius: float, pt_min: float, min_jets: int
) -> None:
    offsets, px, py, pz, e = batch
    spec = JetDefinitionSpec("antikt", radius, pt_min)
    jets = cluster_jets(offsets, px, py, pz, e, spec)
    assert len(jets.pt) >= min_jets  # the comparison is not vacuous
    reference = [_classic(ev, spec) for ev in _events_of(offsets, px, py, pz, e)]
    _assert_same_as_classic(jets, offsets, reference)
    # the hard sprays are found with (most of) their pT
    if radius == 0.8:
        assert jets.offsets.tolist() == [0, 2, 2, 4, 6]
        assert jets.pt[jets.offsets[2]] > 790.0


@pytest.mark.parametrize("algorithm", ["kt", "cambridge"])
def test_other_algorithms_match_classic(algorithm: str) -> None:
    rng = np.random.default_rng(7)
    events = [_event(rng, 300, [(120.0, 0.5, 0.5, 10)]), _event(rng, 200, [(90.0, -1.0, 2.0, 6)])]
    offsets, px, py, pz, e = _batch(events)
    spec = JetDefinitionSpec(algorithm, 0.6, 5.0)  # type: ignore[arg-type]
    jets = cluster_jets(offsets, px, py, pz, e, spec)
    assert len(jets.pt) >= 4
    _assert_same_as_classic(jets, offsets, [_classic(ev, spec) for ev in events])


def test_weighted_matches_classic_on_scaled_inputs(batch: tuple[np.ndarray, ...]) -> None:
    offsets, px, py, pz, e = batch
    rng = np.random.default_rng(11)
    weights = np.where(rng.random(len(px)) < 0.35, 0.0, rng.uniform(0.05, 1.0, len(px)))
    spec = JetDefinitionSpec("antikt", 0.4, 15.0)
    jets = cluster_jets(offsets, px, py, pz, e, spec, weights=weights)
    assert len(jets.pt) >= 10

    reference = []
    for k in range(len(offsets) - 1):
        sl = slice(offsets[k], offsets[k + 1])
        w = weights[sl]
        keep = np.flatnonzero(w > 0)
        ev = np.column_stack([px[sl], py[sl], pz[sl], e[sl]])[keep] * w[keep, None]
        reference.append(_classic(ev, spec, user_index=keep))
    _assert_same_as_classic(jets, offsets, reference)

    event_of_const = np.repeat(
        np.repeat(np.arange(len(offsets) - 1), np.diff(jets.offsets)),
        np.diff(jets.constituent_offsets),
    )
    assert np.all(weights[offsets[event_of_const] + jets.constituents] > 0)

    # unit weights give the unweighted jets; weights scale a lone hard particle's jet
    unit = cluster_jets(offsets, px, py, pz, e, spec, weights=np.ones(len(px)))
    plain = cluster_jets(offsets, px, py, pz, e, spec)
    np.testing.assert_array_equal(unit.pt, plain.pt)
    np.testing.assert_array_equal(unit.constituents, plain.constituents)


def test_weights_scale_four_momentum() -> None:
    offsets = np.array([0, 2])
    px, py, pz = np.array([100.0, -50.0]), np.array([0.0, 0.0]), np.array([10.0, 0.0])
    e = np.sqrt(px**2 + pz**2)
    jets = cluster_jets(
        offsets, px, py, pz, e, JetDefinitionSpec("antikt", 0.4, 1.0), weights=[0.5, 0.0]
    )
    assert jets.offsets.tolist() == [0, 1]
    np.testing.assert_allclose([jets.px[0], jets.pz[0], jets.e[0]], [50.0, 5.0, 0.5 * e[0]])
    assert jets.constituents.tolist() == [0]


def _check_invariants(
    jets: Jets,
    offsets: np.ndarray,
    px: np.ndarray,
    py: np.ndarray,
    pz: np.ndarray,
    e: np.ndarray,
    pt_min: float,
) -> None:
    n_events = len(offsets) - 1
    n_jets = len(jets.pt)
    assert jets.offsets.dtype == np.int64
    assert jets.constituent_offsets.dtype == np.int64
    assert jets.constituents.dtype == np.int64
    assert len(jets.offsets) == n_events + 1
    assert jets.offsets[0] == 0
    assert jets.offsets[-1] == n_jets
    assert len(jets.constituent_offsets) == n_jets + 1
    assert jets.constituent_offsets[-1] == len(jets.constituents)
    for arr in (jets.px, jets.py, jets.pz, jets.e, jets.eta, jets.phi, jets.mass):
        assert arr.shape == (n_jets,)
        assert arr.dtype == np.float64
    assert np.all(jets.pt >= pt_min)
    assert np.all(np.abs(jets.phi) <= math.pi)
    assert np.all(np.diff(jets.constituent_offsets) >= 1)
    for k in range(n_events):
        pts = jets.pt[jets.offsets[k] : jets.offsets[k + 1]]
        assert np.all(np.diff(pts) <= 0), "pT descending in each event"
        lo, hi = (
            jets.constituent_offsets[jets.offsets[k]],
            jets.constituent_offsets[jets.offsets[k + 1]],
        )
        local = jets.constituents[lo:hi]
        n_in = offsets[k + 1] - offsets[k]
        assert np.all((local >= 0) & (local < n_in))
        assert len(np.unique(local)) == len(local), "a particle in two jets"
    for j in range(n_jets):
        cons = jets.constituents[jets.constituent_offsets[j] : jets.constituent_offsets[j + 1]]
        assert np.all(np.diff(cons) > 0)
    # E-scheme: the jet is the four-vector sum of its constituents
    event_of_jet = np.repeat(np.arange(n_events), np.diff(jets.offsets))
    glob = offsets[np.repeat(event_of_jet, np.diff(jets.constituent_offsets))] + jets.constituents
    for jet_value, values in ((jets.px, px), (jets.py, py), (jets.pz, pz), (jets.e, e)):
        sums = (
            np.add.reduceat(values[glob], jets.constituent_offsets[:-1]) if n_jets else np.zeros(0)
        )
        np.testing.assert_allclose(jet_value, sums, rtol=1e-9, atol=1e-9 * np.abs(e[glob]).sum())
    np.testing.assert_allclose(jets.pt, np.hypot(jets.px, jets.py), rtol=1e-12)
    np.testing.assert_allclose(jets.eta, np.arcsinh(jets.pz / jets.pt), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("radius", "pt_min"), [(0.4, 15.0), (0.8, 200.0), (0.4, 0.0)])
def test_invariants(batch: tuple[np.ndarray, ...], radius: float, pt_min: float) -> None:
    offsets, px, py, pz, e = batch
    jets = cluster_jets(offsets, px, py, pz, e, JetDefinitionSpec("antikt", radius, pt_min))
    _check_invariants(jets, offsets, px, py, pz, e, pt_min)
    if pt_min == 0.0:  # every particle is in exactly one jet
        assert len(jets.constituents) == len(px)


def test_empty_events_and_batches() -> None:
    spec = JetDefinitionSpec("antikt", 0.4, 15.0)
    empty = np.zeros(0)
    for offsets in ([0], [0, 0, 0]):
        jets = cluster_jets(np.array(offsets), empty, empty, empty, empty, spec)
        assert jets.offsets.tolist() == offsets
        assert jets.constituent_offsets.tolist() == [0]
        assert len(jets.pt) == len(jets.constituents) == 0
    # particles, but none reaches pt_min; and all weights zero
    offsets, px, py, pz, e = _batch([np.array([[1.0, 0.0, 0.0, 1.0]]), np.zeros((0, 4))])
    for weights in (None, np.zeros(1)):
        jets = cluster_jets(offsets, px, py, pz, e, spec, weights=weights)
        assert jets.offsets.tolist() == [0, 0, 0]
        assert jets.constituent_offsets.tolist() == [0]
    # empty events around a full one keep their place
    offsets, px, py, pz, e = _batch(
        [np.zeros((0, 4)), np.array([[20.0, 0.0, 0.0, 20.0]]), np.zeros((0, 4))]
    )
    jets = cluster_jets(offsets, px, py, pz, e, spec)
    assert jets.offsets.tolist() == [0, 0, 1, 1]
    assert jets.constituents.tolist() == [0]


def test_bad_inputs() -> None:
    with pytest.raises(ConfigError, match="radius"):
        JetDefinitionSpec("antikt", 0.0, 10.0)
    with pytest.raises(ConfigError, match="algorithm"):
        JetDefinitionSpec("siscone", 0.4, 10.0)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="pt_min"):
        JetDefinitionSpec("kt", 0.4, -1.0)
    spec = JetDefinitionSpec("antikt", 0.4, 10.0)
    one = np.ones(3)
    with pytest.raises(ConfigError, match="offsets"):
        cluster_jets(np.array([0, 2]), one, one, one, one, spec)
    with pytest.raises(ConfigError, match="py"):
        cluster_jets(np.array([0, 3]), one, np.ones(2), one, one, spec)
    with pytest.raises(ConfigError, match="weights"):
        cluster_jets(np.array([0, 3]), one, one, one, one, spec, weights=np.ones(4))
    with pytest.raises(ConfigError, match="finite"):
        cluster_jets(np.array([0, 3]), np.array([1.0, np.nan, 1.0]), one, one, one, spec)


# ---------------------------------------------------------------------------
# flavour


def _jets_at(offsets: list[int], eta: list[float], phi: list[float]) -> Jets:
    n = len(eta)
    pt = np.full(n, 50.0)
    eta_a, phi_a = np.array(eta, dtype=float), np.array(phi, dtype=float)
    px, py, pz = pt * np.cos(phi_a), pt * np.sin(phi_a), pt * np.sinh(eta_a)
    return Jets(
        offsets=np.array(offsets, dtype=np.int64),
        px=px,
        py=py,
        pz=pz,
        e=np.sqrt(px**2 + py**2 + pz**2),
        pt=pt,
        eta=eta_a,
        phi=phi_a,
        mass=np.zeros(n),
        constituent_offsets=np.zeros(n + 1, dtype=np.int64),
        constituents=np.zeros(0, dtype=np.int64),
    )


def test_heavy_flavour_pdg_rule() -> None:
    table = {
        5: [511, 521, -531, 541, 553, 10521, 5122, -5232, 5332, 5, -5],
        4: [411, -421, 431, 443, 4122, -4232, 4332, 4, -4],
        0: [211, 111, 321, 2212, 3122, 21, 1, 2, 3, 6, 11, 22, 0, 2203, 1000020040],
    }
    for expected, pids in table.items():
        assert heavy_flavour(np.array(pids)).tolist() == [expected] * len(pids), pids


def test_jet_flavour_hand_made() -> None:
    jets = _jets_at(
        [0, 6, 7, 8],
        eta=[0.0, 1.0, -1.0, 2.0, 0.0, -2.0, 0.5, 0.0],
        phi=[0.0, 2.0, -2.0, 3.1, -3.0, 1.0, 0.5, 0.0],
    )
    # event 0 tags: (eta, phi, pid)
    tags0 = [
        (0.0, 0.2, 521),  # jet 0: b meson at dR 0.2
        (0.1, 0.0, 4122),  # jet 0: c baryon as well -> b beats c
        (1.0, 2.3, -4122),  # jet 1: c baryon at dR 0.3
        (1.0, 2.05, 21),  # jet 1: a nearer gluon, c still wins
        (-1.3, -2.0, 2),  # jet 2: u quark at dR 0.3
        (-1.0, -2.1, 21),  # jet 2: gluon at dR 0.1: the nearest light parton wins
        (2.0, -3.1, 1),  # jet 3: across phi = pi, dR 0.083
        (0.0, -3.6, 511),  # jet 4: b meson at dR 0.6 > 0.4 -> nothing
        (-2.0, 1.35, 3),  # jet 5: s quark at dR 0.35
        (-2.0, 0.7, -5),  # jet 5: b quark at dR 0.3 -> 5
    ]
    # event 1 has no tags; event 2: a c meson next to its jet 7
    tags2 = [(0.0, 0.1, 431), (3.0, 0.5, 521)]
    tags = tags0 + tags2
    tag_offsets = np.array([0, len(tags0), len(tags0), len(tags)])
    eta, phi, pid = (np.array(col) for col in zip(*tags, strict=True))
    flavour = jet_flavour(jets, tag_offsets, eta, phi, pid.astype(np.int32), delta_r=0.4)
    assert flavour.dtype == np.uint32
    # jet 6 (event 1) sits on event 0's tags' positions but sees none of them
    assert flavour.tolist() == [5, 4, 21, 1, 0, 5, 0, 4]

    # a smaller cone loses the far ones
    small = jet_flavour(jets, tag_offsets, eta, phi, pid, delta_r=0.15)
    assert small.tolist() == [4, 21, 21, 1, 0, 0, 0, 4]

    no_tags = jet_flavour(
        jets, [0, 0, 0, 0], np.zeros(0), np.zeros(0), np.zeros(0, dtype=int), delta_r=0.4
    )
    assert no_tags.tolist() == [0] * 8
    with pytest.raises(ConfigError, match="tag_offsets"):
        jet_flavour(jets, [0, 0], np.zeros(0), np.zeros(0), np.zeros(0, dtype=int), delta_r=0.4)


def test_jet_flavour_matches_loop() -> None:
    rng = np.random.default_rng(3)
    n_events = 200
    n_jets = rng.integers(0, 6, n_events)
    n_tags = rng.integers(0, 25, n_events)
    offsets = np.concatenate([[0], np.cumsum(n_jets)])
    toff = np.concatenate([[0], np.cumsum(n_tags)])
    jets = _jets_at(
        offsets.tolist(),
        rng.uniform(-2, 2, offsets[-1]).tolist(),
        rng.uniform(-3.14, 3.14, offsets[-1]).tolist(),
    )
    t_eta = rng.uniform(-2, 2, toff[-1])
    t_phi = rng.uniform(-3.14, 3.14, toff[-1])
    t_pid = rng.choice([521, -511, 4122, -421, 1, -2, 3, 21, 211, 22], toff[-1])
    got = jet_flavour(jets, toff, t_eta, t_phi, t_pid, delta_r=0.7)

    expected = []
    n_nearest_not_first = 0  # jets where the nearest light parton is not the first listed one
    for k in range(n_events):
        for j in range(offsets[k], offsets[k + 1]):
            best, best_dr, has_b, has_c, first = 0, math.inf, False, False, 0
            for t in range(toff[k], toff[k + 1]):
                dphi = (jets.phi[j] - t_phi[t] + math.pi) % (2 * math.pi) - math.pi
                dr = math.hypot(jets.eta[j] - t_eta[t], dphi)
                if dr > 0.7:
                    continue
                a = abs(int(t_pid[t]))
                has_b |= a in (511, 521)
                has_c |= a in (4122, 421)
                if a in (1, 2, 3, 21) and first == 0:
                    first = a
                if a in (1, 2, 3, 21) and dr < best_dr:
                    best, best_dr = a, dr
            expected.append(5 if has_b else 4 if has_c else best)
            n_nearest_not_first += best != first and not (has_b or has_c)
    assert got.tolist() == expected
    assert n_nearest_not_first >= 5, n_nearest_not_first
    assert len(set(expected)) >= 5  # every outcome appears


# ---------------------------------------------------------------------------
# b-tagging


def test_btag_rates_and_determinism() -> None:
    rng = np.random.default_rng(5)
    n = 20_000
    flavour = rng.choice(np.array([5, 4, 0, 21, 1], dtype=np.uint32), n)
    pt = rng.uniform(20.0, 500.0, n)
    eta = rng.uniform(-2.5, 2.5, n)
    rates = {"b": 0.7, "c": 0.2, "light": 0.01}
    calls: list[tuple[str, int]] = []

    def efficiency(kind: str, pt_sub: np.ndarray, eta_sub: np.ndarray) -> np.ndarray:
        calls.append((kind, len(pt_sub)))
        assert pt_sub.shape == eta_sub.shape
        return np.full(len(pt_sub), rates[kind])

    tags = btag(flavour, pt, eta, efficiency, np.random.default_rng(99))
    assert tags.dtype == np.int8
    assert set(np.unique(tags).tolist()) <= {0, 1}
    masks = {"b": flavour == 5, "c": flavour == 4, "light": (flavour != 5) & (flavour != 4)}
    assert sorted(calls) == sorted((kind, int(m.sum())) for kind, m in masks.items())
    for kind, mask in masks.items():
        m, p = int(mask.sum()), rates[kind]
        n_tagged = int(tags[mask].sum())
        assert abs(n_tagged - m * p) < 4 * math.sqrt(m * p * (1 - p)), kind

    again = btag(flavour, pt, eta, efficiency, np.random.default_rng(99))
    np.testing.assert_array_equal(tags, again)
    other = btag(flavour, pt, eta, efficiency, np.random.default_rng(100))
    assert not np.array_equal(tags, other)


def test_btag_uses_each_jets_own_kinematics() -> None:
    flavour = np.array([5, 0, 5, 4, 5, 21])
    pt = np.array([150.0, 150.0, 50.0, 150.0, 120.0, 30.0])
    eta = np.array([0.0, 0.0, 0.0, 0.0, 2.0, 0.0])

    def efficiency(kind: str, pt_sub: np.ndarray, eta_sub: np.ndarray) -> np.ndarray:
        if kind != "b":
            return np.zeros(len(pt_sub))
        return ((pt_sub > 100) & (np.abs(eta_sub) < 1.5)).astype(float)

    tags = btag(flavour, pt, eta, efficiency, np.random.default_rng(0))
    assert tags.tolist() == [1, 0, 0, 0, 0, 0]

    with pytest.raises(ConfigError, match="probabilit"):
        btag(flavour, pt, eta, lambda k, p, e: np.full(len(p), 1.5), np.random.default_rng(0))
    with pytest.raises(ConfigError, match="one probability per jet"):
        btag(flavour, pt, eta, lambda k, p, e: np.zeros(1), np.random.default_rng(0))


# ---------------------------------------------------------------------------
# constituent sums


def _sums_loop(
    jets: Jets, cand_offsets: np.ndarray, charge: np.ndarray
) -> tuple[list[int], list[int], list[int]]:
    q_sum, n_ch, n_neu = [], [], []
    for k in range(len(jets.offsets) - 1):
        for j in range(jets.offsets[k], jets.offsets[k + 1]):
            total, ch, neu = 0, 0, 0
            for c in jets.constituents[
                jets.constituent_offsets[j] : jets.constituent_offsets[j + 1]
            ]:
                q = round(float(charge[cand_offsets[k] + c]))
                total += q
                ch += q != 0
                neu += q == 0
            q_sum.append(max(-128, min(127, total)))
            n_ch.append(ch)
            n_neu.append(neu)
    return q_sum, n_ch, n_neu


def test_constituent_sums_match_loop(batch: tuple[np.ndarray, ...]) -> None:
    offsets, px, py, pz, e = batch
    jets = cluster_jets(offsets, px, py, pz, e, JetDefinitionSpec("antikt", 0.4, 15.0))
    rng = np.random.default_rng(8)
    charge = rng.choice(np.array([-1, 0, 0, 1], dtype=np.int32), len(px))
    q, n_ch, n_neu = constituent_sums(jets, offsets, charge)
    assert (q.dtype, n_ch.dtype, n_neu.dtype) == (np.int8, np.int32, np.int32)
    ref = _sums_loop(jets, offsets, charge)
    assert (q.tolist(), n_ch.tolist(), n_neu.tolist()) == ref
    assert np.any(q != 0)
    assert np.all(n_ch + n_neu == np.diff(jets.constituent_offsets))
    # float charges give the same
    qf = constituent_sums(jets, offsets, charge.astype(np.float32))
    assert qf[0].tolist() == q.tolist()


def test_constituent_sums_clip_and_empty() -> None:
    # one jet of 200 positive particles and one of 150 negative: clipped to int8
    jets = Jets(
        offsets=np.array([0, 2, 2]),
        px=np.ones(2),
        py=np.zeros(2),
        pz=np.zeros(2),
        e=np.ones(2),
        pt=np.ones(2),
        eta=np.zeros(2),
        phi=np.zeros(2),
        mass=np.zeros(2),
        constituent_offsets=np.array([0, 200, 350]),
        constituents=np.arange(350),
    )
    charge = np.concatenate(
        [np.ones(200, dtype=int), -np.ones(150, dtype=int), np.zeros(5, dtype=int)]
    )
    q, n_ch, n_neu = constituent_sums(jets, np.array([0, 355, 355]), charge)
    assert q.tolist() == [127, -128]
    assert n_ch.tolist() == [200, 150]
    assert n_neu.tolist() == [0, 0]
    with pytest.raises(ConfigError, match="constituents"):
        constituent_sums(jets, np.array([0, 300, 355]), charge)

    empty = cluster_jets(
        np.array([0, 0]),
        np.zeros(0),
        np.zeros(0),
        np.zeros(0),
        np.zeros(0),
        JetDefinitionSpec("kt", 0.4, 1.0),
    )
    q, n_ch, n_neu = constituent_sums(empty, np.array([0, 0]), np.zeros(0, dtype=int))
    assert len(q) == len(n_ch) == len(n_neu) == 0
