"""Jet labels from the generator record: hand-made events with known answers, and a slow reference."""

from __future__ import annotations

import math

import awkward as ak
import numpy as np
import pytest

from l1scout._jagged import Jagged
from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.jettag.labels import (
    GEN_FIELDS,
    JET_CLASSES,
    jet_truth,
    jet_truth_from_chunk,
    label_columns,
)

# a generator particle: (PID, Status, PT, Eta, Phi, M1, IsPU)
Particle = tuple[int, int, float, float, float, int, int]
# a jet: (PT, Eta, Phi)
Jet = tuple[float, float, float]


def _jagged(events: list[list[float]], dtype: type = np.float64) -> Jagged:
    counts = [len(e) for e in events]
    off = np.zeros(len(events) + 1, dtype=np.int64)
    np.cumsum(counts, out=off[1:])
    flat = [v for e in events for v in e]
    return off, np.asarray(flat, dtype=dtype)


def _gen(events: list[list[Particle]]) -> dict[str, Jagged]:
    cols = {"PID": 0, "Status": 1, "PT": 2, "Eta": 3, "Phi": 4, "M1": 5, "IsPU": 6}
    ints = ("PID", "Status", "M1", "IsPU")
    out = {
        name: _jagged(
            [[p[i] for p in ev] for ev in events], np.int64 if name in ints else np.float64
        )
        for name, i in cols.items()
    }
    for name in ("M2", "D1", "D2"):
        out[name] = _jagged([[-1] * len(ev) for ev in events], np.int64)
    return out


def _jets(events: list[list[Jet]]) -> dict[str, Jagged]:
    return {
        name: _jagged([[j[i] for j in ev] for ev in events])
        for i, name in enumerate(("PT", "Eta", "Phi"))
    }


def _names(labels: np.ndarray) -> list[str | None]:
    return [JET_CLASSES[k] if k >= 0 else None for k in labels]


def _label_one(jets: list[Jet], particles: list[Particle]) -> list[str | None]:
    truth = jet_truth(_jets([jets]), _gen([particles]), _jets([[]]))
    return _names(truth.label)


def test_prompt_lepton_from_w_through_its_copies() -> None:
    # W -> e (hard-process entry) -> a shower copy (status 51) -> the final e
    particles: list[Particle] = [
        (24, 22, 80.0, 0.0, 0.0, -1, 0),
        (11, 23, 40.0, 0.5, 1.0, 0, 0),
        (11, 51, 39.0, 0.5, 1.0, 1, 0),
        (11, 1, 38.0, 0.5, 1.0, 2, 0),
    ]
    assert _label_one([(45.0, 0.5, 1.05)], particles) == ["e"]


def test_muon_from_a_z_without_hard_status_on_its_chain_is_prompt() -> None:
    particles: list[Particle] = [(23, 22, 50.0, 0.0, 0.0, -1, 0), (-13, 1, 30.0, -1.0, 2.0, 0, 0)]
    assert _label_one([(35.0, -1.0, 2.0)], particles) == ["mu"]


def test_lepton_from_a_b_hadron_is_not_prompt_the_jet_is_b() -> None:
    particles: list[Particle] = [
        (521, 2, 40.0, 0.0, 0.0, -1, 0),
        (13, 1, 15.0, 0.05, 0.0, 0, 0),
        (-413, 2, 10.0, 0.1, 0.0, 0, 0),  # a c hadron too: b wins
    ]
    assert _label_one([(50.0, 0.0, 0.02)], particles) == ["b"]


def test_lepton_without_kept_ancestor_is_not_prompt() -> None:
    # a Dalitz electron (its pi0 is not kept: no ancestor) in a gluon jet
    particles: list[Particle] = [(21, 23, 60.0, 1.0, -1.0, -1, 0), (11, 1, 2.0, 1.0, -1.0, -1, 0)]
    assert _label_one([(55.0, 1.0, -1.0)], particles) == ["g"]


def test_prompt_lepton_beats_b_hadron() -> None:
    particles: list[Particle] = [
        (-24, 22, 80.0, 0.0, 0.0, -1, 0),
        (13, 1, 30.0, 0.2, 0.2, 0, 0),
        (511, 2, 40.0, 0.0, 0.0, -1, 0),
    ]
    assert _label_one([(70.0, 0.1, 0.1)], particles) == ["mu"]


def _hadronic_tau(pid: int, phi_nu: float) -> list[Particle]:
    """A Z -> tau decaying to a charged pion, a pi0 (with its photons) and a neutrino."""
    sign = -1 if pid > 0 else 1  # the pion has the tau's charge
    return [
        (23, 22, 10.0, 0.0, 0.0, -1, 0),
        (pid, 2, 55.0, 0.0, 0.5, 0, 0),
        (211 * sign, 1, 20.0, 0.0, 0.0, 1, 0),
        (111, 2, 10.0, 0.1, 0.05, 1, 0),
        (-16 * np.sign(pid), 1, 30.0, 0.0, phi_nu, 1, 0),
        (22, 1, 5.0, 0.1, 0.05, 3, 0),
        (22, 1, 5.0, 0.1, 0.05, 3, 0),
    ]


def test_hadronic_tau_labels_by_visible_direction_and_charge() -> None:
    # the tau's own direction (phi 0.5) is outside the cone; its visible one (phi ~0.02) inside
    assert _label_one([(28.0, 0.0, 0.0)], _hadronic_tau(15, 1.0)) == ["tau-"]
    assert _label_one([(28.0, 0.0, 0.0)], _hadronic_tau(-15, 1.0)) == ["tau+"]
    # a jet at the tau's full direction but away from the visible one: nothing
    assert _label_one([(28.0, 0.0, 0.9)], _hadronic_tau(15, 1.0)) == [None]


def test_leptonic_tau_labels_through_its_lepton() -> None:
    particles: list[Particle] = [
        (24, 22, 80.0, 0.0, 0.0, -1, 0),
        (-15, 2, 40.0, 0.0, 1.0, 0, 0),
        (-11, 1, 25.0, 0.0, 1.0, 1, 0),
        (12, 1, 8.0, 0.0, 1.0, 1, 0),
        (-16, 1, 7.0, 0.0, 1.0, 1, 0),
    ]
    assert _label_one([(30.0, 0.0, 1.0)], particles) == ["e"]


def test_tau_from_a_hadron_decay_labels_nothing_the_hadron_does() -> None:
    particles: list[Particle] = [
        (431, 2, 30.0, 0.0, 0.0, -1, 0),  # D_s -> tau nu
        (15, 2, 25.0, 0.0, 0.0, 0, 0),
        (-211, 1, 20.0, 0.0, 0.0, 1, 0),
        (16, 1, 5.0, 0.0, 0.0, 1, 0),
        (11, 1, 3.0, 0.0, 0.0, 0, 0),  # not prompt either (its first other ancestor: a hadron)
    ]
    assert _label_one([(25.0, 0.0, 0.0)], particles) == ["c"]


def test_hard_partons_highest_pt_decides() -> None:
    particles: list[Particle] = [
        (2, 23, 50.0, 0.0, 0.0, -1, 0),
        (21, 23, 30.0, 0.1, 0.0, -1, 0),
        (3, 23, 30.0, 2.0, 2.0, -1, 0),
        (21, 23, 40.0, 2.1, 2.0, -1, 0),
        (5, 23, 40.0, -2.0, -2.0, -1, 0),  # a hard b whose hadron left the cone
        (21, 21, 0.0, -1.0, 1.0, -1, 0),  # incoming parton: never a label
        (6, 22, 100.0, 1.0, 1.0, -1, 0),  # top: never a label
    ]
    jets = [
        (60.0, 0.0, 0.0),
        (60.0, 2.0, 2.0),
        (40.0, -2.0, -2.0),
        (5.0, -1.0, 1.0),
        (90.0, 1.0, 1.0),
    ]
    assert _label_one(jets, particles) == ["uds", "g", "b", None, None]


def test_pileup_particles_never_label() -> None:
    particles: list[Particle] = [(511, 2, 40.0, 0.0, 0.0, -1, 1), (21, 23, 40.0, 0.0, 0.0, -1, 1)]
    assert _label_one([(40.0, 0.0, 0.0)], particles) == [None]


def test_cone_is_exclusive_and_wraps_phi() -> None:
    particles: list[Particle] = [(21, 23, 40.0, 0.0, 3.1, -1, 0), (1, 23, 40.0, 0.0, 1.0, -1, 0)]
    jets = [(40.0, 0.0, -3.1), (40.0, 0.0, 1.5)]  # dR = 0.083 across pi; dR = 0.5
    assert _label_one(jets, particles) == ["g", None]
    assert _names(jet_truth(_jets([jets]), _gen([particles]), _jets([[]]), dr=0.6).label) == [
        "g",
        "uds",
    ]


def test_events_do_not_mix_and_gen_jets_match_one_to_one() -> None:
    ev0: list[Particle] = [(5, 23, 40.0, 0.0, 0.0, -1, 0)]
    ev1: list[Particle] = [(4, 23, 40.0, 1.0, 1.0, -1, 0)]
    jets = _jets([[(40.0, 0.0, 0.0), (35.0, 0.1, 0.0)], [], [(40.0, 0.0, 0.0), (30.0, 1.0, 1.0)]])
    gen_jets = _jets([[(41.0, 0.12, 0.0)], [(10.0, 0.0, 0.0)], [(33.0, 0.0, 0.5)]])
    truth = jet_truth(jets, _gen([ev0, [], ev1]), gen_jets)
    assert _names(truth.label) == ["b", "b", None, "c"]
    # the gen jet goes to the closer jet (dR 0.02 vs 0.12); dR 0.5 is outside the cone
    np.testing.assert_array_equal(
        truth.gen_pt, np.array([np.nan, 41.0, np.nan, np.nan], np.float32)
    )
    assert truth.label.dtype == np.int64
    assert truth.gen_pt.dtype == np.float32


def _random_event(rng: np.random.Generator) -> tuple[list[Jet], list[Particle]]:
    """Jets and labelling particles of known kinds at random directions (no taus)."""
    particles: list[Particle] = [(24, 22, 80.0, 0.0, 0.0, -1, 0)]
    kinds = [
        (11, 1, 0),
        (-13, 1, 0),
        (521, 2, -1),
        (421, 2, -1),
        (21, 23, -1),
        (2, 23, -1),
        (5, 23, -1),
    ]
    jets = [(float(rng.uniform(20, 80)), rng.uniform(-1, 1), rng.uniform(-math.pi, math.pi))
            for _ in range(rng.integers(0, 6))]  # fmt: skip
    for _ in range(rng.integers(0, 16)):
        pid, status, m1 = kinds[rng.integers(len(kinds))]
        pu = int(rng.random() < 0.2)
        pt = float(rng.choice([10.0, 20.0, 30.0]))  # ties between partons of one jet
        # mostly near a jet (several kinds share a cone), else anywhere
        eta, phi = rng.uniform(-1, 1), rng.uniform(-math.pi, math.pi)
        if jets and rng.random() < 0.8:
            near = jets[rng.integers(len(jets))]
            eta, phi = near[1] + rng.normal(0, 0.3), near[2] + rng.normal(0, 0.3)
        particles.append((pid, status, pt, eta, phi, m1, pu))
    return jets, particles


def _reference_label(jet: Jet, particles: list[Particle], dr: float) -> int:
    """Slow per-jet labelling by the documented priority (leptons here are all from the W)."""
    best: tuple[int, float, int] | None = None  # (priority, -pt, order)
    label = -1
    for order, (pid, status, pt, eta, phi, _m1, pu) in enumerate(particles):
        dphi = (phi - jet[2] + math.pi) % (2 * math.pi) - math.pi
        if pu or math.hypot(eta - jet[1], dphi) >= dr:
            continue
        a = abs(pid)
        if status == 1 and a in (11, 13):
            prio, lab = 0, JET_CLASSES.index("e" if a == 11 else "mu")
        elif a == 521:
            prio, lab = 2, JET_CLASSES.index("b")
        elif a == 421:
            prio, lab = 3, JET_CLASSES.index("c")
        elif status == 23 and a in (1, 2, 3, 4, 5, 21):
            prio = 4
            lab = JET_CLASSES.index({21: "g", 5: "b", 4: "c"}.get(a, "uds"))
        else:
            continue
        key = (prio, -pt, order)
        if best is None or key < best:
            best, label = key, lab
    return label


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_a_slow_per_jet_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    events = [_random_event(rng) for _ in range(40)]
    jets = [e[0] for e in events]
    gen = [e[1] for e in events]
    truth = jet_truth(_jets(jets), _gen(gen), _jets([[] for _ in events]), dr=0.5)
    expected = [_reference_label(j, g, 0.5) for js, g in zip(jets, gen, strict=True) for j in js]
    assert truth.label.tolist() == expected
    assert len(expected) > 50
    assert len(set(expected)) >= 6


def _chunk(events: list[list[Particle]], jets: list[list[Jet]], hs: bool) -> dict[str, ak.Array]:
    """A chunk of columns; with *hs* also the hard collision's cut ``Gen_PartHS`` (links re-pointed)."""
    cols: dict[str, ak.Array] = {}
    for i, name in enumerate(("PT", "Eta", "Phi")):
        cols[f"L1T_JetPuppiAK4_{name}"] = ak.Array([[j[i] for j in ev] for ev in jets])
        cols[f"Gen_JetAK4_{name}"] = ak.Array([[j[i] for j in ev] for ev in jets])
    gen = _gen(events)
    for name, (off, flat) in gen.items():
        cols[f"Gen_Part_{name}"] = ak.unflatten(flat, np.diff(off))
    if hs:
        hs_events = []
        index = []
        for ev in events:
            keep = [i for i, p in enumerate(ev) if not p[6]]
            new = {old: k for k, old in enumerate(keep)}
            hs_events.append([(*ev[i][:5], new.get(ev[i][5], -1), 0) for i in keep])
            index.append(keep)
        for name, (off, flat) in _gen(hs_events).items():
            cols[f"Gen_PartHS_{name}"] = ak.unflatten(flat, np.diff(off))
        cols["Gen_PartHS_Index"] = ak.Array(index)
    return cols


def test_from_chunk_reads_gen_part_or_its_hard_collision_cut_alike() -> None:
    pileup: list[Particle] = [(211, 1, 3.0, 0.0, 0.0, -1, 1), (22, 1, 2.0, 2.0, 2.0, -1, 1)]
    events = [
        [*_hadronic_tau(-15, 1.0), pileup[0], pileup[1]],
        [pileup[1], (-24, 22, 80.0, 0.0, 0.0, -1, 0), pileup[0], (13, 1, 30.0, 2.0, 2.0, 1, 0)],
    ]
    jets = [[(28.0, 0.0, 0.0), (10.0, 2.0, 2.0)], [(30.0, 2.0, 2.0)]]
    full = jet_truth_from_chunk(_chunk(events, jets, hs=False))
    cut = jet_truth_from_chunk(_chunk(events, jets, hs=True))
    assert _names(full.label) == ["tau+", None, "mu"]
    np.testing.assert_array_equal(full.label, cut.label)
    np.testing.assert_array_equal(full.gen_pt, np.array([28.0, 10.0, 30.0], np.float32))
    chunk = ak.Array(_chunk(events, jets, hs=True))
    assert set(label_columns(available=chunk.fields)) <= set(chunk.fields)
    assert "Gen_PartHS_PID" in label_columns(available=chunk.fields)


def test_bad_inputs_are_refused_by_name() -> None:
    jets = _jets([[(40.0, 0.0, 0.0)]])
    gen = _gen([[(21, 23, 40.0, 0.0, 0.0, -1, 0)]])
    with pytest.raises(DataFormatError, match=r"generator record: missing field.*IsPU"):
        jet_truth(jets, {k: v for k, v in gen.items() if k != "IsPU"}, _jets([[]]))
    with pytest.raises(DataFormatError, match="generator jets: expected 1 events"):
        jet_truth(jets, gen, _jets([[], []]))
    with pytest.raises(ConfigError, match="max_dr"):
        jet_truth(jets, gen, _jets([[]]), dr=0.0)
    bad = dict(gen)
    bad["M1"] = (gen["M1"][0], np.array([3]))
    with pytest.raises(DataFormatError, match="M1"):
        jet_truth(jets, bad, _jets([[]]))
    assert set(GEN_FIELDS) == {"PID", "Status", "PT", "Eta", "Phi", "M1", "M2", "D1", "D2", "IsPU"}


def test_prompt_lepton_beats_hadronic_tau_which_beats_b() -> None:
    tau = _hadronic_tau(15, 1.0)
    w_mu: list[Particle] = [(24, 22, 80.0, 0.0, 0.0, -1, 0), (13, 1, 5.0, 0.0, 0.1, len(tau), 0)]
    b_had: list[Particle] = [(511, 2, 60.0, 0.0, 0.0, -1, 0)]
    assert _label_one([(28.0, 0.0, 0.0)], [*tau, *w_mu, *b_had]) == ["mu"]
    assert _label_one([(28.0, 0.0, 0.0)], [*tau, *b_had]) == ["tau-"]
