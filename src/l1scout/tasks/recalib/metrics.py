"""The RMSE table of the re-calibration in the seed's form (its Table 7, ``docs/physics/l1-algorithms.md``).

Residual targets (the contract of :mod:`l1scout.tasks.recalib.dataset`):
``dpt_over_pt = (pT_reco - pT_L1) / pT_reco``, ``deta = eta_reco - eta_L1``,
``dphi = wrap(phi_reco - phi_L1)``. A model predicts the residual; the
corrected object is the L1 object plus the predicted residual, so the error
of the corrected object is ``true residual - predicted residual`` (for phi
wrapped again into [-pi, pi)). The uncorrected L1 object predicts a zero
residual. Each column is the root mean square of these errors over the test
split; the seed's columns are phi, eta and pT/pT_reco, in that order.

Example:
    >>> true = np.array([[0.1, 3.1], [-0.1, -3.1]])
    >>> pred = np.array([[0.0, -3.1], [0.0, 3.1]])
    >>> {k: round(v, 4) for k, v in residual_rmse(true, pred, ("deta", "dphi")).items()}
    {'deta': 0.1, 'dphi': 0.0832}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from l1scout._jagged import wrap_phi
from l1scout.errors import ConfigError

__all__ = [
    "SEED_COLUMNS",
    "UNCORRECTED",
    "RMSETable",
    "column_label",
    "residual_rmse",
    "rmse_table",
]

#: The row of the uncorrected L1 objects.
UNCORRECTED = "L1 (no correction)"
#: Residual target -> the seed's column name, in the seed's column order.
SEED_COLUMNS: dict[str, str] = {"dphi": "phi", "deta": "eta", "dpt_over_pt": "pT/pT_reco"}


def column_label(target: str) -> str:
    """The seed's column name of a residual target (unknown names are kept).

    >>> column_label("dpt_over_pt"), column_label("dpt")
    ('pT/pT_reco', 'dpt')
    """
    return SEED_COLUMNS.get(target, target)


def _is_angle(target: str) -> bool:
    return target.startswith("dphi")


def residual_rmse(
    true: npt.ArrayLike, pred: npt.ArrayLike, target_names: Sequence[str]
) -> dict[str, float]:
    """RMSE per target of ``true - pred`` (physical residuals; phi differences wrapped).

    Raises:
        ConfigError: shapes that do not match each other or the target names, or no rows.
    """
    t = np.asarray(true, dtype=np.float64)
    p = np.asarray(pred, dtype=np.float64)
    if t.ndim == 1:
        t, p = t[:, None], p.reshape(-1, 1)
    if t.shape != p.shape or t.ndim != 2 or t.shape[1] != len(target_names) or len(t) == 0:
        msg = (
            f"residuals: expected true and predicted arrays of shape (n > 0, {len(target_names)}), "
            f"got {t.shape} and {p.shape}"
        )
        raise ConfigError(msg)
    out = {}
    for j, name in enumerate(target_names):
        err = t[:, j] - p[:, j]
        if _is_angle(name):
            err = np.asarray(wrap_phi(err), dtype=np.float64)
        out[name] = float(np.sqrt(np.mean(err * err)))
    return out


@dataclass(frozen=True)
class RMSETable:
    """RMSE per model and target on the test split, with the uncorrected row first.

    Attributes:
        kind: ``"muon"`` or ``"jet"``.
        targets: the residual target names, in the seed's column order.
        rows: ``(label, rmse per target)``; the first is :data:`UNCORRECTED`.
        events: the rows of the test split.
    """

    kind: str
    targets: tuple[str, ...]
    rows: tuple[tuple[str, tuple[float, ...]], ...]
    events: int

    @property
    def columns(self) -> tuple[str, ...]:
        """The seed's column names of the targets."""
        return tuple(column_label(t) for t in self.targets)

    @property
    def labels(self) -> tuple[str, ...]:
        """Row labels, uncorrected first."""
        return tuple(label for label, _ in self.rows)

    def rmse(self, label: str) -> dict[str, float]:
        """``{target: rmse}`` of one row."""
        for name, values in self.rows:
            if name == label:
                return dict(zip(self.targets, values, strict=True))
        msg = f"RMSE table ({self.kind}): no row {label!r}; rows are {', '.join(self.labels)}"
        raise ConfigError(msg)

    @property
    def baseline(self) -> dict[str, float]:
        """The uncorrected row."""
        return self.rmse(UNCORRECTED)

    def improvement(self, label: str) -> dict[str, float]:
        """Relative improvement over the uncorrected objects, ``1 - rmse / rmse_L1`` per target.

        Positive: the model's objects are closer to offline (0.5 = half the RMSE).
        """
        base = self.baseline
        return {t: (1.0 - v / base[t]) if base[t] > 0 else 0.0 for t, v in self.rmse(label).items()}

    def best(self, target: str) -> str:
        """The model row (not the uncorrected one) with the lowest RMSE of *target*."""
        models = [r for r in self.rows if r[0] != UNCORRECTED]
        if not models:
            msg = f"RMSE table ({self.kind}) has no model rows"
            raise ConfigError(msg)
        j = self.targets.index(target)
        return min(models, key=lambda r: r[1][j])[0]

    def records(self) -> list[dict[str, object]]:
        """One dict per row: ``model`` and one entry per seed column."""
        return [
            {"model": label, **dict(zip(self.columns, values, strict=True))}
            for label, values in self.rows
        ]

    def summary(self) -> list[str]:
        """One sentence per model: how much it beats (or not) the uncorrected objects per target."""
        lines = []
        for label in self.labels[1:]:
            parts = []
            for t, gain in self.improvement(label).items():
                word = "better" if gain > 0 else "worse"
                parts.append(f"{column_label(t)} {abs(gain) * 100:.1f}% {word}")
            lines.append(f"{label}: " + ", ".join(parts))
        return lines


def _order(targets: Sequence[str]) -> list[int]:
    """Column order: the seed's columns first in its order, then the others as given."""
    seed = [targets.index(t) for t in SEED_COLUMNS if t in targets]
    return seed + [j for j, t in enumerate(targets) if t not in SEED_COLUMNS]


def rmse_table(
    kind: str,
    target_names: Sequence[str],
    true_residual: npt.ArrayLike,
    predictions: Mapping[str, npt.ArrayLike],
) -> RMSETable:
    """The table: :data:`UNCORRECTED` (zero residual) then one row per model, seed column order.

    Args:
        kind: ``"muon"`` or ``"jet"``.
        target_names: the residual targets (columns of the arrays).
        true_residual: physical residuals of the test split (n, T).
        predictions: row label -> predicted physical residuals (n, T).
    """
    true = np.asarray(true_residual, dtype=np.float64)
    names = tuple(target_names)
    if UNCORRECTED in predictions:
        msg = f"model label {UNCORRECTED!r} is reserved for the uncorrected row"
        raise ConfigError(msg)
    order = _order(names)
    targets = tuple(names[j] for j in order)
    rows: list[tuple[str, tuple[float, ...]]] = []
    for label, pred in [(UNCORRECTED, np.zeros_like(true)), *predictions.items()]:
        r = residual_rmse(true, pred, names)
        rows.append((label, tuple(r[t] for t in targets)))
    return RMSETable(kind=kind, targets=targets, rows=tuple(rows), events=len(true))
