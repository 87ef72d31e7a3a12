"""Orbits from events: the filling scheme, the injection rule, zero-bias reuse, orbits word for word, the truth.

The events are made by hand (random candidates and objects with known
values, no production): an orbit is built, unpacked with the stream's
unpacker and compared BX by BX with the hardware values of the events the
plan put there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from l1scout._jagged import offsets_from_counts
from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.scouting.encode import EncodedEvents, encode_events
from l1scout.tasks.scouting.events import StreamEvents
from l1scout.tasks.scouting.orbit_file import open_orbit_file
from l1scout.tasks.scouting.orbits import (
    InjectedSignal,
    build_orbit,
    expected_per_crossing,
    filling_scheme,
    plan_orbits,
    read_truth,
    truth_path,
    write_orbit_files,
)
from l1scout.tasks.scouting.unpack import scan_headers, unpack_objects, unpack_puppi
from l1scout.tasks.scouting.words import decode_puppi, puppi_to_hardware

# -- hand-made samples ------------------------------------------------------------------------


def _events(process: str, n: int, seed: int, sigma_pb: float = 1.0) -> StreamEvents:
    """*n* random events: 0-128 PUPPI candidates, 0-8 muons, 0-12 e/gamma and jets (pT-sorted)."""
    rng = np.random.default_rng(seed)

    def coll(k_max: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        counts = rng.integers(0, k_max + 1, n)
        counts[0] = 0  # an empty event
        m = int(counts.sum())
        pt = -np.sort(
            -rng.exponential(8.0, m).astype(np.float32)
        )  # order within events is irrelevant here
        return offsets_from_counts(counts), {
            "pt": pt,
            "eta": rng.uniform(-4, 4, m).astype(np.float32),
            "phi": rng.uniform(-np.pi, np.pi, m).astype(np.float32),
        }

    p_off, puppi = coll(128)
    m = len(puppi["pt"])
    charge = rng.choice(np.array([-1, 0, 1], dtype=np.int8), m)
    puppi |= {
        "pid": np.where(charge == 0, rng.choice([22, 130], m), rng.choice([211, 11, 13], m)).astype(
            np.int32
        ),
        "charge": charge,
        "dz": rng.normal(0, 30, m).astype(np.float32),
        "d0": rng.normal(0, 1, m).astype(np.float32),
        "puppi_w": rng.uniform(0, 1, m).astype(np.float32),
    }
    m_off, muons = coll(8)
    muons |= {
        "charge": rng.choice(np.array([-1, 1], dtype=np.int8), len(muons["pt"])),
        "quality": np.full(len(muons["pt"]), 12, np.uint8),
    }
    e_off, egamma = coll(12)
    j_off, jets = coll(12)
    return StreamEvents(
        process=process,
        event_number=np.arange(n, dtype=np.int64) + 1000 * seed,
        file_index=np.zeros(n, dtype=np.int32),
        files=(Path(f"{process}.parquet"),),
        puppi_offsets=p_off,
        puppi=puppi,
        muon_offsets=m_off,
        muons=muons,
        egamma_offsets=e_off,
        egamma=egamma,
        jet_offsets=j_off,
        jets=jets,
        sums={
            "met": rng.exponential(20, n).astype(np.float32),
            "met_phi": rng.uniform(-np.pi, np.pi, n).astype(np.float32),
            "ht": rng.exponential(100, n).astype(np.float32),
        },
        cross_section_pb=sigma_pb,
    )


@pytest.fixture(scope="module")
def samples() -> tuple[list[StreamEvents], list[EncodedEvents]]:
    # sigma 1e6 pb at 7.5e34: mu = 1e6 x 7.5e-2 / 31,038,960 = 2.42e-3 per crossing
    events = [_events("minbias", 60, 1), _events("WTo3Pi", 200, 2, sigma_pb=1e6)]
    return events, [encode_events(e) for e in events]


# -- filling scheme ----------------------------------------------------------------------------


def _runs(filled: np.ndarray) -> tuple[list[int], list[int]]:
    """Lengths of the filled runs and of the empty gaps after each (the last gap wraps to BX 0)."""
    edges = np.flatnonzero(np.diff(filled.astype(np.int8))) + 1
    bounds = np.concatenate(([0], edges, [len(filled)]))
    lengths = np.diff(bounds).tolist()
    return lengths[0::2], lengths[1::2]


def test_phase2_filling_scheme_has_2760_bunches_in_trains_and_an_abort_gap() -> None:
    filled = filling_scheme("phase2")
    assert filled.shape == (3564,)
    assert filled.dtype == np.bool_
    assert int(filled.sum()) == 2760
    assert filled[0]
    trains, gaps = _runs(filled)
    assert trains == [24] + [72] * 38
    assert gaps[-1] == 140
    assert gaps[-1] * 25e-9 >= 3e-6
    assert sorted(set(gaps[:-1])) == [8, 38]
    assert gaps[:-1].count(38) == 12  # 13 LHC injections: 12 gaps between them
    assert gaps[:-1].count(8) == 38 - 12  # trains inside an injection
    assert int(filled[3424:].sum()) == 0
    assert filled[3423]


def test_unknown_filling_scheme_is_refused() -> None:
    with pytest.raises(ConfigError, match="filling scheme 'run3': expected one of phase2"):
        filling_scheme("run3")


def test_expected_per_crossing_is_sigma_times_lumi_over_the_crossing_rate() -> None:
    # by hand: 0.18 pb = 0.18e-36 cm^2; x 7.5e34 cm^-2 s^-1 = 0.0135 per second;
    # 2760 x 11,246 Hz = 31,038,960 filled crossings per second
    assert expected_per_crossing(0.18) == pytest.approx(0.0135 / 31_038_960, rel=1e-12)
    assert expected_per_crossing(0.18, 5e34) == pytest.approx(0.009 / 31_038_960, rel=1e-12)
    assert expected_per_crossing(2.0, 1e34, crossing_rate_khz=40_000.0) == pytest.approx(
        2e-36 * 1e34 / 4e7
    )
    assert expected_per_crossing(0.0) == 0.0
    with pytest.raises(ConfigError, match="sigma_pb: expected a finite non-negative number"):
        expected_per_crossing(-1.0)
    with pytest.raises(ConfigError, match="lumi_cm2s: expected a finite positive number"):
        expected_per_crossing(1.0, float("nan"))


# -- the plan ----------------------------------------------------------------------------------


def test_injection_statistics_follow_mu_times_boost() -> None:
    mu = expected_per_crossing(1e3)  # 2.42e-6 per crossing
    signals = [
        InjectedSignal("A", 100_000, 1e3, boost=2000.0),  # p = 4.83e-3: 13.3 per orbit
        InjectedSignal("B", 100_000, 1e3, boost=500.0),  # p = 1.21e-3: 3.3 per orbit
    ]
    n_orbits = 400
    plan = plan_orbits(n_orbits, 5000, signals, seed=11)
    assert plan.probability == pytest.approx((mu * 2000, mu * 500))
    for k, s in enumerate(signals, start=1):
        p = mu * s.boost
        n = n_orbits * 2760
        got = int((plan.source == k).sum())
        assert abs(got - n * p) < 5 * np.sqrt(n * p * (1 - p)), (s.process, got, n * p)
        used = plan.event[plan.source == k]
        assert len(np.unique(used)) == len(used)  # no signal event twice
        assert used.min() >= 0
        assert used.max() < s.n_events
    # only filled BXs carry events; the empty ones are -1 in both arrays
    filled = filling_scheme()
    assert (plan.source[:, ~filled] == -1).all()
    assert (plan.event[:, ~filled] == -1).all()
    assert (plan.source[:, filled] >= 0).all()
    assert plan.injections() == {
        "A": int((plan.source == 1).sum()),
        "B": int((plan.source == 2).sum()),
    }


def test_zero_bias_reuse_is_even_and_recorded() -> None:
    plan = plan_orbits(3, 1000, seed=5)
    crossings = 3 * 2760
    assert plan.zero_bias_crossings == crossings
    assert plan.distinct_zero_bias == 1000
    assert plan.zero_bias_reuse == pytest.approx(crossings / 1000)
    uses = np.bincount(plan.event[plan.source == 0], minlength=1000)
    assert set(uses.tolist()) <= {crossings // 1000, crossings // 1000 + 1}  # as even as possible
    fresh = plan_orbits(1, 10_000, seed=5)
    assert (fresh.distinct_zero_bias, fresh.zero_bias_reuse) == (2760, 1.0)
    assert fresh.summary()["zero_bias_reuse"] == 1.0


def test_the_plan_is_reproducible_from_its_seed() -> None:
    sig = [InjectedSignal("A", 10_000, 1e3, boost=1000.0)]
    a, b = plan_orbits(2, 500, sig, seed=3), plan_orbits(2, 500, sig, seed=3)
    c = plan_orbits(2, 500, sig, seed=4)
    assert np.array_equal(a.source, b.source)
    assert np.array_equal(a.event, b.event)
    assert not np.array_equal(a.event, c.event)


def test_too_few_signal_events_or_too_much_probability_is_refused() -> None:
    with pytest.raises(
        ConfigError, match=r"signal A: 2 orbits inject it .* but its sample has 3 events"
    ):
        plan_orbits(2, 100, [InjectedSignal("A", 3, 1e9, boost=100.0)], seed=1)
    both = [
        InjectedSignal("A", 10**6, 1e6, boost=300.0),
        InjectedSignal("B", 10**6, 1e6, boost=200.0),
    ]
    with pytest.raises(ConfigError, match=r"add up to 1\.21 > 1"):
        plan_orbits(1, 100, both, seed=1)
    with pytest.raises(ConfigError, match="n_orbits: expected an integer"):
        plan_orbits(0, 100, seed=1)
    with pytest.raises(ConfigError, match="expected distinct names"):
        plan_orbits(1, 100, [InjectedSignal("minbias", 10, 1.0)], seed=1)


# -- orbits word for word ----------------------------------------------------------------------


def _physical_hw(ev: StreamEvents) -> dict[str, np.ndarray]:
    """The hardware values of every PUPPI candidate of *ev*, straight from the physical columns."""
    p = ev.puppi
    hw = puppi_to_hardware(
        p["pt"], p["eta"], p["phi"], p["pid"], p["charge"], p["dz"], p["d0"], p["puppi_w"]
    )
    return {
        f: getattr(hw, f) for f in ("pt", "eta", "phi", "code", "z0", "dxy", "quality", "weight")
    }


def test_a_built_orbit_unpacks_to_the_planned_events_bx_by_bx(samples) -> None:  # type: ignore[no-untyped-def]
    events, encoded = samples
    plan = plan_orbits(2, events[0].n_events, [InjectedSignal.of(encoded[1], 2.0)], seed=9)
    assert plan.expected[0] == pytest.approx(1e6 * 7.5e-2 / 31_038_960)
    assert int(plan.injected[1].sum()) > 0  # p = 4.8e-3: about 13 per orbit
    buffers = build_orbit(plan, 1, encoded, run=7)
    index = scan_headers(buffers["puppi"])
    assert (index.orbit, index.run, len(index.bx)) == (2, 7, 3564)  # every BX has a header
    assert np.array_equal(index.bx, np.arange(3564))
    unpacked = unpack_puppi(buffers["puppi"])
    muons = unpack_objects(buffers["muon"], "muon")
    sums = unpack_objects(buffers["sums"], "sums")
    filled = filling_scheme()
    assert np.array_equal(
        np.diff(sums.offsets), filled.astype(np.int64)
    )  # one sum word per filled BX
    reference = decode_puppi(buffers["puppi"])  # every word; the headers' rows are never looked at
    hw = [_physical_hw(ev) for ev in events]
    checked = 0
    for bx in range(3564):
        k, e = int(plan.source[1, bx]), int(plan.event[1, bx])
        a, b = unpacked.offsets[bx], unpacked.offsets[bx + 1]
        if k < 0:
            assert b == a
            assert index.count[bx] == 0
            assert not filled[bx]
            continue
        ea, eb = events[k].puppi_offsets[e], events[k].puppi_offsets[e + 1]
        first = index.start[bx]
        assert b - a == eb - ea == index.count[bx]
        for name, want in hw[k].items():
            assert np.array_equal(getattr(unpacked.hw, name)[a:b], want[ea:eb]), (bx, name)
            assert np.array_equal(getattr(reference, name)[first : first + b - a], want[ea:eb])
        ma, mb = muons.offsets[bx], muons.offsets[bx + 1]
        m_off = events[k].muon_offsets
        assert mb - ma == m_off[e + 1] - m_off[e]
        # muon pT on its 0.5 GeV bins: the decoded value is within half a bin of the input
        np.testing.assert_allclose(
            muons.values["pt"][ma:mb],
            events[k].muons["pt"][m_off[e] : m_off[e + 1]],
            atol=0.25 + 1e-6,
        )
        checked += 1
    assert checked == 2760


def test_orbit_files_and_truth_sidecars_match_the_plan(samples, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    events, encoded = samples
    plan = plan_orbits(
        5, events[0].n_events, [InjectedSignal.of(encoded[1], 2.0)], seed=2, first_orbit=11
    )
    paths = write_orbit_files(plan, encoded, tmp_path / "orbits", orbits_per_file=2, run=3)
    assert [p.name for p in paths] == [
        "orbits-000011.l1sorb",
        "orbits-000013.l1sorb",
        "orbits-000015.l1sorb",
    ]
    assert not list((tmp_path / "orbits").glob("*.tmp*"))
    rows = 0
    for n_file, path in enumerate(paths):
        truth = read_truth(path)
        assert truth.schema.names == ["orbit", "bx", "sample", "event", "injected"]
        assert truth.schema.field("bx").type == pa.int16()
        assert truth.schema.field("event").type == pa.int64()
        t = truth.to_pydict()
        with open_orbit_file(path) as f:
            assert f.run == 3
            assert f.meta["plan"]["n_orbits"] == 5
            assert f.orbits.tolist() == sorted(set(t["orbit"]))
            for j, orbit in enumerate(f.orbits.tolist()):
                i = orbit - 11
                assert i // 2 == n_file
                mine = [r for r in range(len(t["orbit"])) if t["orbit"][r] == orbit]
                assert len(mine) == 2760
                src = plan.source[i]
                for r in mine:
                    bx = t["bx"][r]
                    k = int(src[bx])
                    assert t["sample"][r] == plan.samples[k]
                    assert t["event"][r] == plan.event[i, bx]
                    assert t["injected"][r] == (k > 0)
                assert sum(t["injected"][r] for r in mine) == int(plan.injected[i].sum())
                assert np.array_equal(
                    f.read(j, "puppi"), build_orbit(plan, i, encoded, run=3)["puppi"]
                )
        rows += truth.num_rows
    assert rows == 5 * 2760
    assert truth_path(paths[0]) == paths[0].with_name("orbits-000011.truth.parquet")


def test_samples_out_of_the_plans_order_or_a_missing_sidecar_are_refused(
    samples, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    events, encoded = samples
    plan = plan_orbits(1, events[0].n_events, [InjectedSignal.of(encoded[1])], seed=2)
    with pytest.raises(ConfigError, match=r"expected the plan's \['minbias', 'WTo3Pi'\]"):
        build_orbit(plan, 0, encoded[::-1], run=1)
    small = plan_orbits(1, 10_000, seed=2)
    with pytest.raises(ConfigError, match="sample minbias: the plan uses event"):
        build_orbit(small, 0, encoded[:1], run=1)
    with pytest.raises(DataFormatError, match="no truth sidecar"):
        read_truth(tmp_path / "nothing.l1sorb")
    bad = tmp_path / "bad.truth.parquet"
    pq.write_table(pa.table({"orbit": [1]}), bad)
    with pytest.raises(DataFormatError, match="expected orbit int64, bx int16"):
        read_truth(bad)
