"""The shared early stopping: the stop decision, the best weights restored, divergence refused."""

from __future__ import annotations

import math

import pytest
import torch

from l1scout.errors import L1ScoutError
from l1scout.tasks._early_stopping import EarlyStopping


def _net(value: float) -> torch.nn.Linear:
    net = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        net.weight.fill_(value)
    return net


def test_the_best_epochs_weights_are_restored() -> None:
    net = _net(0.0)
    stop = EarlyStopping(patience=5, min_delta=0.0, max_epochs=4)
    for epoch, loss in enumerate([3.0, 1.0, 2.0, 1.5]):
        with torch.no_grad():
            net.weight.fill_(float(epoch))
        assert not stop.step(epoch, loss, net)
    stop.restore(net, "train.learning_rate", 1e-3)
    assert float(net.weight.detach()) == 1.0
    assert (stop.best, stop.best_epoch, stop.stopped_early) == (1.0, 1, False)
    assert not net.training


def test_min_delta_counts_small_gains_as_none() -> None:
    net = _net(0.0)
    stop = EarlyStopping(patience=2, min_delta=0.1, max_epochs=10)
    assert [stop.step(e, v, net) for e, v in enumerate([1.0, 0.95, 0.92])] == [False, False, True]
    assert stop.best_epoch == 0
    assert stop.stopped_early


def test_a_stop_at_the_last_epoch_is_not_early() -> None:
    stop = EarlyStopping(patience=1, min_delta=0.0, max_epochs=2)
    net = _net(0.0)
    assert [stop.step(e, v, net) for e, v in enumerate([1.0, 2.0])] == [False, True]
    assert not stop.stopped_early


def test_a_never_finite_validation_loss_is_refused_naming_the_field() -> None:
    stop = EarlyStopping(patience=3, min_delta=0.0, max_epochs=3)
    net = _net(0.0)
    for epoch in range(3):
        stop.step(epoch, math.nan, net)
    with pytest.raises(L1ScoutError, match=r"training\.learning_rate \(now 0\.01\)"):
        stop.restore(net, "training.learning_rate", 0.01)
