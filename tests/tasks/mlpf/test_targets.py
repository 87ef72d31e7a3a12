"""The MLPF target definition: hand-made events, a slow reference, simulated events, refusals.

Hand-made events with known answers; random events against a slow pure-Python
reference (the definition written out with loops and dicts) and for energy
conservation; a few events of random particles through the ``FullReco`` view
simulation with its element collections; and the one-line refusals of
inconsistent inputs.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np
import pytest

from l1scout._jagged import offsets_from_counts
from l1scout.detector.particles import INVISIBLE_PIDS, GenParticles
from l1scout.detector.view_card import load_view_card
from l1scout.errors import ConfigError, DataFormatError
from l1scout.io.schema import ELEMENT_COLLECTIONS
from l1scout.reco.view import simulate_view
from l1scout.tasks.mlpf.targets import (
    CLS_CHARGED_HADRON,
    CLS_ELECTRON,
    CLS_MUON,
    CLS_NEUTRAL_HADRON,
    CLS_NONE,
    CLS_PHOTON,
    MLPFTargets,
    mlpf_targets,
    mlpf_targets_from_columns,
)

PI_MASS = 0.13957


# ------------------------------------------------------------------ building events


def _event(
    gen: list[tuple[int, int, float, float, float, float, int]] | None = None,
    tracks: list[int] | None = None,
    n_towers: int = 0,
    contribs: list[tuple[int, int, float]] | None = None,
) -> dict[str, Any]:
    """One event: gen rows (pid, status, pt, eta, phi, mass, is_pu), track GenIndex,
    tower count, contribution rows (tower, gen index, E)."""
    return {
        "gen": gen or [],
        "tracks": tracks or [],
        "n_towers": n_towers,
        "contribs": contribs or [],
    }


def _charge(pid: int) -> int:
    a = abs(pid)
    if a in (11, 13):
        return -1 if pid > 0 else 1
    if a in (211, 321, 2212):
        return 1 if pid > 0 else -1
    return 0


def _inputs(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The keyword arguments of :func:`mlpf_targets` for a batch of events."""
    gen = [row for ev in events for row in ev["gen"]]
    con = [row for ev in events for row in ev["contribs"]]

    def col(rows: list[tuple[Any, ...]], i: int, dtype: Any) -> np.ndarray:
        return np.array([r[i] for r in rows], dtype=dtype)

    return {
        "gen_offsets": offsets_from_counts([len(ev["gen"]) for ev in events]),
        "gen_pid": col(gen, 0, np.int32),
        "gen_status": col(gen, 1, np.int8),
        "gen_charge": np.array([_charge(r[0]) for r in gen], dtype=np.int8),
        "gen_pt": col(gen, 2, np.float64),
        "gen_eta": col(gen, 3, np.float64),
        "gen_phi": col(gen, 4, np.float64),
        "gen_mass": col(gen, 5, np.float64),
        "gen_is_pu": col(gen, 6, np.int8),
        "track_offsets": offsets_from_counts([len(ev["tracks"]) for ev in events]),
        "track_gen_index": np.array([g for ev in events for g in ev["tracks"]], dtype=np.int32),
        "tower_offsets": offsets_from_counts([ev["n_towers"] for ev in events]),
        "contrib_offsets": offsets_from_counts([len(ev["contribs"]) for ev in events]),
        "contrib_tower": col(con, 0, np.int32),
        "contrib_gen_index": col(con, 1, np.int32),
        "contrib_energy": col(con, 2, np.float64),
    }


def _run(*events: dict[str, Any]) -> MLPFTargets:
    return mlpf_targets(**_inputs(list(events)))


def _energy(pt: float, eta: float, mass: float) -> float:
    return math.sqrt((pt * math.cosh(eta)) ** 2 + mass**2)


# ------------------------------------------------------------------ hand-made events


def test_charged_pion_goes_to_its_track_not_its_tower() -> None:
    ev = _event(
        gen=[(211, 1, 10.0, 0.5, 1.0, PI_MASS, 0)],
        tracks=[0],
        n_towers=1,
        contribs=[(0, 0, 8.0)],
    )
    t = _run(ev)
    el = t.elements
    assert el.is_track.tolist() == [True, False]
    assert el.is_particle.tolist() == [1, 0]
    assert el.cls.tolist() == [CLS_CHARGED_HADRON, CLS_NONE]
    assert el.gen_index.tolist() == [0, -1]
    assert el.pt[0] == 10.0
    assert el.eta[0] == 0.5
    assert el.sin_phi[0] == pytest.approx(math.sin(1.0))
    assert el.cos_phi[0] == pytest.approx(math.cos(1.0))
    assert el.energy[0] == pytest.approx(_energy(10.0, 0.5, PI_MASS), rel=1e-12)
    assert (el.pt[1], el.energy[1], el.cos_phi[1]) == (0.0, 0.0, 1.0)
    assert t.gen_element.tolist() == [0]


def test_photon_alone_in_a_tower() -> None:
    ev = _event(gen=[(22, 1, 20.0, -1.2, -2.5, 0.0, 0)], n_towers=3, contribs=[(2, 0, 19.0)])
    el = _run(ev).elements
    assert el.is_particle.tolist() == [0, 0, 1]
    assert el.cls[2] == CLS_PHOTON
    assert (el.pt[2], el.eta[2], el.gen_index[2], el.n_particles[2]) == (20.0, -1.2, 0, 1)
    assert el.energy[2] == pytest.approx(20.0 * math.cosh(1.2), rel=1e-12)
    assert (el.is_pu[2], el.pu_fraction[2]) == (0, 0.0)


def test_two_neutrals_in_one_tower_are_merged_conserving_four_momentum() -> None:
    # a 10 GeV photon and a 4 GeV K0L (more energetic photon: class photon)
    gen = [(22, 1, 10.0, 0.30, 0.20, 0.0, 0), (130, 1, 4.0, 0.35, 0.25, 0.497611, 0)]
    ev = _event(gen=gen, n_towers=1, contribs=[(0, 0, 9.0), (0, 1, 3.0)])
    t = _run(ev)
    el = t.elements
    assert (el.cls[0], el.gen_index[0], el.n_particles[0]) == (CLS_PHOTON, 0, 2)
    e = [_energy(10.0, 0.30, 0.0), _energy(4.0, 0.35, 0.497611)]
    assert el.energy[0] == pytest.approx(sum(e), rel=1e-12)
    px = 10.0 * math.cos(0.20) + 4.0 * math.cos(0.25)
    py = 10.0 * math.sin(0.20) + 4.0 * math.sin(0.25)
    pz = 10.0 * math.sinh(0.30) + 4.0 * math.sinh(0.35)
    assert el.pt[0] == pytest.approx(math.hypot(px, py), rel=1e-12)
    assert el.eta[0] == pytest.approx(math.asinh(pz / math.hypot(px, py)), rel=1e-12)
    assert el.cos_phi[0] == pytest.approx(px / math.hypot(px, py), rel=1e-12)
    assert el.sin_phi[0] == pytest.approx(py / math.hypot(px, py), rel=1e-12)
    assert t.gen_element.tolist() == [0, 0]
    assert t.bookkeeping.target_energy[0] == pytest.approx(sum(e), rel=1e-12)


def test_the_more_energetic_neutral_sets_the_class() -> None:
    gen = [(22, 1, 2.0, 0.0, 0.0, 0.0, 0), (2112, 1, 3.0, 0.0, 0.01, 0.939565, 0)]
    el = _run(_event(gen=gen, n_towers=1, contribs=[(0, 0, 2.0), (0, 1, 1.0)])).elements
    assert (el.cls[0], el.gen_index[0]) == (CLS_NEUTRAL_HADRON, 1)


def test_equal_energies_give_the_lowest_generator_index() -> None:
    gen = [(130, 1, 1.0, 0.0, 0.0, 0.0, 0)] + [(22, 1, 2.0, 0.0, 0.1, 0.0, 0)] * 2
    con = [(0, 2, 2.0), (0, 1, 2.0), (0, 0, 1.0)]
    el = _run(_event(gen=gen, n_towers=1, contribs=con)).elements
    assert (el.gen_index[0], el.cls[0], el.n_particles[0]) == (1, CLS_PHOTON, 3)


def test_particle_without_element_is_lost_and_counted() -> None:
    gen = [(22, 1, 5.0, 0.0, 0.0, 0.0, 0), (130, 1, 7.0, 5.5, 0.0, 0.497611, 0)]
    t = _run(_event(gen=gen, n_towers=1, contribs=[(0, 0, 5.0)]))
    bk = t.bookkeeping
    assert t.gen_element.tolist() == [0, -1]
    assert t.elements.n_particles.tolist() == [1]
    assert (bk.n_visible[0], bk.n_accepted[0], bk.n_lost[0]) == (2, 1, 1)
    e_lost = _energy(7.0, 5.5, 0.497611)
    assert bk.lost_energy[0] == pytest.approx(e_lost, rel=1e-12)
    assert bk.accepted_energy[0] == pytest.approx(5.0, rel=1e-12)
    assert bk.visible_energy[0] == pytest.approx(5.0 + e_lost, rel=1e-12)


def test_pileup_and_hard_photon_in_one_tower() -> None:
    # tower 0: a pileup photon (3 GeV) and a hard photon (9 GeV); tower 1: two pileup photons
    gen = [
        (22, 1, 9.0, 0.0, 0.0, 0.0, 0),
        (22, 1, 3.0, 0.0, 0.02, 0.0, 1),
        (22, 1, 1.0, 1.0, 2.0, 0.0, 1),
        (22, 1, 2.0, 1.0, 2.01, 0.0, 1),
    ]
    con = [(0, 0, 9.0), (0, 1, 3.0), (1, 2, 1.0), (1, 3, 2.0)]
    el = _run(_event(gen=gen, n_towers=2, contribs=con)).elements
    assert el.pu_fraction[0] == pytest.approx(3.0 / 12.0, rel=1e-12)
    assert el.is_pu.tolist() == [0, 1]
    assert el.pu_fraction[1] == 1.0
    assert el.gen_index.tolist() == [0, 3]


def test_pileup_charged_hadron_on_a_track() -> None:
    el = _run(_event(gen=[(-211, 1, 1.5, 0.1, 0.1, PI_MASS, 1)], tracks=[0])).elements
    assert (el.cls[0], el.is_pu[0], el.pu_fraction[0]) == (CLS_CHARGED_HADRON, 1, 1.0)


def test_classes_depend_on_the_element_type() -> None:
    gen = [
        (11, 1, 10.0, 0.0, 0.0, 0.000511, 0),  # electron with a track
        (-13, 1, 10.0, 0.5, 0.0, 0.10566, 0),  # muon with a track
        (11, 1, 8.0, 2.8, 1.0, 0.000511, 0),  # electron beyond the tracker: a photon
        (211, 1, 8.0, 3.5, -1.0, PI_MASS, 0),  # pion beyond the tracker: a neutral hadron
        (13, 1, 8.0, 2.9, 2.0, 0.10566, 0),  # trackless muon in a tower: a neutral hadron
    ]
    con = [(0, 2, 30.0), (1, 3, 50.0), (2, 4, 2.0)]
    el = _run(_event(gen=gen, tracks=[0, 1], n_towers=3, contribs=con)).elements
    assert el.cls.tolist() == [
        CLS_ELECTRON,
        CLS_MUON,
        CLS_PHOTON,
        CLS_NEUTRAL_HADRON,
        CLS_NEUTRAL_HADRON,
    ]


def test_first_track_wins_and_ties_go_to_the_lowest_tower() -> None:
    gen = [(211, 1, 5.0, 0.0, 0.0, PI_MASS, 0), (22, 1, 4.0, 0.0, 0.0, 0.0, 0)]
    con = [(2, 1, 1.5), (1, 1, 1.0), (1, 1, 0.5), (0, 1, 0.0), (0, 0, 4.0)]
    t = _run(_event(gen=gen, tracks=[-1, 0, 0], n_towers=3, contribs=con))
    el = t.elements
    assert el.gen_index.tolist() == [-1, 0, -1, -1, 1, -1]
    # the photon: 1.5 GeV in tower 2, 1.0 + 0.5 in tower 1 (summed), 0 in tower 0 -> tower 1
    assert t.gen_element.tolist() == [1, 4]
    assert el.is_particle.tolist() == [0, 1, 0, 0, 1, 0]


def test_invisible_and_decayed_particles_are_never_targets() -> None:
    gen = [
        (211, 2, 5.0, 0.0, 0.0, PI_MASS, 0),  # decayed (status 2), pointed at by a track
        (12, 1, 5.0, 0.0, 0.0, 0.0, 0),  # a neutrino with a (bogus) deposit
        (4900101, 1, 5.0, 0.0, 0.0, 1.0, 0),  # dark-sector state
    ]
    con = [(0, 1, 5.0), (0, 2, 5.0)]
    t = _run(_event(gen=gen, tracks=[0], n_towers=1, contribs=con))
    assert t.elements.is_particle.tolist() == [0, 0]
    assert t.gen_element.tolist() == [-1, -1, -1]
    assert t.bookkeeping.n_visible.tolist() == [0]


def test_empty_events_and_a_batch_equal_the_events_one_by_one() -> None:
    empty = _event()
    a = _event(gen=[(211, 1, 10.0, 0.5, 1.0, PI_MASS, 0)], tracks=[0], n_towers=1)
    b = _event(
        gen=[(22, 1, 3.0, 0.0, 0.0, 0.0, 1), (130, 1, 2.0, 0.0, 0.0, 0.5, 0)],
        tracks=[-1],
        n_towers=2,
        contribs=[(1, 0, 3.0), (1, 1, 1.0)],
    )
    only_towers = _event(n_towers=2)
    events = [empty, a, empty, b, only_towers]
    batch = _run(*events)
    assert batch.elements.offsets.tolist() == [0, 0, 2, 2, 5, 7]
    assert batch.bookkeeping.n_visible.tolist() == [0, 1, 0, 2, 0]
    single = [_run(ev) for ev in events]
    for name in ("cls", "gen_index", "pt", "eta", "energy", "pu_fraction", "is_pu"):
        joined = np.concatenate([getattr(s.elements, name) for s in single])
        np.testing.assert_array_equal(getattr(batch.elements, name), joined, err_msg=name)
    np.testing.assert_array_equal(
        batch.gen_element, np.concatenate([s.gen_element for s in single])
    )
    assert _run(empty).elements.offsets.tolist() == [0, 0]
    assert _run(empty).bookkeeping.visible_energy.tolist() == [0.0]


def test_visible_rule_is_the_detector_simulations() -> None:
    pids = np.array([211, 22, 12, -14, 16, 1000022, 4900101, 13, 130, 2212, 18, 9900012])
    status = np.array([1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1])
    n = len(pids)
    cols = {
        f"Gen_Part_{k}": (np.array([0, n]), v)
        for k, v in {
            "PID": pids,
            "Status": status,
            "PT": np.ones(n),
            "Eta": np.zeros(n),
            "Phi": np.zeros(n),
            "Mass": np.zeros(n),
            "Charge": np.zeros(n),
            "IsPU": np.zeros(n),
            "X": np.zeros(n),
            "Y": np.zeros(n),
            "Z": np.zeros(n),
            "T": np.zeros(n),
        }.items()
    }
    expected = GenParticles.from_columns(cols).visible
    # every particle deposits in its own tower: targets exist exactly for the visible ones
    t = mlpf_targets(
        gen_offsets=[0, n],
        gen_pid=pids,
        gen_status=status,
        gen_charge=np.zeros(n),
        gen_pt=np.ones(n),
        gen_eta=np.zeros(n),
        gen_phi=np.zeros(n),
        gen_mass=np.zeros(n),
        gen_is_pu=np.zeros(n, dtype=np.int8),
        track_offsets=[0, 0],
        track_gen_index=[],
        tower_offsets=[0, n],
        contrib_offsets=[0, n],
        contrib_tower=np.arange(n),
        contrib_gen_index=np.arange(n),
        contrib_energy=np.ones(n),
    )
    np.testing.assert_array_equal(t.elements.is_particle.astype(bool), expected)


# ------------------------------------------------------------------ the slow reference

_OWN_ON_TRACK = {1: 1, 2: 1, 3: 1, 4: 4, 5: 5}
_OWN_ON_TOWER = {1: 2, 2: 2, 3: 3, 4: 3, 5: 2}


def _own_class(pid: int, charge: float) -> int:
    a = abs(pid)
    if a == 11:
        return 4
    if a == 13:
        return 5
    if a == 22:
        return 3
    return 1 if charge != 0 else 2


def _reference(inp: dict[str, Any]) -> dict[str, list[Any]]:
    """Event by event, particle by particle, with dicts: the definition as written."""
    off_g, off_t = list(inp["gen_offsets"]), list(inp["track_offsets"])
    off_w, off_c = list(inp["tower_offsets"]), list(inp["contrib_offsets"])
    out: dict[str, list[Any]] = defaultdict(list)
    for k in range(len(off_g) - 1):
        gen = range(off_g[k], off_g[k + 1])
        g0 = off_g[k]
        pid = [int(inp["gen_pid"][i]) for i in gen]
        pt = [float(inp["gen_pt"][i]) for i in gen]
        eta = [float(inp["gen_eta"][i]) for i in gen]
        phi = [float(inp["gen_phi"][i]) for i in gen]
        m = [float(inp["gen_mass"][i]) for i in gen]
        pu = [int(inp["gen_is_pu"][i]) for i in gen]
        q = [float(inp["gen_charge"][i]) for i in gen]
        vis = [
            int(inp["gen_status"][i]) == 1
            and abs(pid[i - g0]) not in INVISIBLE_PIDS
            and not 4_900_000 <= abs(pid[i - g0]) < 5_000_000
            for i in gen
        ]
        mom = []
        for j in range(len(pid)):
            pz = pt[j] * math.sinh(eta[j]) if abs(eta[j]) < 100 else 0.0
            px, py = pt[j] * math.cos(phi[j]), pt[j] * math.sin(phi[j])
            mom.append((px, py, pz, math.sqrt(px * px + py * py + pz * pz + m[j] ** 2)))
        tracks = [int(inp["track_gen_index"][i]) for i in range(off_t[k], off_t[k + 1])]
        n_trk, n_tow = len(tracks), off_w[k + 1] - off_w[k]
        assign: dict[int, int] = {}
        for i, g in enumerate(tracks):
            if g >= 0 and vis[g] and g not in assign:
                assign[g] = i
        deposits: dict[tuple[int, int], float] = defaultdict(float)
        for r in range(off_c[k], off_c[k + 1]):
            g, tw = int(inp["contrib_gen_index"][r]), int(inp["contrib_tower"][r])
            e = float(inp["contrib_energy"][r])
            if e > 0 and vis[g] and g not in assign:
                deposits[(g, tw)] += e
        best: dict[int, tuple[int, float]] = {}
        for (g, tw), e in deposits.items():
            if g not in best or e > best[g][1] or (e == best[g][1] and tw < best[g][0]):
                best[g] = (tw, e)
        for g, (tw, _) in best.items():
            assign[g] = n_trk + tw
        for j in range(n_trk + n_tow):
            ps = sorted(g for g, el in assign.items() if el == j)
            if not ps:
                out["row"].append((0, 0, 0.0, 0.0, 0.0, 1.0, 0.0, 0, 0.0, -1, 0))
                continue
            main = max(ps, key=lambda g: (mom[g][3], -g))
            own = _own_class(pid[main], q[main])
            cls = _OWN_ON_TRACK[own] if j < n_trk else _OWN_ON_TOWER[own]
            energy = sum(mom[g][3] for g in ps)
            if len(ps) == 1:
                t_pt, t_eta, t_phi = pt[main], eta[main], phi[main]
            else:
                px, py, pz = (sum(mom[g][c] for g in ps) for c in range(3))
                t_pt, t_phi = math.hypot(px, py), math.atan2(py, px)
                t_eta = math.asinh(pz / t_pt) if t_pt > 0 else math.copysign(999.9, pz)
            frac = sum(mom[g][3] * pu[g] for g in ps) / energy
            label = int(all(pu[g] == 1 for g in ps))
            row = (1, cls, t_pt, t_eta, math.sin(t_phi), math.cos(t_phi), energy, label, frac)
            out["row"].append((*row, main, len(ps)))
        out["gen_element"] += [assign.get(g, -1) for g in range(len(pid))]
        out["lost"].append(sum(mom[g][3] for g in range(len(pid)) if vis[g] and g not in assign))
        out["accepted"].append(sum(mom[g][3] for g in assign))
    return out


_FIELDS = (
    "is_particle",
    "cls",
    "pt",
    "eta",
    "sin_phi",
    "cos_phi",
    "energy",
    "is_pu",
    "pu_fraction",
    "gen_index",
    "n_particles",
)


def _random_batch(rng: np.random.Generator, n_events: int) -> dict[str, Any]:
    pids = [211, -211, 321, 22, 22, 130, 2112, 11, -13, 12, 2212]
    events = []
    for _ in range(n_events):
        n_gen = int(rng.integers(0, 25))
        gen = [
            (
                int(rng.choice(pids)),
                int(rng.choice([1, 1, 1, 2])),
                float(rng.exponential(3.0)),
                float(rng.uniform(-4.0, 4.0)),
                float(rng.uniform(-math.pi, math.pi)),
                float(rng.choice([0.0, PI_MASS, 0.5])),
                int(rng.integers(0, 2)),
            )
            for _ in range(n_gen)
        ]
        n_trk = int(rng.integers(0, 8)) if n_gen else 0
        tracks = [int(rng.integers(-1, n_gen)) for _ in range(n_trk)]
        n_tow = int(rng.integers(0, 10))
        n_con = int(rng.integers(0, 40)) if n_gen and n_tow else 0
        # energies on a 0.5 GeV grid: exact sums, so ties between towers really happen
        con = [
            (
                int(rng.integers(0, n_tow)),
                int(rng.integers(0, n_gen)),
                0.5 * float(rng.integers(0, 6)),
            )
            for _ in range(n_con)
        ]
        events.append(_event(gen=gen, tracks=tracks, n_towers=n_tow, contribs=con))
    return _inputs(events)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_agrees_with_the_slow_reference_on_random_events(seed: int) -> None:
    inp = _random_batch(np.random.default_rng(seed), 12)
    got = mlpf_targets(**inp)
    ref = _reference(inp)
    rows = np.array(ref["row"], dtype=np.float64).reshape(-1, len(_FIELDS))
    assert len(rows) == len(got.elements.cls)
    for i, name in enumerate(_FIELDS):
        np.testing.assert_allclose(
            getattr(got.elements, name), rows[:, i], rtol=1e-12, atol=1e-12, err_msg=name
        )
    np.testing.assert_array_equal(got.gen_element, ref["gen_element"])
    np.testing.assert_allclose(got.bookkeeping.lost_energy, ref["lost"], rtol=1e-12)
    np.testing.assert_allclose(got.bookkeeping.accepted_energy, ref["accepted"], rtol=1e-12)
    assert got.elements.n_particles.max() > 1  # merged towers were exercised


@pytest.mark.parametrize("seed", [5, 6])
def test_energy_is_conserved_per_event(seed: int) -> None:
    inp = _random_batch(np.random.default_rng(seed), 30)
    t = mlpf_targets(**inp)
    bk = t.bookkeeping
    # independent sums: the energy of every visible particle that has an element
    pt, eta, m = inp["gen_pt"], inp["gen_eta"], inp["gen_mass"]
    energy = np.sqrt((pt * np.cosh(eta)) ** 2 + m**2)
    event = np.repeat(np.arange(30), np.diff(inp["gen_offsets"]))
    reached = np.bincount(event[t.gen_element >= 0], energy[t.gen_element >= 0], minlength=30)
    np.testing.assert_allclose(bk.target_energy, reached, rtol=1e-12)
    np.testing.assert_allclose(bk.accepted_energy, reached, rtol=1e-12)
    np.testing.assert_allclose(bk.accepted_energy + bk.lost_energy, bk.visible_energy, rtol=1e-12)
    np.testing.assert_array_equal(bk.n_accepted + bk.n_lost, bk.n_visible)
    assert bk.n_lost.sum() > 0


# ------------------------------------------------------------------ the column adapter


def _columns(inp: dict[str, Any], view: str = "FullReco") -> dict[str, Any]:
    g, t, w, c = (
        inp["gen_offsets"],
        inp["track_offsets"],
        inp["tower_offsets"],
        inp["contrib_offsets"],
    )
    cols = {
        f"Gen_Part_{f}": (g, inp[f"gen_{k}"])
        for f, k in [
            ("PID", "pid"),
            ("Status", "status"),
            ("Charge", "charge"),
            ("PT", "pt"),
            ("Eta", "eta"),
            ("Phi", "phi"),
            ("Mass", "mass"),
            ("IsPU", "is_pu"),
        ]
    }
    cols[f"{view}_Track_GenIndex"] = (t, inp["track_gen_index"])
    cols[f"{view}_Tower_E"] = (w, np.zeros(int(w[-1])))
    cols[f"{view}_TowerContrib_Tower"] = (c, inp["contrib_tower"])
    cols[f"{view}_TowerContrib_GenIndex"] = (c, inp["contrib_gen_index"])
    cols[f"{view}_TowerContrib_E"] = (c, inp["contrib_energy"])
    return cols


def test_from_columns_equals_the_array_function() -> None:
    inp = _random_batch(np.random.default_rng(7), 5)
    a, b = mlpf_targets(**inp), mlpf_targets_from_columns(_columns(inp), "FullReco")
    np.testing.assert_array_equal(a.elements.energy, b.elements.energy)
    np.testing.assert_array_equal(a.gen_element, b.gen_element)


def test_from_columns_names_the_missing_columns() -> None:
    cols = _columns(_random_batch(np.random.default_rng(8), 2))
    del cols["FullReco_TowerContrib_E"]
    with pytest.raises(
        DataFormatError, match="missing for the MLPF targets: FullReco_TowerContrib_E"
    ):
        mlpf_targets_from_columns(cols, "FullReco")
    cols = _columns(_random_batch(np.random.default_rng(8), 2))
    off, val = cols["Gen_Part_Eta"]
    cols["Gen_Part_Eta"] = (np.zeros_like(off), val)
    with pytest.raises(
        DataFormatError, match="Gen_Part_Eta: expected the same offsets as Gen_Part_PID"
    ):
        mlpf_targets_from_columns(cols, "FullReco")


# ------------------------------------------------------------------ refusals


def _base() -> dict[str, Any]:
    gen = [(211, 1, 5.0, 0.0, 0.0, PI_MASS, 0), (22, 1, 3.0, 0.1, 0.1, 0.0, 0)]
    return _inputs(
        [
            _event(gen=gen, tracks=[0], n_towers=2, contribs=[(0, 0, 2.0), (1, 1, 3.0)]),
            _event(gen=gen[:1], tracks=[0], n_towers=1, contribs=[(0, 0, 1.0)]),
        ]
    )


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"track_offsets": [0, 1]}, DataFormatError, "track_offsets: expected offsets of 2 events"),
        ({"tower_offsets": [0, 2, 1]}, ConfigError, "tower_offsets: expected non-decreasing"),
        ({"gen_pt": [5.0, 3.0]}, DataFormatError, "gen_pt: expected 3 values"),
        ({"track_gen_index": [0, 1]}, DataFormatError, "track_gen_index: 1 indices out of range"),
        ({"track_gen_index": [-2, 0]}, DataFormatError, "track_gen_index: 1 indices out of range"),
        ({"contrib_gen_index": [0, 2, 0]}, DataFormatError, "contrib_gen_index: 1 indices"),
        ({"contrib_tower": [0, 1, 1]}, DataFormatError, "contrib_tower: 1 indices out of range"),
        ({"contrib_energy": [2.0, -3.0, 1.0]}, DataFormatError, "contrib_energy: 1 negative"),
        ({"gen_pt": [5.0, -3.0, 5.0]}, DataFormatError, "gen_pt: 1 negative"),
        ({"gen_eta": [0.0, np.nan, 0.0]}, DataFormatError, "gen_eta: 1 NaN or infinite"),
        ({"contrib_energy": [2.0, np.inf, 1.0]}, DataFormatError, "contrib_energy: 1 NaN"),
        ({"gen_is_pu": [0, 2, 0]}, DataFormatError, "gen_is_pu: expected 0 or 1"),
    ],
)
def test_inconsistent_inputs_are_refused_in_one_line(
    change: dict[str, Any], error: type[Exception], message: str
) -> None:
    inp = _base() | change
    with pytest.raises(error, match=message) as info:
        mlpf_targets(**inp)
    assert "\n" not in str(info.value)


# ------------------------------------------------------------------ through the detector simulation


def test_targets_of_simulated_events_conserve_energy_and_follow_the_tracks() -> None:
    rng = np.random.default_rng(11)
    n_events, n_per = 3, 150
    pids = np.array([211, -211, 22, 22, 130, 2112, 11, 13, 12])
    mass = {
        211: PI_MASS,
        22: 0.0,
        130: 0.497611,
        2112: 0.939565,
        11: 0.000511,
        13: 0.10566,
        12: 0.0,
    }
    n = n_events * n_per
    pid = rng.choice(pids, n).astype(np.int32)
    gen = GenParticles(
        offsets=np.arange(n_events + 1, dtype=np.int64) * n_per,
        pid=pid,
        status=np.ones(n, np.int8),
        pt=rng.exponential(5.0, n) + 0.5,
        eta=rng.uniform(-6.0, 6.0, n),  # beyond |eta| 5: lost
        phi=rng.uniform(-np.pi, np.pi, n),
        mass=np.array([mass[abs(int(p))] for p in pid]),
        charge=np.array([_charge(int(p)) for p in pid], np.int8),
        is_pu=rng.integers(0, 2, n).astype(np.int8),
        x=np.zeros(n),
        y=np.zeros(n),
        z=np.zeros(n),
        t=np.zeros(n),
        vertex_index=np.zeros(n, np.int32),
    )
    card = load_view_card("FullReco")
    cols: dict[str, Any] = dict(
        simulate_view(
            gen,
            card,
            np.zeros(n_events),
            np.ones(n_events, np.int64),
            np.random.default_rng(1),
            elements=ELEMENT_COLLECTIONS,
        )
    )
    for field, values in {
        "PID": gen.pid,
        "Status": gen.status,
        "Charge": gen.charge,
        "PT": gen.pt,
        "Eta": gen.eta,
        "Phi": gen.phi,
        "Mass": gen.mass,
        "IsPU": gen.is_pu,
    }.items():
        cols[f"Gen_Part_{field}"] = (gen.offsets, values)
    t = mlpf_targets_from_columns(cols, "FullReco")
    bk = t.bookkeeping
    np.testing.assert_allclose(bk.target_energy, bk.accepted_energy, rtol=1e-12)
    np.testing.assert_allclose(bk.accepted_energy + bk.lost_energy, bk.visible_energy, rtol=1e-12)
    np.testing.assert_allclose(
        bk.visible_energy,
        np.bincount(gen.event[gen.visible], gen.energy[gen.visible], minlength=n_events),
        rtol=1e-12,
    )
    assert (bk.n_lost > 0).all()
    assert (bk.n_accepted > 0).all()
    # every track of a visible particle carries that particle; towers carry only neutral classes
    el = t.elements
    trk_off, trk_gi = cols["FullReco_Track_GenIndex"]
    ev_el = np.repeat(np.arange(n_events), np.diff(el.offsets))
    local = np.arange(len(el.cls)) - el.offsets[ev_el]
    n_trk = np.diff(trk_off)
    track_el = local < n_trk[ev_el]
    assert (el.is_track == track_el).all()
    np.testing.assert_array_equal(el.gen_index[el.is_track], trk_gi)  # one track per particle here
    assert set(el.cls[el.is_track].tolist()) <= {CLS_CHARGED_HADRON, CLS_ELECTRON, CLS_MUON}
    assert set(el.cls[~el.is_track].tolist()) <= {CLS_NONE, CLS_NEUTRAL_HADRON, CLS_PHOTON}
    # neutrinos never; a lost particle has no element
    assert (t.gen_element[np.abs(gen.pid) == 12] == -1).all()
    assert (t.gen_element[np.abs(gen.eta) > 5.5] == -1).all()
