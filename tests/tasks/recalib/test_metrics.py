"""The RMSE table in the seed's form: rows, columns, phi wrapping, improvements."""

from __future__ import annotations

import math

import numpy as np
import pytest

from l1scout.errors import ConfigError
from l1scout.tasks.recalib.metrics import (
    UNCORRECTED,
    column_label,
    residual_rmse,
    rmse_table,
)


def test_rmse_by_hand_with_phi_wrapped() -> None:
    true = np.array([[0.3, 0.01, 3.0], [-0.1, -0.03, -3.0]])
    pred = np.array([[0.1, 0.0, -3.0], [0.0, 0.0, 3.0]])
    got = residual_rmse(true, pred, ("dpt_over_pt", "deta", "dphi"))
    assert got["dpt_over_pt"] == pytest.approx(math.sqrt((0.2**2 + 0.1**2) / 2))
    assert got["deta"] == pytest.approx(math.sqrt((0.01**2 + 0.03**2) / 2))
    # 3 - (-3) = 6 rad is 6 - 2 pi = -0.283 rad once wrapped, not 6
    assert got["dphi"] == pytest.approx(2 * math.pi - 6.0)


def test_table_has_the_seed_rows_and_columns_in_the_seed_order() -> None:
    rng = np.random.default_rng(0)
    true = rng.normal(size=(500, 3)) * [0.2, 0.03, 0.5]
    targets = ("dpt_over_pt", "deta", "dphi")  # the dataset's order
    half = true * 0.5
    table = rmse_table("muon", targets, true, {"NN 32x3": half, "bad": true * 3.0})
    assert table.labels == (UNCORRECTED, "NN 32x3", "bad")
    assert table.columns == ("phi", "eta", "pT/pT_reco")  # the seed's order
    assert table.targets == ("dphi", "deta", "dpt_over_pt")
    base = table.baseline
    for j, t in enumerate(targets):
        assert base[t] == pytest.approx(float(np.sqrt(np.mean(true[:, j] ** 2))))
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
        "pT/pT_reco",
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
        residual_rmse(np.zeros((3, 2)), np.zeros((3, 1)), ("a", "b"))
    with pytest.raises(ConfigError, match="shape"):
        residual_rmse(np.zeros((0, 1)), np.zeros((0, 1)), ("a",))
    table = rmse_table("muon", ("deta",), np.ones(3), {})
    with pytest.raises(ConfigError, match="no row"):
        table.rmse("NN 1x1")
    with pytest.raises(ConfigError, match="no model rows"):
        table.best("deta")
