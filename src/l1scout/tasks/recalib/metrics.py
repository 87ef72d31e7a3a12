"""The RMSE table of the re-calibration in the seed's form (its Table 7, ``docs/physics/l1-algorithms.md``).

Residual targets (the contract of :mod:`l1scout.tasks.recalib.dataset`):
``dpt_over_pt = (pT_reco - pT_L1) / pT_reco``, ``deta = eta_reco - eta_L1``,
``dphi = wrap(phi_reco - phi_L1)``. A model predicts the residual ``r``; the
corrected object is what one can compute at inference from the L1 object and
``r`` alone (:func:`corrected_pt` for the pT):

* ``pT = pT_L1 / (1 - r)``, with ``r`` capped at ``pt_cap`` (the training
  split's largest pT residual, so that ``1 - r > 0``; see :func:`pt_cap`),
* ``eta = eta_L1 + r``, ``phi = phi_L1 + r``.

The uncorrected row is the L1 object itself (``r = 0``). Each column is the
root mean square over the test split of the corrected (or L1) value against
the offline one (:func:`correction_errors`):

* ``phi``: ``wrap(phi - phi_reco)`` in [-pi, pi) (rad),
* ``eta``: ``eta - eta_reco``,
* ``pT/pT_reco - 1``: ``(pT - pT_reco) / pT_reco``; uncorrected, this is
  ``(pT_L1 - pT_reco) / pT_reco``. It is computed from the residuals through
  ``pT / pT_reco = (1 - r_true) / (1 - r)``, which equals
  ``pT_L1 / (1 - r) / pT_reco`` exactly.

The seed's Table 7 heads the last column "pT/pT_reco" (the relative error of
the re-calibrated pT); its columns are phi, eta and pT, in that order. Note
that for the pT the error of the corrected object is not the error of the
residual: ``(1 - r_true) / (1 - r) - 1 = (r - r_true) / (1 - r)``.

Example:
    >>> true = np.array([[0.2, 3.1], [-0.25, -3.1]])
    >>> pred = np.array([[0.1, -3.1], [-0.2, 3.1]])
    >>> rmse = correction_rmse(true, pred, ("dpt_over_pt", "dphi"))
    >>> {k: round(v, 4) for k, v in rmse.items()}
    {'dpt_over_pt': 0.0839, 'dphi': 0.0832}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from l1scout._jagged import wrap_phi
from l1scout._types import F64
from l1scout.errors import ConfigError

__all__ = [
    "COLUMN_MEANING",
    "PT_TARGET",
    "SEED_COLUMNS",
    "UNCORRECTED",
    "RMSETable",
    "column_label",
    "corrected_pt",
    "correction_errors",
    "correction_rmse",
    "pt_cap",
    "rmse_table",
]

#: The row of the uncorrected L1 objects.
UNCORRECTED = "L1 (no correction)"
#: The pT residual target, ``(pT_reco - pT_L1) / pT_reco``.
PT_TARGET = "dpt_over_pt"
#: Residual target -> its column name, in the seed's column order.
SEED_COLUMNS: dict[str, str] = {"dphi": "phi", "deta": "eta", PT_TARGET: "pT/pT_reco - 1"}
#: Residual target -> what its column is the RMS of (for captions).
COLUMN_MEANING: dict[str, str] = {
    "dphi": "phi - phi_reco, wrapped into [-pi, pi) (rad)",
    "deta": "eta - eta_reco",
    PT_TARGET: (
        "(pT - pT_reco) / pT_reco, with pT the L1 pT (uncorrected row) or the corrected "
        "pT = pT_L1 / (1 - r), r the predicted (pT_reco - pT_L1) / pT_reco"
    ),
}


def column_label(target: str) -> str:
    """The seed's column name of a residual target (unknown names are kept).

    >>> column_label("dpt_over_pt"), column_label("dpt")
    ('pT/pT_reco - 1', 'dpt')
    """
    return SEED_COLUMNS.get(target, target)


def _is_angle(target: str) -> bool:
    return target.startswith("dphi")


def pt_cap(train_residual: npt.ArrayLike, target_names: Sequence[str]) -> float | None:
    """The largest pT residual a correction applies: the training split's largest ``dpt_over_pt``.

    Every true residual is below 1 (``pT_L1 > 0``), so the cap keeps ``1 - r``
    positive; it is a constant of the fitted model, known at inference. None
    when *target_names* has no pT residual.

    >>> pt_cap(np.array([[0.2, 0.0], [0.5, 1.0]]), ("dpt_over_pt", "deta"))
    0.5
    """
    if PT_TARGET not in target_names:
        return None
    r = np.asarray(train_residual, dtype=np.float64).reshape(-1, len(target_names))
    if len(r) == 0:
        msg = "pT cap: the training residuals are empty"
        raise ConfigError(msg)
    return float(r[:, list(target_names).index(PT_TARGET)].max())


def _capped(predicted: F64, cap: float | None) -> F64:
    r = predicted if cap is None else np.minimum(predicted, cap)
    if np.any(~(r < 1.0)):
        msg = (
            "predicted pT residual: values >= 1 (or NaN) give no corrected pT = pT_L1 / (1 - r); "
            "pass pt_cap (the training split's largest residual, see pt_cap())"
        )
        raise ConfigError(msg)
    return r


def corrected_pt(pt_l1: npt.ArrayLike, predicted: npt.ArrayLike, cap: float | None = None) -> F64:
    """The corrected pT, ``pT_L1 / (1 - min(r, cap))``, from the L1 pT and the predicted residual.

    Inverts ``r = (pT_reco - pT_L1) / pT_reco``: with the true residual it gives
    ``pT_reco`` back.

    Raises:
        ConfigError: a (capped) residual of 1 or more, or NaN.

    >>> corrected_pt([10.0, 20.0, 30.0], [0.2, -0.25, 0.9], cap=0.5).tolist()
    [12.5, 16.0, 60.0]
    """
    r = _capped(np.asarray(predicted, dtype=np.float64), cap)
    out: F64 = np.asarray(pt_l1, dtype=np.float64) / (1.0 - r)
    return out


def correction_errors(
    true: npt.ArrayLike,
    pred: npt.ArrayLike,
    target_names: Sequence[str],
    *,
    pt_cap: float | None = None,
) -> F64:
    """Per object and target, the corrected value minus the offline one (see the module docstring).

    Args:
        true: the true residuals (n, T) (or (n,) for one target).
        pred: the predicted residuals, same shape (zeros: the uncorrected objects).
        target_names: the residual target of each column.
        pt_cap: the cap of the predicted pT residual (:func:`pt_cap`).

    Returns:
        (n, T): ``(pT - pT_reco) / pT_reco`` for ``dpt_over_pt``, ``wrap(r - r_true)``
        for ``dphi*`` targets, ``r - r_true`` for the others.

    Raises:
        ConfigError: shapes that do not match each other or the target names, no
            rows, or a predicted pT residual >= 1 after the cap.
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
    err = np.empty_like(t)
    for j, name in enumerate(target_names):
        if name == PT_TARGET:
            err[:, j] = (1.0 - t[:, j]) / (1.0 - _capped(p[:, j], pt_cap)) - 1.0
        elif _is_angle(name):
            err[:, j] = wrap_phi(p[:, j] - t[:, j])
        else:
            err[:, j] = p[:, j] - t[:, j]
    return err


def correction_rmse(
    true: npt.ArrayLike,
    pred: npt.ArrayLike,
    target_names: Sequence[str],
    *,
    pt_cap: float | None = None,
) -> dict[str, float]:
    """RMS per target of :func:`correction_errors`: the columns of the table.

    Raises:
        ConfigError: as :func:`correction_errors`.
    """
    err = correction_errors(true, pred, target_names, pt_cap=pt_cap)
    return {name: float(np.sqrt(np.mean(err[:, j] ** 2))) for j, name in enumerate(target_names)}


@dataclass(frozen=True)
class RMSETable:
    """RMSE per model and target on the test split, with the uncorrected row first.

    Attributes:
        kind: ``"muon"`` or ``"jet"``.
        targets: the residual target names, in the seed's column order.
        rows: ``(label, rmse per target)``; the first is :data:`UNCORRECTED`.
        events: the rows of the test split.
        pt_cap: the cap of the predicted pT residual (None: no cap, or no pT column).
    """

    kind: str
    targets: tuple[str, ...]
    rows: tuple[tuple[str, tuple[float, ...]], ...]
    events: int
    pt_cap: float | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        """The seed's column names of the targets."""
        return tuple(column_label(t) for t in self.targets)

    @property
    def caption(self) -> str:
        """What each column is the RMS of, over the test split."""
        parts = [f"{column_label(t)}: {COLUMN_MEANING.get(t, t)}" for t in self.targets]
        if PT_TARGET in self.targets and self.pt_cap is not None:
            parts[self.targets.index(PT_TARGET)] += (
                f", capped at {self.pt_cap:.4g} (the training split's largest)"
            )
        return f"RMS over the {self.events} test {self.kind}s of: " + "; ".join(parts) + "."

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
    *,
    pt_cap: float | None = None,
) -> RMSETable:
    """The table: :data:`UNCORRECTED` (zero residual) then one row per model, seed column order.

    Args:
        kind: ``"muon"`` or ``"jet"``.
        target_names: the residual targets (columns of the arrays).
        true_residual: physical residuals of the test split (n, T).
        predictions: row label -> predicted physical residuals (n, T).
        pt_cap: the cap of the predicted pT residual (:func:`pt_cap` of the training split).
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
        r = correction_rmse(true, pred, names, pt_cap=pt_cap)
        rows.append((label, tuple(r[t] for t in targets)))
    return RMSETable(kind=kind, targets=targets, rows=tuple(rows), events=len(true), pt_cap=pt_cap)
