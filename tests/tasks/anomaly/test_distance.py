"""The VICReg distance score: Mahalanobis distance against scipy, Ledoit-Wolf against scikit-learn, ONNX."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.spatial.distance import mahalanobis
from sklearn.covariance import LedoitWolf
from sklearn.covariance import ledoit_wolf_shrinkage as sk_shrinkage

from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.anomaly.config import VICRegConfig
from l1scout.tasks.anomaly.distance import (
    MIN_SHRINKAGE,
    Mahalanobis,
    fit_gaussian,
    ledoit_wolf_shrinkage,
    squared_distance,
)
from l1scout.tasks.anomaly.models import AnomalyModel, VICReg, VICRegScorer, build_model


def _correlated(n: int, d: int, seed: int) -> np.ndarray:
    """Gaussian events with a random full (well-conditioned) covariance and a non-zero mean."""
    rng = np.random.default_rng(seed)
    mix = np.diag(rng.uniform(0.5, 3.0, d)) + 0.4 * rng.normal(size=(d, d))
    return rng.normal(size=(n, d)) @ mix + rng.normal(0.0, 3.0, d)


def _scipy_d2(x: np.ndarray, center: np.ndarray, covariance: np.ndarray) -> np.ndarray:
    vi = np.linalg.inv(covariance)
    return np.array([mahalanobis(u, center, vi) ** 2 for u in x])


def test_distance_equals_scipy_mahalanobis() -> None:
    x = _correlated(5000, 6, seed=1)
    probe = _correlated(300, 6, seed=2) * 1.5
    fit = fit_gaussian(x, shrinkage=0.0)
    # mean and covariance are the sample's (covariance normalised by n; the floor is 1e-6)
    np.testing.assert_allclose(fit.center, x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(fit.covariance, np.cov(x, rowvar=False, bias=True), rtol=1e-5)
    assert fit.shrinkage == MIN_SHRINKAGE
    # ||(e - mu) @ L||^2 with L L^T = S^-1, L lower triangular
    np.testing.assert_allclose(fit.transform, np.tril(fit.transform), atol=0)
    np.testing.assert_allclose(
        fit.transform @ fit.transform.T, np.linalg.inv(fit.covariance), rtol=1e-9, atol=1e-12
    )
    got = squared_distance(probe, fit)
    np.testing.assert_allclose(got, _scipy_d2(probe, fit.center, fit.covariance), rtol=1e-9)
    # against the plain sample covariance too, on events of the sample (the 1e-6 floor
    # only matters far out along the narrowest direction)
    plain = _scipy_d2(x[:300], x.mean(axis=0), np.cov(x, rowvar=False, bias=True))
    np.testing.assert_allclose(squared_distance(x[:300], fit), plain, rtol=1e-4)
    # on its own sample the mean squared distance is d (E[chi2_d] = d, exactly for the ML fit)
    assert squared_distance(x, fit).mean() == pytest.approx(6.0, rel=1e-4)


def test_fixed_shrinkage_is_a_mix_with_the_scaled_identity() -> None:
    x = _correlated(2000, 4, seed=3)
    c = np.cov(x, rowvar=False, bias=True)
    fit = fit_gaussian(x, shrinkage=0.3)
    expected = 0.7 * c + 0.3 * np.trace(c) / 4 * np.eye(4)
    np.testing.assert_allclose(fit.covariance, expected, rtol=1e-10)
    np.testing.assert_allclose(
        squared_distance(x[:50], fit), _scipy_d2(x[:50], x.mean(axis=0), expected), rtol=1e-9
    )


@pytest.mark.parametrize(("n", "d"), [(40, 10), (500, 10), (5000, 3)])
def test_ledoit_wolf_equals_scikit_learn(n: int, d: int) -> None:
    x = _correlated(n, d, seed=n + d)
    assert ledoit_wolf_shrinkage(x) == pytest.approx(sk_shrinkage(x), rel=1e-9, abs=1e-12)
    fit = fit_gaussian(x)  # default: Ledoit-Wolf
    reference = LedoitWolf().fit(x)
    np.testing.assert_allclose(fit.covariance, reference.covariance_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        squared_distance(x[:20], fit),
        _scipy_d2(x[:20], reference.location_, reference.covariance_),
        rtol=1e-8,
    )
    # few events for the dimension: more shrinkage
    if n == 40:
        assert fit.shrinkage > ledoit_wolf_shrinkage(_correlated(5000, d, seed=1))


def test_a_flat_dimension_stays_finite_and_a_flat_embedding_is_refused() -> None:
    x = _correlated(1000, 3, seed=4)
    x[:, 1] = 2.0  # a collapsed VICReg dimension: singular sample covariance
    fit = fit_gaussian(x, shrinkage=0.0)
    assert np.isfinite(fit.transform).all()
    assert np.linalg.eigvalsh(fit.covariance).min() > 0
    # an event 0.1 off the flat value is far out: above 100 times the sample's mean distance
    off = x[:1].copy()
    off[0, 1] = 2.1
    assert squared_distance(off, fit)[0] > 100 * squared_distance(x, fit).mean()
    with pytest.raises(DataFormatError, match="all 2 dimensions are constant"):
        fit_gaussian(np.ones((10, 2)))
    with pytest.raises(DataFormatError, match="at least 2 events"):
        fit_gaussian(np.ones((1, 2)))
    with pytest.raises(ConfigError, match=r"shrinkage=1.5"):
        fit_gaussian(x, shrinkage=1.5)
    with pytest.raises(DataFormatError, match="expected 3 dimensions"):
        squared_distance(np.zeros((2, 4)), fit)


def test_torch_layer_is_the_same_distance() -> None:
    x = _correlated(3000, 5, seed=5)
    layer = Mahalanobis(5).double()
    assert not layer.fitted
    fit = layer.fit(torch.from_numpy(x), shrinkage=None)
    assert layer.fitted
    assert float(layer.shrinkage) == pytest.approx(fit.shrinkage)
    probe = torch.from_numpy(_correlated(100, 5, seed=6))
    with torch.no_grad():
        z = layer(probe)
        d2 = layer.squared_distance(probe).numpy()
    assert z.shape == (100, 5)
    np.testing.assert_allclose(d2, _scipy_d2(probe.numpy(), fit.center, fit.covariance), rtol=1e-9)


def _fitted_vicreg() -> VICReg:
    torch.manual_seed(0)
    model = build_model(VICRegConfig(name="w", projector=()))
    assert isinstance(model, VICReg)
    model.eval()
    x = torch.randn(4000, 57, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        emb = model.embed(x)
        model.standardize.set(emb.mean(0), emb.std(0))
        model.distance.fit(model.standardize(emb))
    return model


def test_vicreg_distance_score_and_scorers() -> None:
    model = _fitted_vicreg()
    x = torch.randn(500, 57, generator=torch.Generator().manual_seed(8)) * 2.0
    with torch.no_grad():
        e = model.standardize(model.embed(x)).double().numpy()
        d2 = model.score(x, "mahalanobis").numpy()
        out = model.deployable("mahalanobis")(x).numpy()
    c = model.distance.center.double().numpy()
    s = np.linalg.inv(
        model.distance.transform.double().numpy() @ model.distance.transform.double().numpy().T
    )
    np.testing.assert_allclose(d2, _scipy_d2(e, c, s), rtol=1e-4)
    assert out.shape == (500, 10)
    np.testing.assert_allclose(model.score_from_deployed(out, "mahalanobis"), d2, rtol=1e-12)
    # each score as an anomaly model of its own, sharing the weights
    for name in ("autoencoder", "mahalanobis"):
        scorer = model.scorer(name)
        assert isinstance(scorer, VICRegScorer)
        assert isinstance(scorer, AnomalyModel)
        assert scorer.model is model
        with torch.no_grad():
            torch.testing.assert_close(scorer.score(x), model.score(x, name))
    assert model.scoring == "autoencoder"  # the first of cfg.scores
    with pytest.raises(ConfigError, match="expected one of its scores"):
        model.scorer("knn")
    only = build_model(VICRegConfig(name="m", scores=("mahalanobis",)))
    assert isinstance(only, VICReg)
    with pytest.raises(ConfigError, match=r"\['mahalanobis'\]"):
        only.score(x, "autoencoder")


def test_distance_head_exports_to_onnx(tmp_path: Path) -> None:
    from l1scout.deploy.onnx import OnnxModel, export_onnx

    model = _fitted_vicreg()
    deployable = model.deployable("mahalanobis")
    path = export_onnx(deployable, 57, tmp_path / "distance.onnx")
    x = torch.randn(2000, 57, generator=torch.Generator().manual_seed(9)).numpy() * 1.5
    got = OnnxModel(path).predict(x).astype(np.float64).reshape(len(x), -1)
    with torch.no_grad():
        ref = deployable(torch.from_numpy(x)).double().numpy()
        score = model.score(torch.from_numpy(x), "mahalanobis").numpy()
    assert got.shape == (2000, 10)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(model.score_from_deployed(got, "mahalanobis"), score, rtol=1e-5)
