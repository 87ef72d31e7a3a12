"""Tests of l1scout.reco.isolation against a slow pure-Python reference and known values."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from l1scout.errors import ConfigError
from l1scout.reco import isolation as isolation_module
from l1scout.reco.isolation import CHARGED_NOPU, CHARGED_PU, NEUTRAL, IsolationSums, isolation

R = 0.375  # dyadic cone radius, so cone-edge candidates sit exactly at dR == R
PT_MIN = 0.5
# argument order of isolation() (without the keywords); o: objects, c: candidates
KEYS = ("ooff", "opt", "oeta", "ophi", "oself", "coff", "cpt", "ceta", "cphi", "ccls", "rho")
Batch = dict[str, list[Any]]


def _reference(
    obj_off: list[int],
    obj_pt: list[float],
    obj_eta: list[float],
    obj_phi: list[float],
    obj_self: list[int],
    cand_off: list[int],
    cand_pt: list[float],
    cand_eta: list[float],
    cand_phi: list[float],
    cand_class: list[int],
    rho: list[float],
    delta_r_max: float,
    pt_min: float,
) -> list[tuple[float, float, float, float, float]]:
    """Delphes Isolation.cc, one object and one candidate at a time."""
    out = []
    for ev in range(len(obj_off) - 1):
        for i in range(obj_off[ev], obj_off[ev + 1]):
            ch = pu = neu = 0.0
            for local, j in enumerate(range(cand_off[ev], cand_off[ev + 1])):
                if local == obj_self[i] or cand_pt[j] < pt_min:
                    continue
                deta = cand_eta[j] - obj_eta[i]
                dphi = cand_phi[j] - obj_phi[i]
                while dphi > math.pi:
                    dphi -= 2 * math.pi
                while dphi < -math.pi:
                    dphi += 2 * math.pi
                if math.sqrt(deta * deta + dphi * dphi) > delta_r_max:
                    continue
                if cand_class[j] == NEUTRAL:
                    neu += cand_pt[j]
                elif cand_class[j] == CHARGED_NOPU:
                    ch += cand_pt[j]
                else:
                    pu += cand_pt[j]
            dbeta = (ch + max(neu - 0.5 * pu, 0.0)) / obj_pt[i]
            area = max(rho[i], 0.0) * math.pi * delta_r_max**2
            rcorr = (ch + max(neu - area, 0.0)) / obj_pt[i]
            out.append((ch, pu, neu, dbeta, rcorr))
    return out


def _random_batch(seed: int, max_objects: int = 5) -> Batch:
    """Events with objects on their own candidate, cone-edge and pt_min-edge candidates."""
    rng = np.random.default_rng(seed)
    b: Batch = {k: [] for k in KEYS}
    obj_off, cand_off = [0], [0]
    n_events = 7
    for ev in range(n_events):
        n_c = 0 if ev == 1 else int(rng.integers(50, 300))
        cpt = list(rng.exponential(2.0, n_c))
        ceta = list(rng.uniform(-2.5, 2.5, n_c))
        cphi = list(rng.uniform(-math.pi, math.pi, n_c))
        ccls = list(rng.integers(0, 3, n_c))
        n_o = 0 if ev == 3 else int(rng.integers(1, max_objects))
        for _ in range(n_o):
            if n_c and rng.random() < 0.6:
                k = int(rng.integers(0, n_c))
                cpt[k] = 10.0 + rng.exponential(20.0)  # the object's own candidate
                b["opt"].append(cpt[k])
                b["oeta"].append(ceta[k])
                b["ophi"].append(cphi[k])
                b["oself"].append(k)
            else:
                eta0 = float(rng.integers(-512, 512)) / 256  # dyadic: exact edge arithmetic
                phi0 = float(rng.integers(-700, 700)) / 256
                b["opt"].append(5.0 + rng.exponential(20.0))
                b["oeta"].append(eta0)
                b["ophi"].append(phi0)
                b["oself"].append(-1)
                for de, dp in ((R, 0.0), (-R, 0.0), (0.0, R), (0.0, -R), (R + 2**-20, 0.0)):
                    for pt in (PT_MIN, PT_MIN - 2**-10, 1.5):
                        cpt.append(pt)
                        ceta.append(eta0 + de)
                        cphi.append(phi0 + dp)
                        ccls.append(int(rng.integers(0, 3)))
            b["rho"].append(float(rng.uniform(-1.0, 8.0)))
        b["cpt"] += cpt
        b["ceta"] += ceta
        b["cphi"] += cphi
        b["ccls"] += ccls
        obj_off.append(obj_off[-1] + n_o)
        cand_off.append(cand_off[-1] + len(cpt))
    b["ooff"] += obj_off
    b["coff"] += cand_off
    return b


def _arrays(b: Batch) -> list[np.ndarray]:
    out = [np.asarray(b[k], dtype=np.float64) for k in KEYS]
    for k in (0, 4, 5):
        out[k] = np.asarray(b[KEYS[k]], dtype=np.int64)
    out[9] = np.asarray(b["ccls"], dtype=np.int8)
    return out


def _run(b: Batch, delta_r_max: float = R, pt_min: float = PT_MIN) -> np.ndarray:
    s = isolation(*_arrays(b), delta_r_max=delta_r_max, pt_min=pt_min)
    cols = [s.charged, s.charged_pu, s.neutral, s.isolation_var, s.isolation_var_rho_corr]
    return np.stack(cols, axis=1)


def _run_reference(b: Batch, delta_r_max: float = R, pt_min: float = PT_MIN) -> np.ndarray:
    return np.asarray(_reference(*[b[k] for k in KEYS], delta_r_max, pt_min)).reshape(-1, 5)


@pytest.mark.parametrize("sort_min_objects", [0, 10**9], ids=["eta-window", "full-scan"])
@pytest.mark.parametrize("seed", range(4))
def test_matches_reference_on_random_events(
    seed: int, sort_min_objects: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(isolation_module, "_SORT_MIN_OBJECTS", sort_min_objects)
    b = _random_batch(seed)
    fast = _run(b)
    slow = _run_reference(b)
    assert fast.shape == (len(b["opt"]), 5)
    np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-9)
    assert np.count_nonzero(fast[:, 2]) > len(b["opt"]) // 3  # the test is not vacuous
    # another cone and pt cut, to exercise the eta window and the pt threshold
    np.testing.assert_allclose(
        _run(b, delta_r_max=0.7, pt_min=1.0),
        _run_reference(b, delta_r_max=0.7, pt_min=1.0),
        rtol=1e-9,
        atol=1e-9,
    )


def test_many_objects_per_event_use_the_eta_window() -> None:
    b = _random_batch(5, max_objects=60)
    assert max(np.diff(b["ooff"])) >= isolation_module._SORT_MIN_OBJECTS
    np.testing.assert_allclose(_run(b), _run_reference(b), rtol=1e-9, atol=1e-9)


def test_own_candidate_is_excluded() -> None:
    b = _random_batch(11)
    with_self = _run(b)
    no_self = dict(b, oself=[-1] * len(b["oself"]))
    without = _run(no_self)
    own = np.asarray(b["oself"]) >= 0
    assert own.any()
    own_pt = np.asarray(b["opt"])[own]
    gained = without[own, :3].sum(axis=1) - with_self[own, :3].sum(axis=1)
    np.testing.assert_allclose(gained, own_pt, rtol=1e-12)
    np.testing.assert_array_equal(without[~own], with_self[~own])


def _single(
    cands: list[tuple[float, float, float, int]],
    rho: float,
    *,
    obj: tuple[float, float, float] = (20.0, 0.5, 1.0),
    self_idx: int = -1,
    r: float = 0.25,
) -> IsolationSums:
    """One event, one object (pt, eta, phi) and candidates (pt, eta, phi, class)."""
    c = np.array(cands, dtype=np.float64).reshape(-1, 4)
    return isolation(
        [0, 1], [obj[0]], [obj[1]], [obj[2]], [self_idx],
        [0, len(cands)], c[:, 0], c[:, 1], c[:, 2], c[:, 3].astype(np.int8),
        [rho], delta_r_max=r, pt_min=PT_MIN,
    )  # fmt: skip


def test_one_neutral_inside_the_cone() -> None:
    s = _single([(2.5, 0.6, 0.9, NEUTRAL)], 0.0, obj=(10.0, 0.5, 1.0), r=0.4)
    assert (s.charged[0], s.charged_pu[0], s.neutral[0]) == (0.0, 0.0, 2.5)
    assert s.isolation_var[0] == pytest.approx(0.25, abs=1e-15)
    assert s.isolation_var_rho_corr[0] == pytest.approx(0.25, abs=1e-15)
    s = _single([(2.5, 0.6, 0.9, NEUTRAL)], 1.0, obj=(10.0, 0.5, 1.0), r=0.4)
    assert s.isolation_var_rho_corr[0] == pytest.approx((2.5 - math.pi * 0.16) / 10.0, abs=1e-12)


def test_rho_and_delta_beta_corrections_clip_at_zero() -> None:
    cands = [(2.5, 0.6, 0.9, NEUTRAL), (1.0, 0.4, 1.1, CHARGED_NOPU), (6.0, 0.5, 1.2, CHARGED_PU)]
    s = _single(cands, 20.0, obj=(10.0, 0.5, 1.0), r=0.4)  # rho * pi * R^2 = 10.05 > 2.5
    assert (s.charged[0], s.charged_pu[0], s.neutral[0]) == (1.0, 6.0, 2.5)
    assert s.isolation_var_rho_corr[0] == pytest.approx(0.1, abs=1e-15)
    assert s.isolation_var[0] == pytest.approx(0.1, abs=1e-15)  # 2.5 - 0.5 * 6 < 0
    s = _single(cands, -3.0, obj=(10.0, 0.5, 1.0), r=0.4)  # negative rho counts as 0
    assert s.isolation_var_rho_corr[0] == pytest.approx(0.35, abs=1e-15)


def test_cone_edge_pt_min_and_self() -> None:
    cands = [
        (20.0, 0.5, 1.0, CHARGED_NOPU),  # the object itself (self_idx=0)
        (1.0, 0.75, 1.0, NEUTRAL),  # deta = R exactly: in
        (2.0, 0.5, 1.25, CHARGED_NOPU),  # dphi = R exactly: in
        (4.0, 0.5, 0.75, CHARGED_PU),  # dphi = -R: in
        (8.0, 0.25 - 2**-20, 1.0, NEUTRAL),  # just outside
        (PT_MIN, 0.5, 1.125, NEUTRAL),  # pT == pt_min: in (Delphes drops pT < PTMin)
        (PT_MIN - 2**-20, 0.5, 1.125, NEUTRAL),  # below pt_min: out
        (16.0, 0.55, -1.0, CHARGED_NOPU),  # small deta, large dphi: out
    ]
    s = _single(cands, 0.0, self_idx=0)
    assert (s.charged[0], s.charged_pu[0], s.neutral[0]) == (2.0, 4.0, 1.0 + PT_MIN)
    assert s.isolation_var[0] == pytest.approx((2.0 + max(1.5 - 2.0, 0.0)) / 20.0, abs=1e-15)


def test_phi_wraps_around() -> None:
    s = _single(
        [(3.0, 0.0, -3.0, NEUTRAL), (5.0, 0.0, 0.0, NEUTRAL)], 0.0, obj=(10.0, 0.0, 3.0), r=0.4
    )
    assert s.neutral[0] == 3.0  # dphi = 2 pi - 6 = 0.283


def test_scalar_rho_and_empty_batches() -> None:
    b = _random_batch(2)
    s = isolation(*_arrays(b)[:-1], 2.0, delta_r_max=R, pt_min=PT_MIN)
    np.testing.assert_allclose(
        s.isolation_var_rho_corr, _run_reference(dict(b, rho=[2.0] * len(b["opt"])))[:, 4],
        rtol=1e-9, atol=1e-12,
    )  # fmt: skip
    e, ei = np.zeros(0), np.zeros(0, np.int64)
    s = isolation([0, 0], e, e, e, ei, [0, 0], e, e, e, ei, e, delta_r_max=R, pt_min=PT_MIN)
    assert s.charged.shape == s.isolation_var_rho_corr.shape == (0,)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"oself": [5]}, "obj_self"),
        ({"oself": [-2]}, "obj_self"),
        ({"ccls": [0, 3]}, "cand_class"),
        ({"rho": [1.0, 2.0]}, "rho"),
        ({"opt": [0.0]}, "obj_pt"),
        ({"ooff": [0, 2]}, "obj_offsets"),
        ({"coff": [0, 1, 2]}, "cand_offsets"),
        ({"ceta": [0.0, float("nan")]}, "cand_eta"),
        ({"r": 0.0}, "delta_r_max"),
    ],
)
def test_bad_input_raises(change: dict[str, Any], match: str) -> None:
    good: dict[str, Any] = {
        "ooff": [0, 1], "opt": [10.0], "oeta": [0.0], "ophi": [0.0], "oself": [0],
        "coff": [0, 2], "cpt": [10.0, 1.0], "ceta": [0.0, 0.1], "cphi": [0.0, 0.1],
        "ccls": [1, 0], "rho": [1.0], "r": 0.4,
    }  # fmt: skip
    good.update(change)
    with pytest.raises(ConfigError, match=match):
        isolation(*(np.asarray(good[k]) for k in KEYS), delta_r_max=good["r"], pt_min=PT_MIN)
