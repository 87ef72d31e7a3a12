"""Tests of l1scout.detector.param: every form against its formula, bin edges, validation."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from l1scout.detector.param import FORMS, BinnedFunction

INF = math.inf


def _fn(form: str, coefficients: dict[str, list[list[float]]], **kw: Any) -> BinnedFunction:
    """A 2 (|eta|) x 2 (x) table with |eta| edges 0, 1.5, 3 and x edges 1, 10, 100 by default."""
    args: dict[str, Any] = {
        "form": form,
        "variable": "pt",
        "abs_eta_edges": [0.0, 1.5, 3.0],
        "edges": [1.0, 10.0, 100.0],
        "coefficients": coefficients,
    }
    args.update(kw)
    return BinnedFunction(**args)


# ---------------------------------------------------------------- slow reference


def _slow_eval(f: BinnedFunction, x: float, eta: float) -> float:
    """Find the bins by walking the edges (lo < v <= hi, |eta| = 0 in the first bin)."""
    ae = abs(eta)
    ie = ix = None
    for i in range(len(f.abs_eta_edges) - 1):
        lo, hi = f.abs_eta_edges[i], f.abs_eta_edges[i + 1]
        if lo < ae <= hi or (i == 0 and lo == 0.0 and ae == 0.0):
            ie = i
            break
    for j in range(len(f.edges) - 1):
        if f.edges[j] < x <= f.edges[j + 1]:
            ix = j
            break
    if ie is None or ix is None:
        return float(f.outside)
    c = {k: v[ie][ix] for k, v in f.coefficients.items()}
    if f.form == "constant":
        value = c["a"]
    elif f.form == "linear":
        value = c["a"] + c["b"] * x
    elif f.form == "quadrature":
        value = math.sqrt(x * x * c["a"] ** 2 + x * c["b"] ** 2 + c["c"] ** 2)
    elif f.form == "inverse_quadrature":
        value = math.sqrt(c["a"] ** 2 + (c["b"] / x) ** 2)
    else:
        value = (c["a"] + c["b"] * math.log10(x)) * 10 ** (c["c"] * ae + c["d"])
    return float(value * f.scale)


# ---------------------------------------------------------------- each form by hand


def test_forms_table_lists_the_five_forms() -> None:
    assert set(FORMS) == {"constant", "linear", "quadrature", "inverse_quadrature", "log_exp"}
    assert FORMS["quadrature"][0] == ("a", "b", "c")
    assert FORMS["log_exp"][0] == ("a", "b", "c", "d")


def test_constant_form() -> None:
    f = _fn("constant", {"a": [[0.1, 0.2], [0.3, 0.4]]})
    got = f([5.0, 50.0, 5.0, 50.0], [0.5, -1.0, 2.0, -2.9])
    np.testing.assert_allclose(got, [0.1, 0.2, 0.3, 0.4], rtol=0, atol=0)


def test_linear_form() -> None:
    f = _fn("linear", {"a": [[0.1, 0.2], [0.3, 0.4]], "b": [[0.01, -0.001], [0.02, 0.002]]})
    x = np.array([2.0, 37.0, 9.5, 99.0])
    eta = np.array([0.1, 1.4, -1.6, 3.0])
    expected = [0.1 + 0.01 * 2.0, 0.2 - 0.001 * 37.0, 0.3 + 0.02 * 9.5, 0.4 + 0.002 * 99.0]
    np.testing.assert_allclose(f(x, eta), expected, rtol=1e-14)


def test_quadrature_form() -> None:
    # ECAL barrel: sigma(E) = sqrt(E^2 0.009^2 + E 0.12^2 + 0.45^2)
    f = _fn(
        "quadrature",
        {
            "a": [[0.009, 0.009], [0.05, 0.05]],
            "b": [[0.12, 0.12], [1.0, 1.0]],
            "c": [[0.45, 0.45], [0.0, 0.0]],
        },
        variable="energy",
    )
    for e, eta, expected in [
        (2.0, 0.3, math.sqrt(2.0**2 * 0.009**2 + 2.0 * 0.12**2 + 0.45**2)),
        (50.0, -1.0, math.sqrt(50.0**2 * 0.009**2 + 50.0 * 0.12**2 + 0.45**2)),
        (7.0, 2.2, math.sqrt(7.0**2 * 0.05**2 + 7.0 * 1.0**2)),
        (80.0, -2.9, math.sqrt(80.0**2 * 0.05**2 + 80.0)),
    ]:
        assert f([e], [eta])[0] == pytest.approx(expected, rel=1e-14)


def test_inverse_quadrature_form() -> None:
    f = _fn(
        "inverse_quadrature", {"a": [[0.01, 0.02], [0.03, 0.04]], "b": [[0.1, 0.2], [0.3, 0.4]]}
    )
    for x, eta, a, b in [(2.0, 0.0, 0.01, 0.1), (20.0, 1.0, 0.02, 0.2), (3.0, 2.0, 0.03, 0.3)]:
        assert f([x], [eta])[0] == pytest.approx(math.sqrt(a**2 + (b / x) ** 2), rel=1e-14)
    assert f([50.0], [-2.5])[0] == pytest.approx(math.sqrt(0.04**2 + (0.4 / 50.0) ** 2), rel=1e-14)


def test_log_exp_form() -> None:
    # the v04 CHS vertex resolution: (1 - 0.8 log10 pT) 10^(0.5 |eta| + 1.5)
    f = _fn(
        "log_exp",
        {
            "a": [[1.0, 0.2], [1.0, 0.2]],
            "b": [[-0.8, 0.0], [-0.8, 0.0]],
            "c": [[0.5, 0.5], [0.5, 0.5]],
            "d": [[1.5, 1.5], [1.5, 1.5]],
        },
    )
    for pt, eta in [(2.0, 0.4), (7.5, -1.2), (3.0, 2.0), (20.0, 0.0), (60.0, -2.7)]:
        a = 1.0 - 0.8 * math.log10(pt) if pt <= 10 else 0.2
        expected = a * 10 ** (0.5 * abs(eta) + 1.5)
        assert f([pt], [eta])[0] == pytest.approx(expected, rel=1e-13)


def test_all_forms_match_slow_reference_at_random_points_and_edges() -> None:
    rng = np.random.default_rng(3)
    eta_edges = [0.0, 0.7, 1.5, 2.4, 4.0]
    x_edges = [0.5, 1.0, 3.0, 10.0, 50.0, INF]
    shape = (len(eta_edges) - 1, len(x_edges) - 1)
    for form, (names, _, _) in FORMS.items():
        coeffs = {n: rng.uniform(0.1, 1.0, shape).tolist() for n in names}
        f = BinnedFunction(
            form=form,
            variable="pt",
            abs_eta_edges=eta_edges,
            edges=x_edges,
            coefficients=coeffs,
            scale=1.7,
            outside=-3.0,
        )
        x = np.concatenate([rng.uniform(0.0, 80.0, 300), x_edges[:-1], [0.2, 1e6]])
        eta = np.concatenate([rng.uniform(-4.5, 4.5, 300), np.zeros(len(x_edges) + 1)])
        x = np.concatenate([x, np.full(len(eta_edges) * 2, 2.0)])
        eta = np.concatenate([eta, eta_edges, -np.array(eta_edges)])
        got = f(x, eta)
        ref = [_slow_eval(f, float(a), float(b)) for a, b in zip(x, eta, strict=True)]
        np.testing.assert_allclose(got, ref, rtol=1e-13, err_msg=form)


# ---------------------------------------------------------------- bins, outside and scale


def test_x_on_an_edge_belongs_to_the_lower_bin() -> None:
    f = _fn("constant", {"a": [[0.1, 0.2], [0.3, 0.4]]})
    got = f([1.0, 1.0 + 1e-12, 10.0, 10.0 + 1e-9, 100.0, 100.0 + 1e-9], np.full(6, 0.5))
    np.testing.assert_array_equal(got, [0.0, 0.1, 0.1, 0.2, 0.2, 0.0])


def test_abs_eta_on_an_edge_belongs_to_the_lower_bin() -> None:
    f = _fn("constant", {"a": [[0.1, 0.2], [0.3, 0.4]]})
    eta = [0.0, -0.0, 1.5, -1.5, 1.5 + 1e-12, 3.0, -3.0, 3.0 + 1e-12, -7.0]
    np.testing.assert_array_equal(
        f(np.full(len(eta), 5.0), eta), [0.1, 0.1, 0.1, 0.1, 0.3, 0.3, 0.3, 0.0, 0.0]
    )


def test_first_abs_eta_edge_above_zero_is_open() -> None:
    f = _fn("constant", {"a": [[0.5]]}, abs_eta_edges=[1.0, 2.0], edges=[0.0, 10.0])
    np.testing.assert_array_equal(f([5.0] * 4, [0.0, 1.0, -1.0 - 1e-12, 2.0]), [0, 0, 0.5, 0.5])


def test_outside_value_and_infinite_last_edge() -> None:
    f = _fn("constant", {"a": [[0.9]]}, abs_eta_edges=[0.0, 2.5], edges=[0.0, INF], outside=-1.0)
    np.testing.assert_array_equal(
        f([0.0, 1e-300, 1e12, 5.0, 5.0], [0.0, 0.0, 1.0, 2.5, 2.6]), [-1.0, 0.9, 0.9, 0.9, -1.0]
    )


def test_scale_multiplies_the_value() -> None:
    coeffs = {"a": [[0.01, 0.02], [0.03, 0.04]], "b": [[1e-4, 2e-4], [3e-4, 4e-4]]}
    one = _fn("linear", coeffs)
    two = _fn("linear", coeffs, scale=2.0)
    rng = np.random.default_rng(1)
    x, eta = rng.uniform(1.01, 99.9, 50), rng.uniform(-2.99, 2.99, 50)
    np.testing.assert_allclose(two(x, eta), 2.0 * one(x, eta), rtol=1e-15)
    assert one(x, eta).min() > 0


def test_signed_eta_is_symmetric_and_shapes_follow_input() -> None:
    f = _fn("linear", {"a": [[0.1, 0.2], [0.3, 0.4]], "b": [[1.0, 2.0], [3.0, 4.0]]})
    rng = np.random.default_rng(2)
    x, eta = rng.uniform(0, 120, 40), rng.uniform(-3.5, 3.5, 40)
    np.testing.assert_array_equal(f(x, eta), f(x, -eta))
    assert f(x, eta).shape == (40,)
    assert f(x, eta).dtype == np.float64


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"edges": [1.0, 10.0, 10.0]}, "edges must be strictly increasing"),
        ({"edges": [1.0, 100.0, 10.0]}, "edges must be strictly increasing"),
        ({"abs_eta_edges": [0.0, 3.0, 1.5]}, "abs_eta_edges must be strictly increasing"),
        ({"abs_eta_edges": [0.0]}, "abs_eta_edges needs at least two edges"),
        ({"abs_eta_edges": [-1.0, 1.5, 3.0]}, "abs_eta_edges must start at 0"),
        (
            {"coefficients": {"a": [[1, 2], [3, 4]], "c": [[1, 2], [3, 4]]}},
            r"takes coefficients \['a', 'b'\]",
        ),
        ({"coefficients": {"a": [[1, 2], [3, 4]]}}, r"form 'linear' .*\['a', 'b'\], got \['a'\]"),
        (
            {"coefficients": {"a": [[1, 2]], "b": [[1, 2]]}},
            r"coefficients\.a must be a 2 x 2 table",
        ),
        (
            {"coefficients": {"a": [[1, 2], [3, 4]], "b": [[1, 2], [3]]}},
            r"coefficients\.b must be a 2 x 2 table",
        ),
        (
            {"coefficients": {"a": [[1, 2], [3, 4]], "b": [[1, 2, 3], [3, 4, 5]]}},
            r"coefficients\.b must be a 2 x 2",
        ),
        (
            {"coefficients": {"a": [[1, 2], [3, 4]], "b": [[1, math.nan], [3, 4]]}},
            r"coefficients\.b must be finite",
        ),
        (
            {"coefficients": {"a": [[1, 2], [3, INF]], "b": [[1, 2], [3, 4]]}},
            r"coefficients\.a must be finite",
        ),
        ({"form": "cubic"}, "form"),
        ({"variable": "rapidity"}, "variable"),
        ({"scale": -1.0}, "scale"),
        ({"unexpected": 1.0}, "unexpected"),
    ],
)
def test_malformed_tables_raise(change: dict[str, Any], match: str) -> None:
    base: dict[str, Any] = {
        "form": "linear",
        "variable": "pt",
        "abs_eta_edges": [0.0, 1.5, 3.0],
        "edges": [1.0, 10.0, 100.0],
        "coefficients": {"a": [[1, 2], [3, 4]], "b": [[1, 2], [3, 4]]},
    }
    base.update(change)
    with pytest.raises(ValidationError, match=match):
        BinnedFunction(**base)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("edges", [1.0, math.nan, 100.0]),
        ("edges", [math.nan, 10.0, 100.0]),
        ("abs_eta_edges", [0.0, math.nan, 3.0]),
        ("abs_eta_edges", [math.nan, 1.5, 3.0]),
        ("outside", math.nan),
    ],
)
def test_nan_in_edges_or_outside_is_rejected(field: str, value: Any) -> None:
    """A NaN edge makes every bin test false (a silent 'outside'): it must not validate."""
    base: dict[str, Any] = {
        "form": "constant",
        "variable": "pt",
        "abs_eta_edges": [0.0, 1.5, 3.0],
        "edges": [1.0, 10.0, 100.0],
        "coefficients": {"a": [[1, 2], [3, 4]]},
    }
    base[field] = value
    with pytest.raises(ValidationError, match=field):
        BinnedFunction(**base)


def test_function_is_frozen() -> None:
    f = _fn("constant", {"a": [[0.1, 0.2], [0.3, 0.4]]})
    with pytest.raises(ValidationError):
        f.scale = 3.0
