"""Physics augmentations: rotation, masking, smearing, re-sorting, on hand-made and random events."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from l1scout.errors import DataFormatError
from l1scout.tasks.anomaly.augment import (
    GROUP_SLICES,
    augment,
    mask_objects,
    rotate,
    smear,
    sort_groups,
    wrap_phi,
)
from l1scout.tasks.anomaly.config import AugmentConfig, Resolution

# object index ranges of the 57 inputs (MET, 4 e/gamma, 4 muons, 10 jets)
_TYPES = {"MET": [0], "EGamma": [1, 2, 3, 4], "Muon": [5, 6, 7, 8], "Jet": list(range(9, 19))}


def _events(n: int, seed: int = 0, absent: float = 0.35) -> torch.Tensor:
    """(n, 57) physical events; each group pT-sorted with zero padding at its end."""
    rng = np.random.default_rng(seed)
    pt = rng.lognormal(3.0, 0.7, (n, 19))
    eta = rng.uniform(-3.0, 3.0, (n, 19))
    eta[:, 0] = 0.0
    phi = rng.uniform(-math.pi, math.pi, (n, 19))
    pt[rng.random((n, 19)) < absent] = 0.0
    x = np.stack([pt, eta, phi], axis=-1)
    x[pt == 0] = 0.0
    for _, first, count in GROUP_SLICES:
        order = np.argsort(-x[:, first : first + count, 0], axis=1, kind="stable")
        x[:, first : first + count] = np.take_along_axis(
            x[:, first : first + count], order[..., None], axis=1
        )
    return torch.from_numpy(x.reshape(n, 57).astype(np.float32))


def _obj(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], 19, 3)


def test_group_layout_matches_trigger_inputs() -> None:
    assert GROUP_SLICES == (("MET", 0, 1), ("EGamma", 1, 4), ("Muon", 5, 4), ("Jet", 9, 10))


def test_wrap_phi_range_and_values() -> None:
    phi = torch.tensor([0.0, math.pi, -math.pi, 3 * math.pi, 7.0, -7.0], dtype=torch.float64)
    out = wrap_phi(phi)
    assert torch.all(out >= -math.pi)
    assert torch.all(out < math.pi)
    expected = [0.0, -math.pi, -math.pi, -math.pi, 7.0 - 2 * math.pi, -7.0 + 2 * math.pi]
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-12)


def test_rotation_hand_made_event() -> None:
    x = torch.zeros(1, 57)
    x[0, 0:3] = torch.tensor([30.0, 0.0, 1.0])  # MET
    x[0, 15:18] = torch.tensor([20.0, -1.2, -3.0])  # first muon
    y = rotate(x, torch.tensor([1.0]))
    assert y[0, 0:3].tolist() == pytest.approx([30.0, 0.0, 2.0])
    assert y[0, 15:18].tolist() == pytest.approx([20.0, -1.2, -2.0])
    keep = torch.ones(57, dtype=torch.bool)
    keep[[2, 17]] = False
    assert torch.equal(y[0, keep], x[0, keep])


def test_rotation_preserves_pt_eta_and_shifts_every_real_phi_by_one_angle() -> None:
    x = _events(2000, seed=1)
    cfg = AugmentConfig(smear=False, mask_probability=0.0, resort=False, rotate=True)
    y = augment(x, cfg, torch.Generator().manual_seed(7))
    ox, oy = _obj(x), _obj(y)
    real = ox[..., 0] > 0
    assert torch.equal(ox[..., :2], oy[..., :2])  # pT and eta, padding included
    assert torch.equal(oy[~real], torch.zeros_like(oy[~real]))  # padding untouched
    assert torch.all(oy[..., 2] >= -math.pi)
    assert torch.all(oy[..., 2] < math.pi)
    dphi = wrap_phi((oy[..., 2] - ox[..., 2]).double())
    angles = []
    for i in range(x.shape[0]):
        d = dphi[i][real[i]]
        # one angle per event: all differences agree modulo 2 pi
        spread = wrap_phi(d - d[0]).abs().max()
        assert float(spread) < 1e-5
        angles.append(float(d[0]))
    # the angles are spread over the circle (uniform: mean ~ 0, std ~ pi / sqrt(3))
    assert abs(np.mean(angles)) < 0.2
    assert np.std(angles) == pytest.approx(math.pi / math.sqrt(3), rel=0.05)


def test_masking_rate_and_met_kept() -> None:
    x = _events(4000, seed=2, absent=0.2)
    p = 0.3
    y = mask_objects(x, p, torch.Generator().manual_seed(3))
    ox, oy = _obj(x), _obj(y)
    real = ox[..., 0] > 0
    dropped = real & (oy[..., 0] == 0)
    # a dropped object is all zeros; a kept one is unchanged
    assert torch.equal(oy[dropped], torch.zeros_like(oy[dropped]))
    kept = real & ~dropped
    assert torch.equal(oy[kept], ox[kept])
    assert torch.equal(oy[~real], ox[~real])
    assert not dropped[:, 0].any()  # MET never dropped by default
    n_real = int(real[:, 1:].sum())
    rate = int(dropped[:, 1:].sum()) / n_real
    sigma = math.sqrt(p * (1 - p) / n_real)
    assert abs(rate - p) < 5 * sigma


def test_masking_met_when_asked() -> None:
    x = _events(3000, seed=4, absent=0.0)
    y = mask_objects(x, 0.5, torch.Generator().manual_seed(1), mask_met=True)
    met_dropped = float((_obj(y)[:, 0, 0] == 0).double().mean())
    assert met_dropped == pytest.approx(0.5, abs=0.05)


def _sort_reference(x: torch.Tensor) -> torch.Tensor:
    """Per event and group: real objects by decreasing pT (stable), then padding."""
    obj = _obj(x).numpy().copy()
    for ev in obj:
        for _, first, count in GROUP_SLICES:
            group = [tuple(o) for o in ev[first : first + count]]
            ordered = sorted(group, key=lambda o: -o[0])  # sorted() is stable
            ev[first : first + count] = np.array(ordered)
    return torch.from_numpy(obj.reshape(x.shape[0], 57))


def test_sort_groups_matches_reference_and_puts_padding_last() -> None:
    x = _events(300, seed=5)
    y = mask_objects(x, 0.4, torch.Generator().manual_seed(2))
    s = sort_groups(y)
    assert torch.equal(s, _sort_reference(y))
    os_ = _obj(s)
    for _, first, count in GROUP_SLICES:
        pts = os_[:, first : first + count, 0]
        assert torch.all(pts[:, :-1] >= pts[:, 1:])


def test_augment_with_masking_keeps_pt_ordering() -> None:
    x = _events(500, seed=6)
    y = augment(x, AugmentConfig(mask_probability=0.5), torch.Generator().manual_seed(0))
    oy = _obj(y)
    for _, first, count in GROUP_SLICES:
        pts = oy[:, first : first + count, 0]
        assert torch.all(pts[:, :-1] >= pts[:, 1:])
    assert torch.equal(oy[oy[..., 0] == 0], torch.zeros_like(oy[oy[..., 0] == 0]))
    assert torch.all(oy[:, 0, 1] == 0)  # MET eta stays 0
    # objects only disappear: never more real objects than before
    assert torch.all((oy[..., 0] > 0).sum(1) <= (_obj(x)[..., 0] > 0).sum(1))


def test_smearing_widths_match_config() -> None:
    cfg = AugmentConfig(
        met=Resolution(pt=0.2, eta=0.0, phi=0.1),
        egamma=Resolution(pt=0.04, eta=0.01, phi=0.02),
        muon=Resolution(pt=0.03, eta=0.005, phi=0.005),
        jet=Resolution(pt=0.12, eta=0.05, phi=0.05),
    )
    x = _events(20000, seed=7).double()
    y = smear(x, cfg, torch.Generator().manual_seed(11))
    ox, oy = _obj(x), _obj(y)
    real = ox[..., 0] > 0
    assert torch.equal(oy[~real], ox[~real])
    assert torch.all(oy[real][:, 0] > 0)
    res = {"MET": cfg.met, "EGamma": cfg.egamma, "Muon": cfg.muon, "Jet": cfg.jet}
    for name, idx in _TYPES.items():
        sel = real[:, idx]
        rel = (oy[:, idx, 0] / ox[:, idx, 0] - 1)[sel]
        deta = (oy[:, idx, 1] - ox[:, idx, 1])[sel]
        dphi = wrap_phi(oy[:, idx, 2] - ox[:, idx, 2])[sel]
        n = int(sel.sum())
        tol = 5 / math.sqrt(2 * n)  # relative statistical uncertainty of a std, 5 sigma
        want = res[name]
        assert float(rel.std()) == pytest.approx(want.pt, rel=tol), name
        assert abs(float(rel.mean())) < 5 * want.pt / math.sqrt(n), name
        assert float(dphi.std()) == pytest.approx(want.phi, rel=tol), name
        if want.eta == 0:
            assert torch.all(deta == 0), name
        else:
            assert float(deta.std()) == pytest.approx(want.eta, rel=tol), name
    assert torch.all(oy[:, 0, 1] == 0)


def test_smearing_keeps_phi_wrapped() -> None:
    x = torch.zeros(1000, 57)
    x[:, 27:30] = torch.tensor([50.0, 0.0, math.pi - 1e-3])
    cfg = AugmentConfig(jet=Resolution(pt=0.1, eta=0.1, phi=0.5))
    y = smear(x, cfg, torch.Generator().manual_seed(0))
    assert torch.all(y[:, 29] >= -math.pi)
    assert torch.all(y[:, 29] < math.pi)
    assert float((y[:, 29] < 0).double().mean()) > 0.3  # many crossed the boundary


def test_augment_is_reproducible_and_random() -> None:
    x = _events(200, seed=8)
    cfg = AugmentConfig()
    a = augment(x, cfg, torch.Generator().manual_seed(5))
    b = augment(x, cfg, torch.Generator().manual_seed(5))
    c = augment(x, cfg, torch.Generator().manual_seed(6))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert torch.equal(x, _events(200, seed=8))  # the input is not modified


def test_augment_with_nothing_enabled_is_identity_copy() -> None:
    x = _events(50, seed=9)
    cfg = AugmentConfig(smear=False, mask_probability=0.0, resort=False, rotate=False)
    y = augment(x, cfg, torch.Generator().manual_seed(0))
    assert torch.equal(x, y)
    assert y is not x


def test_wrong_shape_is_an_error() -> None:
    with pytest.raises(DataFormatError, match=r"\(n, 57\)"):
        rotate(torch.zeros(3, 56), torch.zeros(3))
