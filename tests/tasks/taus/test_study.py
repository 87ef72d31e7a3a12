"""Training and evaluation of the soft-tau study on small synthetic events (``conftest.py``).

The events are built by hand (no production): 300 signal events with two
opposite-sign hadronic taus each (a leading charged hadron of the tau's charge
and a photon, both at the tau's vertex), 240 zero-bias events; every event has
30 soft pileup particles, and a zero-bias event a hard spray of four particles
(a fake tau) half the time. Splits are assigned by event number. The crossing
rate is set to 1,000 kHz so that 50 kHz is 5 % of the zero-bias events (4 of
the 96 events in each of validation and test).
"""

from __future__ import annotations

import dataclasses
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from l1scout.errors import ConfigError
from l1scout.tasks.rates import efficiency
from l1scout.tasks.taus.config import TauConfig
from l1scout.tasks.taus.dataset import TauDataset
from l1scout.tasks.taus.ditau import ditau_decisions
from l1scout.tasks.taus.results import (
    NOT_RESOLVED,
    CandidateScores,
    TauEvaluation,
    TauModels,
    compare_efficiencies,
)
from l1scout.tasks.taus.study import (  # white-box checks
    _ditau_events,
    _scored,
    candidate_scores,
    evaluate_scores,
    evaluate_tau_models,
    train_tau_models,
)


@pytest.fixture(scope="module")
def cfg(synthetic_tau_config: TauConfig) -> TauConfig:
    return synthetic_tau_config


@pytest.fixture(scope="module")
def datasets(synthetic_tau_datasets: dict[str, TauDataset]) -> dict[str, TauDataset]:
    return synthetic_tau_datasets


@pytest.fixture(scope="module")
def models(datasets: dict[str, TauDataset], cfg: TauConfig) -> TauModels:
    return train_tau_models(datasets, cfg)


@pytest.fixture(scope="module")
def evaluation(datasets: dict[str, TauDataset], models: TauModels, cfg: TauConfig) -> TauEvaluation:
    return evaluate_tau_models(datasets, models, cfg)


def _nnp(models: TauModels) -> torch.nn.Module:
    assert models.nnpuppitau is not None
    return models.nnpuppitau.model


def _state(model: torch.nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def test_training_is_deterministic_and_trains_what_the_config_lists(
    datasets: dict[str, TauDataset], models: TauModels, cfg: TauConfig
) -> None:
    assert sorted(models.transformers) == ["ak4", "clue"]
    assert models.nnpuppitau is not None
    seen: list[tuple[str, int, float]] = []
    again = train_tau_models(datasets, cfg, progress=lambda n, e, m: seen.append((n, e, m["loss"])))
    for method, result in models.transformers.items():
        a, b = _state(result.model), _state(again.transformers[method].model)
        assert all(np.array_equal(a[k], b[k]) for k in a)
    a, b = _state(_nnp(models)), _state(_nnp(again))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert {n for n, _, _ in seen} == {"nnpuppitau", "transformer_clue", "transformer_ak4"}
    assert sum(n == "nnpuppitau" for n, _, _ in seen) == cfg.nnpuppitau.epochs
    # another seed gives other weights
    other = cfg.model_copy(
        update={
            "nnpuppitau": cfg.nnpuppitau.model_copy(update={"seed": 2}),
            "candidates": cfg.candidates.model_copy(update={"methods": ("nnpuppitau",)}),
        }
    )
    c = _state(_nnp(train_tau_models(datasets, other)))
    assert not all(np.array_equal(a[k], c[k]) for k in a)


def test_the_table_has_the_three_methods_and_the_menu_seed(evaluation: TauEvaluation) -> None:
    table = evaluation.table()
    assert {r["method"] for r in table} == {
        "transformer + CLUE",
        "transformer + AK4",
        "NNPuppiTau (50 kHz search)",
        "NNPuppiTau (double-tau seed)",
    }
    assert len(table) == 4
    seed = next(r for r in table if r["method"] == "NNPuppiTau (double-tau seed)")
    assert seed["class >"] == "-"


def test_working_points_respect_the_rate_on_validation(
    evaluation: TauEvaluation, datasets: dict[str, TauDataset], cfg: TauConfig
) -> None:
    for d in evaluation.ditau.values():
        s, ds = d.search, datasets[d.method]
        assert s.n_zero_bias == int(np.sum((ds.event_sample == 0) & (ds.event_split == 1))) == 96
        assert s.target_pass == math.floor(96 * 50.0 / 1000.0) == 4
        assert s.best.rate.n_pass <= 4
        assert s.best.rate.rate_khz <= 50.0
        # the test numbers are on the test split: 96 zero-bias events there too
        assert d.test.rate.n_total == 96
        signal = _ditau_events(ds, cfg.evaluation.ditau_vis_pt) & (ds.event_split == 2)
        assert d.test.efficiency.total == int(signal.sum()) > 0


def test_efficiencies_are_fractions_with_intervals_around_them(evaluation: TauEvaluation) -> None:
    effs: list[tuple[np.ndarray, ...]] = []
    for me in evaluation.methods.values():
        for b in (me.efficiency.reco, me.efficiency.id):
            assert b is not None
            ok = b.total > 0
            effs.append((b.value[ok], b.low[ok], b.high[ok]))
        assert me.charge is not None
        effs.append(
            tuple(np.array([getattr(me.charge.overall, k)]) for k in ("value", "low", "high"))
        )
        # the ID keeps a subset of RECO, taus and fakes alike
        assert np.all(_id_passed(evaluation, me.method) <= me.efficiency.reco.passed)
        assert me.fakes_id.per_event[0] <= me.fakes_reco.per_event[0]
    for d in evaluation.ditau.values():
        effs.extend(
            tuple(np.array([getattr(e, k)]) for k in ("value", "low", "high"))
            for e in (d.test.efficiency, d.test_beats_range.efficiency, d.search.best.efficiency)
        )
    for value, low, high in effs:
        assert np.all((value >= 0) & (value <= 1))
        assert np.all((low <= value) & (value <= high))


def test_nnpuppitau_charge_and_vz_are_its_seeds(
    datasets: dict[str, TauDataset], models: TauModels
) -> None:
    ds = datasets["nnpuppitau"]
    s = candidate_scores(ds, models)
    tau = ds.is_tau
    assert set(np.unique(s.charge_score[tau]).tolist()) <= {0.0, 1.0}
    # the seed is the tau's leading charged hadron: the tau's charge and vertex
    right = (s.charge_score[tau] > 0.5) == (ds.targets.charge[tau] > 0)
    assert right.mean() > 0.95
    assert s.vz is not None
    assert np.median(np.abs(s.vz[tau] - ds.targets.vz[tau])) < 1.0


def _id_passed(ev: TauEvaluation, method: str) -> np.ndarray:
    binned = ev.methods[method].efficiency.id
    assert binned is not None
    out: np.ndarray = np.asarray(binned.passed)
    return out


def _poisoned(s: CandidateScores, ds: TauDataset, splits: tuple[int, ...]) -> CandidateScores:
    bad = np.isin(ds.split, splits)
    score = np.where(bad, 1.0 - s.id_score, s.id_score)
    return dataclasses.replace(s, id_score=score)


def test_quoted_numbers_use_only_the_test_split(
    datasets: dict[str, TauDataset], models: TauModels, cfg: TauConfig
) -> None:
    scores = {m: candidate_scores(datasets[m], models) for m in datasets}
    base = evaluate_scores(datasets, scores, cfg)
    poisoned = {m: _poisoned(s, datasets[m], (0, 1)) for m, s in scores.items()}
    after = evaluate_scores(datasets, poisoned, cfg)
    for m, me in base.methods.items():
        assert np.array_equal(_id_passed(base, m), _id_passed(after, m))
        assert me.fakes_id.per_event == after.methods[m].fakes_id.per_event
        charge, other = me.charge, after.methods[m].charge
        assert charge is not None
        assert other is not None
        assert charge.overall == other.overall
    # ... but the working points, chosen on validation, move
    wp = {
        k: (d.search.best.class_threshold, d.search.best.charge_threshold, d.search.best.dvz_cut)
        for k, d in base.ditau.items()
    }
    moved = [
        k
        for k, d in after.ditau.items()
        if (d.search.best.class_threshold, d.search.best.charge_threshold, d.search.best.dvz_cut)
        != wp[k]
    ]
    assert moved
    # a working point that did not move gives the same test numbers
    for k in set(base.ditau) - set(moved):
        assert base.ditau[k].test == after.ditau[k].test
    # and poisoning the test split does change the quoted ID efficiency
    on_test = {m: _poisoned(s, datasets[m], (2,)) for m, s in scores.items()}
    worse = evaluate_scores(datasets, on_test, cfg)
    assert all(not np.array_equal(_id_passed(base, m), _id_passed(worse, m)) for m in datasets)


def test_the_search_rate_is_the_zero_bias_events_passing(
    evaluation: TauEvaluation, datasets: dict[str, TauDataset], models: TauModels
) -> None:
    d = evaluation.ditau["transformer + CLUE"]
    ds = datasets["clue"]
    s = candidate_scores(ds, models)
    zb = _scored(ds, s, (ds.event_sample == 0) & (ds.event_split == 1), "zb")
    b = d.search.best
    passed = ditau_decisions(zb, b.class_threshold, b.charge_threshold, b.dvz_cut)
    assert int(passed.sum()) == b.rate.n_pass
    assert b.rate.rate_khz == pytest.approx(1000.0 * passed.sum() / 96)


def test_compare_efficiencies_needs_separated_intervals() -> None:
    assert compare_efficiencies(efficiency(90, 100), efficiency(50, 100)) == "better"
    assert compare_efficiencies(efficiency(50, 100), efficiency(90, 100)) == "worse"
    # 9/10 vs 7/10: Clopper-Pearson 68 % intervals [0.74, 0.99] and [0.52, 0.84] overlap
    assert compare_efficiencies(efficiency(9, 10), efficiency(7, 10)) == "not resolved"


@pytest.mark.parametrize(("transformer_perfect", "answer"), [(True, "yes"), (False, "no")])
def test_the_verdict_on_constructed_scores(
    datasets: dict[str, TauDataset],
    cfg: TauConfig,
    tau_builders: SimpleNamespace,
    transformer_perfect: bool,
    answer: str,
) -> None:
    truth_scores = tau_builders.truth_scores
    scores = {
        m: truth_scores(datasets[m], transformer_perfect == (m != "nnpuppitau")) for m in datasets
    }
    ev = evaluate_scores(datasets, scores, cfg)
    assert ev.verdict is not None
    assert ev.verdict.answer == answer, ev.verdict.text
    assert ev.verdict.vis_pt == (20.0, 60.0)
    assert set(ev.verdict.per_method.values()) == {"better" if transformer_perfect else "worse"}


def test_the_verdict_is_not_resolved_when_intervals_overlap(
    datasets: dict[str, TauDataset], cfg: TauConfig, tau_builders: SimpleNamespace
) -> None:
    truth_scores = tau_builders.truth_scores
    # perfect scores everywhere: the three methods reconstruct these taus alike
    scores = {m: truth_scores(datasets[m], True) for m in datasets}
    ev = evaluate_scores(datasets, scores, cfg)
    assert ev.verdict is not None
    effs = {k: d.test_beats_range.efficiency for k, d in ev.ditau.items()}
    assert ev.verdict.answer == NOT_RESOLVED, (ev.verdict.text, effs)


def test_missing_dataset_or_model_and_mismatched_slots_are_refused(
    datasets: dict[str, TauDataset], models: TauModels, cfg: TauConfig
) -> None:
    with pytest.raises(ConfigError, match=r"no TauDataset for the configured method\(s\) ak4"):
        train_tau_models({k: v for k, v in datasets.items() if k != "ak4"}, cfg)
    with pytest.raises(ConfigError, match=r"models\.transformers: no transformer for the ak4"):
        candidate_scores(datasets["ak4"], TauModels(models.nnpuppitau, {}, {}))
    with pytest.raises(ValueError, match=r"transformer\.model\.n_constituents"):
        TauConfig.model_validate({"transformer": {"model": {"n_constituents": 8}}})
    with pytest.raises(ValueError, match="charge_thresholds"):
        TauConfig.model_validate({"evaluation": {"charge_thresholds": [0.5, 1.0]}})
    with pytest.raises(ValueError, match="dvz_cuts"):
        TauConfig.model_validate({"evaluation": {"dvz_cuts": [float("nan")]}})


def test_a_di_tau_range_without_test_events_is_a_clear_error(
    datasets: dict[str, TauDataset], cfg: TauConfig, tau_builders: SimpleNamespace
) -> None:
    # the synthetic taus have 8-60 GeV: no event has two in 59.5-60 GeV
    narrow = cfg.model_copy(
        update={"evaluation": cfg.evaluation.model_copy(update={"beats_vis_pt": (59.5, 60.0)})}
    )
    scores = {m: tau_builders.truth_scores(datasets[m], True) for m in datasets}
    with pytest.raises(
        ConfigError, match=r"^evaluation\.beats_vis_pt: no test event .* 59\.5-60 GeV"
    ):
        evaluate_scores(datasets, scores, narrow)
