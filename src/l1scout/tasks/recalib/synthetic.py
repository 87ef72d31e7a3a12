"""Synthetic re-calibration datasets with a known, learnable residual (tests, benchmarks, demos).

Rows are drawn like L1 objects of the seed's selection and given residuals
that are a known smooth function of the inputs plus Gaussian noise, so that a
model has something real to learn and the best achievable RMSE is the noise:

* muons (inputs ``pt, eta, phi, charge``; :data:`~l1scout.tasks.recalib.dataset.MUON_FEATURES`):
  ``pT_L1`` log-uniform in (5.5, 45) GeV, ``eta`` uniform in (-2.4, 2.4), phi
  uniform in [0, 2 pi), charge +-1; residuals

  - ``dphi = q * 1.2 / pT`` (the bending between the station and the vertex,
    ~0.2 rad at 5.5 GeV) ``+ N(0, 0.01)``,
  - ``deta = 0.005 * eta + N(0, 0.01)``,
  - ``dpt_over_pt = 0.08 + 0.04 * eta^2 - 0.5 / pT + N(0, 0.05)``;

* jets (inputs ``pt, eta, phi``): ``pT_L1`` log-uniform in (20, 300) GeV;
  ``dpt_over_pt = 0.25 - 2 / sqrt(pT) + 0.03 * eta^2 + N(0, 0.08)``,
  ``deta = N(0, 0.03)``, ``dphi = N(0, 0.03)``; by default a jet dataset keeps
  ``dpt_over_pt`` only (:data:`~l1scout.tasks.recalib.dataset.JET_TARGETS`, as
  :func:`~l1scout.tasks.recalib.dataset.jet_dataset`).

The split and the scaling are those of the real datasets
(:func:`~l1scout.tasks.recalib.dataset.build_regression_data`).

Example:
    >>> d = synthetic_dataset("muon", 1000, seed=2)
    >>> d.sizes, d.feature_names
    ({'train': 650, 'val': 200, 'test': 150}, ('pt', 'eta', 'phi', 'charge'))
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from l1scout._jagged import wrap_phi
from l1scout.errors import ConfigError
from l1scout.tasks.recalib.dataset import (
    JET_FEATURES,
    JET_TARGETS,
    MUON_FEATURES,
    TARGET_NAMES,
    RegressionData,
    build_regression_data,
)

__all__ = ["NOISE", "synthetic_dataset"]

#: The noise of each residual (dpt_over_pt, deta, dphi) per kind: the best achievable RMSE.
NOISE: dict[str, tuple[float, float, float]] = {
    "muon": (0.05, 0.01, 0.01),
    "jet": (0.08, 0.03, 0.03),
}


def synthetic_dataset(
    kind: Literal["muon", "jet"],
    n: int,
    *,
    seed: int = 1,
    noise_scale: float = 1.0,
    targets: tuple[str, ...] | None = None,
) -> RegressionData:
    """A split, scaled dataset of *n* synthetic objects (see the module docstring).

    Args:
        kind: ``"muon"`` or ``"jet"``.
        n: rows (at least 20).
        seed: draws and split.
        noise_scale: multiplies every noise width.
        targets: the residual targets kept, in the order of
            :data:`~l1scout.tasks.recalib.dataset.TARGET_NAMES` (None: all three
            for muons, :data:`~l1scout.tasks.recalib.dataset.JET_TARGETS` for jets).

    Raises:
        ConfigError: an unknown kind or target.

    >>> synthetic_dataset("jet", 100).target_names
    ('dpt_over_pt',)
    """
    rng = np.random.default_rng(seed)
    eta = rng.uniform(-2.4, 2.4, n)
    phi = rng.uniform(0.0, 2 * np.pi, n)
    s_pt, s_eta, s_phi = (noise_scale * w for w in NOISE.get(kind, (0.0, 0.0, 0.0)))
    if kind == "muon":
        pt = np.exp(rng.uniform(np.log(5.6), np.log(44.9), n))
        charge = rng.choice([-1.0, 1.0], n)
        dphi = charge * 1.2 / pt + rng.normal(0.0, s_phi, n)
        deta = 0.005 * eta + rng.normal(0.0, s_eta, n)
        dpt = 0.08 + 0.04 * eta**2 - 0.5 / pt + rng.normal(0.0, s_pt, n)
        x = np.stack([pt, eta, phi, charge], axis=1)
        features = MUON_FEATURES
    elif kind == "jet":
        pt = np.exp(rng.uniform(np.log(20.0), np.log(300.0), n))
        dpt = 0.25 - 2.0 / np.sqrt(pt) + 0.03 * eta**2 + rng.normal(0.0, s_pt, n)
        deta = rng.normal(0.0, s_eta, n)
        dphi = rng.normal(0.0, s_phi, n)
        x = np.stack([pt, eta, phi], axis=1)
        features = JET_FEATURES
    else:
        msg = f"kind: expected 'muon' or 'jet', got {kind!r}"
        raise ConfigError(msg)
    keep = targets if targets is not None else (TARGET_NAMES if kind == "muon" else JET_TARGETS)
    if not keep or any(t not in TARGET_NAMES for t in keep):
        msg = f"targets: expected some of {', '.join(TARGET_NAMES)}, got {list(keep)}"
        raise ConfigError(msg)
    columns = [j for j, t in enumerate(TARGET_NAMES) if t in keep]
    residual = np.stack([dpt, deta, wrap_phi(dphi)], axis=1)[:, columns]
    names = tuple(TARGET_NAMES[j] for j in columns)
    match = {"synthetic": 1.0, "selected": float(n)}
    return build_regression_data(kind, features, x, residual, names, seed=seed, match=match)
