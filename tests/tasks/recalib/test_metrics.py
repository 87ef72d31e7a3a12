"""The RMSE table in the seed's form: rows, columns, phi wrapping, the applicable pT correction."""

from __future__ import annotations

import math

import numpy as np
import pytest

from l1scout.errors import ConfigError
from l1scout.tasks.recalib.dataset import residuals
from l1scout.tasks.recalib.metrics import (
    UNCORRECTED,
    column_label,
    corrected_pt,
    correction_errors,
    correction_rmse,
    pt_cap,
    rmse_table,
)


def test_rmse_by_hand_with_phi_wrapped() -> None:
    true = np.array([[0.01, 3.0], [-0.03, -3.0]])
    pred = np.array([[0.0, -3.0], [0.0, 3.0]])
    got = correction_rmse(true, pred, ("deta", "dphi"))
    assert got["deta"] == pytest.approx(math.sqrt((0.01**2 + 0.03**2) / 2))
    # 3 - (-3) = 6 rad is 6 - 2 pi = -0.283 rad once wrapped, not 6
    assert got["dphi"] == pytest.approx(2 * math.pi - 6.0)


def test_pt_column_is_the_error_of_the_applied_correction() -> None:
    # three muons by hand: L1 pT, offline pT, a model's predicted (pT_reco - pT_L1) / pT_reco
    pt_l1 = np.array([10.0, 20.0, 30.0])
    pt_reco = np.array([12.5, 16.0, 40.0])
    r_hat = np.array([0.1, -0.2, 0.5])
    res = residuals(pt_l1, np.zeros(3), np.zeros(3), pt_reco, np.zeros(3), np.zeros(3))
    assert res[:, 0].tolist() == pytest.approx([0.2, -0.25, 0.25])
    # the correction applied at inference: pT = pT_L1 / (1 - r) = 11.111, 16.667, 60
    corrected = corrected_pt(pt_l1, r_hat)
    assert corrected.tolist() == pytest.approx([100 / 9, 50 / 3, 60.0])
    rel = [(100 / 9 - 12.5) / 12.5, (50 / 3 - 16.0) / 16.0, (60.0 - 40.0) / 40.0]
    assert rel == pytest.approx([-1 / 9, 1 / 24, 0.5])
    pred = np.c_[r_hat, np.zeros(3)]
    names = ("dpt_over_pt", "deta")
    errors = correction_errors(res[:, :2], pred, names)
    assert errors[:, 0].tolist() == pytest.approx(rel, rel=1e-12)
    table = rmse_table("muon", names, res[:, :2], {"NN 32x3": pred})
    by_hand = math.sqrt((1 / 81 + 1 / 576 + 0.25) / 3)  # 0.29669
    assert table.rmse("NN 32x3")["dpt_over_pt"] == pytest.approx(by_hand, rel=1e-12)
    # not the RMS of the residual's error, sqrt((0.1^2 + 0.05^2 + 0.25^2) / 3) = 0.158
    assert by_hand > 0.29
    # uncorrected: (pT_L1 - pT_reco) / pT_reco = -0.2, 0.25, -0.25
    assert table.baseline["dpt_over_pt"] == pytest.approx(math.sqrt((0.04 + 0.0625 * 2) / 3))
    assert table.columns == ("eta", "pT/pT_reco - 1")
    assert "(pT - pT_reco) / pT_reco" in table.caption
    assert "pT_L1 / (1 - r)" in table.caption


def test_pt_cap_bounds_the_correction() -> None:
    true = np.array([0.2, -0.25, 0.25])
    r_hat = np.array([0.1, -0.2, 1.5])  # 1.5: no pT_L1 / (1 - r) exists
    with pytest.raises(ConfigError, match="pt_cap"):
        correction_rmse(true, r_hat, ("dpt_over_pt",))
    # the cap is the training split's largest true residual: 0.3 here
    cap = pt_cap(np.array([[0.3, 0.0], [-1.0, 0.0]]), ("dpt_over_pt", "deta"))
    assert cap == 0.3
    assert pt_cap(np.zeros((2, 1)), ("deta",)) is None
    # the third muon: pT_L1 30, capped r 0.3 -> 30 / 0.7 = 42.857 against 40
    assert corrected_pt([30.0], [1.5], cap)[0] == pytest.approx(300 / 7)
    errors = correction_errors(true, r_hat, ("dpt_over_pt",), pt_cap=cap)[:, 0]
    assert errors.tolist() == pytest.approx([-1 / 9, 1 / 24, (300 / 7 - 40) / 40])
    table = rmse_table("muon", ("dpt_over_pt",), true, {"m": r_hat}, pt_cap=cap)
    assert table.pt_cap == cap
    assert "capped at 0.3" in table.caption


def test_table_has_the_seed_rows_and_columns_in_the_seed_order() -> None:
    rng = np.random.default_rng(0)
    true = rng.normal(size=(500, 3)) * [0.2, 0.03, 0.5]
    targets = ("dpt_over_pt", "deta", "dphi")  # the dataset's order
    half = true * 0.5
    table = rmse_table("muon", targets, true, {"NN 32x3": half, "bad": true * 3.0}, pt_cap=0.9)
    assert table.labels == (UNCORRECTED, "NN 32x3", "bad")
    assert table.columns == ("phi", "eta", "pT/pT_reco - 1")  # the seed's order
    assert table.targets == ("dphi", "deta", "dpt_over_pt")
    base = table.baseline
    for j, t in enumerate(targets):
        assert base[t] == pytest.approx(float(np.sqrt(np.mean(true[:, j] ** 2))))
        if t == "dpt_over_pt":  # (1 - r) / (1 - r / 2) - 1 = -(r / 2) / (1 - r / 2)
            rel = -(true[:, 0] / 2) / (1 - true[:, 0] / 2)
            assert table.rmse("NN 32x3")[t] == pytest.approx(float(np.sqrt(np.mean(rel**2))))
            continue
        assert table.rmse("NN 32x3")[t] == pytest.approx(0.5 * base[t])
        assert table.improvement("NN 32x3")[t] == pytest.approx(0.5)
        assert table.improvement("bad")[t] == pytest.approx(-1.0)
    assert table.best("dphi") == "NN 32x3"
    assert table.events == 500
    records = table.records()
    assert records[0]["model"] == UNCORRECTED
    assert set(records[0]) == {
        "model",
        "phi",
        "eta",
        "pT/pT_reco - 1",
    }
    lines = table.summary()
    assert lines[0].startswith("NN 32x3: phi 50.0% better")
    assert "100.0% worse" in lines[1]


def test_unknown_targets_keep_their_name_after_the_seed_columns() -> None:
    table = rmse_table("jet", ("dpt", "dphi"), np.ones((3, 2)), {})
    assert table.columns == ("phi", "dpt")
    assert column_label("dpt") == "dpt"
    assert len(table.rows) == 1


def test_errors() -> None:
    with pytest.raises(ConfigError, match="reserved"):
        rmse_table("muon", ("deta",), np.zeros(3), {UNCORRECTED: np.zeros(3)})
    with pytest.raises(ConfigError, match="shape"):
        correction_rmse(np.zeros((3, 2)), np.zeros((3, 1)), ("a", "b"))
    with pytest.raises(ConfigError, match="shape"):
        correction_rmse(np.zeros((0, 1)), np.zeros((0, 1)), ("a",))
    table = rmse_table("muon", ("deta",), np.ones(3), {})
    with pytest.raises(ConfigError, match="no row"):
        table.rmse("NN 1x1")
    with pytest.raises(ConfigError, match="no model rows"):
        table.best("deta")
