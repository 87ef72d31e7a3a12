from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from l1scout.detector.card import load_frontend_card
from l1scout.errors import ConfigError
from l1scout.generate.pileup import (
    POOL_PROCESSES,
    MinBiasPool,
    build_pool,
    draw_pileup,
    load_or_build_pool,
    pool_key,
    pool_settings,
)
from l1scout.generate.pythia import process_settings
from l1scout.generate.vertex import sample_truncated_normal
from l1scout.processes import load_catalog

SPEC = load_frontend_card().pileup


def _toy_pool(n: int = 50, per: int = 4, seed: int = 0) -> MinBiasPool:
    rng = np.random.default_rng(seed)
    total = n * per
    f32 = lambda a: np.asarray(a, dtype=np.float32)  # noqa: E731
    return MinBiasPool(
        offsets=np.arange(0, total + 1, per, dtype=np.int64),
        pid=rng.choice(np.array([211, -211, 22, 2212], dtype=np.int32), total),
        charge=np.zeros(total, dtype=np.int8),
        px=f32(rng.normal(0, 1, total)),
        py=f32(rng.normal(0, 1, total)),
        pz=f32(rng.normal(0, 5, total)),
        mass=f32(np.full(total, 0.1396)),
        vx=f32(np.zeros(total)),
        vy=f32(np.zeros(total)),
        vz=f32(np.zeros(total)),
        vt=f32(np.zeros(total)),
    )


@pytest.fixture(scope="module")
def big_draw():  # type: ignore[no-untyped-def]
    return draw_pileup(_toy_pool(), SPEC, 200.0, seed=3, event_numbers=range(3000))


def test_pileup_count_is_poisson_of_the_mean(big_draw) -> None:  # type: ignore[no-untyped-def]
    n = big_draw.n_pu
    mean, var = n.mean(), n.var(ddof=1)
    assert abs(mean - 200) < 4 * np.sqrt(200 / len(n))
    assert abs(var / mean - 1) < 4 * np.sqrt(2 / (len(n) - 1))
    # chi-square against Poisson(200) in bins with enough content
    edges = np.arange(160, 242, 6)
    observed = np.histogram(n, edges)[0]
    expected = len(n) * np.diff(stats.poisson.cdf(edges - 1, 200))
    assert stats.chisquare(observed, expected * observed.sum() / expected.sum()).pvalue > 1e-3


def test_pileup_count_with_another_mean() -> None:
    draw = draw_pileup(_toy_pool(), SPEC, 35.0, seed=4, event_numbers=range(2000))
    assert abs(draw.n_pu.mean() - 35) < 4 * np.sqrt(35 / 2000)


def test_vertices_follow_the_card(big_draw) -> None:  # type: ignore[no-untyped-def]
    z, t = big_draw.z, big_draw.t
    assert np.abs(z).max() <= SPEC.z_max_mm
    assert np.abs(t).max() <= SPEC.t_max_ps
    zdist = stats.truncnorm(
        -SPEC.z_max_mm / SPEC.sigma_z_mm, SPEC.z_max_mm / SPEC.sigma_z_mm, scale=SPEC.sigma_z_mm
    )
    tdist = stats.truncnorm(
        -SPEC.t_max_ps / SPEC.sigma_t_ps, SPEC.t_max_ps / SPEC.sigma_t_ps, scale=SPEC.sigma_t_ps
    )
    assert stats.kstest(z[:50000], zdist.cdf).pvalue > 1e-3
    assert stats.kstest(t[:50000], tdist.cdf).pvalue > 1e-3
    assert abs(z.std() / SPEC.sigma_z_mm - 1) < 0.01
    assert abs(t.std() / SPEC.sigma_t_ps - 1) < 0.01
    assert abs(np.corrcoef(z, t)[0, 1]) < 0.01
    hz = big_draw.hard_z
    assert abs(hz.std() / SPEC.sigma_z_mm - 1) < 0.05


def test_sampler_catches_a_wrong_width() -> None:
    x = sample_truncated_normal(np.random.default_rng(0), 60.0, 250.0, 20000)
    good = stats.truncnorm(-250 / 53, 250 / 53, scale=53)
    assert stats.kstest(x, good.cdf).pvalue < 1e-6  # the test above can fail


def test_rotation_keeps_pt_and_moves_phi() -> None:
    pool = _toy_pool()
    draw = draw_pileup(pool, SPEC, 10.0, seed=9, event_numbers=range(20))
    coll = np.repeat(np.arange(len(draw.pool_index)), np.diff(pool.offsets)[draw.pool_index])
    src = pool.offsets[draw.pool_index][coll] + (
        np.arange(len(coll))
        - np.repeat(
            np.concatenate([[0], np.cumsum(np.diff(pool.offsets)[draw.pool_index])[:-1]]),
            np.diff(pool.offsets)[draw.pool_index],
        )
    )
    pt0 = np.hypot(pool.px[src], pool.py[src])
    np.testing.assert_allclose(np.hypot(draw.px, draw.py), pt0, rtol=1e-5)
    dphi = np.angle(
        np.exp(1j * (np.arctan2(draw.py, draw.px) - np.arctan2(pool.py[src], pool.px[src])))
    )
    np.testing.assert_allclose(
        np.mod(dphi, 2 * np.pi), np.mod(draw.phi[coll], 2 * np.pi), atol=1e-4
    )


def test_vertex_index_is_per_collision() -> None:
    draw = draw_pileup(_toy_pool(), SPEC, 5.0, seed=2, event_numbers=range(30))
    for ev in range(30):
        v = draw.vertex_index[draw.part_offsets[ev] : draw.part_offsets[ev + 1]]
        assert set(v.tolist()) == set(range(1, int(draw.n_pu[ev]) + 1))


def test_overlay_depends_on_event_number_not_batch() -> None:
    pool = _toy_pool()
    whole = draw_pileup(pool, SPEC, 20.0, seed=1, event_numbers=range(10))
    half = draw_pileup(pool, SPEC, 20.0, seed=1, event_numbers=range(5, 10))
    np.testing.assert_array_equal(whole.n_pu[5:], half.n_pu)
    np.testing.assert_array_equal(whole.pz[whole.part_offsets[5] :], half.pz)
    other = draw_pileup(pool, SPEC, 20.0, seed=2, event_numbers=range(10))
    assert not np.array_equal(whole.n_pu, other.n_pu)


def test_pileup_without_pool_is_refused() -> None:
    with pytest.raises(ConfigError, match="minimum-bias pool"):
        draw_pileup(None, SPEC, 10.0, seed=1, event_numbers=[0])


def test_pool_is_the_same_for_any_worker_count_and_is_cached(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cat = load_catalog()
    settings = process_settings(cat, cat.get("minbias"))
    one = build_pool(settings, 17, 1200, workers=1, chunk=500)
    two = build_pool(settings, 17, 1200, workers=2, chunk=500)
    assert one.n_events == 1200
    for field in MinBiasPool._FIELDS:
        np.testing.assert_array_equal(getattr(one, field), getattr(two, field))
    assert np.all(np.diff(one.offsets) >= 2)  # elastic events leave two protons
    pool, path, built = load_or_build_pool(settings, 17, 300, directory=tmp_path)
    assert built
    again, path2, built2 = load_or_build_pool(settings, 17, 300, directory=tmp_path)
    assert not built2
    assert path == path2
    np.testing.assert_array_equal(pool.px, again.px)
    assert not list(tmp_path.glob(".*tmp"))


# ------------------------------------------------------------ what a pileup collision is

#: Pythia's CP5 cross sections at 14 TeV (catalog tune): elastic over total.
SIGMA_EL_OVER_TOT = 21.89 / 100.309
#: A collision is empty for the detector without a final-state particle within |eta| < 5
#: (the forward calorimeter's reach); elastic protons fly at |eta| ~ 9.
DETECTOR_ETA = 5.0


def test_pool_settings_follow_the_definition() -> None:
    c2v, inel = pool_settings("collide2v"), pool_settings("inelastic")
    soft = lambda lines: [x for x in lines if x.startswith("SoftQCD:")]  # noqa: E731
    assert soft(c2v) == ["SoftQCD:all = on"]
    assert soft(inel) == [
        "SoftQCD:nonDiffractive = on",
        "SoftQCD:singleDiffractive = on",
        "SoftQCD:doubleDiffractive = on",
        "SoftQCD:centralDiffractive = on",
    ]
    # beams and the CP5 tune (sigma_el, sigma_tot included) are the same for both
    rest = [x for x in c2v if not x.startswith("SoftQCD:")]
    assert rest == [x for x in inel if not x.startswith("SoftQCD:")]
    assert "SigmaTotal:sigmaEl = 21.89" in rest
    assert "Tune:pp = 14" in rest
    cat = load_catalog()
    assert c2v == process_settings(cat, cat.get("minbias"))  # today's pool, unchanged
    assert POOL_PROCESSES == {"collide2v": "minbias", "inelastic": "minbias_inelastic"}
    # the two pools are cached under different names
    assert pool_key(c2v, 1, 100) != pool_key(inel, 1, 100)


def test_a_catalog_without_the_inelastic_pool_is_named(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from l1scout.processes.catalog import DEFAULT_CATALOG

    text = DEFAULT_CATALOG.read_text()
    path = tmp_path / "catalog.toml"
    path.write_text(text[: text.index('[[process]]\nname = "minbias_inelastic"')])
    assert pool_settings("collide2v", load_catalog(path))
    with pytest.raises(
        ConfigError, match="'inelastic' draws its pool from the catalog process 'minbias_inelastic'"
    ):
        pool_settings("inelastic", load_catalog(path))


@pytest.fixture(scope="module")
def pools() -> dict[str, MinBiasPool]:
    """600 collisions of each definition (Pythia's MPI set-up: about 20 s per definition, once)."""
    return {d: build_pool(pool_settings(d), 11, 600) for d in POOL_PROCESSES}


def _two_protons(pool: MinBiasPool) -> np.ndarray:
    """Collisions whose final state is two protons and nothing else (elastic scattering)."""
    n = np.diff(pool.offsets)
    first = pool.offsets[:-1]
    second = np.minimum(first + 1, len(pool.pid) - 1)
    return (n == 2) & (pool.pid[first] == 2212) & (pool.pid[second] == 2212)


def _detector_empty(pool: MinBiasPool) -> np.ndarray:
    eta = pool.eta_phi_pt[0]
    inside = np.abs(eta) < DETECTOR_ETA
    event = np.repeat(np.arange(pool.n_events), np.diff(pool.offsets))
    return np.bincount(event[inside], minlength=pool.n_events) == 0


@pytest.mark.slow
def test_collide2v_pools_hold_elastic_collisions_and_inelastic_pools_none(pools) -> None:  # type: ignore[no-untyped-def]
    c2v, inel = pools["collide2v"], pools["inelastic"]
    n = c2v.n_events
    # collide2v: the share of p p -> p p is sigma_el / sigma_tot, within 4 binomial sigma
    share = float(np.mean(_two_protons(c2v)))
    tolerance = 4 * np.sqrt(SIGMA_EL_OVER_TOT * (1 - SIGMA_EL_OVER_TOT) / n)
    assert abs(share - SIGMA_EL_OVER_TOT) < tolerance, (share, SIGMA_EL_OVER_TOT)
    # inelastic: never two lone protons; every collision makes at least three particles
    assert not _two_protons(inel).any()
    assert np.diff(inel.offsets).min() >= 3
    # empty for the detector: low-mass diffraction leaves some inelastic collisions empty
    # too, and collide2v is elastic + (1 - elastic share) x inelastic
    e_c, e_i = float(np.mean(_detector_empty(c2v))), float(np.mean(_detector_empty(inel)))
    assert e_c - e_i > 0.12
    mixture = SIGMA_EL_OVER_TOT + (1 - SIGMA_EL_OVER_TOT) * e_i
    sigma = np.sqrt(e_c * (1 - e_c) / n + (1 - SIGMA_EL_OVER_TOT) ** 2 * e_i * (1 - e_i) / n)
    assert abs(e_c - mixture) < 4 * sigma, (e_c, mixture)
