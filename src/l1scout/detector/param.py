"""Binned parametrisations: efficiencies and resolutions as data, never as code.

A Delphes card writes an efficiency or a resolution as a formula string such
as ``(abs(eta) <= 1.5) * (pt > 1.0) * sqrt(0.005^2 + pt^2*1.0e-4^2)``. A
l1scout card writes the same thing as a :class:`BinnedFunction`: bin edges in
|eta| and in one kinematic variable (pT, energy or momentum), the name of a
functional *form* from a fixed list, and one coefficient table per
coefficient of that form. Nothing in a card is ever evaluated as code; the
forms are the small functions of :data:`FORMS`.

Bins are open below and closed above, ``lo < x <= hi``, as the Delphes card
formulas are written; outside all bins the function is ``outside``.

Example:
    >>> f = BinnedFunction(form="constant", variable="pt", abs_eta_edges=[0.0, 2.5],
    ...                    edges=[0.5, 1.0, 1e9], coefficients={"a": [[0.9, 0.95]]})
    >>> f(np.array([0.7, 5.0, 0.1]), np.array([1.0, -2.0, 0.0])).tolist()
    [0.9, 0.95, 0.0]
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from l1scout._types import F64

__all__ = ["FORMS", "BinnedFunction"]

_Form = Callable[[F64, F64, dict[str, F64]], F64]


def _constant(x: F64, _abs_eta: F64, c: dict[str, F64]) -> F64:
    return np.asarray(c["a"] + 0.0 * x, dtype=np.float64)


def _linear(x: F64, _abs_eta: F64, c: dict[str, F64]) -> F64:
    return c["a"] + c["b"] * x


def _quadrature(x: F64, _abs_eta: F64, c: dict[str, F64]) -> F64:
    # calorimeter: sqrt(x^2 a^2 + x b^2 + c^2) (stochastic b, noise c, constant a)
    return np.sqrt(np.maximum(x * x * c["a"] ** 2 + x * c["b"] ** 2 + c["c"] ** 2, 0.0))


def _inverse_quadrature(x: F64, _abs_eta: F64, c: dict[str, F64]) -> F64:
    # impact parameters: sqrt(a^2 + (b / x)^2) (resolution term a, multiple scattering b)
    with np.errstate(divide="ignore"):
        ms = np.where(x > 0, c["b"] / np.where(x > 0, x, 1.0), np.inf)
    return np.asarray(np.sqrt(c["a"] ** 2 + ms * ms), dtype=np.float64)


def _log_exp(x: F64, abs_eta: F64, c: dict[str, F64]) -> F64:
    # CHS vertex resolution of the v04 card: (a + b log10 x) * 10^(c |eta| + d)
    with np.errstate(divide="ignore", invalid="ignore"):
        logx = np.where(x > 0, np.log10(np.where(x > 0, x, 1.0)), 0.0)
    return (c["a"] + c["b"] * logx) * 10.0 ** (c["c"] * abs_eta + c["d"])


#: The functional forms a card may name, with the coefficients each one takes.
FORMS: dict[str, tuple[tuple[str, ...], _Form, str]] = {
    "constant": (("a",), _constant, "a"),
    "linear": (("a", "b"), _linear, "a + b x"),
    "quadrature": (("a", "b", "c"), _quadrature, "sqrt(a^2 x^2 + b^2 x + c^2)"),
    "inverse_quadrature": (("a", "b"), _inverse_quadrature, "sqrt(a^2 + (b / x)^2)"),
    "log_exp": (("a", "b", "c", "d"), _log_exp, "(a + b log10(x)) * 10^(c |eta| + d)"),
}


def _increasing(values: list[float], what: str) -> None:
    if len(values) < 2:
        msg = f"{what} needs at least two edges"
        raise ValueError(msg)
    if any(not b > a for a, b in itertools.pairwise(values)) or not all(
        np.isfinite(values) | np.isinf(values)
    ):
        msg = f"{what} must be strictly increasing, got {values}"
        raise ValueError(msg)


class BinnedFunction(BaseModel):
    """A function of (x, |eta|), piecewise over bins, of a named form.

    Attributes:
        form: one of :data:`FORMS`.
        variable: what x is: ``pt`` (GeV), ``energy`` (GeV) or ``p`` (GeV).
        abs_eta_edges: |eta| bin edges (n + 1, increasing).
        edges: x bin edges (m + 1, increasing; ``inf`` allowed).
        coefficients: for each coefficient of the form, an n x m table.
        scale: multiplies the result (e.g. 2 for "twice the offline resolution").
        outside: the value outside every bin.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    form: Literal["constant", "linear", "quadrature", "inverse_quadrature", "log_exp"]
    variable: Literal["pt", "energy", "p"]
    abs_eta_edges: list[float]
    edges: list[float]
    coefficients: dict[str, list[list[float]]]
    scale: float = Field(default=1.0, ge=0)
    outside: float = 0.0

    @model_validator(mode="after")
    def _shapes(self) -> BinnedFunction:
        _increasing(self.abs_eta_edges, "abs_eta_edges")
        _increasing(self.edges, "edges")
        if not np.isfinite(self.outside):
            msg = "outside must be a finite number"
            raise ValueError(msg)
        if self.abs_eta_edges[0] < 0:
            msg = "abs_eta_edges must start at 0 or above"
            raise ValueError(msg)
        names = FORMS[self.form][0]
        if sorted(self.coefficients) != sorted(names):
            msg = (
                f"form {self.form!r} ({FORMS[self.form][2]}) takes coefficients "
                f"{list(names)}, got {sorted(self.coefficients)}"
            )
            raise ValueError(msg)
        n, m = len(self.abs_eta_edges) - 1, len(self.edges) - 1
        for key, table in self.coefficients.items():
            if len(table) != n or any(len(row) != m for row in table):
                shape = f"{len(table)} x {[len(r) for r in table]}"
                msg = f"coefficients.{key} must be a {n} x {m} table (|eta| bins x {self.variable} bins), got {shape}"
                raise ValueError(msg)
            if any(not np.isfinite(v) for row in table for v in row):
                msg = f"coefficients.{key} must be finite numbers"
                raise ValueError(msg)
        return self

    def __call__(self, x: npt.ArrayLike, eta: npt.ArrayLike) -> F64:
        """Evaluate at x (the card's variable, GeV) and eta (signed or not)."""
        xv = np.asarray(x, dtype=np.float64)
        ae = np.abs(np.asarray(eta, dtype=np.float64))
        xe = np.asarray(self.edges)
        ee = np.asarray(self.abs_eta_edges)
        ix = np.searchsorted(xe, xv, side="left") - 1
        ie = np.searchsorted(ee, ae, side="left") - 1
        # |eta| == 0 sits on the first edge: include it in the first bin
        ie = np.where((ae == ee[0]) & (ee[0] == 0.0), 0, ie)
        inside = (ix >= 0) & (ix < len(xe) - 1) & (ie >= 0) & (ie < len(ee) - 1)
        ixc = np.clip(ix, 0, len(xe) - 2)
        iec = np.clip(ie, 0, len(ee) - 2)
        coeff = {k: np.asarray(v, dtype=np.float64)[iec, ixc] for k, v in self.coefficients.items()}
        value = FORMS[self.form][1](xv, ae, coeff) * self.scale
        return np.where(inside, value, self.outside)
