"""The tagger's training on synthetic jets whose class is visible in one feature."""

from __future__ import annotations

import numpy as np
import torch

from l1scout.tasks.jettag.config import JetTagTrainingConfig
from l1scout.tasks.jettag.features import JetTagInputs
from l1scout.tasks.jettag.model import JetTagModelConfig
from l1scout.tasks.jettag.training import (
    class_probabilities,
    class_weights,
    corrected_pt,
    jettag_loss,
    predict_jettag,
    regression_target,
    train_jettag,
)


def _jets(n: int, seed: int) -> JetTagInputs:
    """Jets of 3 classes: feature 0 of every real constituent is 2 x class + noise; gen pT = 1.5 jet pT."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 3, n)
    label[rng.uniform(size=n) < 0.1] = -1  # unlabelled: regression only
    x = rng.normal(0, 0.3, (n, 16, 21)).astype(np.float32)
    x[:, :, 0] += 2.0 * np.maximum(label, 0)[:, None]
    counts = rng.integers(1, 17, n)
    mask = np.arange(16)[None, :] < counts[:, None]
    x[~mask] = 0.0
    jet_pt = rng.uniform(20, 100, n).astype(np.float32)
    return JetTagInputs(
        constituents=x,
        mask=mask,
        jet_pt=jet_pt,
        jet_eta=np.zeros(n, np.float32),
        jet_phi=np.zeros(n, np.float32),
        event=np.arange(n, dtype=np.int64),
        jet=np.zeros(n, np.int64),
        btag=np.zeros(n, np.int64),
        label=label.astype(np.int64),
        gen_pt=(1.5 * jet_pt).astype(np.float32),
    )


_CFG = JetTagTrainingConfig(
    learning_rate=1e-2, batch_size=128, max_epochs=12, patience=3, threads=1
)
_MODEL = JetTagModelConfig(phi_widths=(8,), rho_widths=(8,))


def test_class_weights_balance_the_classes() -> None:
    labels = np.array([0] * 90 + [1] * 10 + [-1] * 50)
    w = class_weights(labels, 3)
    counts = np.bincount(labels[labels >= 0], minlength=3)
    # every present class carries the same total weight; the mean per labelled jet is 1
    assert np.isclose(counts[0] * w[0], counts[1] * w[1])
    assert np.isclose((counts * w).sum(), 100.0)
    assert w[2] == 0.0


def test_loss_ignores_unlabelled_and_unmatched_jets() -> None:
    out = torch.tensor([[5.0, 0.0, 0.0, 0.3], [0.0, 9.0, 0.0, 50.0]])
    label = torch.tensor([0, -1])
    target = torch.tensor([0.3, 0.0])
    losses = jettag_loss(
        out,
        label,
        target,
        torch.tensor([True, False]),
        torch.ones(3),
        regression_weight=2.0,
        huber_delta=0.1,
    )
    expected_ce = float(torch.nn.functional.cross_entropy(out[:1, :3], label[:1]))
    assert np.isclose(float(losses["class"]), expected_ce)
    assert float(losses["regression"]) == 0.0  # the only matched jet is exact
    assert np.isclose(float(losses["loss"]), expected_ce)


def test_regression_target_is_log_ratio() -> None:
    t, ok = regression_target(np.array([30.0, 0.0, np.nan]), np.array([15.0, 10.0, 10.0]))
    assert ok.tolist() == [True, False, False]
    assert np.isclose(t[0], np.log(2.0))
    assert t[1] == 0.0


def test_training_learns_classes_and_response_reproducibly() -> None:
    train, val, test = _jets(3000, 0), _jets(600, 1), _jets(600, 2)
    result = train_jettag(train, val, _MODEL, _CFG)
    assert result.history[-1]["val_loss"] < result.history[0]["val_loss"] * 1.01
    assert result.history[result.best_epoch]["val_loss"] == min(
        h["val_loss"] for h in result.history
    )
    out = predict_jettag(result.model, test.constituents, test.mask)
    assert out.shape == (600, 9)  # 8 logits (5 classes absent here) + regression
    p = class_probabilities(out)
    labelled = test.label >= 0
    accuracy = np.mean(np.argmax(p[labelled], axis=1) == test.label[labelled])
    assert accuracy > 0.9  # chance is 1/3
    response = corrected_pt(out, test.jet_pt) / test.gen_pt
    assert abs(np.median(response) - 1.0) < 0.1  # raw response is 1 / 1.5 = 0.67
    again = train_jettag(train, val, _MODEL, _CFG)
    assert np.array_equal(predict_jettag(again.model, test.constituents, test.mask), out)
