"""The scouting models stage's pieces: the raw-input anomaly graph, the parts, the stream's view, the menu's working points."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from l1scout.io.scalers import PowerOfTwoRobustScaler
from l1scout.tasks.anomaly.config import VAEConfig
from l1scout.tasks.anomaly.models import build_model
from l1scout.tasks.anomaly.train import scores
from l1scout.tasks.scouting._menu_toml import menu_toml, resolve_menu, write_menu
from l1scout.tasks.scouting.config import DEFAULT_MENU
from l1scout.tasks.scouting.menu import load_menu
from l1scout.tasks.scouting.models import NO_CLASS_CUT, RawAnomalyScore
from l1scout.tasks.scouting.training_events import (
    ORBIT,
    TRAIN,
    VALIDATION,
    _stream_view,
    event_parts,
)
from l1scout.tasks.scouting.words import puppi_physical, puppi_to_hardware
from l1scout.tasks.taus.ditau import ScoredCandidates, ditau_event_scores


def _inputs(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.abs(rng.normal(20.0, 15.0, size=(n, 19, 3))).astype(np.float32)
    x[:, :, 1] = rng.uniform(-2.5, 2.5, size=(n, 19))
    x[:, :, 2] = rng.uniform(-math.pi, math.pi, size=(n, 19))
    x[:, 12:, :] = 0.0  # padded jets
    return x.reshape(n, 57)


def test_the_raw_input_anomaly_graph_is_the_scaler_then_the_score_and_onnx_agrees(
    tmp_path: Path,
) -> None:
    from l1scout.deploy.onnx import OnnxModel, export_onnx

    x = _inputs(300)
    scaler = PowerOfTwoRobustScaler(object_size=3).fit(x[:200])
    torch.manual_seed(3)
    model = build_model(VAEConfig(name="t", hidden=(8,), latent=3, quantized=False)).eval()
    raw = RawAnomalyScore(model, scaler).eval()
    with torch.no_grad():
        got = raw(torch.from_numpy(x)).double().numpy()
    want = scores(model, x, scaler)  # the anomaly task's scoring: scaler.transform, then score
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    # by hand: the sum of the latent means squared of the scaled inputs
    scaled = torch.from_numpy(scaler.transform(x).astype(np.float32))
    with torch.no_grad():
        mu = model.deployable()(scaled).double().numpy()
    np.testing.assert_allclose(got, (mu**2).sum(axis=1), rtol=1e-6, atol=1e-7)
    path = export_onnx(raw, 57, tmp_path / "a.onnx", output_names=("score",))
    onnx = OnnxModel(path).predict(x).reshape(-1)
    assert np.max(np.abs(onnx - got) / np.maximum(1.0, np.abs(got))) < 1e-5


def test_event_parts_are_stable_disjoint_and_follow_the_fractions() -> None:
    numbers = np.arange(20_000)
    parts = event_parts("minbias:RS1", numbers, (0.3, 0.2, 0.5))
    assert set(np.unique(parts).tolist()) == {TRAIN, VALIDATION, ORBIT}
    for p, f in ((TRAIN, 0.3), (VALIDATION, 0.2), (ORBIT, 0.5)):
        assert abs(np.mean(parts == p) - f) < 0.015
    # the same events in any order, in any batch: the same parts
    perm = np.random.default_rng(1).permutation(numbers.size)
    np.testing.assert_array_equal(
        event_parts("minbias:RS1", numbers[perm], (0.3, 0.2, 0.5)), parts[perm]
    )
    np.testing.assert_array_equal(
        event_parts("minbias:RS1", numbers[:7], (0.3, 0.2, 0.5)), parts[:7]
    )
    # another file: another draw
    assert (event_parts("minbias:RS2", numbers, (0.3, 0.2, 0.5)) != parts).any()


def test_the_stream_view_keeps_the_highest_pt_and_decodes_the_hardware_word() -> None:
    # event 0: three candidates, keep two (30 and 20 GeV); event 1: none; event 2: one
    off = np.array([0, 3, 3, 4])
    cols = {
        "PT": np.array([20.0, 5.0, 30.0, 7.3]),
        "Eta": np.array([0.1, -0.2, 1.234, -2.0]),
        "Phi": np.array([3.1416, 0.5, -1.0, 2.0]),
        "PID": np.array([211.0, 22.0, 11.0, 130.0]),
        "Charge": np.array([1.0, 0.0, -1.0, 0.0]),
        "DZ": np.array([3.27, 0.0, -1.1, 0.0]),
        "PuppiW": np.array([1.0, 0.3, 0.0, 0.61]),
    }
    o, out = _stream_view(off, cols, 2)
    np.testing.assert_array_equal(o, [0, 2, 2, 3])
    keep = np.array([2, 0, 3])
    hw = puppi_to_hardware(
        cols["PT"][keep],
        cols["Eta"][keep],
        cols["Phi"][keep],
        cols["PID"][keep],
        cols["Charge"][keep],
        cols["DZ"][keep],
        np.zeros(3),
        cols["PuppiW"][keep],
    )
    want = puppi_physical(hw)
    np.testing.assert_array_equal(out["pt"], want["pt"].astype(np.float64))
    np.testing.assert_array_equal(out["pid"], [11, 211, 130])  # e-: PDG +11
    np.testing.assert_array_equal(out["charge"], [-1, 1, 0])
    assert out["pt"].tolist() == [30.0, 20.0, 7.25]  # 0.25 GeV steps
    assert out["phi"][1] == pytest.approx(-math.pi)  # +pi wraps to -pi
    assert out["dz"][1] == pytest.approx(3.5)  # 0.5 mm steps, half up
    # charged weight: 1 when associated (PuppiW >= 0.5), else 0; neutral: 1/256 steps
    assert out["puppi_w"].tolist() == [0.0, 1.0, pytest.approx(156 / 256)]


def test_no_class_cut_accepts_exactly_the_events_minus_infinity_accepts() -> None:
    rng = np.random.default_rng(5)
    counts = rng.integers(0, 5, size=400)
    off = np.concatenate([[0], np.cumsum(counts)])
    n = int(off[-1])
    tau = rng.uniform(0, 1, n)
    tau[rng.uniform(size=n) < 0.1] = 0.0  # exact zeros: still above -1
    c = ScoredCandidates.build(off, tau, rng.uniform(0, 1, n), rng.normal(0, 20, n), what="t")
    m = ditau_event_scores(c, 0.3, 10.0)
    np.testing.assert_array_equal(m > NO_CLASS_CUT, m > -math.inf)
    assert (m == -math.inf).any()
    assert (m > -math.inf).any()


def test_the_menu_gets_the_working_points_of_its_models_and_round_trips(tmp_path: Path) -> None:
    menu = load_menu(DEFAULT_MENU)
    points = {
        "models:/l1scout-scouting-anomaly@demo": {"threshold": 3.25},
        "models:/l1scout-scouting-ditau@demo": {
            "class_threshold": NO_CLASS_CUT,
            "charge_threshold": -math.inf,
            "dvz_cut": math.inf,
        },
        "models:/other@demo": {"threshold": 1.0},  # no selection loads it: nothing changes
    }
    resolved = resolve_menu(menu, points)
    by_name = {s.name: s for s in resolved.selection}
    assert by_name["anomaly"].threshold == 3.25
    assert by_name["ditau"].class_threshold == NO_CLASS_CUT
    assert by_name["ditau"].charge_threshold == -math.inf
    assert by_name["ditau"].clue == {s.name: s for s in menu.selection}["ditau"].clue
    assert [s for s in resolved.selection if s.name in ("w3pi", "ht", "single_muon")] == [
        s for s in menu.selection if s.name in ("w3pi", "ht", "single_muon")
    ]
    path = write_menu(resolved, tmp_path / "menu.toml", "a header\nof two lines")
    assert path.read_text().startswith("# a header\n# of two lines\n")
    assert load_menu(path) == resolved
    assert "dvz_cut = inf" in menu_toml(resolved)
