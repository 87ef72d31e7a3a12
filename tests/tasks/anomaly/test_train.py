"""Training and scoring from physical inputs: scaler op, learning, early stopping, determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from l1scout.errors import ConfigError, DataFormatError
from l1scout.io.scalers import PowerOfTwoRobustScaler
from l1scout.tasks.anomaly import train as train_module
from l1scout.tasks.anomaly.config import TrainConfig, VAEConfig, VICRegConfig
from l1scout.tasks.anomaly.models import VAE, VICReg
from l1scout.tasks.anomaly.train import ScalerLayer, TrainResult, evaluate, scores, train

VAE_METRICS = {
    "phase",
    "epoch",
    "loss",
    "reco",
    "kl",
    "val_loss",
    "val_reco",
    "val_kl",
    "seconds",
    "events_per_second",
}


def _zero_bias(n: int, rng: np.random.Generator) -> np.ndarray:
    """Zero-bias-like events: soft objects, Gaussian blobs in (log pT, eta), few objects each.

    MET ~ 10-30 GeV, one e/gamma in 30% of events, one muon in 10%, 0-5 jets
    (pT-sorted); phi uniform; missing objects zero.
    """
    pt = np.sort(rng.lognormal(2.8, 0.35, (n, 19)), axis=1)[:, ::-1]
    x = np.stack([pt, rng.normal(0.0, 1.5, (n, 19)), rng.uniform(-math.pi, math.pi, (n, 19))], -1)
    x[:, 0] = np.stack(
        [rng.lognormal(2.7, 0.3, n), np.zeros(n), rng.uniform(-math.pi, math.pi, n)], -1
    )
    present = np.zeros((n, 19), dtype=bool)
    present[:, 0] = True
    present[:, 1] = rng.random(n) < 0.3
    present[:, 5] = rng.random(n) < 0.1
    n_jets = rng.integers(0, 6, n)
    present[:, 9:] = np.arange(10)[None, :] < n_jets[:, None]
    x[~present] = 0.0
    return x.reshape(n, 57).astype(np.float32)


def _anomalous(n: int, rng: np.random.Generator) -> np.ndarray:
    """The same events with two hard central jets (200-400 GeV) and a hard muon."""
    x = _zero_bias(n, rng).reshape(n, 19, 3)
    x[:, 9] = np.stack([rng.uniform(250, 400, n), rng.normal(0, 0.5, n), rng.uniform(-3, 3, n)], -1)
    x[:, 10] = np.stack(
        [rng.uniform(200, 250, n), rng.normal(0, 0.5, n), rng.uniform(-3, 3, n)], -1
    )
    x[:, 5] = np.stack([rng.uniform(80, 150, n), rng.normal(0, 1, n), rng.uniform(-3, 3, n)], -1)
    return x.reshape(n, 57)


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(12)
    return {
        "train": _zero_bias(8_000, rng),
        "val": _zero_bias(3_000, rng),
        "test": _zero_bias(3_000, rng),
        "signal": _anomalous(1_000, rng),
    }


@pytest.fixture(scope="module")
def scaler(data: dict[str, np.ndarray]) -> PowerOfTwoRobustScaler:
    return PowerOfTwoRobustScaler(object_size=3).fit(data["train"])


FAST = TrainConfig(epochs=6, batch_size=256, lr=3e-3, patience=3, seed=3, threads=1)


@pytest.fixture(scope="module")
def trained_vae(data: dict[str, np.ndarray], scaler: PowerOfTwoRobustScaler) -> TrainResult:
    return train(VAEConfig(name="v"), FAST, data["train"], data["val"], scaler=scaler)


@pytest.mark.parametrize("pad_value", [None, 0.0, -3.5])
def test_scaler_layer_equals_scaler_transform(pad_value: float | None) -> None:
    rng = np.random.default_rng(1)
    x = _zero_bias(5000, rng)
    x[:, ::3] *= rng.uniform(0.5, 3.0, (5000, 19)).astype(np.float32)  # odd float32 values
    s = PowerOfTwoRobustScaler(object_size=3, pad_value=pad_value).fit(x)
    layer = ScalerLayer.from_scaler(s)
    out = layer(torch.from_numpy(x))
    assert out.dtype == torch.float32
    assert np.array_equal(out.numpy(), s.transform(x))
    x64 = x.astype(np.float64) + rng.normal(0, 1e-3, x.shape) * (x != 0)
    assert np.array_equal(layer(torch.from_numpy(x64)).numpy(), s.transform(x64))


def test_scaler_layer_needs_a_fitted_57_feature_scaler() -> None:
    with pytest.raises(ConfigError, match="fitted on 57 features"):
        ScalerLayer.from_scaler(PowerOfTwoRobustScaler(object_size=3))
    s = PowerOfTwoRobustScaler().fit(np.ones((10, 3)))
    with pytest.raises(ConfigError, match="got 3"):
        ScalerLayer.from_scaler(s)


def test_vae_learns_and_separates_an_easy_anomaly(
    trained_vae: TrainResult, data: dict[str, np.ndarray], scaler: PowerOfTwoRobustScaler
) -> None:
    result = trained_vae
    assert isinstance(result.model, VAE)
    assert not result.model.training
    hist = result.history
    assert all(set(h) == VAE_METRICS for h in hist)
    assert [h["epoch"] for h in hist] == list(range(len(hist)))
    assert min(h["val_loss"] for h in hist[1:]) < hist[0]["val_loss"]
    assert result.events == len(hist) * data["train"].shape[0]
    assert result.seconds > 0
    bkg = scores(result.model, data["test"], scaler)
    sig = scores(result.model, data["signal"], scaler)
    assert bkg.dtype == sig.dtype == np.float64
    assert bkg.shape == (3000,)
    assert sig.mean() > bkg.mean()
    labels = np.r_[np.zeros(bkg.size), np.ones(sig.size)]
    assert roc_auc_score(labels, np.r_[bkg, sig]) > 0.9


def test_scores_are_batch_independent_and_restore_the_mode(
    trained_vae: TrainResult, data: dict[str, np.ndarray], scaler: PowerOfTwoRobustScaler
) -> None:
    model = trained_vae.model
    x = data["test"][:200]
    full = scores(model, x, scaler)
    assert np.array_equal(scores(model, x, scaler, batch_size=7), full)
    model.train()
    assert np.array_equal(scores(model, x, scaler), full)
    assert model.training
    model.eval()
    with torch.no_grad():
        direct = model.score(torch.from_numpy(scaler.transform(x))).numpy()
    assert np.array_equal(direct, full)
    assert scores(model, np.zeros((0, 57), np.float32), scaler).shape == (0,)


def test_early_stopping_restores_the_best_weights(
    data: dict[str, np.ndarray],
    scaler: PowerOfTwoRobustScaler,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a scripted validation loss: best at epoch 3, then worse; record the weights it saw
    script = [5.0, 3.0, 4.0, 2.5, 2.6, 2.5, 9.0, 1.0, 0.5]
    weights: list[dict[str, torch.Tensor]] = []

    def fake_validation(
        model: VAE, xs: torch.Tensor, batch_size: int, seed: int
    ) -> dict[str, float]:
        weights.append({k: v.clone() for k, v in model.state_dict().items()})
        value = script[len(weights) - 1]
        return {"loss": value, "reco": value, "kl": 0.0}

    monkeypatch.setattr(train_module, "_vae_validation", fake_validation)
    cfg = TrainConfig(epochs=9, batch_size=512, lr=1e-2, patience=3, seed=5, threads=1)
    seen: list[tuple[int, dict[str, float]]] = []
    result = train(
        VAEConfig(name="v", quantized=False),
        cfg,
        data["train"][:2000],
        data["val"][:500],
        scaler=scaler,
        on_epoch=lambda step, m: seen.append((step, dict(m))),
    )
    hist = result.history
    # epochs 4, 5, 6 do not improve on 2.5 (2.5 is not < 2.5): stop after epoch 6
    assert [h["val_loss"] for h in hist] == script[:7]
    assert result.stopped_early
    assert result.best_epoch == 3
    assert result.best_val_loss == 2.5
    assert result.events == 7 * 2000
    final = result.model.state_dict()
    assert all(torch.equal(final[k], weights[3][k]) for k in final)
    assert any(not torch.equal(final[k], weights[6][k]) for k in final)
    assert [s for s, _ in seen] == list(range(7))
    assert [m for _, m in seen] == hist


def test_min_delta_counts_small_improvements_as_none(
    data: dict[str, np.ndarray],
    scaler: PowerOfTwoRobustScaler,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    script = iter([1.0, 0.95, 0.92, 0.5, 0.45])

    def fake_validation(
        model: VAE, xs: torch.Tensor, batch_size: int, seed: int
    ) -> dict[str, float]:
        value = next(script)
        return {"loss": value, "reco": value, "kl": 0.0}

    monkeypatch.setattr(train_module, "_vae_validation", fake_validation)
    cfg = TrainConfig(epochs=5, batch_size=512, patience=2, min_delta=0.1, threads=1)
    result = train(VAEConfig(name="v"), cfg, data["train"][:1000], data["val"][:200], scaler=scaler)
    assert len(result.history) == 3
    assert result.best_epoch == 0


def test_evaluate_reproduces_the_best_validation_loss(
    trained_vae: TrainResult, data: dict[str, np.ndarray], scaler: PowerOfTwoRobustScaler
) -> None:
    best = trained_vae.history[trained_vae.best_epoch]
    assert trained_vae.best_val_loss == best["val_loss"]
    again = evaluate(
        trained_vae.model, data["val"], scaler, batch_size=FAST.batch_size, seed=FAST.seed
    )
    assert again["loss"] == pytest.approx(best["val_loss"], rel=1e-6)
    assert again["reco"] == pytest.approx(best["val_reco"], rel=1e-6)
    assert again["kl"] == pytest.approx(best["val_kl"], rel=1e-6)


def test_same_seed_same_weights(
    data: dict[str, np.ndarray], scaler: PowerOfTwoRobustScaler
) -> None:
    cfg = TrainConfig(epochs=2, batch_size=256, seed=9, threads=1)
    x, v = data["train"][:2000], data["val"][:500]
    a = train(VAEConfig(name="v"), cfg, x, v, scaler=scaler).model.state_dict()
    b = train(VAEConfig(name="v"), cfg, x, v, scaler=scaler).model.state_dict()
    c = train(VAEConfig(name="v"), cfg.model_copy(update={"seed": 10}), x, v, scaler=scaler)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c.model.state_dict()[k]) for k in a)


def test_threads_setting_is_restored(
    data: dict[str, np.ndarray], scaler: PowerOfTwoRobustScaler
) -> None:
    before = torch.get_num_threads()
    cfg = TrainConfig(epochs=1, batch_size=512, threads=1)
    train(VAEConfig(name="v"), cfg, data["train"][:1000], data["val"][:200], scaler=scaler)
    assert torch.get_num_threads() == before


@pytest.mark.slow
def test_vicreg_two_phases(data: dict[str, np.ndarray], scaler: PowerOfTwoRobustScaler) -> None:
    cfg = TrainConfig(epochs=5, batch_size=256, lr=3e-3, patience=3, seed=2, threads=1)
    steps: list[int] = []
    result = train(
        VICRegConfig(name="w", backbone_epochs=4),
        cfg,
        data["train"][:4000],
        data["val"][:1500],
        scaler=scaler,
        on_epoch=lambda step, m: steps.append(step),
    )
    model = result.model
    assert isinstance(model, VICReg)
    phase1 = [h for h in result.history if h["phase"] == 1.0]
    phase2 = [h for h in result.history if h["phase"] == 2.0]
    assert len(phase1) == 4
    assert 1 <= len(phase2) <= 5
    assert steps == list(range(len(result.history)))
    assert {
        "backbone.loss",
        "backbone.invariance",
        "backbone.variance",
        "backbone.covariance",
        "backbone.val_loss",
        "backbone.val_invariance",
    } <= set(phase1[0])
    assert {"ae.loss", "ae.val_loss"} <= set(phase2[0])
    assert min(h["backbone.val_loss"] for h in phase1[1:]) < phase1[0]["backbone.val_loss"]
    assert min(h["ae.val_loss"] for h in phase2) <= phase2[0]["ae.val_loss"]
    assert result.best_val_loss == min(h["ae.val_loss"] for h in phase2)
    assert result.events == 4000 * len(result.history)
    assert set(result.phases) == {"backbone", "ae", "distance"}
    # the backbone is frozen: phase 2 did not change it
    assert not any(p.requires_grad for p in model.backbone.parameters())
    # the embedding was standardised on the training events
    with torch.no_grad():
        emb = model.standardize(
            model.embed(torch.from_numpy(scaler.transform(data["train"][:4000])))
        )
    assert emb.mean(0).abs().max() < 1e-3
    assert (emb.std(0) - 1).abs().max() < 1e-3
    bkg = scores(model, data["test"], scaler)
    sig = scores(model, data["signal"], scaler)
    assert sig.mean() > bkg.mean()
    labels = np.r_[np.zeros(bkg.size), np.ones(sig.size)]
    assert roc_auc_score(labels, np.r_[bkg, sig]) > 0.8
    # the distance score: fitted on the standardised training embeddings (mean 0, and a
    # mean squared distance of about d = 10 there, a little less with the shrinkage)
    assert model.distance.fitted
    assert 0.0 < result.phases["distance"]["shrinkage"] < 0.1
    assert float(model.distance.center.abs().max()) < 1e-3
    d2_train = scores(model.scorer("mahalanobis"), data["train"][:4000], scaler)
    assert 8.0 < d2_train.mean() < 10.5
    d2_bkg = scores(model.scorer("mahalanobis"), data["test"], scaler)
    d2_sig = scores(model.scorer("mahalanobis"), data["signal"], scaler)
    assert roc_auc_score(labels, np.r_[d2_bkg, d2_sig]) > 0.8


def test_vicreg_with_the_distance_score_alone_trains_no_autoencoder(
    data: dict[str, np.ndarray], scaler: PowerOfTwoRobustScaler
) -> None:
    cfg = TrainConfig(epochs=2, batch_size=256, lr=3e-3, seed=2, threads=1)
    result = train(
        VICRegConfig(name="m", scores=("mahalanobis",), loss_form="bardes"),
        cfg,
        data["train"][:2000],
        data["val"][:1000],
        scaler=scaler,
    )
    model = result.model
    assert isinstance(model, VICReg)
    assert {h["phase"] for h in result.history} == {1.0}
    assert set(result.phases) == {"backbone", "distance"}
    assert model.scoring == "mahalanobis"
    got = evaluate(model, data["val"][:1000], scaler)
    expected = scores(model, data["val"][:1000], scaler).mean()
    assert got == {"distance": pytest.approx(expected)}


def test_input_errors(data: dict[str, np.ndarray], scaler: PowerOfTwoRobustScaler) -> None:
    cfg = TrainConfig(epochs=1, threads=1)
    with pytest.raises(
        DataFormatError, match=r"x_train: expected physical trigger inputs of shape \(n, 57\)"
    ):
        train(VAEConfig(name="v"), cfg, data["train"][:, :56], data["val"], scaler=scaler)
    bad = data["val"][:10].copy()
    bad[3, 4] = np.nan
    with pytest.raises(DataFormatError, match="x_val: the inputs contain NaN"):
        train(VAEConfig(name="v"), cfg, data["train"][:100], bad, scaler=scaler)
    with pytest.raises(DataFormatError, match="at least 2 events"):
        train(VICRegConfig(name="w"), cfg, data["train"][:1], data["val"][:5], scaler=scaler)
    with pytest.raises(ConfigError, match="fitted on 57 features"):
        train(
            VAEConfig(name="v"),
            cfg,
            data["train"][:100],
            data["val"][:10],
            scaler=PowerOfTwoRobustScaler(object_size=3),
        )
    with pytest.raises(ConfigError, match="expected an anomaly model"):
        scores(torch.nn.Linear(57, 1), data["val"][:10], scaler)
