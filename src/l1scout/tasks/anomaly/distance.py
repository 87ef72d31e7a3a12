"""The distance head of the VICReg model: Mahalanobis distance to the zero-bias embedding.

The 2025 anomaly trigger (AXOL1TL v5) freezes a VICReg backbone and scores
events from its embedding; the AXOL1TL team names two downstream options for
that embedding, a small autoencoder and "multi-dimensional distances"
(J. Ngadiuba for the NGT WP 3.7 team, ``docs/physics/l1-algorithms.md``,
"Sources"). This module is the second: the **squared Mahalanobis distance**
of an event's embedding ``e`` (d numbers) to the distribution of the
zero-bias training embeddings::

    d2(e) = (e - mu)^T S^-1 (e - mu) = || L^T (e - mu) ||^2,   S^-1 = L L^T

with ``mu`` the mean and ``S`` a regularised covariance of the zero-bias
training embeddings, and ``L`` the (lower) Cholesky factor of ``S^-1``. The
score is the squared distance (no square root: the same ordering, so the
same thresholds and efficiencies, and no root in hardware).

**Regularisation.** ``S`` is the empirical covariance ``C`` (normalised by n)
shrunk towards a scaled identity,
``S = (1 - a) C + a (tr C / d) I``, with the shrinkage ``a`` either fixed by the
configuration or, by default, the Ledoit-Wolf estimate (O. Ledoit, M. Wolf,
"A well-conditioned estimator for large-dimensional covariance matrices",
J. Multivariate Anal. 88 (2004) 365; the estimator of scikit-learn's
``ledoit_wolf_shrinkage``), which minimises the expected squared error of
``S``. ``a`` is floored at :data:`MIN_SHRINKAGE` = 1e-6, so ``S`` stays
positive-definite, and ``S^-1`` finite, even when an embedding dimension is
constant (a VICReg dimension that collapsed). The VICReg model fits it on the
*standardised* embedding (unit variance per dimension), so the identity
target treats every dimension alike; without shrinkage the distance does not
depend on that standardisation.

**Deployment.** ``e -> L^T (e - mu)`` is one linear layer (weight ``L^T``,
bias ``-L^T mu``), then a sum of squares: the same shape as the VAE's latent
score (the sum of the latent means squared). :class:`Mahalanobis` is that
layer; the model's deployable part ends with it, and the score is the sum of
squares of its outputs (computed from the deployed outputs, as for the VAE).

Example (a diagonal covariance, no shrinkage: the distance is the sum of the
squared standard scores):
    >>> rng = np.random.default_rng(0)
    >>> e = rng.normal(0.0, [1.0, 2.0], size=(100_000, 2))
    >>> fit = fit_gaussian(e, shrinkage=0.0)
    >>> np.round(np.diag(fit.covariance), 1).tolist()
    [1.0, 4.0]
    >>> d2 = squared_distance(np.array([[2.0, 4.0]]), fit)
    >>> round(float(d2[0]), 1)
    8.0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from l1scout._types import F64
from l1scout.errors import ConfigError, DataFormatError

__all__ = [
    "MIN_SHRINKAGE",
    "GaussianFit",
    "Mahalanobis",
    "fit_gaussian",
    "ledoit_wolf_shrinkage",
    "squared_distance",
]

#: Smallest shrinkage applied: keeps the regularised covariance positive-definite.
MIN_SHRINKAGE = 1e-6


@dataclass(frozen=True, eq=False)
class GaussianFit:
    """Mean and regularised covariance of a sample of embeddings, and the distance's linear map.

    Attributes:
        center: the mean ``mu``, shape (d,).
        covariance: the regularised covariance ``S``, (d, d).
        transform: ``L``, the lower Cholesky factor of ``S^-1`` (d, d): the
            distance is ``|| (e - mu) @ L ||^2``.
        shrinkage: the shrinkage ``a`` used (after the floor).
        n_events: events the fit used.
    """

    center: F64
    covariance: F64
    transform: F64
    shrinkage: float
    n_events: int


def _as_sample(e: npt.ArrayLike, what: str, min_events: int) -> F64:
    x = np.asarray(e, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < 1:
        msg = f"{what}: expected embeddings of shape (n, d), got {x.shape}"
        raise DataFormatError(msg)
    if x.shape[0] < min_events:
        msg = f"{what}: expected at least {min_events} events, got {x.shape[0]}"
        raise DataFormatError(msg)
    if not np.isfinite(x).all():
        msg = f"{what}: the embeddings contain NaN or infinite values"
        raise DataFormatError(msg)
    return x


def ledoit_wolf_shrinkage(e: npt.ArrayLike) -> float:
    """The Ledoit-Wolf shrinkage of the covariance of a sample (n, d), in [0, 1].

    The estimator of Ledoit and Wolf (2004) (as scikit-learn's
    ``ledoit_wolf_shrinkage``), on the centred sample ``X`` with
    ``C = X^T X / n`` and ``m = tr C / d``: ``a = min(b2, d2) / d2`` with
    ``d2 = ||C - m I||_F^2 / d`` and
    ``b2 = (sum_k ||x_k x_k^T - C||_F^2) / (n^2 d)``.

    Raises:
        DataFormatError: fewer than 2 events, or NaN / infinite values.

    >>> x = np.random.default_rng(1).normal(size=(50, 3))
    >>> 0.0 <= ledoit_wolf_shrinkage(x) <= 1.0
    True
    """
    x = _as_sample(e, "embeddings", 2)
    x = x - x.mean(axis=0)
    n, d = x.shape
    cov = x.T @ x / n
    mu = float(np.trace(cov)) / d
    delta = float(np.sum((cov - mu * np.eye(d)) ** 2)) / d
    # sum_k ||x_k x_k^T||_F^2 = sum_k |x_k|^4 = sum of (x^2)^T (x^2); minus n ||C||_F^2
    x2 = x * x
    beta = (float(np.sum(x2.T @ x2)) / n - float(np.sum(cov * cov))) / (n * d)
    beta = min(beta, delta)
    return 0.0 if beta <= 0.0 or delta <= 0.0 else beta / delta


def fit_gaussian(e: npt.ArrayLike, shrinkage: float | None = None) -> GaussianFit:
    """Mean, regularised covariance and distance map of a sample of embeddings (module docstring).

    Args:
        e: the embeddings of zero-bias training events, (n, d).
        shrinkage: the shrinkage ``a`` in [0, 1]; None: the Ledoit-Wolf
            estimate. Floored at :data:`MIN_SHRINKAGE`.

    Raises:
        ConfigError: *shrinkage* outside [0, 1].
        DataFormatError: fewer than 2 events, NaN values, or a constant
            sample (every dimension flat: no distance can be defined).
    """
    x = _as_sample(e, "embeddings", 2)
    if shrinkage is not None and not 0.0 <= shrinkage <= 1.0:
        msg = f"shrinkage={shrinkage!r}: expected a number in [0, 1] (or None: Ledoit-Wolf)"
        raise ConfigError(msg)
    n, d = x.shape
    center = x.mean(axis=0)
    xc = x - center
    cov = xc.T @ xc / n
    scale = float(np.trace(cov)) / d
    if not scale > 0.0:
        msg = (
            f"embeddings: all {d} dimensions are constant over the {n} events (a collapsed "
            "embedding); no Mahalanobis distance can be fitted"
        )
        raise DataFormatError(msg)
    a = ledoit_wolf_shrinkage(x) if shrinkage is None else float(shrinkage)
    a = max(a, MIN_SHRINKAGE)
    reg = (1.0 - a) * cov + a * scale * np.eye(d)
    reg = (reg + reg.T) / 2
    chol = np.linalg.cholesky(reg)  # reg = C C^T
    inv_chol = np.linalg.solve(chol, np.eye(d))  # C^-1
    precision = inv_chol.T @ inv_chol  # S^-1 = C^-T C^-1
    transform = np.asarray(np.linalg.cholesky((precision + precision.T) / 2), dtype=np.float64)
    return GaussianFit(
        center=center, covariance=reg, transform=transform, shrinkage=a, n_events=int(n)
    )


def squared_distance(e: npt.ArrayLike, fit: GaussianFit) -> F64:
    """``|| (e - mu) @ L ||^2`` per event (n,), float64: the squared Mahalanobis distance.

    Raises:
        DataFormatError: *e* is not (n, d) finite numbers with the fit's d.
    """
    x = _as_sample(e, "embeddings", 0)
    if x.shape[1] != fit.center.size:
        msg = f"embeddings: expected {fit.center.size} dimensions, got {x.shape[1]}"
        raise DataFormatError(msg)
    z = (x - fit.center) @ fit.transform
    return np.asarray(np.sum(z * z, axis=1), dtype=np.float64)


class Mahalanobis(nn.Module):
    """The distance's linear map as a torch layer: ``e -> (e - mu) @ L`` (= ``L^T (e - mu)`` per event).

    Its outputs' sum of squares is the squared Mahalanobis distance. Starts as
    the identity map (``mu = 0``, ``L = I``) until :meth:`fit` sets the
    constants (buffers: saved with the model, never trained).

    Args:
        n_features: the embedding dimension d.

    Attributes:
        center: ``mu`` (d,).
        transform: ``L`` (d, d).
        shrinkage: the shrinkage of the fit (0-d; -1 before any fit).
    """

    center: torch.Tensor
    transform: torch.Tensor
    shrinkage: torch.Tensor

    def __init__(self, n_features: int) -> None:
        super().__init__()
        self.register_buffer("center", torch.zeros(n_features))
        self.register_buffer("transform", torch.eye(n_features))
        self.register_buffer("shrinkage", torch.tensor(-1.0))

    @property
    def fitted(self) -> bool:
        """True once :meth:`fit` has set the constants."""
        return bool(self.shrinkage >= 0)

    def fit(self, e: torch.Tensor, shrinkage: float | None = None) -> GaussianFit:
        """Fit the constants on embeddings (n, d) (:func:`fit_gaussian`, in float64); return the fit."""
        result = fit_gaussian(e.detach().cpu().to(torch.float64).numpy(), shrinkage)
        if result.center.size != self.center.numel():
            msg = f"embeddings: expected {self.center.numel()} dimensions, got {result.center.size}"
            raise DataFormatError(msg)
        dtype = self.center.dtype
        self.center.copy_(torch.from_numpy(result.center).to(dtype))
        self.transform.copy_(torch.from_numpy(result.transform).to(dtype))
        self.shrinkage.fill_(result.shrinkage)
        return result

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        """``(e - mu) @ L`` as one affine map, shape (n, d): weight ``L^T``, bias ``-mu @ L``."""
        bias = -(self.center @ self.transform)
        return nn.functional.linear(e, self.transform.T, bias)

    def squared_distance(self, e: torch.Tensor) -> torch.Tensor:
        """The squared Mahalanobis distance per event (n,), summed in float64."""
        return torch.sum(self(e).to(torch.float64).square(), dim=1)
