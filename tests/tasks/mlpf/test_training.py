"""MLPF training on small hand-made events: the loss falls, the best epoch is restored, seeds repeat.

The events are synthetic (no production): 5-40 tracks and 5-40 towers each,
with targets that follow from the features, so that a model can learn them:
every track is a particle (a muon when its charge is negative, else a charged
hadron) of 1.1 times its pT; a tower is a particle when its energy is above
3 GeV (a photon when its ECAL fraction is above one half, else a neutral
hadron) of its own ET; pileup are the tracks with DZ > 0 and the towers with
X > 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from l1scout._jagged import offsets_from_counts
from l1scout.errors import DataFormatError
from l1scout.tasks.mlpf.config import TrainingConfig
from l1scout.tasks.mlpf.data import MLPFSplit
from l1scout.tasks.mlpf.features import TOWER_COLUMNS, TRACK_COLUMNS, element_features, pad_events
from l1scout.tasks.mlpf.loss import MLPFLossConfig
from l1scout.tasks.mlpf.model import MLPFModel, MLPFModelConfig
from l1scout.tasks.mlpf.targets import ElementTargets, MLPFTargets, TargetBookkeeping
from l1scout.tasks.mlpf.training import (
    event_batches,
    load_mlpf_model,
    predict_mlpf,
    raw_outputs,
    save_mlpf_model,
    train_mlpf,
)

MODEL = MLPFModelConfig(width=16, n_heads=2, n_layers=2, ff_dim=32, head_hidden=16, bin_size=16)
TRAIN = TrainingConfig(
    learning_rate=5e-3,
    batch_events=8,
    batch_elements=4096,
    sort_window=16,
    max_epochs=6,
    patience=6,
    seed=3,
    threads=1,
)


def synthetic_split(n_events: int, seed: int, *, invert: bool = False) -> MLPFSplit:
    """*n_events* hand-made events (module docstring); *invert* flips every particle label."""
    rng = np.random.default_rng(seed)
    n_trk = rng.integers(5, 41, n_events)
    n_twr = rng.integers(5, 41, n_events)
    nt, nw = int(n_trk.sum()), int(n_twr.sum())
    pt = rng.exponential(5.0, nt) + 0.5
    eta = rng.uniform(-2.5, 2.5, nt)
    tracks = {
        "PT": pt,
        "Eta": eta,
        "Phi": rng.uniform(-np.pi, np.pi, nt),
        "Charge": rng.choice([-1.0, 1.0], nt),
        "P": pt * np.cosh(eta),
        "D0": rng.normal(0, 0.05, nt),
        "DZ": rng.normal(0, 50, nt),
        "ErrorPT": 0.01 * pt,
        "ErrorD0": np.full(nt, 0.01),
        "ErrorDZ": np.full(nt, 0.02),
    }
    tracks["EtaOuter"] = eta + rng.normal(0, 0.01, nt)
    tracks["PhiOuter"] = tracks["Phi"]
    e = rng.exponential(4.0, nw) + 0.2
    weta = rng.uniform(-3.0, 3.0, nw)
    em = rng.uniform(0, 1, nw)
    towers = {
        "E": e,
        "ET": e / np.cosh(weta),
        "Eem": em * e,
        "Ehad": (1 - em) * e,
        "Ehf": np.zeros(nw),
        "Eta": weta,
        "Phi": rng.uniform(-np.pi, np.pi, nw),
        "X": rng.normal(0, 1000, nw),
        "Y": rng.normal(0, 1000, nw),
        "Z": rng.normal(0, 1000, nw),
        "NParticles": np.ones(nw),
    }
    assert set(tracks) == set(TRACK_COLUMNS)
    assert set(towers) == set(TOWER_COLUMNS)
    el = element_features(tracks, offsets_from_counts(n_trk), towers, offsets_from_counts(n_twr))
    # targets in the elements' order (per event: tracks, then towers)
    ev_t = np.repeat(np.arange(n_events), n_trk)
    ev_w = np.repeat(np.arange(n_events), n_twr)
    order = np.lexsort((np.r_[np.zeros(nt), np.ones(nw)], np.r_[ev_t, ev_w]))
    is_part = np.r_[np.ones(nt), (e > 3.0).astype(float)]
    if invert:
        is_part = 1.0 - is_part
    cls = np.r_[np.where(tracks["Charge"] < 0, 5, 1), np.where(em > 0.5, 3, 2)] * is_part
    t_pt = np.r_[1.1 * pt, towers["ET"]] * is_part
    t_e = np.r_[1.1 * tracks["P"], e] * is_part
    phi = np.r_[tracks["Phi"], towers["Phi"]]
    pu = np.r_[tracks["DZ"] > 0, towers["X"] > 0].astype(float) * is_part
    n = nt + nw
    targets = ElementTargets(
        offsets=el.offsets,
        is_track=np.r_[np.ones(nt, bool), np.zeros(nw, bool)][order],
        is_particle=is_part[order].astype(np.int8),
        cls=cls[order].astype(np.int8),
        pt=t_pt[order],
        eta=(np.r_[eta, weta] * is_part)[order],
        sin_phi=(np.sin(phi) * is_part)[order],
        cos_phi=np.where(is_part > 0, np.cos(phi), 1.0)[order],
        energy=t_e[order],
        is_pu=pu[order].astype(np.int8),
        pu_fraction=pu[order],
        gen_index=np.where(is_part > 0, 0, -1)[order].astype(np.int64),
        n_particles=is_part[order].astype(np.int64),
    )
    zeros = np.zeros(n_events)
    book = TargetBookkeeping(*(zeros.astype(np.int64),) * 3, *(zeros,) * 4)
    return MLPFSplit(
        elements=el,
        targets=MLPFTargets(targets, np.zeros(n, np.int64), book),
        sample=np.zeros(n_events, np.int64),
        event_number=np.arange(n_events, dtype=np.int64),
    )


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """One torch thread: the machine is shared, and oversubscribed threads spin."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def splits() -> tuple[MLPFSplit, MLPFSplit]:
    return synthetic_split(48, seed=1), synthetic_split(16, seed=2)


@pytest.fixture(scope="module")
def trained(splits: tuple[MLPFSplit, MLPFSplit]) -> object:
    return train_mlpf(*splits, MODEL, MLPFLossConfig(), TRAIN)


def _val_loss(model: MLPFModel, val: MLPFSplit, loss_cfg: MLPFLossConfig) -> float:
    """The validation loss by hand: every event alone, weighted by its elements."""
    from l1scout.tasks.mlpf.loss import TARGET_NAMES, batch_targets, mlpf_loss

    total, n = 0.0, 0
    tg = val.targets.elements
    with torch.no_grad():
        for k in range(val.n_events):
            batch = pad_events(val.elements, [k], multiple=model.config.bin_size)
            t = batch_targets(batch, val.elements, {m: getattr(tg, m) for m in TARGET_NAMES})
            loss = mlpf_loss(model(torch.from_numpy(batch.x)), t, loss_cfg)["total"]
            total += float(loss) * int(batch.mask.sum())
            n += int(batch.mask.sum())
    return total / n


def test_training_lowers_the_loss(trained: object) -> None:
    h = trained.history  # type: ignore[attr-defined]
    assert len(h) == TRAIN.max_epochs
    assert h[-1]["loss"] < 0.6 * h[0]["loss"]
    assert min(r["val_loss"] for r in h) < 0.6 * h[0]["val_loss"]
    for row in h:
        assert math.isclose(
            row["loss"],
            row["particle"] + row["class"] + row["regression"] + row["pileup"],
            rel_tol=1e-6,
        )
    # the model learned the rule: towers above 3 GeV are particles, every track is one
    val = synthetic_split(16, seed=2)
    pred = predict_mlpf(trained.model, val.elements)  # type: ignore[attr-defined]
    truth = val.targets.elements.is_particle == 1
    accuracy = np.mean((np.asarray(pred["particle_score"], float) > 0.5) == truth)
    assert accuracy > 0.85


def test_the_best_epoch_is_restored_when_validation_gets_worse(
    splits: tuple[MLPFSplit, MLPFSplit],
) -> None:
    # validation labels are the opposite of training's: its loss grows as training learns
    train, _ = splits
    inverted = synthetic_split(16, seed=2, invert=True)
    loss_cfg = MLPFLossConfig(class_weight=0.0, regression_weight=0.0, pileup_weight=0.0)
    cfg = TRAIN.model_copy(update={"max_epochs": 8, "patience": 2})
    result = train_mlpf(train, inverted, MODEL, loss_cfg, cfg)
    val = [r["val_loss"] for r in result.history]
    assert result.best_epoch == int(np.argmin(val))
    assert result.best_epoch < len(val) - 1
    assert result.stopped_early
    assert len(val) == result.best_epoch + 1 + cfg.patience
    # the returned weights are the best epoch's, not the last
    got = _val_loss(result.model, inverted, loss_cfg)
    assert got == pytest.approx(val[result.best_epoch], rel=1e-4)
    assert got < val[-1]
    assert not result.model.training


def test_training_is_deterministic_with_a_seed_and_restores_threads(
    splits: tuple[MLPFSplit, MLPFSplit],
) -> None:
    cfg = TRAIN.model_copy(update={"max_epochs": 2})
    before = torch.get_num_threads()
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    a = train_mlpf(*splits, MODEL, MLPFLossConfig(), cfg)
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's generator untouched
    assert torch.get_num_threads() == before
    b = train_mlpf(*splits, MODEL, MLPFLossConfig(), cfg)
    c = train_mlpf(*splits, MODEL, MLPFLossConfig(), cfg.model_copy(update={"seed": 4}))
    sa, sb, sc = (r.model.state_dict() for r in (a, b, c))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert [r["loss"] for r in a.history] == [r["loss"] for r in b.history]
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_event_batches_group_by_size_within_the_limits() -> None:
    rng = np.random.default_rng(0)
    counts = rng.integers(1, 500, 200)
    counts[7] = 5000  # larger than a batch: alone
    batches = event_batches(
        counts,
        batch_events=6,
        batch_elements=2048,
        multiple=64,
        sort_window=50,
        rng=np.random.default_rng(1),
    )
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(200))  # every event once
    for b in batches:
        slots = len(b) * -(-int(counts[b].max()) // 64) * 64
        assert len(b) <= 6
        assert slots <= 2048 or len(b) == 1
    assert [7] in [b.tolist() for b in batches]

    # grouping by size wastes less padding than batches of consecutive random events
    def padded(groups: list[np.ndarray]) -> int:
        return sum(len(g) * int(counts[g].max()) for g in groups)

    plain = [np.arange(i, min(i + 6, 200)) for i in range(0, 200, 6)]
    assert padded(batches) < 0.8 * padded(plain)
    again = event_batches(
        counts,
        batch_events=6,
        batch_elements=2048,
        multiple=64,
        sort_window=50,
        rng=np.random.default_rng(1),
    )
    assert [b.tolist() for b in again] == [b.tolist() for b in batches]


def test_predictions_are_back_in_the_files_element_order(trained: object) -> None:
    """Batched and padded outputs equal each event run alone, mapped back by hand."""
    model = trained.model  # type: ignore[attr-defined]
    val = synthetic_split(10, seed=5)
    got = raw_outputs(model, val.elements, batch_events=4, batch_elements=4096)
    n = len(val.elements.kind)
    for k in range(val.n_events):
        batch = pad_events(val.elements, [k], multiple=model.config.bin_size)
        with torch.no_grad():
            out = [o.numpy()[0] for o in model(torch.from_numpy(batch.x))]
        rows = batch.index[0][batch.mask[0]]
        for g, o in zip(got, out, strict=True):
            np.testing.assert_allclose(g[rows], o[batch.mask[0]], rtol=1e-4, atol=1e-5)
    pred = predict_mlpf(model, val.elements, batch_events=3)
    assert all(v.shape == (n,) for v in pred.values())
    # pT is the element's times exp(the regressed log ratio)
    np.testing.assert_allclose(
        np.asarray(pred["pt"], float), val.elements.pt * np.exp(got[2][:, 0]), rtol=1e-5
    )


def test_the_model_file_round_trips_and_a_foreign_file_is_refused(
    trained: object, tmp_path: Path
) -> None:
    model = trained.model  # type: ignore[attr-defined]
    path = save_mlpf_model(model, tmp_path / "models" / "mlpf.pt", training={"best_epoch": 2})
    back = load_mlpf_model(path)
    x = pad_events(synthetic_split(2, seed=9).elements, multiple=16).x
    with torch.no_grad():
        for a, b in zip(model(torch.from_numpy(x)), back(torch.from_numpy(x)), strict=True):
            assert torch.equal(a, b)
    other = tmp_path / "other.pt"
    torch.save({"format": "something-else"}, other)
    with pytest.raises(DataFormatError, match="expected an MLPF model file"):
        load_mlpf_model(other)
    with pytest.raises(DataFormatError, match="no such model file"):
        load_mlpf_model(tmp_path / "missing.pt")


def test_a_split_without_events_is_refused(splits: tuple[MLPFSplit, MLPFSplit]) -> None:
    train, _ = splits
    empty = synthetic_split(1, seed=1)
    from l1scout.tasks.mlpf.training import subset_elements

    sub, _ = subset_elements(empty.elements, [])
    none = MLPFSplit(sub, empty.targets, empty.sample[:0], empty.event_number[:0])
    with pytest.raises(DataFormatError, match="validation: expected at least one event"):
        train_mlpf(train, none, MODEL, MLPFLossConfig(), TRAIN)
