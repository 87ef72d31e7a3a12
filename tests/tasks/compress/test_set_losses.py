"""Chamfer and Sinkhorn set losses on hand-made sets, against hand computations and exact assignment."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment

from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.compress.set_losses import (
    chamfer_loss,
    existence_loss,
    pair_cost,
    sinkhorn_loss,
    slot_mask,
)

SURE = 30.0  # an existence logit that is certainly "real"


def _logits(mask: torch.Tensor) -> torch.Tensor:
    real = slot_mask(mask, mask.shape[1])
    return torch.where(real, torch.tensor(SURE), torch.tensor(-SURE))


def _random_sets(n=3, k=6, f=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, k, f, generator=g, dtype=torch.float64)
    y = torch.randn(n, k, f, generator=g, dtype=torch.float64)
    counts = torch.tensor([k, k - 2, 3])[:n]
    mask = torch.arange(k)[None, :] < counts[:, None]
    return x, y, mask


def test_chamfer_hand_computed_two_particles():
    # pred (0,0), (2,0); target (0,1), (3,0)
    # cost: [[1, 9], [5, 1]] -> target->pred mins 1, 1; pred->target mins 1, 1
    pred = torch.tensor([[[0.0, 0.0], [2.0, 0.0]]])
    target = torch.tensor([[[0.0, 1.0], [3.0, 0.0]]])
    mask = torch.ones(1, 2, dtype=torch.bool)
    assert pair_cost(pred, target).tolist() == [[[1.0, 9.0], [5.0, 1.0]]]
    out = chamfer_loss(pred, _logits(mask), target, mask)
    assert float(out["chamfer"]) == pytest.approx(2.0)
    # weights: target (0,1) weighs 3, (3,0) weighs 1; pred (2,0) weighs 1, (0,0) weighs 0
    out = chamfer_loss(
        pred,
        _logits(mask),
        target,
        mask,
        target_weight=torch.tensor([[3.0, 1.0]]),
        pred_weight=torch.tensor([[0.0, 1.0]]),
    )
    assert float(out["chamfer"]) == pytest.approx(0.75 * 1 + 0.25 * 1 + 1.0 * 1)
    # move pred 1 to (2.5, 0): target 2 -> 0.25, pred 1 -> 0.25, target 1 still 1, pred 0 -> 1
    pred2 = torch.tensor([[[0.0, 0.0], [2.5, 0.0]]])
    assert float(chamfer_loss(pred2, _logits(mask), target, mask)["chamfer"]) == pytest.approx(
        0.5 * (1 + 0.25) + 0.5 * (1 + 0.25)
    )


@pytest.mark.parametrize("loss", ["chamfer", "sinkhorn"])
def test_identical_sets_give_zero(loss):
    x, _, mask = _random_sets()
    if loss == "chamfer":
        out = chamfer_loss(x, _logits(mask), x, mask)
        assert float(out["chamfer"]) == 0.0
    else:
        out = sinkhorn_loss(x, _logits(mask), x, mask, epsilon=0.05, iterations=100)
        assert abs(float(out["sinkhorn"])) < 1e-6  # debiased: 0 up to convergence
        biased = sinkhorn_loss(
            x, _logits(mask), x, mask, epsilon=0.05, iterations=100, debias=False
        )
        # OT_eps(a, a) > 0: the entropic bias, at most eps ln(k)
        assert 0 < float(biased["sinkhorn"]) <= 0.05 * np.log(6)
    assert float(out["existence"]) < 1e-10


@pytest.mark.parametrize("loss", ["chamfer", "sinkhorn"])
def test_permutation_invariance_and_padding_ignored(loss):
    x, y, mask = _random_sets()

    def value(pred, target, m):
        if loss == "chamfer":
            return float(chamfer_loss(pred, _logits(m), target, m)["loss"])
        return float(
            sinkhorn_loss(pred, _logits(m), target, m, epsilon=0.1, iterations=200)["loss"]
        )

    ref = value(x, y, mask)
    # permute the real target particles of each event
    y_perm = y.clone()
    for e, n in enumerate(mask.sum(1).tolist()):
        y_perm[e, :n] = y[e, torch.randperm(n, generator=torch.Generator().manual_seed(e))]
    assert value(x, y_perm, mask) == pytest.approx(ref, rel=1e-9, abs=1e-9)
    # permute the real predicted slots
    x_perm = x.clone()
    for e, n in enumerate(mask.sum(1).tolist()):
        x_perm[e, :n] = x[e, torch.randperm(n, generator=torch.Generator().manual_seed(10 + e))]
    assert value(x_perm, y, mask) == pytest.approx(ref, rel=1e-7, abs=1e-9)
    # change what padding holds, in the target and in the unreal predicted slots
    y_pad, x_pad = y.clone(), x.clone()
    y_pad[~mask] = 1e3
    x_pad[~mask] = -1e3
    assert value(x_pad, y_pad, mask) == pytest.approx(ref, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("n", [2, 3, 5])
def test_sinkhorn_approaches_the_exact_assignment(n):
    g = torch.Generator().manual_seed(n)
    x = torch.rand(1, n, 2, generator=g, dtype=torch.float64)
    y = torch.rand(1, n, 2, generator=g, dtype=torch.float64)
    mask = torch.ones(1, n, dtype=torch.bool)
    cost = pair_cost(x, y)[0].numpy()
    rows, cols = linear_sum_assignment(cost)
    exact = cost[rows, cols].sum() / n  # uniform weights 1/n
    out = sinkhorn_loss(x, _logits(mask), y, mask, epsilon=1e-3, iterations=2000, debias=False)
    assert float(out["sinkhorn"]) == pytest.approx(exact, abs=2e-3 * np.log(n) + 1e-4)


def test_sinkhorn_weights_move_mass():
    # one predicted point at 0 carries all the mass; targets at 1 (weight 3) and 2 (weight 1)
    pred = torch.tensor([[[0.0], [0.0]]], dtype=torch.float64)
    target = torch.tensor([[[1.0], [2.0]]], dtype=torch.float64)
    mask = torch.ones(1, 2, dtype=torch.bool)
    out = sinkhorn_loss(
        pred,
        _logits(mask),
        target,
        mask,
        target_weight=torch.tensor([[3.0, 1.0]]),
        epsilon=1e-3,
        iterations=500,
        debias=False,
    )
    assert float(out["sinkhorn"]) == pytest.approx(0.75 * 1 + 0.25 * 4, abs=5e-3)


@pytest.mark.parametrize("loss", ["chamfer", "sinkhorn"])
def test_gradients_are_finite(loss):
    x, y, mask = _random_sets()
    x = x.float().requires_grad_(True)
    logits = torch.zeros(mask.shape, requires_grad=True)
    mask = mask.clone()
    mask[2] = False  # an event without particles
    if loss == "chamfer":
        out = chamfer_loss(x, logits, y.float(), mask)
    else:
        out = sinkhorn_loss(x, logits, y.float(), mask, epsilon=0.01, iterations=30)
    out["loss"].backward()
    assert torch.isfinite(out["loss"])
    assert torch.isfinite(x.grad).all()
    assert torch.isfinite(logits.grad).all()
    assert x.grad.abs().sum() > 0
    # nothing flows into unreal predicted slots from the set term
    real = slot_mask(mask, x.shape[1])
    assert float(x.grad[~real].abs().sum()) == 0.0


def test_existence_term_counts_slots():
    mask = torch.tensor([[True, True, False, False]])
    assert slot_mask(mask, 4).tolist() == [[True, True, False, False]]
    good = torch.tensor([[SURE, SURE, -SURE, -SURE]])
    bad = torch.tensor([[SURE, SURE, SURE, -SURE]])
    assert float(existence_loss(good, mask)) < 1e-10
    assert float(existence_loss(bad, mask)) == pytest.approx(SURE / 4, rel=1e-6)


def test_bad_shapes_and_settings():
    x, y, mask = _random_sets()
    with pytest.raises(DataFormatError, match="features"):
        chamfer_loss(x, _logits(mask), y[..., :2], mask)
    with pytest.raises(DataFormatError, match="logits"):
        chamfer_loss(x, _logits(mask)[:, :2], y, mask)
    with pytest.raises(ConfigError, match="epsilon"):
        sinkhorn_loss(x, _logits(mask), y, mask, epsilon=0.0)
