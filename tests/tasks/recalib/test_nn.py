"""Seed-style networks: architecture naming, losses, training with early stopping."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from l1scout.errors import ConfigError
from l1scout.tasks.recalib.nn import (
    build_network,
    fit_network,
    layer_sizes,
    log_cosh,
    parse_arch,
    predict_network,
)


def _dense_macs(model: torch.nn.Module) -> int:
    return sum(
        m.in_features * m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear)
    )


@pytest.mark.parametrize(
    ("arch", "macs", "seed"),
    [
        # 4 -> 128 -> 128 -> 128 -> 128 -> 3: 4*128 + 3*128*128 + 128*3
        ("128x4", 512 + 49_152 + 384, 66_432),
        # 4 -> 32 -> 32 -> 32 -> 3: 4*32 + 2*32*32 + 32*3
        ("32x3", 128 + 2_048 + 96, 3_296),
    ],
)
def test_seed_architectures_have_the_seed_depth(arch: str, macs: int, seed: int) -> None:
    net = build_network(4, 3, arch)
    kinds = [type(m).__name__ for m in net]
    hidden, blocks = parse_arch(arch)
    # seed Table 6: N_l hidden blocks of dense + batch norm + ReLU, then a plain dense layer
    assert kinds == ["Linear", "BatchNorm1d", "ReLU"] * blocks + ["Linear"]
    assert [m.out_features for m in net if isinstance(m, torch.nn.Linear)] == [hidden] * blocks + [
        3
    ]
    assert _dense_macs(net) == macs
    # the seed's Table 8 figure, H (D + N_l H + T), is one H x H layer more
    assert seed == macs + hidden * hidden


def test_layer_sizes_and_bad_names() -> None:
    assert layer_sizes(3, 1, "8x1") == [3, 8, 1]
    assert layer_sizes(4, 3, "32x3") == [4, 32, 32, 32, 3]
    assert parse_arch(" 64 x 2 ") == (64, 2)
    for bad in ("128", "x4", "0x3", "8x0", "a x b", "128x-1"):
        with pytest.raises(ConfigError, match="architecture"):
            parse_arch(bad)


def test_log_cosh_matches_the_definition_and_does_not_overflow() -> None:
    r = torch.linspace(-5, 5, 101, dtype=torch.float64)
    reference = torch.log(torch.cosh(r)).mean()
    assert float(log_cosh(r, torch.zeros_like(r))) == pytest.approx(float(reference), rel=1e-12)
    big = log_cosh(torch.tensor([1000.0]), torch.tensor([0.0]))
    assert math.isfinite(float(big))
    assert float(big) == pytest.approx(1000.0 - math.log(2.0), rel=1e-6)


def _problem(n: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(n, 2)).astype(np.float32)
    y = np.stack([np.sin(4 * x[:, 0]), x[:, 0] * x[:, 1]], axis=1)
    y = ((y - y.mean(0)) / y.std(0) + 0.1 * rng.normal(size=y.shape)).astype(np.float32)
    cut = int(0.75 * n)
    return x[:cut], y[:cut], x[cut:], y[cut:]


@pytest.fixture(scope="module")
def problem() -> tuple[np.ndarray, ...]:
    return _problem(600)


def test_fit_learns_and_keeps_the_best_epoch(problem: tuple[np.ndarray, ...]) -> None:
    xt, yt, xv, yv = problem
    seen: list[int] = []
    fit = fit_network(
        "16x1",
        xt,
        yt,
        xv,
        yv,
        batch_size=32,
        epochs=25,
        patience=5,
        threads=1,
        on_epoch=lambda epoch, _m: seen.append(epoch),
    )
    assert seen == [int(h["epoch"]) for h in fit.history]
    val = [h["val_loss"] for h in fit.history]
    assert fit.best_epoch == int(np.argmin(val)) + 1
    # the restored weights are those of the best epoch: recompute its validation loss
    pred = fit.predict(xv)
    assert float(np.mean((pred - yv) ** 2)) == pytest.approx(min(val), rel=1e-5)
    # learned something real: far below the variance of the standardised targets (~1)
    assert min(val) < 0.3 * float(np.mean(yv**2))
    assert fit.seconds > 0
    assert fit.n_inputs == 2
    assert fit.n_outputs == 2
    assert not fit.model.training


def test_early_stopping_stops_after_patience(problem: tuple[np.ndarray, ...]) -> None:
    xt, yt, xv, yv = problem
    # a huge learning rate makes the validation loss jump around: it stops early
    fit = fit_network(
        "8x1", xt, yt, xv, yv, batch_size=64, epochs=200, patience=2, learning_rate=0.5, threads=1
    )
    assert len(fit.history) < 200
    assert len(fit.history) - fit.best_epoch == 2


def test_same_seed_same_network_other_seed_other_network(problem: tuple[np.ndarray, ...]) -> None:
    xt, yt, xv, yv = problem
    kw = {"batch_size": 64, "epochs": 3, "patience": 3, "threads": 1}
    a = fit_network("8x1", xt, yt, xv, yv, seed=5, **kw)
    b = fit_network("8x1", xt, yt, xv, yv, seed=5, **kw)
    c = fit_network("8x1", xt, yt, xv, yv, seed=6, **kw)
    for pa, pb in zip(a.model.state_dict().values(), b.model.state_dict().values(), strict=True):
        assert torch.equal(pa, pb)
    assert not np.array_equal(a.predict(xv), c.predict(xv))
    assert a.history == b.history


def test_weight_decay_shrinks_the_dense_weights(problem: tuple[np.ndarray, ...]) -> None:
    xt, yt, xv, yv = problem
    kw = {"batch_size": 64, "epochs": 8, "patience": 8, "threads": 1, "seed": 2}
    plain = fit_network("16x2", xt, yt, xv, yv, **kw)
    decayed = fit_network("16x2", xt, yt, xv, yv, weight_decay=0.05, **kw)

    def norm(fit: object) -> float:
        model = fit.model  # type: ignore[attr-defined]
        return sum(
            float(m.weight.detach().pow(2).sum())
            for m in model.modules()
            if isinstance(m, torch.nn.Linear)
        )

    assert norm(decayed) < 0.8 * norm(plain)


def test_log_cosh_training_runs_and_reports_its_loss(problem: tuple[np.ndarray, ...]) -> None:
    xt, yt, xv, yv = problem
    fit = fit_network("8x1", xt, yt, xv, yv, loss="logcosh", batch_size=64, epochs=2, threads=1)
    pred = torch.from_numpy(fit.predict(xv))
    expected = float(log_cosh(pred, torch.from_numpy(yv)))
    assert fit.history[fit.best_epoch - 1]["val_loss"] == pytest.approx(expected, rel=1e-5)


def test_bad_inputs_are_config_errors(problem: tuple[np.ndarray, ...]) -> None:
    xt, yt, xv, yv = problem
    with pytest.raises(ConfigError, match="differ in length"):
        fit_network("8x1", xt, yt[:-1], xv, yv)
    with pytest.raises(ConfigError, match="loss"):
        fit_network("8x1", xt, yt, xv, yv, loss="mae")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="batch_size"):
        fit_network("8x1", xt, yt, xv, yv, batch_size=1)
    with pytest.raises(ConfigError, match="2-D"):
        fit_network("8x1", xt[:, 0], yt, xv, yv)


def test_predict_network_batches_like_one_pass() -> None:
    torch.manual_seed(0)
    net = build_network(3, 2, "8x1").eval()
    x = np.random.default_rng(1).uniform(size=(50, 3)).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(predict_network(net, x, batch_size=7), ref, rtol=1e-6, atol=1e-7)
