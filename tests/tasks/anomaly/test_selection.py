"""The model choice reads the validation split only; the reported numbers come from the test split.

Two stand-in models score one input each: A the MET, B the leading e/gamma pT.
The signal's validation part has a large MET (A separates it, B does not), its
test part a hard e/gamma (the other way round). A choice made on the validation
split picks A; one made on the test split would pick B.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from l1scout.errors import ConfigError, DataFormatError
from l1scout.io.scalers import PowerOfTwoRobustScaler
from l1scout.tasks.anomaly.data import AnomalyData
from l1scout.tasks.anomaly.metrics import evaluate
from l1scout.tasks.anomaly.pipeline_config import EvaluationConfig
from l1scout.tasks.anomaly.selection import (
    Selection,
    assess,
    choose_best,
    reported_evaluation,
    selection_of,
)

MET, EG = 0, 3  # columns of the MET pT and of the leading e/gamma pT


class _Feature(nn.Module):
    """A stand-in anomaly model: the score is one scaled input."""

    def __init__(self, column: int) -> None:
        super().__init__()
        self.column = column

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.column : self.column + 1]

    def score(self, x_scaled: torch.Tensor) -> torch.Tensor:
        return x_scaled[:, self.column].to(torch.float64)

    def deployable(self) -> nn.Module:
        return self

    def score_from_deployed(self, outputs: np.ndarray) -> np.ndarray:
        return np.asarray(outputs, dtype=np.float64)[:, 0]


def _events(n: int, rng: np.random.Generator, *, met: float = 0.0, eg: float = 0.0) -> np.ndarray:
    x = np.zeros((n, 57), dtype=np.float32)
    x[:, MET] = rng.exponential(20.0, n) + met
    x[:, EG] = rng.exponential(10.0, n) + eg
    x[:, EG + 1] = rng.normal(0.0, 1.5, n)
    return x


@pytest.fixture(scope="module")
def data() -> AnomalyData:
    rng = np.random.default_rng(5)
    return AnomalyData(
        zb_train=_events(20_000, rng),
        zb_val=_events(20_000, rng),
        zb_test=_events(20_000, rng),
        signals={"S": _events(2_000, rng, eg=120.0)},  # test part: a hard e/gamma
        signals_val={"S": _events(2_000, rng, met=120.0)},  # validation part: large MET
        dataset_hash="0" * 64,
        files={},
    )


@pytest.fixture(scope="module")
def scaler(data: AnomalyData) -> PowerOfTwoRobustScaler:
    return PowerOfTwoRobustScaler(object_size=3).fit(data.zb_train)


CONFIG = EvaluationConfig(rates_khz=(100.0, 1000.0), min_pass=10)


@dataclass
class _Cand:
    name: str
    selection: Selection


def test_the_choice_reads_the_validation_split_not_the_test_split(
    data: AnomalyData, scaler: PowerOfTwoRobustScaler
) -> None:
    a, b = _Feature(MET), _Feature(EG)
    val_a, sel_a = assess(a, data, scaler, CONFIG)
    _val_b, sel_b = assess(b, data, scaler, CONFIG)
    # 100 kHz: 20,000 x 100 / 31,039 = 64 expected zero-bias validation events: measurable
    assert sel_a.rate_khz == sel_b.rate_khz == 100.0
    assert sel_a.split == "validation"
    assert sel_a.n_zero_bias == 20_000
    assert sel_a.n_signal == 2_000
    assert sel_a.value > 0.95
    assert sel_b.value < 0.05
    assert val_a.signals["S"].efficiency_at(100.0).value == sel_a.value
    chosen = choose_best([_Cand("B", sel_b), _Cand("A", sel_a)])
    assert chosen.name == "A"

    # on the test split B is the better model: a choice made there would have picked B
    test_a = reported_evaluation(a, data, scaler, CONFIG)
    test_b = reported_evaluation(b, data, scaler, CONFIG)
    assert test_b.signals["S"].efficiency_at(100.0).value > 0.95
    assert test_a.signals["S"].efficiency_at(100.0).value < 0.05
    assert test_a.n_zero_bias == 20_000
    assert selection_of(test_b, None).value > selection_of(test_a, None).value


def test_the_choice_is_blind_to_the_test_split(
    data: AnomalyData, scaler: PowerOfTwoRobustScaler
) -> None:
    """Poisoned test events (NaN, which scoring refuses): the choice is unchanged and never fails."""
    poisoned = dataclasses.replace(
        data,
        zb_test=np.full_like(data.zb_test, np.nan),
        signals={"S": np.full_like(data.signals["S"], np.nan)},
    )
    for column in (MET, EG):
        model = _Feature(column)
        clean = assess(model, data, scaler, CONFIG)
        blind = assess(model, poisoned, scaler, CONFIG)
        assert blind[1] == clean[1]
        assert blind[0].to_metrics() == clean[0].to_metrics()
    with pytest.raises(DataFormatError, match="NaN"):
        reported_evaluation(_Feature(MET), poisoned, scaler, CONFIG)


def test_figure_without_a_measurable_rate_and_errors(
    data: AnomalyData, scaler: PowerOfTwoRobustScaler
) -> None:
    rng = np.random.default_rng(2)
    ev = evaluate(rng.normal(size=1000), {"s": rng.normal(1.0, 1.0, 200)}, rates_khz=(1.0, 10.0))
    sel = selection_of(ev, None)
    assert sel.rate_khz is None
    assert sel.figure.startswith("mean AUC")
    assert sel.value == pytest.approx(ev.signals["s"].auc)
    chosen_at = selection_of(ev, 10.0)
    assert "not measurable on the validation split" in chosen_at.figure
    with pytest.raises(ConfigError, match="not evaluated"):
        selection_of(ev, 5.0)
    with pytest.raises(ConfigError, match="different figures"):
        choose_best([_Cand("a", sel), _Cand("b", chosen_at)])
    with pytest.raises(ConfigError, match="no model"):
        choose_best([])
    # equal figures: the first wins
    assert choose_best([_Cand("a", sel), _Cand("b", sel)]).name == "a"
    unsplit = dataclasses.replace(data, signals_val={})
    with pytest.raises(ConfigError, match="no validation part of the signals"):
        assess(_Feature(MET), unsplit, scaler, CONFIG)
