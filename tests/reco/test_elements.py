"""Detector elements with their truth (``<View>_Track``, ``_Tower``, ``_TowerContrib``).

Hand-made events with known answers run through the whole view simulation; a
batch of random particles is compared with a slow reference built from the
true deposits by loops over dictionaries, and checked for energy conservation;
a written file is read back to follow ``GenIndex`` into ``Gen_Part``, and its
other columns must equal those of the same job without the elements.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from l1scout.detector.calorimeter import TowerGrid, energy_fractions, particle_deposits
from l1scout.detector.particles import GenParticles
from l1scout.detector.propagation import propagate_to_surface
from l1scout.detector.view_card import ViewCard, load_view_card
from l1scout.errors import ConfigError
from l1scout.io.schema import ELEMENT_COLLECTIONS, element_columns
from l1scout.production.job import GenerationConfig, run_generation, with_elements
from l1scout.reco.elements import cell_map, forward_rows, surface_position
from l1scout.reco.view import simulate_view

_MASS = {22: 0.0, 130: 0.497611, 2112: 0.939565, 211: 0.13957, 11: 0.000511, 13: 0.10566}
_CHARGE = {22: 0, 130: 0, 2112: 0, 211: 1, -211: -1, 11: -1, -11: 1, 13: -1, -13: 1, 12: 0}

Cols = dict[str, tuple[np.ndarray, ...]]


@pytest.fixture(scope="module")
def card() -> ViewCard:
    return load_view_card("FullReco")


def make_gen(
    events: list[list[tuple[int, float, float, float, int]]],
) -> GenParticles:
    """Prompt final-state particles (pid, energy GeV, eta, phi, is_pu), event by event."""
    flat = [p for ev in events for p in ev]
    pid = np.array([p[0] for p in flat], np.int32)
    e = np.array([p[1] for p in flat])
    eta = np.array([p[2] for p in flat])
    mass = np.array([_MASS.get(abs(int(p)), 0.0) for p in pid])
    n = len(flat)
    return GenParticles(
        offsets=np.cumsum([0, *(len(ev) for ev in events)]).astype(np.int64),
        pid=pid,
        status=np.ones(n, np.int8),
        pt=np.sqrt(np.maximum(e**2 - mass**2, 0.0)) / np.cosh(eta),
        eta=eta,
        phi=np.array([p[3] for p in flat]),
        mass=mass,
        charge=np.array([_CHARGE[int(p)] for p in pid], np.int8),
        is_pu=np.array([p[4] for p in flat], np.int8),
        x=np.zeros(n),
        y=np.zeros(n),
        z=np.zeros(n),
        t=np.zeros(n),
        vertex_index=np.array([p[4] for p in flat], np.int32),
    )


def simulate(
    gen: GenParticles,
    card: ViewCard,
    seed: int = 1,
    elements: tuple[str, ...] = ELEMENT_COLLECTIONS,
) -> Cols:
    n = gen.n_events
    rng = np.random.default_rng(seed)
    return simulate_view(gen, card, np.zeros(n), np.ones(n, np.int64), rng, elements=elements)


def per_event(cols: Cols, name: str) -> list[np.ndarray]:
    offsets, values = cols[name]
    return [values[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]


# ------------------------------------------------------------------ hand-made events


def test_hand_made_events(card: ViewCard) -> None:
    gen = make_gen(
        [
            [(211, 20.0, 0.3, 0.5, 0)],  # one charged pion
            [(22, 30.0, 0.55, 1.01, 0), (130, 10.0, 0.56, 1.02, 1)],  # photon + pileup K_L
            [],  # empty
            [(211, 50.0, 6.0, 0.0, 0), (12, 40.0, 0.0, 0.0, 0)],  # outside acceptance, invisible
        ]
    )
    cols = simulate(gen, card)
    n_track = np.diff(cols["FullReco_Track_PT"][0]).tolist()
    n_tower = np.diff(cols["FullReco_Tower_E"][0]).tolist()
    assert n_track == [1, 0, 0, 0]
    assert n_tower[2:] == [0, 0]

    # the pion: its track points at it, its tower holds all its energy (HCAL), alone
    assert per_event(cols, "FullReco_Track_GenIndex")[0].tolist() == [0]
    assert per_event(cols, "FullReco_Track_Charge")[0].tolist() == [1]
    assert per_event(cols, "FullReco_Track_P")[0][0] == pytest.approx(
        per_event(cols, "FullReco_Track_PT")[0][0] * np.cosh(0.3)
    )
    assert n_tower[0] == 1
    e_pion = float(gen.energy[0])
    assert per_event(cols, "FullReco_TowerContrib_Tower")[0].tolist() == [0]
    assert per_event(cols, "FullReco_TowerContrib_GenIndex")[0].tolist() == [0]
    assert per_event(cols, "FullReco_TowerContrib_E")[0] == pytest.approx([e_pion])
    assert per_event(cols, "FullReco_Tower_ETrue")[0] == pytest.approx([e_pion])
    assert per_event(cols, "FullReco_Tower_Eem")[0].tolist() == [0.0]
    assert per_event(cols, "FullReco_Tower_Ehad")[0][0] > 0
    assert per_event(cols, "FullReco_Tower_PUFraction")[0].tolist() == [0.0]
    # the tower is the HCAL tower at the pion's (bent) impact point
    hits = propagate_to_surface(
        gen.px[:1], gen.py[:1], gen.pz[:1], gen.charge[:1], gen.x[:1], gen.y[:1], gen.z[:1],
        bz_tesla=card.propagation.bz_tesla, radius_mm=card.propagation.radius_mm,
        half_length_mm=card.propagation.half_length_mm,
    )  # fmt: skip
    hcal = TowerGrid.from_segments(list(card.hcal.segments))
    eta_lo, eta_hi, phi_lo, phi_hi = hcal.bounds(hcal.locate(hits.eta, hits.phi))
    assert per_event(cols, "FullReco_Tower_Eta")[0][0] == pytest.approx((eta_lo + eta_hi)[0] / 2)
    assert per_event(cols, "FullReco_Tower_Phi")[0][0] == pytest.approx((phi_lo + phi_hi)[0] / 2)
    assert per_event(cols, "FullReco_Track_EtaOuter")[0][0] == pytest.approx(hits.eta[0])
    assert per_event(cols, "FullReco_Track_PhiOuter")[0][0] == pytest.approx(hits.phi[0])

    # photon and pileup K_L in one tower: the pileup share of the true energy
    assert n_tower[1] == 1
    assert per_event(cols, "FullReco_Tower_PUFraction")[1][0] == pytest.approx(10.0 / 40.0)
    assert per_event(cols, "FullReco_Tower_ETrue")[1][0] == pytest.approx(40.0)
    assert per_event(cols, "FullReco_Tower_NParticles")[1].tolist() == [2]
    assert per_event(cols, "FullReco_TowerContrib_GenIndex")[1].tolist() == [0, 1]  # by energy
    assert per_event(cols, "FullReco_TowerContrib_E")[1] == pytest.approx([30.0, 10.0])
    eem, ehad = (
        per_event(cols, "FullReco_Tower_Eem")[1][0],
        per_event(cols, "FullReco_Tower_Ehad")[1][0],
    )
    assert eem > 0
    assert ehad > 0
    assert per_event(cols, "FullReco_Tower_E")[1][0] == pytest.approx(eem + ehad)
    assert per_event(cols, "FullReco_Tower_Ehf")[1].tolist() == [0.0]


def test_forward_towers_are_hf(card: ViewCard) -> None:
    gen = make_gen([[(22, 200.0, 4.0, 0.3, 0)], [(2112, 300.0, -3.5, -2.0, 0)]])
    cols = simulate(gen, card)
    e = cols["FullReco_Tower_E"][1]
    assert len(e) == 2
    np.testing.assert_array_equal(cols["FullReco_Tower_Ehf"][1], e)
    rows = forward_rows(card.ecal, card.hcal)
    grid = TowerGrid.from_segments(list(card.hcal.segments))
    assert (np.abs(grid.row_lo[rows]) >= 2.958 - 1e-9).all()
    assert (np.abs(grid.row_hi[~rows]) <= 2.958 + 1e-9).all()
    assert rows.sum() == 2 * 11  # 11 HF rows on either side


def test_requested_collections_only_and_no_random_numbers(card: ViewCard) -> None:
    rng = np.random.default_rng(5)
    gen = random_events(rng, n_events=2, n_particles=150)
    plain = simulate(gen, card, elements=())
    towers = simulate(gen, card, elements=("Tower",))
    assert not [k for k in plain if any(f"_{c}_" in k for c in ELEMENT_COLLECTIONS)]
    assert {k.split("_")[1] for k in towers.keys() - plain.keys()} == {"Tower"}
    for name, value in plain.items():  # every other column is the same
        for a, b in zip(value, towers[name], strict=True):
            np.testing.assert_array_equal(a, b, err_msg=name)
    assert {c.name for c in element_columns("FullReco")} <= simulate(gen, card).keys()
    with pytest.raises(ConfigError, match="unknown collection 'Towers'"):
        simulate(gen, card, elements=("Towers",))


# ------------------------------------------------------------------ a slow reference


def random_events(rng: np.random.Generator, n_events: int, n_particles: int) -> GenParticles:
    pids = [211, -211, 22, 130, 2112, 11, 13, 12]
    return make_gen(
        [
            [
                (
                    int(rng.choice(pids)),
                    float(rng.exponential(8.0) + 0.5),
                    float(rng.uniform(-5.5, 5.5)),
                    float(rng.uniform(-np.pi, np.pi)),
                    int(rng.random() < 0.6),
                )
                for _ in range(n_particles)
            ]
            for _ in range(n_events)
        ]
    )


def reference_deposits(
    gen: GenParticles, card: ViewCard
) -> dict[tuple[int, int], dict[int, float]]:
    """(event, HCAL tower) -> {local particle index: true energy}, by loops over the deposits."""
    p = card.propagation
    hits = propagate_to_surface(
        gen.px, gen.py, gen.pz, gen.charge, gen.x, gen.y, gen.z,
        bz_tesla=p.bz_tesla, radius_mm=p.radius_mm, half_length_mm=p.half_length_mm,
    )  # fmt: skip
    hgrid = TowerGrid.from_segments(list(card.hcal.segments))
    out: dict[tuple[int, int], dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for calo, frac in zip(
        (card.ecal, card.hcal), energy_fractions(gen.pid, card.particle_flow), strict=True
    ):
        dep = particle_deposits(gen, hits, calo, frac)
        n = dep.grid.n_towers
        for particle, key, energy in zip(dep.particle, dep.key, dep.energy, strict=True):
            lo, hi, plo, phi = dep.grid.bounds(np.array([key % n]))
            tower = int(hgrid.locate((lo + hi) / 2, (plo + phi) / 2)[0])
            event = int(gen.event[particle])
            out[event, tower][int(gen.index[particle])] += float(energy)
    return out


def test_towers_match_the_reference_and_conserve_energy(card: ViewCard) -> None:
    rng = np.random.default_rng(11)
    gen = random_events(rng, n_events=3, n_particles=300)
    cols = simulate(gen, card)
    ref = reference_deposits(gen, card)
    hgrid = TowerGrid.from_segments(list(card.hcal.segments))
    written: set[tuple[int, int]] = set()
    for ev in range(gen.n_events):
        eta = per_event(cols, "FullReco_Tower_Eta")[ev]
        phi = per_event(cols, "FullReco_Tower_Phi")[ev]
        towers = hgrid.locate(eta, phi).tolist()
        assert towers == sorted(towers)
        assert len(set(towers)) == len(towers)
        etrue = per_event(cols, "FullReco_Tower_ETrue")[ev]
        pu = per_event(cols, "FullReco_Tower_PUFraction")[ev]
        npart = per_event(cols, "FullReco_Tower_NParticles")[ev]
        c_tower = per_event(cols, "FullReco_TowerContrib_Tower")[ev]
        c_gen = per_event(cols, "FullReco_TowerContrib_GenIndex")[ev]
        c_e = per_event(cols, "FullReco_TowerContrib_E")[ev]
        is_pu = gen.is_pu[gen.offsets[ev] : gen.offsets[ev + 1]]
        assert (np.diff(c_tower) >= 0).all()
        for i, tower in enumerate(towers):
            written.add((ev, tower))
            expect = ref[ev, tower]
            mine = c_tower == i
            got = dict(zip(c_gen[mine].tolist(), c_e[mine].tolist(), strict=True))
            assert got.keys() == expect.keys()
            for k, v in expect.items():
                assert got[k] == pytest.approx(v, rel=1e-12)
            assert (np.diff(c_e[mine]) <= 0).all()  # by decreasing energy
            # per tower: the contributors add up to ETrue, and give the pileup fraction
            assert c_e[mine].sum() == pytest.approx(etrue[i], rel=1e-12)
            assert npart[i] == len(expect)
            pu_e = sum(v for k, v in expect.items() if is_pu[k])
            assert pu[i] == pytest.approx(pu_e / sum(expect.values()), rel=1e-12)
            if all(is_pu[k] for k in expect) or not any(is_pu[k] for k in expect):
                assert pu[i] == float(is_pu[next(iter(expect))])  # exactly 1 or 0
        # per event: written contributions + the deposits of unwritten towers = all deposits
        total = sum(sum(d.values()) for (e, _), d in ref.items() if e == ev)
        lost = sum(
            sum(d.values()) for (e, t), d in ref.items() if e == ev and (e, t) not in written
        )
        assert c_e.sum() + lost == pytest.approx(total, rel=1e-12)
        # per particle: what it left in written towers
        for k in set(c_gen.tolist()):
            left = sum(d.get(k, 0.0) for (e, t), d in ref.items() if e == ev and (e, t) in written)
            assert c_e[c_gen == k].sum() == pytest.approx(left, rel=1e-12)
    assert len(written) > 100
    # measured energy: ECAL + HCAL; positions on the calorimeter surface
    _, e = cols["FullReco_Tower_E"]
    np.testing.assert_allclose(e, cols["FullReco_Tower_Eem"][1] + cols["FullReco_Tower_Ehad"][1])
    assert (e > 0).all()
    eta, phi = cols["FullReco_Tower_Eta"][1], cols["FullReco_Tower_Phi"][1]
    np.testing.assert_allclose(cols["FullReco_Tower_ET"][1], e / np.cosh(eta))
    x, y, z = (cols[f"FullReco_Tower_{c}"][1] for c in "XYZ")
    rho = np.hypot(x, y)
    np.testing.assert_allclose(np.arcsinh(z / rho), eta, atol=1e-9)
    np.testing.assert_allclose(np.arctan2(y, x), phi, atol=1e-9)
    on_side = np.isclose(rho, card.propagation.radius_mm)
    on_cap = np.isclose(np.abs(z), card.propagation.half_length_mm)
    assert (on_side | on_cap).all()
    assert on_side.any()
    assert on_cap.any()


def test_cell_map_and_surface_position(card: ViewCard) -> None:
    ecal = TowerGrid.from_segments(list(card.ecal.segments))
    hcal = TowerGrid.from_segments(list(card.hcal.segments))
    cmap = cell_map(ecal, hcal)
    assert (cmap >= 0).all()
    counts = np.bincount(cmap, minlength=hcal.n_towers)
    # shipped cards: 5 x 5 ECAL towers per barrel HCAL tower, 4 x 4 in the end caps, 1 in HF
    assert set(counts.tolist()) == {1, 16, 25}
    # every ECAL tower lies inside its HCAL tower
    e_lo, e_hi, p_lo, p_hi = ecal.bounds(np.arange(ecal.n_towers))
    h_lo, h_hi, q_lo, q_hi = hcal.bounds(cmap)
    assert (e_lo >= h_lo - 1e-9).all()
    assert (e_hi <= h_hi + 1e-9).all()
    assert (p_lo >= q_lo - 1e-9).all()
    assert (p_hi <= q_hi + 1e-9).all()
    x, _y, z = surface_position(
        np.array([0.0, -1.0, 10.0]), np.zeros(3), radius_mm=1000.0, half_length_mm=2000.0
    )
    np.testing.assert_allclose(x, [1000.0, 1000.0, 2000.0 / np.sinh(10.0)])
    np.testing.assert_allclose(z, [0.0, -1000.0 * np.sinh(1.0), 2000.0])


# ------------------------------------------------------------------ written files


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[pa.Table, pa.Table]:
    """The same ttbar events, without and with the element collections."""
    tmp = tmp_path_factory.mktemp("elements")
    base = GenerationConfig(
        process="tt0123j_5f_ckm_LO_MLM_semiLeptonic", events=3, seed=4, pileup=0.0
    )
    plain = pq.read_table(run_generation(base, tmp / "plain").path)
    full = pq.read_table(run_generation(with_elements(base), tmp / "elements").path)
    return plain, full


def test_the_default_file_is_unchanged(files: tuple[pa.Table, pa.Table]) -> None:
    plain, full = files
    names = {c.name for v in ("FullReco", "L1T") for c in element_columns(v)}
    assert not names & set(plain.column_names)
    assert names <= set(full.column_names)
    assert [n for n in full.column_names if n not in names] == plain.column_names
    for name in plain.column_names:
        assert full.column(name).equals(plain.column(name)), name
    for c in element_columns("L1T"):
        typ = full.schema.field(c.name).type
        assert (
            str(typ.value_type) == {"float32": "float", "int32": "int32", "int8": "int8"}[c.dtype]
        )


def _rows(t: pa.Table, name: str) -> list[list[float]]:
    return t.column(name).to_pylist()


def test_gen_index_leads_to_the_particle(files: tuple[pa.Table, pa.Table]) -> None:
    _, t = files
    gen = {
        f: _rows(t, f"Gen_Part_{f}")
        for f in ("PID", "Status", "PT", "Eta", "Phi", "Mass", "Charge", "IsPU")
    }
    n_tracks = n_contrib = 0
    for view in ("FullReco", "L1T"):
        trk = {
            f: _rows(t, f"{view}_Track_{f}")
            for f in ("GenIndex", "Eta", "Phi", "Charge", "IsPU", "PT")
        }
        con = {f: _rows(t, f"{view}_TowerContrib_{f}") for f in ("GenIndex", "E", "Tower")}
        e_true = _rows(t, f"{view}_Tower_ETrue")
        for ev in range(t.num_rows):
            for i, g in enumerate(trk["GenIndex"][ev]):
                n_tracks += 1
                assert gen["Status"][ev][g] == 1
                assert gen["Charge"][ev][g] == trk["Charge"][ev][i] != 0
                assert gen["IsPU"][ev][g] == trk["IsPU"][ev][i]
                assert gen["Eta"][ev][g] == pytest.approx(trk["Eta"][ev][i], abs=2e-3)  # float16
                assert gen["Phi"][ev][g] == pytest.approx(trk["Phi"][ev][i], abs=2e-3)
                assert trk["PT"][ev][i] == pytest.approx(gen["PT"][ev][g], rel=0.5)
            sums = np.zeros(len(e_true[ev]))
            for g, e, tower in zip(
                con["GenIndex"][ev], con["E"][ev], con["Tower"][ev], strict=True
            ):
                n_contrib += 1
                assert gen["Status"][ev][g] == 1
                assert abs(gen["PID"][ev][g]) not in (12, 13, 14, 16)
                pt, eta, m = gen["PT"][ev][g], gen["Eta"][ev][g], gen["Mass"][ev][g]
                energy = np.hypot(pt * np.cosh(eta), m)
                assert e <= energy * 1.01  # float16 pT and eta
                sums[tower] += e
            np.testing.assert_allclose(sums, e_true[ev], rtol=1e-5)
    assert n_tracks > 50
    assert n_contrib > 50


def test_with_elements_needs_a_view() -> None:
    config = GenerationConfig(process="minbias", events=1, seed=1, views=())
    with pytest.raises(ConfigError, match="need a detector view"):
        with_elements(config)
    named = with_elements(
        GenerationConfig(process="minbias", events=1, seed=1, collections=("Event",))
    )
    assert named.collections == tuple(
        sorted({"Event", *(f"{v}_{c}" for v in ("FullReco", "L1T") for c in ELEMENT_COLLECTIONS)})
    )


def test_an_ecal_beyond_the_hcal_cannot_make_towers(card: ViewCard) -> None:
    no_hf = card.hcal.model_copy(update={"segments": card.hcal.segments[:3]})  # |eta| < 2.958
    short = card.model_copy(update={"hcal": no_hf})
    gen = make_gen([[(22, 100.0, 4.0, 0.0, 0)]])
    assert np.diff(simulate(gen, short, elements=("Track",))["FullReco_Track_PT"][0]).tolist() == [
        0
    ]
    with pytest.raises(
        ConfigError, match=r"ECAL tower at eta 4\.088 lies outside every HCAL tower"
    ):
        simulate(gen, short)
