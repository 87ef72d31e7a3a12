"""Nystrom kernel ridge regression: kernels, the two solvers, tuning curves, ONNX parity."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from l1scout.errors import ConfigError
from l1scout.tasks.recalib.krr import (
    KernelModel,
    KernelParams,
    fit_krr,
    kernel_matrix,
    penalty_path,
    select_centres,
    tuning_curve,
)


def _naive_kernel(x: np.ndarray, c: np.ndarray, p: KernelParams) -> float:
    """One kernel value, written out as in the re-calibration study (docs/physics/l1-algorithms.md)."""
    if p.kernel == "gaussian":
        return math.exp(-sum((a - b) ** 2 for a, b in zip(x, c, strict=True)) / (2 * p.sigma**2))
    dot = sum(a * b for a, b in zip(x, c, strict=True))
    if p.kernel == "linear":
        return p.beta + dot / p.sigma**2
    return (p.scale * dot + p.beta) ** p.degree


PARAMS = [
    KernelParams("gaussian", sigma=0.4),
    KernelParams("linear", sigma=0.7, beta=0.3),
    KernelParams("polynomial", degree=3, scale=0.5, beta=1.2),
]


@pytest.mark.parametrize("params", PARAMS, ids=lambda p: p.kernel)
def test_kernel_matrix_and_model_against_a_naive_sum(params: KernelParams) -> None:
    rng = np.random.default_rng(0)
    x, c = rng.uniform(size=(7, 3)), rng.uniform(size=(5, 3))
    alpha = rng.normal(size=(5, 2))
    k = kernel_matrix(torch.from_numpy(x), torch.from_numpy(c), params).numpy()
    naive = np.array([[_naive_kernel(a, b, params) for b in c] for a in x])
    np.testing.assert_allclose(k, naive, rtol=1e-12, atol=1e-12)
    model = KernelModel(c, alpha, params, precision="float64", output="float64")
    expected = np.array(
        [[sum(alpha[j, t] * naive[i, j] for j in range(5)) for t in range(2)] for i in range(7)]
    )
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-12, atol=1e-12)
    biased = KernelModel(c, alpha, params, bias=[1.0, -2.0], precision="float64", output="float64")
    shifted = expected + np.array([1.0, -2.0])
    np.testing.assert_allclose(biased.predict(x), shifted, rtol=1e-12, atol=1e-12)


def test_centres_are_distinct_uniform_and_reproducible() -> None:
    idx = select_centres(100, 30, seed=4)
    assert len(set(idx.tolist())) == 30
    assert idx.min() >= 0
    assert idx.max() < 100
    assert np.array_equal(idx, select_centres(100, 30, seed=4))
    assert not np.array_equal(idx, select_centres(100, 30, seed=5))
    counts = np.bincount(
        np.concatenate([select_centres(10, 5, s) for s in range(2000)]), minlength=10
    )
    assert counts.min() > 900
    assert counts.max() < 1100
    with pytest.raises(ConfigError, match="centres"):
        select_centres(10, 11, seed=1)


def _data(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(n, 3))
    y = np.stack([np.sin(3 * x[:, 0]) + x[:, 1] ** 2, np.cos(2 * x[:, 2])], axis=1)
    return x, y + 0.05 * rng.normal(size=y.shape)


def test_torch_solver_solves_the_nystrom_normal_equations() -> None:
    x, y = _data()
    fit = fit_krr(x, y, kernel="gaussian", centres=40, sigma=0.5, penalty=1e-4, seed=3)
    c = x[select_centres(len(x), 40, 3)]
    np.testing.assert_array_equal(fit.centres, c)
    p = fit.params
    knm = np.array([[_naive_kernel(a, b, p) for b in c] for a in x])
    kmm = np.array([[_naive_kernel(a, b, p) for b in c] for a in c])
    n = len(x)
    alpha = np.linalg.solve(knm.T @ knm + 1e-4 * n * kmm, knm.T @ y)  # Falkon's normal equations
    np.testing.assert_allclose(fit.alpha, alpha, rtol=0, atol=1e-7 * np.abs(alpha).max())
    np.testing.assert_allclose(fit.predict(x), knm @ alpha, rtol=1e-7, atol=1e-9)
    assert fit.jitter == 0.0


@pytest.mark.parametrize(
    ("kernel", "extra"),
    [("gaussian", {"sigma": 0.5}), ("polynomial", {"degree": 2}), ("linear", {"sigma": 1.0})],
)
def test_sklearn_and_torch_solvers_give_the_same_model(
    kernel: str, extra: dict[str, float]
) -> None:
    x, y = _data()
    kw = {"kernel": kernel, "centres": 30, "penalty": 1e-3, "seed": 2, **extra}
    a = fit_krr(x, y, solver="torch", **kw)  # type: ignore[arg-type]
    b = fit_krr(x, y, solver="sklearn", **kw)  # type: ignore[arg-type]
    assert b.estimator is not None
    assert a.estimator is None
    np.testing.assert_allclose(a.predict(x), b.predict(x), atol=1e-6)
    # the sklearn fit's kernel model (its centres and folded coefficients) predicts as sklearn does
    ref = KernelModel(b.centres, b.alpha, b.params, precision="float64", output="float64")
    np.testing.assert_allclose(ref.predict(x), b.predict(x), atol=1e-9)


def test_all_centres_reproduce_full_kernel_ridge_regression() -> None:
    from sklearn.kernel_ridge import KernelRidge

    x, y = _data(150)
    lam, sigma = 1e-3, 0.4
    fit = fit_krr(x, y, kernel="gaussian", centres=len(x), sigma=sigma, penalty=lam)
    full = KernelRidge(alpha=lam * len(x), kernel="rbf", gamma=0.5 / sigma**2).fit(x, y)
    xt = np.random.default_rng(9).uniform(size=(40, 3))
    np.testing.assert_allclose(fit.predict(xt), full.predict(xt), atol=1e-6)


def test_krr_learns_a_smooth_function() -> None:
    x, y = _data(1500)
    xt, yt = _data(300, seed=1)
    fit = fit_krr(x, y, kernel="gaussian", centres=100, sigma=0.5, penalty=1e-6)
    rmse = float(np.sqrt(np.mean((fit.predict(xt) - yt) ** 2)))
    assert rmse < 0.07  # the noise is 0.05
    assert rmse < 0.2 * float(np.std(yt))


def test_singular_linear_kernel_gets_a_recorded_jitter() -> None:
    x, y = _data()
    fit = fit_krr(x, y, kernel="linear", centres=50, penalty=1e-9)  # K_MM has rank d + 1 = 4
    assert fit.jitter > 0
    # a linear kernel model is a linear function: least squares is the reference
    design = np.c_[np.ones(len(x)), x]
    coef = np.linalg.lstsq(design, y, rcond=None)[0]
    np.testing.assert_allclose(fit.predict(x), design @ coef, atol=1e-4)


def test_penalty_path_equals_separate_fits_and_tuning_curve() -> None:
    x, y = _data()
    xv, yv = _data(200, seed=3)
    lams = [1e-6, 1e-4, 1e-2]
    path = penalty_path(x, y, lams, kernel="gaussian", centres=30, sigma=0.5)
    for lam, fit in zip(lams, path, strict=True):
        single = fit_krr(x, y, kernel="gaussian", centres=30, sigma=0.5, penalty=lam)
        np.testing.assert_allclose(fit.predict(xv), single.predict(xv), atol=1e-8)
    curve = tuning_curve(
        "penalty", lams, x, y, xv, yv, base={"kernel": "gaussian", "centres": 30, "sigma": 0.5}
    )
    expected = [np.sqrt(np.mean((f.predict(xv) - yv) ** 2, axis=0)) for f in path]
    assert curve.values == tuple(lams)
    np.testing.assert_allclose(curve.rmse["y0"], [e[0] for e in expected], rtol=1e-9)
    np.testing.assert_allclose(curve.rmse["y1"], [e[1] for e in expected], rtol=1e-9)
    assert curve.best() == lams[int(np.argmin([e.sum() for e in expected]))]


def test_centres_scan_skips_values_above_the_training_rows() -> None:
    x, y = _data(100)
    curve = tuning_curve(
        "centres", [5, 20, 500], x, y, x, y, base={"kernel": "gaussian", "sigma": 0.5}
    )
    assert curve.values == (5.0, 20.0)
    assert curve.rmse["y0"][1] < curve.rmse["y0"][0]  # more centres fit the training rows better
    with pytest.raises(ConfigError, match="exceeds"):
        tuning_curve("centres", [500], x, y, x, y, base={})


def test_bad_arguments() -> None:
    x, y = _data(50)
    with pytest.raises(ConfigError, match="penalty"):
        fit_krr(x, y, penalty=0.0, centres=5)
    with pytest.raises(ConfigError, match="kernel"):
        fit_krr(x, y, kernel="laplacian", centres=5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="solver"):
        fit_krr(x, y, solver="falkon", centres=5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="x \\(n, d\\)"):
        fit_krr(x, y[:10], centres=5)
    with pytest.raises(ConfigError, match="scan parameter"):
        tuning_curve("degree", [1, 2], x, y, x, y, base={})  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.parametrize("kernel", ["gaussian", "linear", "polynomial"])
def test_onnx_export_matches_the_fitted_model(kernel: str, tmp_path: Path) -> None:
    from l1scout.deploy.onnx import OnnxModel, export_onnx

    x, y = _data(400)
    fit = fit_krr(
        x.astype(np.float32), y, kernel=kernel, centres=40, sigma=0.5, degree=3, penalty=1e-3
    )
    path = export_onnx(fit.model, 3, tmp_path / f"{kernel}.onnx")
    xt = np.random.default_rng(5).uniform(size=(300, 3)).astype(np.float32)
    onnx = OnnxModel(path).predict(xt)
    assert onnx.dtype == np.float32
    assert onnx.shape == (300, 2)
    # float32 rounding is ~1e-7 of the summed terms |alpha_j k_j| (KRRFit.cancellation)
    scale = fit.cancellation(xt)
    assert np.abs(onnx - fit.predict(xt)).max() < 1e-5 * max(scale, 1.0)
    assert np.abs(onnx - fit.model.predict(xt)).max() < 1e-5 * max(scale, 1.0)


@pytest.mark.slow
def test_float64_precision_export_is_tight_even_when_terms_cancel(tmp_path: Path) -> None:
    from l1scout.deploy.onnx import OnnxModel, export_onnx

    x, y = _data(400)
    kw = {"kernel": "polynomial", "degree": 5, "centres": 60, "penalty": 1e-9}
    f32 = fit_krr(x, y, **kw)  # type: ignore[arg-type]
    f64 = fit_krr(x, y, precision="float64", **kw)  # type: ignore[arg-type]
    xt = x[:200].astype(np.float32)
    assert f32.cancellation(xt) > 1e3  # coefficients of opposite signs cancel
    o64 = OnnxModel(export_onnx(f64.model, 3, tmp_path / "b.onnx")).predict(xt)
    assert o64.dtype == np.float32
    ref = f64.predict(xt)
    assert np.abs(o64 - ref).max() < 1e-5
    # the float32 module of the same fit loses much more
    assert np.abs(f32.model.predict(xt) - ref).max() > 10 * np.abs(o64 - ref).max()
