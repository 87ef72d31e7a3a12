"""The classifier training: separable hand-made classes are learnt, seeds reproduce, bad inputs are refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from l1scout.errors import DataFormatError
from l1scout.tasks.classify.config import TrainingConfig
from l1scout.tasks.classify.data import ViewInputs
from l1scout.tasks.classify.inputs import ObjectInputs, ParticleInputs
from l1scout.tasks.classify.models import ClassifierModelConfig
from l1scout.tasks.classify.training import (
    ModelInputs,
    model_inputs,
    predict_probabilities,
    train_classifier,
)

FAST = TrainingConfig(learning_rate=1e-2, batch_size=32, max_epochs=15, patience=15, threads=1)


def _sets(n: int, seed: int) -> tuple[ModelInputs, np.ndarray]:
    """Three classes of tokens: the class sets the mean of feature 0 of the real tokens."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n).astype(np.int64)
    x = rng.normal(size=(n, 6, 4)).astype(np.float32)
    x[:, :, 0] += 3.0 * labels[:, None]
    mask = rng.random((n, 6)) < 0.7
    mask[:, 0] = True
    x[~mask] = 0.0
    return ModelInputs(x, mask), labels


@pytest.mark.parametrize(
    "cfg",
    [
        ClassifierModelConfig(kind="particles", hidden=16, hidden_layers=1, dropout=0.0),
        ClassifierModelConfig(
            kind="transformer", width=16, n_heads=2, n_layers=1, ff_dim=16, hidden=16, dropout=0.0
        ),
    ],
)
def test_separable_classes_are_learnt_and_the_best_epoch_is_kept(
    cfg: ClassifierModelConfig,
) -> None:
    train, val, test = _sets(300, 0), _sets(100, 1), _sets(200, 2)
    epochs: list[int] = []
    result = train_classifier(cfg, train, val, 3, FAST, on_epoch=lambda e, _: epochs.append(e))
    assert epochs == list(range(len(result.history)))
    best = min(h["val_loss"] for h in result.history)
    assert result.history[result.best_epoch]["val_loss"] == best
    probs = predict_probabilities(result.model, test[0])
    assert probs.shape == (200, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert (probs.argmax(axis=1) == test[1]).mean() > 0.9
    assert not result.model.training


def test_the_same_seed_gives_the_same_weights_and_another_seed_others() -> None:
    cfg = ClassifierModelConfig(kind="particles", hidden=8, hidden_layers=1, dropout=0.0)
    tc = TrainingConfig(batch_size=32, max_epochs=2, patience=5, threads=1)
    train, val = _sets(100, 0), _sets(50, 1)
    before = torch.random.get_rng_state()
    a = train_classifier(cfg, train, val, 3, tc)
    assert torch.equal(torch.random.get_rng_state(), before)  # the caller's generator untouched
    b = train_classifier(cfg, train, val, 3, tc)
    c = train_classifier(cfg, train, val, 3, tc.model_copy(update={"seed": 1}))
    sa, sb, sc = (r.model.state_dict() for r in (a, b, c))
    for name, value in sa.items():
        assert torch.equal(value, sb[name]), name
    assert any(not torch.equal(value, sc[name]) for name, value in sa.items())


def test_the_mlp_reads_the_flat_vector_with_a_mask_of_ones() -> None:
    n = 5
    objects = ObjectInputs(
        tokens=np.zeros((n, 37, 13), np.float32),
        mask=np.zeros((n, 37), bool),
        flat=np.arange(n * 247, dtype=np.float32).reshape(n, 247),
    )
    particles = ParticleInputs(np.ones((n, 128, 14), np.float32), np.ones((n, 128), bool))
    inputs = ViewInputs(objects, particles)
    mlp = model_inputs("mlp", inputs)
    assert mlp.x is objects.flat
    assert mlp.mask.shape == (n, 1)
    assert mlp.mask.all()
    assert model_inputs("transformer", inputs).x.shape == (n, 37, 13)
    assert model_inputs("particles", inputs).mask.shape == (n, 128)
    with pytest.raises(DataFormatError, match="'gnn'"):
        model_inputs("gnn", inputs)


def test_bad_labels_and_nan_inputs_are_refused_naming_the_set() -> None:
    cfg = ClassifierModelConfig(kind="particles", hidden=8)
    train, val = _sets(20, 0), _sets(10, 1)
    with pytest.raises(DataFormatError, match=r"train: expected labels in 0 \.\.\. 1"):
        train_classifier(cfg, train, val, 2, FAST)
    bad = ModelInputs(train[0].x.copy(), train[0].mask)
    bad.x[0, 0, 0] = np.nan
    with pytest.raises(DataFormatError, match=r"train\.x: expected finite values"):
        train_classifier(cfg, (bad, train[1]), val, 3, FAST)
