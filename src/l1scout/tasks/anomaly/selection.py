"""Choosing the best model on the validation split; the test split only for the reported numbers.

A study trains several models (and scans their parameters) and reports the
efficiencies of the best one. If the same events both chose the model and
measured its efficiencies, the reported numbers would be biased upwards (the
best of several noisy measurements). So the two jobs use disjoint events
(:mod:`l1scout.tasks.anomaly.data`):

* the **choice** reads the *validation* split only: thresholds for the
  configured rates from the scores of the zero-bias validation events, and
  efficiencies on the validation part of every signal sample
  (:func:`assess`); the figure is the mean signal efficiency at the selection
  rate (``evaluation.select_rate_khz``, default the lowest configured rate
  the zero-bias validation split can measure), or the mean AUC when no
  configured rate is measurable there (:func:`selection_of`);
  :func:`choose_best` takes the highest figure (the first on a tie);
* the **reported** numbers (:func:`reported_evaluation`) are the chosen
  model's on the *test* split: thresholds from the zero-bias test events,
  efficiencies on the test part of every signal, pure efficiencies against the
  reference menu.

A signal whose validation (or test) part is empty is left out of that
evaluation, with a warning in the log.

A study without signals is a **rate-only** study: the evaluations hold the
thresholds and rates alone, there is no figure to compare the models on, and
the first model in the configuration's order is kept (:data:`RATE_ONLY`).

Example:
    >>> from l1scout.tasks.anomaly.metrics import evaluate
    >>> rng = np.random.default_rng(1)
    >>> ev = evaluate(rng.normal(size=20_000), {"s": rng.normal(2.0, 1.0, 500)},
    ...               rates_khz=(10.0, 3000.0))  # 10 kHz: 6.4 expected zero-bias events
    >>> sel = selection_of(ev, None)
    >>> sel.split, sel.rate_khz, sel.figure
    ('validation', 3000.0, 'mean signal efficiency at 3000 kHz')
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from l1scout._types import F32
from l1scout.errors import ConfigError
from l1scout.tasks.anomaly.metrics import Evaluation, evaluate
from l1scout.tasks.rates import format_rate

if TYPE_CHECKING:
    from torch import nn

    from l1scout.io.scalers import PowerOfTwoRobustScaler
    from l1scout.tasks.anomaly.config import ModelConfig
    from l1scout.tasks.anomaly.data import AnomalyData
    from l1scout.tasks.anomaly.pipeline_config import EvaluationConfig
    from l1scout.track.runs import TrackedRun

__all__ = [
    "RATE_ONLY",
    "SELECTION_SPLIT",
    "Candidate",
    "Selection",
    "assess",
    "choose_best",
    "reported_evaluation",
    "selection_of",
]

_log = logging.getLogger(__name__)

#: The split that chooses the model.
SELECTION_SPLIT = "validation"
#: The figure of a rate-only study (no signal): none, the first model is kept.
RATE_ONLY = "none (a rate-only study: no signal), the first model in the configuration's order"


@dataclass(frozen=True)
class Selection:
    """One model's figure in the choice of the best model.

    Attributes:
        split: the split the figure was measured on (always ``"validation"``).
        figure: what the figure is, in words (e.g. ``"mean signal efficiency at 200 kHz"``).
        rate_khz: the rate of the figure (None: the mean AUC, or no figure).
        value: the figure (a fraction; NaN in a rate-only study).
        n_zero_bias: zero-bias events of the split (they set the thresholds).
        n_signal: signal events of the split, over all signals.
    """

    split: str
    figure: str
    rate_khz: float | None
    value: float
    n_zero_bias: int
    n_signal: int

    @property
    def rate_only(self) -> bool:
        """No signal: nothing to compare the models on (:data:`RATE_ONLY`)."""
        return self.n_signal == 0

    def describe(self) -> str:
        """The choice in one sentence, for reports and logs."""
        if self.rate_only:
            return self.figure
        return (
            f"{self.figure} on the {self.split} split ({self.n_zero_bias} zero-bias "
            f"{self.split} events set the thresholds; {self.n_signal} signal {self.split} events)"
        )


class _HasSelection(Protocol):
    @property
    def selection(self) -> Selection: ...


_T = TypeVar("_T", bound=_HasSelection)


def _nonempty(arrays: Mapping[str, F32], what: str) -> dict[str, F32]:
    """The signals with events in the split; none at all is a rate-only study."""
    kept = {}
    for name, x in arrays.items():
        if len(x):
            kept[name] = x
        else:
            _log.warning("signal %s has no %s events: left out of that evaluation", name, what)
    if arrays and not kept:
        msg = f"no signal has {what} events; the anomaly evaluation needs at least one"
        raise ConfigError(msg)
    return kept


def _scores(model: nn.Module, x: F32, scaler: PowerOfTwoRobustScaler) -> npt.NDArray[np.float64]:
    from l1scout.tasks.anomaly.train import scores  # imports torch: on demand

    return scores(model, x, scaler)


def assess(
    model: nn.Module,
    data: AnomalyData,
    scaler: PowerOfTwoRobustScaler,
    config: EvaluationConfig,
) -> tuple[Evaluation, Selection]:
    """The evaluation of one model on the validation split, and its figure for the choice.

    Reads ``data.zb_val`` and ``data.signals_val`` only, never the test split.

    Args:
        model: a trained anomaly model (:class:`~l1scout.tasks.anomaly.models.AnomalyModel`).
        data: the study's data.
        scaler: the fitted scaler of the inputs.
        config: rates, their normalisation, ``min_pass`` and ``select_rate_khz``.

    Raises:
        ConfigError: the signals have no validation events, or ``select_rate_khz``
            is not one of the configured rates.
    """
    if data.signals and not data.signals_val:
        msg = (
            "the data has no validation part of the signals (AnomalyData.signals_val), "
            "so no model can be chosen without the test split"
        )
        raise ConfigError(msg)
    signals = _nonempty(data.signals_val, SELECTION_SPLIT)
    evaluation = evaluate(
        _scores(model, data.zb_val, scaler),
        {k: _scores(model, v, scaler) for k, v in signals.items()},
        rates_khz=config.rates_khz,
        min_pass=config.min_pass,
        crossing_rate_khz=config.crossing_rate_khz,
    )
    return evaluation, selection_of(evaluation, config.select_rate_khz)


def reported_evaluation(
    model: nn.Module,
    data: AnomalyData,
    scaler: PowerOfTwoRobustScaler,
    config: EvaluationConfig,
    menus: tuple[npt.NDArray[np.bool_], Mapping[str, npt.NDArray[np.bool_]]] | None = None,
) -> Evaluation:
    """The evaluation of the chosen model on the test split: what the report and MLflow quote.

    Args:
        model: the chosen model.
        data: the study's data (``zb_test`` and ``signals``, the test parts).
        scaler: the fitted scaler.
        config: rates, their normalisation and ``min_pass``.
        menus: the reference menu's decisions on the zero-bias test events and
            on every signal's test events (pure efficiencies), or None.
    """
    signals = _nonempty(data.signals, "test")
    zb_menu, sig_menu = (None, None) if menus is None else menus
    return evaluate(
        _scores(model, data.zb_test, scaler),
        {k: _scores(model, v, scaler) for k, v in signals.items()},
        rates_khz=config.rates_khz,
        min_pass=config.min_pass,
        crossing_rate_khz=config.crossing_rate_khz,
        zb_menu=zb_menu,
        signal_menu=None if sig_menu is None else {k: sig_menu[k] for k in signals},
    )


def selection_of(evaluation: Evaluation, select_rate_khz: float | None) -> Selection:
    """The figure of a validation evaluation (module docstring).

    Args:
        evaluation: the model's evaluation on the validation split.
        select_rate_khz: the rate of the figure; None: the lowest measurable
            evaluated rate, or the mean AUC when none is measurable.

    Raises:
        ConfigError: *select_rate_khz* was not evaluated.
    """
    signals = list(evaluation.signals.values())
    if not signals:
        return Selection(
            split=SELECTION_SPLIT,
            figure=RATE_ONLY,
            rate_khz=None,
            value=float("nan"),
            n_zero_bias=evaluation.n_zero_bias,
            n_signal=0,
        )
    rate = select_rate_khz
    if rate is None:
        measurable = evaluation.measurable_rates_khz
        rate = min(measurable) if measurable else None
    if rate is None:
        value = float(np.mean([s.auc for s in signals]))
        figure = "mean AUC (no configured rate is measurable on the validation split)"
    else:
        value = float(np.mean([s.efficiency_at(rate).value for s in signals]))
        figure = f"mean signal efficiency at {format_rate(rate)[:-3]} kHz"
        if not evaluation.threshold_at(rate).measurable:
            figure += " (not measurable on the validation split: too few zero-bias events)"
    return Selection(
        split=SELECTION_SPLIT,
        figure=figure,
        rate_khz=rate,
        value=value,
        n_zero_bias=evaluation.n_zero_bias,
        n_signal=sum(s.n_events for s in signals),
    )


def choose_best(candidates: Sequence[_T]) -> _T:
    """The candidate with the highest :attr:`Selection.value` (the first of equal ones).

    In a rate-only study (every value NaN) the first candidate.

    Raises:
        ConfigError: no candidate, or candidates chosen by different figures.
    """
    if not candidates:
        msg = "no model to choose from"
        raise ConfigError(msg)
    figures = {c.selection.figure for c in candidates}
    if len(figures) > 1:
        msg = f"models measured by different figures cannot be compared: {sorted(figures)}"
        raise ConfigError(msg)
    best = candidates[0]
    for cand in candidates[1:]:
        if cand.selection.value > best.selection.value:
            best = cand
    return best


@dataclass
class Candidate:
    """One trained model (one score of it, for VICReg): how it was chosen or not, and its run.

    Attributes:
        name: the candidate's name: the model's, with ``-<score>`` for a VICReg
            model evaluated with several scores.
        config: the model's configuration.
        model: the anomaly model (for VICReg, a
            :class:`~l1scout.tasks.anomaly.models.VICRegScorer` of one score).
        run: the MLflow run of the candidate.
        validation: its evaluation on the validation split.
        selection: its figure in the choice.
        train_seconds, events_trained, epochs: of its training.
        evaluation: its evaluation on the test split: only for the chosen
            model (None for the others).
        scoring: the VICReg score (None for a VAE).
    """

    name: str
    config: ModelConfig
    model: Any
    run: TrackedRun
    validation: Evaluation
    selection: Selection
    train_seconds: float
    events_trained: int
    epochs: int
    evaluation: Evaluation | None = None
    scoring: str | None = None

    @property
    def run_id(self) -> str:
        """The MLflow run id."""
        return self.run.run_id
