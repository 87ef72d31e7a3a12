from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from l1scout.detector.card import load_frontend_card
from l1scout.errors import ConfigError
from l1scout.generate.pileup import MinBiasPool, build_pool, draw_pileup, load_or_build_pool
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
