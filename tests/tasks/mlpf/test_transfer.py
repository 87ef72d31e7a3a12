"""The transfer study on hand-made events: every (size, seed, mode) runs, fine-tuning starts where pre-training ended.

The events are those of the study tests (``_study_events``: two three-particle
"jets" and soft charged pileup; each charged particle has a track, each
photon its own tower; the rule-based PF is the generator smeared by 2 %),
turned into elements: a track per charged particle (pileup ones displaced by
5 mm in z) and a tower per photon. The "source detector" events are drawn
with other seeds than the target's, and a tiny model is pre-trained on them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.mlpf.config import MLPFConfig, TrainingConfig
from l1scout.tasks.mlpf.data import MLPFData, MLPFSplit
from l1scout.tasks.mlpf.features import element_features, pad_events
from l1scout.tasks.mlpf.loss import TARGET_NAMES, MLPFLossConfig, batch_targets, mlpf_loss
from l1scout.tasks.mlpf.model import MLPFModel, MLPFModelConfig
from l1scout.tasks.mlpf.study import MLPF_PU, PF_CHS, evaluate_mlpf
from l1scout.tasks.mlpf.training import predict_mlpf, train_mlpf
from l1scout.tasks.mlpf.transfer import (
    FINE_TUNED,
    FROM_SCRATCH,
    TransferStudy,
    plot_transfer,
    run_transfer,
    subset_split,
    transfer_study,
)

from ._study_events import SETTINGS, VIEW, columns, events, local, targets

MODEL = MLPFModelConfig(width=16, n_heads=2, n_layers=1, ff_dim=16, head_hidden=16, bin_size=16)
LOSS = MLPFLossConfig()
TRAIN = TrainingConfig(
    learning_rate=5e-3, batch_events=8, batch_elements=4096, max_epochs=2, patience=5, threads=1
)
PT_RANGE = (20.0, 200.0)


def make_split(n_events: int, seed: int) -> MLPFSplit:
    """*n_events* hand-made events (module docstring) with their evaluation columns."""
    g = events(n_events, seed)
    t = targets(g)
    off = g["offsets"]
    ch = g["charge"] != 0
    trk_off, _ = local(off, ch)
    twr_off, _ = local(off, ~ch)
    pt, eta, phi = g["pt"], g["eta"], g["phi"]
    nt = int(ch.sum())
    tracks = {
        "PT": pt[ch],
        "Eta": eta[ch],
        "Phi": phi[ch],
        "Charge": g["charge"][ch].astype(float),
        "P": pt[ch] * np.cosh(eta[ch]),
        "D0": np.zeros(nt),
        "DZ": 5.0 * g["is_pu"][ch],
        "ErrorPT": 0.01 * pt[ch],
        "ErrorD0": np.full(nt, 0.01),
        "ErrorDZ": np.full(nt, 0.02),
        "EtaOuter": eta[ch],
        "PhiOuter": phi[ch],
    }
    e = pt[~ch] * np.cosh(eta[~ch])
    nw = e.size
    towers = {
        "E": e,
        "ET": pt[~ch],
        "Eem": e,
        "Ehad": np.zeros(nw),
        "Ehf": np.zeros(nw),
        "Eta": eta[~ch],
        "Phi": phi[~ch],
        "X": 1290.0 * np.cos(phi[~ch]),
        "Y": 1290.0 * np.sin(phi[~ch]),
        "Z": 1290.0 * np.sinh(eta[~ch]),
        "NParticles": np.ones(nw),
    }
    el = element_features(tracks, trk_off, towers, twr_off)
    n = off.size - 1
    return MLPFSplit(
        elements=el,
        targets=t,
        sample=np.zeros(n, np.int64),
        event_number=np.arange(n, dtype=np.int64),
        columns=columns(g, seed=seed),
    )


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def target() -> tuple[MLPFSplit, MLPFSplit, MLPFSplit]:
    return make_split(40, seed=21), make_split(12, seed=22), make_split(30, seed=23)


@pytest.fixture(scope="module")
def pretrained() -> MLPFModel:
    source = make_split(40, seed=11), make_split(12, seed=12)
    cfg = TRAIN.model_copy(update={"max_epochs": 4})
    return train_mlpf(*source, MODEL, LOSS, cfg).model


def _val_loss(model: MLPFModel, val: MLPFSplit) -> float:
    """The validation loss by hand: every event alone, weighted by its elements."""
    total, n = 0.0, 0
    tg = val.targets.elements
    model.eval()
    with torch.no_grad():
        for k in range(val.n_events):
            batch = pad_events(val.elements, [k], multiple=model.config.bin_size)
            t = batch_targets(batch, val.elements, {m: getattr(tg, m) for m in TARGET_NAMES})
            loss = mlpf_loss(model(torch.from_numpy(batch.x)), t, LOSS)["total"]
            total += float(loss) * int(batch.mask.sum())
            n += int(batch.mask.sum())
    return total / n


def _study(model: MLPFModel, splits: Any, **kwargs: Any) -> TransferStudy:
    args: dict[str, Any] = {
        "view": VIEW,
        "sizes": (4, 8, 16),
        "seeds": (1, 2),
        "loss_cfg": LOSS,
        "train_cfg": TRAIN,
        "settings": SETTINGS,
        "jet_pt_range": PT_RANGE,
    }
    return transfer_study(model, *splits, **(args | kwargs))


@pytest.fixture(scope="module")
def study(pretrained: MLPFModel, target: Any) -> TransferStudy:
    return _study(pretrained, target)


def test_every_size_seed_and_mode_runs_and_the_table_summarises_them(
    study: TransferStudy, pretrained: MLPFModel, target: Any
) -> None:
    assert len(study.runs) == 3 * 2 * 2
    keys = {(r.mode, r.size, r.seed) for r in study.runs}
    assert keys == {
        (m, n, s) for m in (FINE_TUNED, FROM_SCRATCH) for n in (4, 8, 16) for s in (1, 2)
    }
    assert study.sizes == (4, 8, 16)
    assert all(1 <= r.epochs <= TRAIN.max_epochs for r in study.runs)
    rows = study.table()
    assert [(r["mode"], r["training events"]) for r in rows] == [
        *((FINE_TUNED, float(n)) for n in (4, 8, 16)),
        *((FROM_SCRATCH, float(n)) for n in (4, 8, 16)),
        ("pre-trained (0 events)", 0.0),
        (PF_CHS, 0.0),
    ]
    for row in rows[:6]:
        runs = [
            r.jet_resolution
            for r in study.runs
            if r.mode == row["mode"] and r.size == row["training events"]
        ]
        assert row["seeds"] == 2.0
        finite = [v for v in runs if math.isfinite(v)]  # an untrained model may match no jet
        assert row["jet seeds measured"] == float(len(finite))
        if len(finite) == 2:
            assert row["jet resolution"] == pytest.approx(np.mean(finite))
            assert row["jet resolution std"] == pytest.approx(np.std(finite, ddof=1))
    # the references, measured independently: PF+CHS and the pre-trained model on the same test events
    test = target[2]
    one_bin = SETTINGS.model_copy(update={"pt_edges": PT_RANGE})
    pred = predict_mlpf(pretrained, test.elements)
    ev = evaluate_mlpf(test.columns, VIEW, pred, test.targets, one_bin)
    assert study.reference["met_resolution"] == ev.met[PF_CHS].response.iqr_over_median
    assert study.reference["jet_resolution"] == ev.jets[PF_CHS].response.iqr_over_median[0]
    assert study.zero_shot["met_resolution"] == ev.met[MLPF_PU].response.iqr_over_median
    assert 0.0 < study.reference["jet_resolution"] < 0.1  # a 2 % smear of the particles
    for r in study.runs:
        assert math.isfinite(r.met_resolution)
        if r.mode == FINE_TUNED:
            assert math.isfinite(r.jet_resolution)


def test_fine_tuning_starts_from_the_pretrained_weights_and_from_scratch_does_not(
    pretrained: MLPFModel, target: Any
) -> None:
    # a learning rate so small that one epoch leaves the weights where they started
    frozen = TRAIN.model_copy(update={"learning_rate": 1e-10, "max_epochs": 1})
    study = _study(pretrained, target, sizes=(4, 8, 16), seeds=(3,), train_cfg=frozen)
    before = _val_loss(pretrained, target[1])
    for r in study.runs:
        if r.mode == FINE_TUNED:
            assert r.first_val_loss == pytest.approx(before, rel=1e-5)
        else:
            assert abs(r.first_val_loss - before) > 0.05 * before
    # the zero-shot model is that model: the fine-tuned runs measure what it measures
    fine = [r for r in study.runs if r.mode == FINE_TUNED]
    for r in fine:
        assert r.met_resolution == pytest.approx(study.zero_shot["met_resolution"], rel=1e-5)


def test_train_mlpf_starts_from_the_initial_state_and_leaves_it_untouched(
    pretrained: MLPFModel, target: Any
) -> None:
    train, val, _ = target
    state = {k: v.clone() for k, v in pretrained.state_dict().items()}
    frozen = TRAIN.model_copy(update={"learning_rate": 1e-10, "max_epochs": 1})
    got = train_mlpf(train, val, MODEL, LOSS, frozen, initial_state=state).model.state_dict()
    for k, v in state.items():
        torch.testing.assert_close(got[k], v, atol=1e-6, rtol=0.0)
    trained = train_mlpf(train, val, MODEL, LOSS, TRAIN, initial_state=state).model.state_dict()
    assert any(not torch.allclose(trained[k], v) for k, v in state.items())
    for k, v in pretrained.state_dict().items():  # the caller's tensors are not trained in place
        torch.testing.assert_close(state[k], v, atol=0.0, rtol=0.0)
    wrong = MLPFModel(MODEL.model_copy(update={"width": 8, "ff_dim": 8, "head_hidden": 8}))
    with pytest.raises(DataFormatError, match="initial_state: does not fit"):
        train_mlpf(train, val, MODEL, LOSS, frozen, initial_state=wrong.state_dict())


def test_the_plot_is_written(study: TransferStudy, tmp_path: Path) -> None:
    path = plot_transfer(study, tmp_path / "plots" / "transfer.png")
    assert path == tmp_path / "plots" / "transfer.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 10_000


def test_subset_split_keeps_the_events_elements_and_targets(target: Any) -> None:
    train = target[0]
    sub = subset_split(train, [5, 2])
    off = train.elements.offsets
    rows = np.r_[off[5] : off[6], off[2] : off[3]]
    np.testing.assert_array_equal(sub.elements.features, train.elements.features[rows])
    np.testing.assert_array_equal(sub.targets.elements.pt, train.targets.elements.pt[rows])
    np.testing.assert_array_equal(sub.elements.offsets, sub.targets.elements.offsets)
    np.testing.assert_array_equal(sub.event_number, [5, 2])
    np.testing.assert_array_equal(
        sub.targets.bookkeeping.visible_energy, train.targets.bookkeeping.visible_energy[[5, 2]]
    )
    with pytest.raises(DataFormatError, match=r"expected indices in \[0, 40\)"):
        subset_split(train, [40])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"sizes": (4, 41)},
            ConfigError,
            "sizes: 41 training events asked for, the target training split has 40",
        ),
        ({"sizes": (0,)}, ConfigError, "sizes: expected positive"),
        ({"sizes": ()}, ConfigError, "at least one of each"),
        ({"seeds": (1, 1)}, ConfigError, "distinct"),
        ({"collection": PF_CHS}, ConfigError, "collection: expected an MLPF collection"),
        ({"jet_pt_range": (50.0, 20.0)}, ConfigError, "jet_pt_range"),
    ],
)
def test_refusals_before_any_training(
    pretrained: MLPFModel, target: Any, kwargs: dict[str, Any], error: type, match: str
) -> None:
    with pytest.raises(error, match=match):
        _study(pretrained, target, **kwargs)


def test_a_test_split_without_columns_is_refused(pretrained: MLPFModel, target: Any) -> None:
    train, val, test = target
    bare = MLPFSplit(test.elements, test.targets, test.sample, test.event_number, None)
    with pytest.raises(DataFormatError, match="test: expected the evaluation columns"):
        _study(pretrained, (train, val, bare))


def test_subset_split_carries_the_evaluation_columns_and_evaluates_like_the_whole(
    target: Any,
) -> None:
    test = target[2]
    sub = subset_split(test, [3, 1])
    assert sub.columns is not None
    assert test.columns is not None
    for name, (off, values) in test.columns.items():
        want = np.concatenate([values[off[3] : off[4]], values[off[1] : off[2]]])
        np.testing.assert_array_equal(sub.columns[name][1], want)
        np.testing.assert_array_equal(
            np.diff(sub.columns[name][0]), [off[4] - off[3], off[2] - off[1]]
        )
    g_off = test.columns["Gen_Part_PT"][0]
    want_gen = np.r_[
        test.targets.gen_element[g_off[3] : g_off[4]], test.targets.gen_element[g_off[1] : g_off[2]]
    ]
    np.testing.assert_array_equal(sub.targets.gen_element, want_gen)
    # all events in their order: the evaluation of the subset is that of the whole
    pred = {
        "particle_score": test.targets.elements.is_particle.astype(float),
        "cls": test.targets.elements.cls,
        "pt": test.targets.elements.pt,
        "eta": test.targets.elements.eta,
        "phi": np.arctan2(test.targets.elements.sin_phi, test.targets.elements.cos_phi),
        "energy": test.targets.elements.energy,
        "pileup_score": test.targets.elements.is_pu.astype(float),
    }
    whole = evaluate_mlpf(test.columns, VIEW, pred, test.targets, SETTINGS)
    same = subset_split(test, np.arange(test.n_events))
    again = evaluate_mlpf(same.columns or {}, VIEW, pred, same.targets, SETTINGS)
    assert again.metrics() == whole.metrics()


def test_run_transfer_makes_the_target_card_samples_and_runs_the_study(
    pretrained: MLPFModel, target: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    def ensure(cfg: MLPFConfig, folder: Path, **kwargs: Any) -> tuple[dict[str, list[Path]], str]:
        seen["cfg"], seen["folder"] = cfg, folder
        return {}, "0" * 64

    monkeypatch.setattr("l1scout.tasks.mlpf.data.ensure_mlpf_samples", ensure)
    monkeypatch.setattr(
        "l1scout.tasks.mlpf.data.load_mlpf_data",
        lambda *a, **k: MLPFData(("a",), target[0], target[1], target[2]),
    )
    cfg = MLPFConfig.model_validate(
        {
            "model": MODEL.model_dump(),
            "training": TRAIN.model_dump(),
            "evaluation": SETTINGS.model_dump(),
            # the hand-made events carry FullReco's column names: FullReco is the "new" card
            "transfer": {
                "enabled": True,
                "view": VIEW,
                "events": 30,
                "seeds": [3],
                "max_epochs": 1,
            },
        }
    )
    bars: list[tuple[str, int, int]] = []
    study = run_transfer(
        cfg, pretrained, Path("/data"), progress=lambda s, d, t: bars.append((s, d, t))
    )
    made = seen["cfg"]
    assert made.data.view == VIEW
    assert [s.events for s in made.data.samples] == [30, 30]
    assert made.data.processes == cfg.data.processes
    assert seen["folder"] == Path(f"/data/transfer-{VIEW}")
    # the default sizes: 1/10, 1/3 and all of the 40 target training events
    assert sorted({r.size for r in study.runs}) == [5, 13, 40]
    assert {r.seed for r in study.runs} == {3}
    assert {r.epochs for r in study.runs} == {1}
    assert study.view == VIEW
    assert bars[-1] == ("transfer", 6, 6)
