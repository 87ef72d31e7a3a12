"""The MLPF loss (l1scout.tasks.mlpf.loss): focal loss, weighting, padding, minimum."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from pydantic import ValidationError
from torch.nn import functional as F  # noqa: N812

from l1scout.errors import DataFormatError
from l1scout.tasks.mlpf.features import TOWER_COLUMNS, TRACK_COLUMNS, element_features, pad_events
from l1scout.tasks.mlpf.loss import (
    LOSS_PARTS,
    MLPFLossConfig,
    TargetBatch,
    batch_targets,
    focal_loss,
    mlpf_loss,
    regression_targets,
)


def test_focal_loss_by_hand_and_cross_entropy_at_gamma_zero() -> None:
    logits = torch.tensor([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    target = torch.tensor([0, 2])
    p = np.exp([1.0, 3.0]) / np.array(
        [np.exp([1.0, 2.0, 0.5]).sum(), np.exp([0.0, -1.0, 3.0]).sum()]
    )
    by_hand = -((1 - p) ** 2) * np.log(p)
    np.testing.assert_allclose(focal_loss(logits, target, 2.0).numpy(), by_hand, rtol=1e-6)
    ce = F.cross_entropy(logits, target, reduction="none")
    torch.testing.assert_close(focal_loss(logits, target, 0.0), ce)
    assert torch.all(focal_loss(logits, target, 2.0) < ce)  # gamma > 0 down-weights


def _example() -> tuple[list[torch.Tensor], TargetBatch]:
    """Three real elements: two particles (pT 4 and 9 GeV), one none."""
    outputs = [
        torch.tensor([[[0.0, 1.0], [2.0, 0.0], [0.5, 0.5]]]),
        torch.tensor([[[0.0, 1.0, 0.0, 0.0, 0.0, 0.0], [0.0] * 6, [1.0, 0.0, 2.0, 0.0, 0.0, 0.0]]]),
        torch.tensor(
            [[[0.1, 0.2, 0.0, 1.0, -0.1], [0.3, 0.0, 0.0, 0.0, 0.0], [0.5, 0.5, 0.5, 0.5, 0.5]]]
        ),
        torch.tensor([[[1.0, 0.0], [0.0, 0.0], [0.0, 3.0]]]),
    ]
    targets = TargetBatch(
        mask=torch.tensor([[True, True, True]]),
        is_particle=torch.tensor([[1, 0, 1]]),
        cls=torch.tensor([[1, 0, 2]]),
        regression=torch.tensor(
            [[[0.0, 0.0, 0.0, 1.0, 0.0], [0.0] * 5, [0.5, 0.5, 0.5, 0.5, 0.0]]]
        ),
        pt=torch.tensor([[4.0, 0.0, 9.0]]),
        pileup=torch.tensor([[0, 0, 1]]),
    )
    return outputs, targets


def test_loss_by_hand() -> None:
    outputs, targets = _example()
    loss = mlpf_loss(outputs, targets)

    def ce(logits: list[float], k: int) -> float:
        return -logits[k] + math.log(sum(math.exp(v) for v in logits))

    particle = 10 * (ce([0.0, 1.0], 1) + ce([2.0, 0.0], 0) + ce([0.5, 0.5], 1)) / 3
    p1 = math.exp(1.0) / (math.exp(1.0) + 5)
    p2 = math.exp(2.0) / (math.exp(1.0) + math.exp(2.0) + 4)
    cls = (-((1 - p1) ** 2) * math.log(p1) - (1 - p2) ** 2 * math.log(p2)) / 2
    # element 0: dpt 0.1, deta 0.2, de -0.1 (w = 2); element 2: de 0.5 (w = 3)
    terms = {
        "regression_log_pt_ratio": 2 * 0.01 / 2,
        "regression_eta": 0.04 / 2,
        "regression_sin_phi": 0.0,
        "regression_cos_phi": 0.0,
        "regression_log_e_ratio": (2 * 0.01 + 3 * 0.25) / 2,
    }
    pileup = (ce([1.0, 0.0], 0) + ce([0.0, 3.0], 1)) / 2
    expected = {
        "particle": particle,
        "class": cls,
        "regression": sum(terms.values()),
        "pileup": pileup,
    }
    expected |= terms
    expected["total"] = particle + cls + sum(terms.values()) + pileup
    assert set(loss) == {"total", *LOSS_PARTS}
    for key, value in expected.items():
        assert float(loss[key]) == pytest.approx(value, rel=1e-6, abs=1e-9), key


def test_padding_contributes_nothing() -> None:
    outputs, targets = _example()
    base = mlpf_loss(outputs, targets)
    g = torch.Generator().manual_seed(0)
    n_pad = 4
    padded_out = [
        torch.cat([o, 100 * torch.randn(1, n_pad, o.shape[-1], generator=g)], dim=1)
        for o in outputs
    ]
    padded = TargetBatch(
        mask=torch.cat([targets.mask, torch.zeros(1, n_pad, dtype=torch.bool)], dim=1),
        is_particle=torch.cat([targets.is_particle, torch.ones(1, n_pad, dtype=torch.long)], dim=1),
        cls=torch.cat([targets.cls, torch.full((1, n_pad), 4)], dim=1),
        regression=torch.cat([targets.regression, torch.randn(1, n_pad, 5, generator=g)], dim=1),
        pt=torch.cat([targets.pt, torch.full((1, n_pad), 100.0)], dim=1),
        pileup=torch.cat([targets.pileup, torch.ones(1, n_pad, dtype=torch.long)], dim=1),
    )
    with_pad = mlpf_loss(padded_out, padded)
    for key in base:
        assert float(with_pad[key]) == pytest.approx(float(base[key]), rel=1e-7), key


def test_perfect_prediction_is_the_minimum_of_every_part() -> None:
    _, targets = _example()
    big = 40.0
    perfect = [  # float64: a logit margin of 40 leaves a loss of e^-40
        big * F.one_hot(targets.is_particle, 2).double(),
        big * F.one_hot(targets.cls, 6).double(),
        targets.regression.double(),
        big * F.one_hot(targets.pileup, 2).double(),
    ]
    best = mlpf_loss(perfect, targets)
    for key in best:
        assert float(best[key]) < 1e-12, key
    for i, part in enumerate(("particle", "class", "regression", "pileup")):
        for eps in (0.1, -0.1):  # a small step away from the perfect outputs, either way
            worse = [o.clone() for o in perfect]
            if i == 2:
                worse[i] = worse[i] + eps
            else:  # move eps of the way towards the logits of a wrong answer
                worse[i] = (1 - abs(eps)) * worse[i] + abs(eps) * (big - worse[i])
            assert float(mlpf_loss(worse, targets)[part]) > float(best[part]), part


def test_no_true_particle_gives_zero_parts() -> None:
    outputs, targets = _example()
    none = TargetBatch(
        mask=targets.mask,
        is_particle=torch.zeros_like(targets.is_particle),
        cls=torch.zeros_like(targets.cls),
        regression=torch.zeros_like(targets.regression),
        pt=torch.zeros_like(targets.pt),
        pileup=torch.zeros_like(targets.pileup),
    )
    loss = mlpf_loss(outputs, none)
    assert float(loss["class"]) == float(loss["regression"]) == float(loss["pileup"]) == 0.0
    assert float(loss["total"]) == pytest.approx(float(loss["particle"]))
    assert torch.isfinite(loss["total"])


def test_batch_targets_follow_the_padded_layout() -> None:
    rng = np.random.default_rng(0)
    tracks = {c: rng.uniform(0.5, 1.0, 2) for c in TRACK_COLUMNS}
    tracks |= {
        "PT": np.array([10.0, 5.0]),
        "P": np.array([20.0, 5.0]),
        "EtaOuter": np.array([1.0, -1.0]),
    }
    towers = {c: rng.uniform(0.5, 1.0, 1) for c in TOWER_COLUMNS}
    towers |= {"E": np.array([8.0]), "ET": np.array([4.0]), "Eta": np.array([0.0])}
    el = element_features(tracks, [0, 2], towers, [0, 1])
    batch = pad_events(el, multiple=4)
    assert batch.index.tolist() == [[1, 2, 0, -1]]
    targets = {
        "is_particle": [1, 0, 1],
        "cls": [1, 0, 3],
        "pt": [20.0, 0.0, 2.0],
        "eta": [0.9, 0.0, 0.1],
        "sin_phi": [0.0, 0.0, 1.0],
        "cos_phi": [1.0, 0.0, 0.0],
        "energy": [20.0, 0.0, 16.0],
        "pu_fraction": [1.0 - 1e-7, 0.0, 0.99],
        "is_pu": [1, 0, 0],
    }
    t = batch_targets(batch, el, targets)
    assert t.mask.tolist() == [[True, True, True, False]]
    assert t.is_particle.tolist() == [[0, 1, 1, 0]]
    assert t.cls.tolist() == [[0, 3, 1, 0]]
    assert t.pileup.tolist() == [[0, 0, 1, 0]]  # 1 - 1e-7 counts as 1, 0.99 does not
    np.testing.assert_allclose(
        t.regression[0, 2].numpy(), [math.log(2.0), 0.9, 0.0, 1.0, 0.0], atol=1e-6
    )
    np.testing.assert_allclose(
        t.regression[0, 1].numpy(), [math.log(0.5), 0.1, 1.0, 0.0, math.log(2.0)], atol=1e-6
    )
    assert t.pt.tolist() == [[0.0, 2.0, 20.0, 0.0]]
    with pytest.raises(DataFormatError, match=r"^targets: missing pu_fraction"):
        batch_targets(batch, el, {k: v for k, v in targets.items() if k != "pu_fraction"})
    with pytest.raises(DataFormatError, match=r"^targets\.cls: expected a class > 0 exactly"):
        batch_targets(batch, el, targets | {"cls": [1, 2, 3]})
    with pytest.raises(
        DataFormatError, match=r"^targets\.pt: expected positive values for particles"
    ):
        regression_targets(targets | {"pt": [0.0, 0.0, 1.0]}, el.pt, el.energy)
    with pytest.raises(ValidationError):
        MLPFLossConfig(focal_gamma=-1.0)
