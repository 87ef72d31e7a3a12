"""Nystrom kernel ridge regression (Falkon's model) for the re-calibration, and its tuning curves.

The seed (document 003, section 3d) fits Falkon (Meanti et al., NeurIPS 2020):
kernel ridge regression restricted to ``M`` Nystrom centres ``c_j`` drawn
uniformly from the training set,

    f(x) = sum_j alpha_j k(x, c_j),

with ``alpha`` minimising ``(1/n) ||y - K_nM alpha||^2 + lambda alpha^T K_MM alpha``,
i.e. solving the normal equations

    (K_nM^T K_nM + lambda n K_MM) alpha = K_nM^T y.

Falkon solves them by preconditioned conjugate gradient (it is not on the
package index); here the ``M x M`` system is small enough to solve directly:

* ``solver="torch"``: ``K_nM^T K_nM`` and ``K_nM^T y`` accumulated in float64
  over chunks of the training set, then a Cholesky factorisation
  (``torch.linalg.cholesky_ex``) of the system. ``K_MM`` of a linear or
  low-degree polynomial kernel is singular (rank d + 1 ...); a jitter
  ``eps * mean(diag(A)) * I``, ``eps`` from 1e-12 up by decades, is added
  only when the factorisation fails, and recorded.
* ``solver="sklearn"``: scikit-learn's ``Nystroem`` feature map
  ``Phi = K_nM K_MM^{-1/2}`` on the same centres followed by ``Ridge(alpha=lambda
  n, fit_intercept=False)``: ``||y - Phi w||^2 + lambda n ||w||^2`` is the
  same objective with ``alpha = K_MM^{-1/2} w``, so both solvers give the
  same model (tested).

The torch solver is the default: it is several times faster on this machine
(``benchmarks/recalib.py`` measures both; it forms one ``M x M`` Gram matrix
instead of the feature map and its ridge problem), and a penalty scan reuses
its Gram matrix for every ``lambda``.

Kernels (the seed's definitions; inputs are the [0, 1]-scaled L1 values):

* Gaussian: ``k(x, c) = exp(-||x - c||^2 / (2 sigma^2))``;
* linear: ``k(x, c) = beta + x.c / sigma^2``;
* polynomial: ``k(x, c) = (scale x.c + beta)^degree`` (``scale`` by default
  ``1 / d``).

Inference is a :class:`KernelModel`: the kernel between the inputs and the
centres, then a matrix product with ``alpha`` (seed Figure 9) - the form that
is exported to ONNX. The squared distance is formed directly as
``sum_k (x_k - c_k)^2`` (``d`` subtractions, ``d`` squares, ``d - 1`` adds per
centre, the count of :mod:`l1scout.tasks.recalib.ops`, as an FPGA would do
it); in torch and ONNX it is computed as ``|x|^2 - 2 x.c + |c|^2`` (clamped at
0), four times faster as a matrix product; in float32 with inputs in [0, 1]
the distance is then off by at most ~1e-6, a relative error of the kernel of
``1e-6 / (2 sigma^2)``.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(size=(400, 2))
    >>> y = np.sin(3 * x[:, :1]) + x[:, 1:] ** 2
    >>> fit = fit_krr(x, y, kernel="gaussian", centres=50, sigma=0.5, penalty=1e-8)
    >>> bool(np.sqrt(np.mean((fit.predict(x) - y) ** 2)) < 1e-3)
    True
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import torch

from l1scout._types import F64
from l1scout.errors import ConfigError, L1ScoutError

__all__ = [
    "KERNELS",
    "KRRFit",
    "KernelModel",
    "KernelName",
    "KernelParams",
    "Precision",
    "Solver",
    "TuningCurve",
    "fit_krr",
    "kernel_matrix",
    "penalty_path",
    "select_centres",
    "tuning_curve",
]

_log = logging.getLogger(__name__)

KernelName = Literal["gaussian", "linear", "polynomial"]
Solver = Literal["torch", "sklearn"]
Precision = Literal["float32", "float64"]
_DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "float64": torch.float64}
KERNELS: tuple[KernelName, ...] = ("gaussian", "linear", "polynomial")
#: Rows of the training set per chunk of ``K_nM`` (bounds memory at chunk x M doubles).
_CHUNK = 32_768


@dataclass(frozen=True)
class KernelParams:
    """A kernel and its parameters (see the module docstring for the formulas).

    Attributes:
        kernel: ``"gaussian"``, ``"linear"`` or ``"polynomial"``.
        sigma: the Gaussian width; the linear kernel's ``x.c`` is divided by ``sigma^2``.
        degree: the polynomial degree.
        scale: the polynomial kernel's factor of ``x.c``.
        beta: the linear and polynomial kernels' offset.
    """

    kernel: KernelName = "gaussian"
    sigma: float = 1.0
    degree: int = 2
    scale: float = 1.0
    beta: float = 1.0

    def __post_init__(self) -> None:
        if self.kernel not in KERNELS:
            msg = f"kernel {self.kernel!r}: expected one of {', '.join(KERNELS)}"
            raise ConfigError(msg)
        if not self.sigma > 0 or self.degree < 1:
            msg = f"kernel parameters: expected sigma > 0 and degree >= 1, got {self.sigma}, {self.degree}"
            raise ConfigError(msg)


def kernel_matrix(x: torch.Tensor, c: torch.Tensor, params: KernelParams) -> torch.Tensor:
    """``k(x_i, c_j)`` for every input row and centre, shape (len(x), len(c)), in x's dtype."""
    dot = x @ c.T
    if params.kernel == "gaussian":
        d2 = (x * x).sum(dim=1, keepdim=True) - 2.0 * dot + (c * c).sum(dim=1)
        return torch.exp(torch.clamp(d2, min=0.0) * (-0.5 / params.sigma**2))
    if params.kernel == "linear":
        return dot * (1.0 / params.sigma**2) + params.beta
    return torch.pow(dot * params.scale + params.beta, params.degree)


class KernelModel(torch.nn.Module):
    """Nystrom kernel model for inference and ONNX export: ``kernel(x, centres) @ alpha``.

    Args:
        centres: the Nystrom centres (M, d).
        alpha: the coefficients (M, T).
        params: the kernel.
        bias: an optional constant per output (T,).
        precision: the arithmetic: ``"float32"`` (as a deployment would run it) or
            ``"float64"`` (inputs are cast up inside the model).
        output: the dtype of the outputs (default: float32, what ONNX consumers expect).
    """

    centres: torch.Tensor
    alpha: torch.Tensor
    bias: torch.Tensor

    def __init__(
        self,
        centres: npt.ArrayLike,
        alpha: npt.ArrayLike,
        params: KernelParams,
        *,
        bias: npt.ArrayLike | None = None,
        precision: Precision = "float32",
        output: Precision = "float32",
    ) -> None:
        super().__init__()
        if precision not in _DTYPES or output not in _DTYPES:
            msg = f"kernel model precision: expected 'float32' or 'float64', got {precision!r}, {output!r}"
            raise ConfigError(msg)
        dt = _DTYPES[precision]
        c = torch.as_tensor(np.asarray(centres), dtype=dt)
        a = torch.as_tensor(np.asarray(alpha), dtype=dt)
        if c.ndim != 2 or a.ndim != 2 or c.shape[0] != a.shape[0]:
            msg = f"kernel model: centres (M, d) and alpha (M, T) expected, got {tuple(c.shape)} and {tuple(a.shape)}"
            raise ConfigError(msg)
        self.params = params
        self.precision = precision
        self.out_dtype = _DTYPES[output]
        self.register_buffer("centres", c)
        self.register_buffer("alpha", a)
        b = torch.zeros(a.shape[1], dtype=dt) if bias is None else torch.as_tensor(bias, dtype=dt)
        self.has_bias = bias is not None
        self.register_buffer("bias", b)

    @property
    def n_centres(self) -> int:
        """M."""
        return int(self.centres.shape[0])

    @property
    def n_inputs(self) -> int:
        """D."""
        return int(self.centres.shape[1])

    @property
    def n_outputs(self) -> int:
        """T."""
        return int(self.alpha.shape[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predictions (n, T) for inputs (n, d)."""
        xc = x.to(self.alpha.dtype)
        out = kernel_matrix(xc, self.centres, self.params) @ self.alpha
        if self.has_bias:
            out = out + self.bias
        return out.to(self.out_dtype)

    def predict(self, x: npt.ArrayLike, *, batch_size: int = 8192) -> npt.NDArray[Any]:
        """Predictions as a numpy array of the output dtype (no gradients, in batches)."""
        arr = np.asarray(x)
        out = []
        with torch.no_grad():
            for lo in range(0, len(arr), batch_size):
                batch = torch.as_tensor(arr[lo : lo + batch_size], dtype=self.alpha.dtype)
                out.append(self(batch).numpy())
        if not out:
            return np.zeros((0, self.n_outputs))
        return np.concatenate(out)


@dataclass
class KRRFit:
    """A fitted Nystrom kernel ridge regression.

    Attributes:
        params: the kernel.
        penalty: lambda.
        solver: ``"torch"`` or ``"sklearn"``.
        centres: the centres (M, d), float64.
        alpha: the coefficients (M, T), float64.
        seconds: wall-clock fit time (s), centre selection included.
        jitter: the relative diagonal jitter the Cholesky factorisation needed (0: none).
        estimator: the scikit-learn pipeline (``solver="sklearn"``), else None.
        precision: the arithmetic of :attr:`model`.
        model: the :class:`KernelModel` for inference and ONNX export (float32 in and out).
    """

    params: KernelParams
    penalty: float
    solver: Solver
    centres: F64
    alpha: F64
    seconds: float
    jitter: float = 0.0
    estimator: Any = None
    precision: Precision = "float32"
    model: KernelModel = field(init=False)

    def __post_init__(self) -> None:
        self.model = KernelModel(self.centres, self.alpha, self.params, precision=self.precision)
        self.model.eval()
        self._reference = KernelModel(
            self.centres, self.alpha, self.params, precision="float64", output="float64"
        )

    @property
    def n_centres(self) -> int:
        """M."""
        return int(self.centres.shape[0])

    def predict(self, x: npt.ArrayLike) -> F64:
        """Predictions of the fitted estimator, float64 (scikit-learn's pipeline, or the torch model)."""
        if self.estimator is not None:
            return np.asarray(
                self.estimator.predict(np.asarray(x, dtype=np.float64)), dtype=np.float64
            )
        return np.asarray(self._reference.predict(x), dtype=np.float64)

    def cancellation(self, x: npt.ArrayLike) -> float:
        """``max_i,t sum_j |alpha_jt k(x_i, c_j)|``: the scale of the terms the prediction sums.

        Rounding errors of a float32 evaluation are a few 1e-7 of this, however
        small the prediction itself (large coefficients of opposite signs cancel
        for small lambda and for polynomial kernels); it bounds the float32 parity.
        """
        arr = np.asarray(x, dtype=np.float64)
        c = torch.from_numpy(self.centres)
        a = torch.from_numpy(np.abs(self.alpha))
        worst = 0.0
        for lo in range(0, len(arr), 8192):
            k = kernel_matrix(torch.from_numpy(arr[lo : lo + 8192]), c, self.params).abs()
            worst = max(worst, float((k @ a).max()))
        return worst


def select_centres(n: int, m: int, seed: int) -> npt.NDArray[np.int64]:
    """*m* distinct training rows drawn uniformly (without replacement) with numpy's PCG64(seed).

    Raises:
        ConfigError: more centres than rows, or none.

    >>> select_centres(10, 3, 1).tolist()
    [4, 3, 7]
    """
    if not 1 <= m <= n:
        msg = f"centres: expected 1 <= M <= {n} (the training rows), got {m}"
        raise ConfigError(msg)
    return np.asarray(np.random.default_rng(seed).choice(n, size=m, replace=False), dtype=np.int64)


def _check_xy(x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[F64, F64]:
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    if ya.ndim == 1:
        ya = ya[:, None]
    if xa.ndim != 2 or ya.ndim != 2 or len(xa) != len(ya) or len(xa) == 0:
        msg = f"kernel ridge regression: x (n, d) and y (n, T) expected, got {xa.shape} and {ya.shape}"
        raise ConfigError(msg)
    return xa, ya


@dataclass(frozen=True)
class _Gram:
    """The pieces of the normal equations that do not depend on lambda."""

    ktk: Any  # K_nM^T K_nM (M, M), float64 tensor
    kty: Any  # K_nM^T y (M, T)
    kmm: Any  # K_MM (M, M)
    n: int


def _gram(x: F64, y: F64, centres: F64, params: KernelParams) -> _Gram:
    c = torch.from_numpy(centres)
    m, t = len(centres), y.shape[1]
    ktk = torch.zeros((m, m), dtype=torch.float64)
    kty = torch.zeros((m, t), dtype=torch.float64)
    for lo in range(0, len(x), _CHUNK):
        k = kernel_matrix(torch.from_numpy(x[lo : lo + _CHUNK]), c, params)
        ktk += k.T @ k
        kty += k.T @ torch.from_numpy(y[lo : lo + _CHUNK])
    return _Gram(ktk=ktk, kty=kty, kmm=kernel_matrix(c, c, params), n=len(x))


def _solve(gram: _Gram, penalty: float) -> tuple[F64, float]:
    """Alpha and the relative jitter used."""
    a = gram.ktk + (penalty * gram.n) * gram.kmm
    a = 0.5 * (a + a.T)
    scale = float(torch.diagonal(a).mean())
    if not math.isfinite(scale) or scale <= 0:
        msg = "kernel ridge regression: the kernel matrix is empty or not finite (check sigma and the inputs)"
        raise L1ScoutError(msg)
    eye = torch.eye(a.shape[0], dtype=a.dtype)
    for eps in (0.0, *(10.0**e for e in range(-12, -2))):
        chol, info = torch.linalg.cholesky_ex(a + (eps * scale) * eye if eps else a)
        if int(info) == 0:
            alpha = torch.cholesky_solve(gram.kty, chol)
            return alpha.numpy(), eps
    msg = "kernel ridge regression: the normal equations could not be factorised even with jitter 1e-3"
    raise L1ScoutError(msg)


def _sklearn_fit(x: F64, y: F64, centres: F64, params: KernelParams, penalty: float) -> Any:
    from sklearn.kernel_approximation import Nystroem
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline

    if params.kernel == "gaussian":
        feature = Nystroem(kernel="rbf", gamma=0.5 / params.sigma**2, n_components=len(centres))
    elif params.kernel == "linear":
        feature = Nystroem(
            kernel="polynomial",
            gamma=1.0 / params.sigma**2,
            coef0=params.beta,
            degree=1,
            n_components=len(centres),
        )
    else:
        feature = Nystroem(
            kernel="polynomial",
            gamma=params.scale,
            coef0=params.beta,
            degree=params.degree,
            n_components=len(centres),
        )
    feature.set_params(random_state=0)
    feature.fit(centres)  # M components out of M rows: exactly these centres (permuted)
    ridge = Ridge(alpha=penalty * len(x), fit_intercept=False)
    ridge.fit(feature.transform(x), y)
    return make_pipeline(feature, ridge)


def _params(
    kernel: KernelName, sigma: float, degree: int, scale: float | None, beta: float, d: int
) -> KernelParams:
    return KernelParams(
        kernel=kernel,
        sigma=sigma,
        degree=degree,
        scale=1.0 / d if scale is None else scale,
        beta=beta,
    )


def fit_krr(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    kernel: KernelName = "gaussian",
    centres: int = 500,
    sigma: float = 1.0,
    penalty: float = 1e-6,
    degree: int = 2,
    scale: float | None = None,
    beta: float = 1.0,
    solver: Solver = "torch",
    seed: int = 1,
    precision: Precision = "float32",
) -> KRRFit:
    """Fit a Nystrom kernel ridge regression (see the module docstring).

    Args:
        x: training inputs (n, d), scaled.
        y: training targets (n, T) or (n,), standardised.
        kernel: ``"gaussian"``, ``"linear"`` or ``"polynomial"``.
        centres: M, the number of Nystrom centres.
        sigma: the Gaussian width / the linear kernel's scale.
        penalty: lambda (the objective's data term is a mean over the n rows).
        degree: the polynomial degree.
        scale: the polynomial kernel's factor of ``x.c`` (None: ``1 / d``, so that
            ``x.c`` of [0, 1] inputs maps to [0, 1] and the kernel stays well conditioned).
        beta: the linear and polynomial offset.
        solver: ``"torch"`` (direct Cholesky, float64) or ``"sklearn"`` (Nystroem + Ridge).
        seed: seeds the choice of centres.
        precision: the arithmetic of the inference model (:class:`KernelModel`).

    Raises:
        ConfigError: bad shapes or parameters.
        L1ScoutError: the system cannot be solved.
    """
    xa, ya = _check_xy(x, y)
    params = _params(kernel, sigma, degree, scale, beta, xa.shape[1])
    if not penalty > 0:
        msg = f"penalty: expected lambda > 0, got {penalty}"
        raise ConfigError(msg)
    start = time.perf_counter()
    c = xa[select_centres(len(xa), centres, seed)]
    if solver == "sklearn":
        est = _sklearn_fit(xa, ya, c, params, penalty)
        feature, ridge = est.steps[0][1], est.steps[1][1]
        alpha = np.asarray(feature.normalization_.T @ ridge.coef_.T, dtype=np.float64)
        fit = KRRFit(
            params=params,
            penalty=penalty,
            solver=solver,
            centres=np.asarray(feature.components_, dtype=np.float64),
            alpha=alpha,
            seconds=time.perf_counter() - start,
            estimator=est,
            precision=precision,
        )
    elif solver == "torch":
        alpha, jitter = _solve(_gram(xa, ya, c, params), penalty)
        fit = KRRFit(
            params=params,
            penalty=penalty,
            solver=solver,
            centres=c,
            alpha=alpha,
            seconds=time.perf_counter() - start,
            jitter=jitter,
            precision=precision,
        )
    else:
        msg = f"solver {solver!r}: expected 'torch' or 'sklearn'"
        raise ConfigError(msg)
    _log.info(
        "KRR %s M=%d sigma=%g lambda=%g (%s): %.2f s%s",
        kernel,
        centres,
        sigma,
        penalty,
        solver,
        fit.seconds,
        f", jitter {fit.jitter:g}" if fit.jitter else "",
    )
    return fit


def penalty_path(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    penalties: Sequence[float],
    *,
    kernel: KernelName = "gaussian",
    centres: int = 500,
    sigma: float = 1.0,
    degree: int = 2,
    scale: float | None = None,
    beta: float = 1.0,
    seed: int = 1,
    precision: Precision = "float32",
) -> list[KRRFit]:
    """Torch-solver fits for several lambdas sharing one Gram matrix (same centres).

    Each fit's ``seconds`` is the shared Gram time divided evenly plus its own solve.
    """
    xa, ya = _check_xy(x, y)
    params = _params(kernel, sigma, degree, scale, beta, xa.shape[1])
    start = time.perf_counter()
    c = xa[select_centres(len(xa), centres, seed)]
    gram = _gram(xa, ya, c, params)
    shared = (time.perf_counter() - start) / max(len(penalties), 1)
    fits = []
    for lam in penalties:
        if not lam > 0:
            msg = f"penalty: expected lambda > 0, got {lam}"
            raise ConfigError(msg)
        t0 = time.perf_counter()
        alpha, jitter = _solve(gram, lam)
        fits.append(
            KRRFit(
                params=params,
                penalty=float(lam),
                solver="torch",
                centres=c,
                alpha=alpha,
                seconds=shared + time.perf_counter() - t0,
                jitter=jitter,
                precision=precision,
            )
        )
    return fits


@dataclass(frozen=True)
class TuningCurve:
    """Validation RMSE against one kernel parameter, the others fixed (seed Figures 12-13).

    Attributes:
        parameter: ``"sigma"``, ``"penalty"`` or ``"centres"``.
        values: the parameter values, in the order scanned.
        rmse: per target name, the validation RMSE at each value.
        seconds: fit time at each value (s).
        fixed: the other parameters (kernel, M, sigma, lambda, ...).
        label: a title for the curve.
    """

    parameter: str
    values: tuple[float, ...]
    rmse: Mapping[str, tuple[float, ...]]
    seconds: tuple[float, ...]
    fixed: Mapping[str, float | int | str]
    label: str

    def best(self, target: str | None = None) -> float:
        """The value with the lowest RMSE of *target* (None: the sum over targets)."""
        if target is None:
            total = np.sum([np.asarray(v) for v in self.rmse.values()], axis=0)
        else:
            total = np.asarray(self.rmse[target])
        return self.values[int(np.argmin(total))]


#: ``score(y_val_predicted_standardised) -> {target: rmse}``.
Scorer = Callable[[F64], Mapping[str, float]]


def _default_scorer(y_val: F64) -> Scorer:
    def score(pred: F64) -> dict[str, float]:
        err = np.sqrt(np.mean((pred - y_val) ** 2, axis=0))
        return {f"y{i}": float(v) for i, v in enumerate(err)}

    return score


def tuning_curve(
    parameter: Literal["sigma", "penalty", "centres"],
    values: Sequence[float],
    x_train: npt.ArrayLike,
    y_train: npt.ArrayLike,
    x_val: npt.ArrayLike,
    y_val: npt.ArrayLike,
    *,
    base: Mapping[str, Any],
    score: Scorer | None = None,
    label: str = "",
) -> TuningCurve:
    """Fit one model per value of *parameter* and score it on the validation split.

    Args:
        parameter: which argument of :func:`fit_krr` varies.
        values: its values.
        x_train: training inputs.
        y_train: training targets.
        x_val: validation inputs.
        y_val: validation targets (standardised).
        base: the other :func:`fit_krr` arguments (kernel, centres, sigma, penalty, ...).
        score: maps standardised validation predictions to ``{target: rmse}``
            (None: the standardised RMSE per output, named ``y0``, ``y1``, ...).
        label: a title.

    A penalty scan with the torch solver shares one Gram matrix (:func:`penalty_path`).
    """
    if parameter not in ("sigma", "penalty", "centres"):
        msg = f"scan parameter {parameter!r}: expected 'sigma', 'penalty' or 'centres'"
        raise ConfigError(msg)
    if len(values) == 0:
        msg = f"scan of {parameter}: expected at least one value"
        raise ConfigError(msg)
    if parameter == "centres":
        n_train = len(np.asarray(x_train))
        kept = [v for v in values if int(v) <= n_train]
        if len(kept) < len(values):
            _log.warning(
                "scan of M: %s skipped, more centres than the %d training rows",
                ", ".join(str(int(v)) for v in values if int(v) > n_train),
                n_train,
            )
        if not kept:
            msg = f"scan of centres: every value exceeds the {n_train} training rows"
            raise ConfigError(msg)
        values = kept
    xv = np.asarray(x_val, dtype=np.float64)
    scorer = score or _default_scorer(_check_xy(x_val, y_val)[1])
    kwargs = dict(base)
    kwargs.pop(parameter, None)
    if parameter == "penalty" and kwargs.get("solver", "torch") == "torch":
        kwargs.pop("solver", None)
        fits = penalty_path(x_train, y_train, [float(v) for v in values], **kwargs)
    else:
        fits = []
        for v in values:
            value: float | int = int(v) if parameter == "centres" else float(v)
            fits.append(fit_krr(x_train, y_train, **{**kwargs, parameter: value}))
    scores = [scorer(f.predict(xv)) for f in fits]
    names = list(scores[0])
    fixed = {k: v for k, v in base.items() if k != parameter}
    return TuningCurve(
        parameter=parameter,
        values=tuple(float(v) for v in values),
        rmse={n: tuple(float(s[n]) for s in scores) for n in names},
        seconds=tuple(f.seconds for f in fits),
        fixed=fixed,
        label=label,
    )
