"""Downstream usefulness: trigger inputs from particles, the measures, the models' ratios."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from l1scout.errors import ConfigError, DataFormatError
from l1scout.io.trigger_inputs import trigger_input_names
from l1scout.tasks.anomaly.config import TrainConfig, VAEConfig
from l1scout.tasks.classify.config import TrainingConfig
from l1scout.tasks.classify.models import ClassifierModelConfig
from l1scout.tasks.compress.downstream import (
    PARTICLE_CLASSIFIER_FEATURES,
    DownstreamConfig,
    DownstreamModels,
    EmbeddingModels,
    particle_features,
    particle_trigger_inputs,
)
from l1scout.tasks.compress.fidelity import _events_from
from l1scout.tasks.compress.measures import (
    EMBEDDING_PAIRS,
    choose_rate_khz,
    downstream_ratios,
    measure_scores,
)
from l1scout.tasks.rates import CROSSING_RATE_KHZ, clopper_pearson
from l1scout.tasks.scouting.events import StreamEvents

# (pt, eta, phi, pid, charge, dz, puppi_w)
PHOTON, ELECTRON, MUON, NEUTRAL = 22, 11, 13, 0


def _inputs(x: np.ndarray, name: str) -> list[float]:
    """The (pT, eta, phi) of one object of one event's 57 inputs, by its name (e.g. ``EGamma1``)."""
    i = trigger_input_names().index(f"L1T_{name}_PT")
    return [float(v) for v in x[i : i + 3]]


def test_particle_trigger_inputs_of_a_hand_made_event() -> None:
    ev = _events_from(
        [
            [
                (60.0, 0.0, 0.0, PHOTON, 0, 0.0, 0.5),  # weighted: 30 GeV
                (40.0, 1.5, 1.0, ELECTRON, -1, 0.0, 1.0),
                (25.0, -2.0, 3.0, MUON, 1, 0.0, 1.0),
                (20.0, 2.0, -2.5, MUON, -1, 0.0, 0.0),  # weight 0: not a muon, not in the MET
                (10.0, -1.0, -1.0, PHOTON, 0, 0.0, 1.0),
                (8.0, 0.5, 2.0, PHOTON, 0, 0.0, 1.0),
                (6.0, -0.5, -2.5, ELECTRON, 1, 0.0, 1.0),  # fifth e/gamma: dropped
                (90.0, 0.0, 0.0, NEUTRAL, 0, 0.0, 0.0),  # pileup: nowhere
            ],
            [],
        ]
    )
    x = particle_trigger_inputs(ev)
    assert x.shape == (2, 57)
    assert x.dtype == np.float32
    assert not x[1].any()
    e = x[0]
    assert _inputs(e, "EGamma1") == pytest.approx([40.0, 1.5, 1.0])
    assert _inputs(e, "EGamma2") == pytest.approx([30.0, 0.0, 0.0])
    assert _inputs(e, "EGamma3") == pytest.approx([10.0, -1.0, -1.0])
    assert _inputs(e, "EGamma4") == pytest.approx([8.0, 0.5, 2.0])
    assert _inputs(e, "Muon1") == pytest.approx([25.0, -2.0, 3.0])
    assert _inputs(e, "Muon2") == [0.0, 0.0, 0.0]
    # MET: minus the vector sum of the weighted candidates
    pts = np.array([30.0, 40.0, 25.0, 10.0, 8.0, 6.0])
    phis = np.array([0.0, 1.0, 3.0, -1.0, 2.0, -2.5])
    mx, my = -np.sum(pts * np.cos(phis)), -np.sum(pts * np.sin(phis))
    assert _inputs(e, "MET") == pytest.approx([np.hypot(mx, my), 0.0, np.arctan2(my, mx)], rel=1e-5)
    # jets above 15 GeV: the candidates are far apart (dR > 0.4), one jet each
    jets = [_inputs(e, f"Jet{i}") for i in range(1, 11)]
    assert [j[0] for j in jets[:4]] == pytest.approx([40.0, 30.0, 25.0, 0.0], abs=1e-4)
    assert jets[0][1:] == pytest.approx([1.5, 1.0], abs=1e-6)


def test_particle_features_of_a_hand_made_event() -> None:
    ev = _events_from(
        [[(20.0, 0.5, 1.0, 211, 1, 3.0, 1.0), (5.0, -1.0, 2.0, PHOTON, 0, 7.0, 0.25)]]
    )
    x, mask = particle_features(ev, k=3)
    assert x.shape == (1, 3, len(PARTICLE_CLASSIFIER_FEATURES))
    assert mask.tolist() == [[True, True, False]]
    row = dict(zip(PARTICLE_CLASSIFIER_FEATURES, x[0, 1].tolist(), strict=True))
    assert row["LogPT"] == pytest.approx(np.log(5.0))
    assert row["DZ"] == 0.0  # a neutral candidate has no z0
    assert (row["IsPhoton"], row["IsChargedHadron"]) == (1.0, 0.0)
    assert row["PuppiPT"] == pytest.approx(1.25)
    assert x[0, 0, PARTICLE_CLASSIFIER_FEATURES.index("DZ")] == pytest.approx(3.0)
    assert not x[0, 2].any()
    with pytest.raises(ConfigError, match="k"):
        particle_features(ev, k=0)


def test_auc_and_efficiency_against_references() -> None:
    rng = np.random.default_rng(5)
    zb = rng.normal(0.0, 1.0, 3000).round(1)  # rounded: ties
    sig = rng.normal(1.0, 1.0, 400).round(1)
    r = measure_scores({"s": {"minbias": zb, "sig": sig}}, "minbias")
    m = r.measures["s"]["sig"]
    labels = np.r_[np.zeros(zb.size), np.ones(sig.size)]
    assert m.auc == pytest.approx(roc_auc_score(labels, np.r_[zb, sig]), rel=1e-12)
    # 3000 events: 29 expected above the threshold at 300 kHz (< 50), 97 at 1 MHz
    assert r.rate_khz == 1000.0
    assert m.threshold.n_pass <= round(3000 * 1000.0 / CROSSING_RATE_KHZ)
    passed = int(np.sum(sig > m.threshold.threshold))
    assert m.efficiency.passed == passed
    assert (m.efficiency.low, m.efficiency.high) == pytest.approx(clopper_pearson(passed, 400))
    fixed = measure_scores({"s": {"minbias": zb, "sig": sig}}, "minbias", rate_khz=3000.0)
    assert fixed.rate_khz == 3000.0
    assert fixed.measures["s"]["sig"].efficiency.value >= m.efficiency.value
    with pytest.raises(DataFormatError, match="zero-bias"):
        measure_scores({"s": {"sig": sig}}, "minbias")


def test_choose_rate_resolves_enough_zero_bias_events() -> None:
    for n in (600, 1_552, 5_200, 15_600, 10**6):
        rate = choose_rate_khz(n)
        assert n * rate / CROSSING_RATE_KHZ >= 50 or n == 600
    assert choose_rate_khz(15_600) == 100.0
    assert choose_rate_khz(15_500) == 300.0
    assert choose_rate_khz(600) == 3000.0  # nothing resolved: the largest rate
    with pytest.raises(ConfigError, match="positive"):
        choose_rate_khz(0)


def test_ratios_are_one_on_identical_measures() -> None:
    rng = np.random.default_rng(1)
    scores = {"minbias": rng.normal(size=2000), "a": rng.normal(2, 1, 300)}
    r = measure_scores({"anomaly": scores, "classifier": scores}, "minbias")
    ratios = downstream_ratios(r, r)
    assert set(ratios) == {
        f"{s}/{m}_ratio/a" for s in ("anomaly", "classifier") for m in ("auc", "eff")
    }
    # against another measure: the ratio of the two AUCs, each as scikit-learn computes it
    weaker = measure_scores(
        {"anomaly": scores | {"a": scores["a"] - 1.0}, "classifier": scores}, "minbias"
    )
    got = downstream_ratios(weaker, r)["anomaly/auc_ratio/a"]
    y = np.r_[np.zeros(2000), np.ones(300)]
    want = roc_auc_score(y, np.r_[scores["minbias"], scores["a"] - 1.0]) / roc_auc_score(
        y, np.r_[scores["minbias"], scores["a"]]
    )
    assert got == pytest.approx(want, rel=1e-9)
    assert downstream_ratios(weaker, r)["classifier/auc_ratio/a"] == pytest.approx(1.0)
    never = measure_scores(
        {"anomaly": {"minbias": scores["minbias"], "a": np.full(300, -9.0)}}, "minbias"
    )
    assert math.isnan(downstream_ratios(r, never)["anomaly/eff_ratio/a"])
    assert downstream_ratios(never, r)["anomaly/eff_ratio/a"] == 0.0
    assert math.isnan(downstream_ratios(r, never)["anomaly/auc_ratio/a"])  # AUC 0


def _events(process: str, n: int, seed: int, signal: bool) -> StreamEvents:
    """Soft pileup-like candidates; a signal adds a hard muon and a hard photon."""
    rng = np.random.default_rng(seed)
    events = []
    for _ in range(n):
        m = int(rng.integers(5, 20))
        ev = [
            (
                float(rng.uniform(1, 8)),
                float(rng.uniform(-3, 3)),
                float(rng.uniform(-3, 3)),
                211,
                1,
                float(rng.normal(0, 5)),
                float(rng.uniform(0, 1) > 0.7),
            )
            for _ in range(m)
        ]
        if signal:
            ev.append((float(rng.uniform(30, 60)), 0.3, 1.0, MUON, -1, 0.0, 1.0))
            ev.append((float(rng.uniform(30, 60)), -0.3, -2.0, PHOTON, 0, 0.0, 1.0))
        ev.sort(key=lambda c: -c[0])
        events.append(ev)
    return _events_from(events, process)


@pytest.fixture(scope="module")
def models() -> tuple[DownstreamModels, dict[str, StreamEvents]]:
    cfg = DownstreamConfig(
        vae=VAEConfig(name="tiny", hidden=(8,), latent=2, quantized=False),
        vae_train=TrainConfig(epochs=2, batch_size=64, patience=1),
        classifier=ClassifierModelConfig(kind="particles", hidden=8, hidden_layers=1, dropout=0.0),
        classifier_train=TrainingConfig(
            max_epochs=8, batch_size=32, patience=8, learning_rate=1e-2
        ),
        candidates=16,
        rate_khz=3000.0,
        threads=1,
    )
    train = {"minbias": _events("minbias", 200, 1, False), "sig": _events("sig", 60, 2, True)}
    val = {"minbias": _events("minbias", 60, 3, False), "sig": _events("sig", 20, 4, True)}
    test = {"minbias": _events("minbias", 300, 5, False), "sig": _events("sig", 60, 6, True)}
    return DownstreamModels.fit(train, val, cfg), test


def test_downstream_ratio_is_one_on_identical_events(
    models: tuple[DownstreamModels, dict[str, StreamEvents]],
) -> None:
    model, test = models
    assert model.processes == ("minbias", "sig")
    on_original = model.evaluate(test)
    copies = {p: dataclasses.replace(ev, puppi=dict(ev.puppi)) for p, ev in test.items()}
    on_copy = model.evaluate(list(copies.values()))
    assert set(on_original.measures) == {"anomaly", "classifier"}
    assert on_original.rate_khz == 3000.0
    ratios = downstream_ratios(on_copy, on_original)
    assert ratios == dict.fromkeys(ratios, 1.0)
    assert len(ratios) == 4
    # the hard muon and photon make the signal easy for the classifier
    assert on_original.measures["classifier"]["sig"].auc > 0.9
    metrics = on_original.metrics()
    assert metrics["rate_khz"] == 3000.0
    assert 0.0 <= metrics["anomaly/eff/sig"] <= 1.0
    with pytest.raises(DataFormatError, match="zero-bias"):
        model.evaluate({"sig": test["sig"]})


def test_embedding_models_against_original_models() -> None:
    rng = np.random.default_rng(2)
    train = {"minbias": rng.normal(0, 1, (2000, 4)), "sig": rng.normal(0, 1, (300, 4)) + 3.0}
    test = {"minbias": rng.normal(0, 1, (2000, 4)), "sig": rng.normal(0, 1, (300, 4)) + 3.0}
    emb = EmbeddingModels.fit(train, DownstreamConfig())
    r = emb.evaluate(test)
    assert set(r.measures) == {"mahalanobis", "probe"}
    assert r.rate_khz == 1000.0  # 2000 zero-bias test events
    for score in ("mahalanobis", "probe"):
        assert r.measures[score]["sig"].auc > 0.99
    ratios = downstream_ratios(r, r, pairs={"probe": "probe", "mahalanobis": "mahalanobis"})
    assert all(v == 1.0 for v in ratios.values())
    # against the original-event models: probe / classifier, Mahalanobis / anomaly
    as_original = dataclasses.replace(
        r, measures={"classifier": r.measures["probe"], "anomaly": r.measures["mahalanobis"]}
    )
    paired = downstream_ratios(r, as_original, pairs=EMBEDDING_PAIRS)
    assert set(paired) == {
        f"{s}/{m}_ratio/sig" for s in ("probe", "mahalanobis") for m in ("auc", "eff")
    }
    with pytest.raises(DataFormatError, match="shape"):
        emb.evaluate({"minbias": np.zeros(4), "sig": np.zeros((2, 4))})
