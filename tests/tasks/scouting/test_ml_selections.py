"""Model selections: anomaly inputs against trigger_inputs, tiny ONNX models, the taus task's path, the registry."""

from __future__ import annotations

import math
from dataclasses import fields
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import torch

from l1scout.deploy.onnx import export_onnx
from l1scout.errors import DataFormatError
from l1scout.io.scalers import PowerOfTwoRobustScaler
from l1scout.io.trigger_inputs import trigger_inputs
from l1scout.tasks.scouting.menu import load_menu_models, menu_from_dict
from l1scout.tasks.scouting.ml_selections import (
    DiTauParams,
    anomaly_inputs,
    anomaly_select,
    clear_model_cache,
    ditau_inputs,
    ditau_select,
    load_scorer,
)
from l1scout.tasks.taus.config import CandidatesConfig, ClueParams
from l1scout.tasks.taus.dataset import TauEvents, build_tau_dataset
from l1scout.tasks.taus.ditau import ScoredCandidates, ditau_decisions
from l1scout.tasks.taus.study import predict_transformer
from l1scout.tasks.taus.transformer import (
    SoftTauTransformer,
    TransformerModelConfig,
    export_transformer,
)
from l1scout.tasks.taus.truth import TruthTaus


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    clear_model_cache()


def _objects(
    rng: np.random.Generator, n_bx: int, most: int
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    counts = rng.integers(0, most + 1, n_bx)
    off = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    n = int(off[-1])
    pt = np.round(rng.uniform(1.0, 80.0, n), 1).astype(np.float32)
    pt[rng.random(n) < 0.1] = 20.0  # ties
    return off, {
        "pt": pt,
        "eta": rng.uniform(-2.5, 2.5, n).astype(np.float32),
        "phi": rng.uniform(-3.1, 3.1, n).astype(np.float32),
    }


def _jagged(off: np.ndarray, values: np.ndarray) -> ak.Array:
    return ak.unflatten(values, np.diff(off))


def test_anomaly_inputs_equal_trigger_inputs() -> None:
    rng = np.random.default_rng(3)
    n_bx = 50
    eg, mu, jet = _objects(rng, n_bx, 7), _objects(rng, n_bx, 6), _objects(rng, n_bx, 12)
    met = rng.uniform(0, 100, n_bx).astype(np.float32)
    met_phi = rng.uniform(-3, 3, n_bx).astype(np.float32)
    x = anomaly_inputs({"met": met, "met_phi": met_phi}, eg, mu, jet)
    events: dict[str, ak.Array] = {
        "L1T_PUPPIMET_MET": ak.unflatten(met, 1),
        "L1T_PUPPIMET_Phi": ak.unflatten(met_phi, 1),
    }
    for coll, (off, obj) in (("Electron", eg), ("MuonTight", mu), ("JetPuppiAK4", jet)):
        for q, key in (("PT", "pt"), ("Eta", "eta"), ("Phi", "phi")):
            events[f"L1T_{coll}_{q}"] = _jagged(off, obj[key])
    expected = trigger_inputs(events, photons=False)
    np.testing.assert_array_equal(x, expected)
    assert x.shape == (n_bx, 57)


def test_anomaly_inputs_check_lengths() -> None:
    none = (np.array([0, 0]), {"pt": np.zeros(0), "eta": np.zeros(0), "phi": np.zeros(0)})
    with pytest.raises(DataFormatError, match="muon offsets"):
        anomaly_inputs(
            {"met": np.zeros(1), "met_phi": np.zeros(1)}, none, (np.array([0]), none[1]), none
        )


class _Linear(torch.nn.Module):
    def __init__(self, w: np.ndarray, b: float) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(w.size, 1)
        with torch.no_grad():
            self.lin.weight.copy_(torch.from_numpy(w[None, :]))
            self.lin.bias.fill_(b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x)


@pytest.fixture(scope="module")
def linear_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, float]:
    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.1, 57).astype(np.float32)
    b = 0.25
    path = export_onnx(_Linear(w, b), 57, tmp_path_factory.mktemp("onnx") / "axo.onnx")
    return path, w, b


def test_anomaly_select_with_onnx_and_scaler(
    linear_model: tuple[Path, np.ndarray, float], tmp_path: Path
) -> None:
    path, w, b = linear_model
    rng = np.random.default_rng(1)
    x = rng.normal(10, 5, (200, 57)).astype(np.float32)
    scorer = load_scorer(str(path))
    assert load_scorer(str(path)) is scorer  # once per process
    expected = x.astype(np.float64) @ w + b
    threshold = float(np.median(expected))
    out = anomaly_select(x, scorer, threshold)
    margin = np.abs(expected - threshold) > 1e-4
    np.testing.assert_array_equal(out.passed[margin], (expected > threshold)[margin])
    assert out.table["bx_index"].tolist() == np.flatnonzero(out.passed).tolist()
    np.testing.assert_allclose(out.table["score"], expected[out.passed], rtol=1e-5, atol=1e-5)
    # with the scaler file: the model sees the scaled inputs
    scaler = PowerOfTwoRobustScaler(object_size=3).fit(x)
    saved = scaler.save(tmp_path / "scaler.json")
    loaded = PowerOfTwoRobustScaler.load(saved)
    scaled = anomaly_select(x, scorer, 0.0, scaler=loaded)
    expected_scaled = scaler.transform(x).astype(np.float64) @ w + b
    keep = np.abs(expected_scaled) > 1e-4
    np.testing.assert_array_equal(scaled.passed[keep], (expected_scaled > 0)[keep])
    assert anomaly_select(np.zeros((0, 57), np.float32), scorer, 0.0).passed.size == 0


def test_load_scorer_errors(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="no such ONNX file"):
        load_scorer(str(tmp_path / "none.onnx"))
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a graph")
    with pytest.raises(DataFormatError, match="cannot load it"):
        load_scorer(str(junk))


# ---------------------------------------------------------------- di-tau

TINY = TransformerModelConfig(
    n_constituents=4, embed_dims=(8,), n_heads=2, ff_dim=16, head_hidden=0
)


def _puppi(rng: np.random.Generator, n_bx: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """BXs of PUPPI candidates with a few collimated sprays (CLUE clusters), as decoded."""
    eta, phi, pt, pid = [], [], [], []
    counts = []
    for _ in range(n_bx):
        n = 0
        for _ in range(rng.integers(0, 4)):
            ce, cp = rng.uniform(-2, 2), rng.uniform(-3, 3)
            k = int(rng.integers(1, 5))
            eta += list(ce + rng.normal(0, 0.03, k))
            phi += list(np.mod(cp + rng.normal(0, 0.03, k) + np.pi, 2 * np.pi) - np.pi)
            pt += list(rng.uniform(2, 25, k))
            pid += list(rng.choice([211, -211, 22, 130, 11, -13], k))
            n += k
        m = int(rng.integers(0, 6))  # soft stray candidates
        eta += list(rng.uniform(-2.5, 2.5, m))
        phi += list(rng.uniform(-3.1, 3.1, m))
        pt += list(rng.uniform(0.5, 2, m))
        pid += list(rng.choice([211, 22], m))
        counts.append(n + m)
    off = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    pid_a = np.array(pid, dtype=np.int16)
    charge = np.where(np.isin(np.abs(pid_a), [211, 11, 13]), np.sign(pid_a), 0)
    charge = np.where(np.abs(pid_a) == 211, charge, -charge).astype(np.int8)  # e-, mu- have pid > 0
    n = len(pt)
    w = np.where(charge != 0, (rng.random(n) < 0.8).astype(np.float32), rng.uniform(0, 1, n))
    return off, {
        "pt": np.array(pt, np.float32),
        "eta": np.array(eta, np.float32),
        "phi": np.array(phi, np.float32),
        "pdgid": pid_a,
        "charge": charge,
        "z0": np.where(charge != 0, rng.normal(0, 20, n), 0.0).astype(np.float32),
        "puppi_w": w.astype(np.float32),
    }


def _tau_events(off: np.ndarray, p: dict[str, np.ndarray]) -> TauEvents:
    n_ev = off.size - 1
    empty = {
        f.name: np.zeros(0, np.bool_ if f.name in ("is_leptonic", "from_hadron") else np.float64)
        for f in fields(TruthTaus)[1:]
    }
    for k in ("gen_index", "charge", "n_prong", "n_pi0", "decay_mode"):
        empty[k] = np.zeros(0, np.int64)
    truth = TruthTaus(offsets=np.zeros(n_ev + 1, np.int64), **empty)
    n = int(off[-1])
    return TauEvents(
        samples=("zb",),
        event_sample=np.zeros(n_ev, np.int64),
        event_split=np.zeros(n_ev, np.int8),
        event_number=np.arange(n_ev),
        offsets=off,
        pt=p["pt"].astype(np.float64),
        eta=p["eta"].astype(np.float64),
        phi=p["phi"].astype(np.float64),
        pid=p["pdgid"].astype(np.int64),
        charge=p["charge"].astype(np.int64),
        dz=p["z0"].astype(np.float64),
        puppi_w=p["puppi_w"].astype(np.float64),
        is_pu=np.zeros(n, np.int8),
        taus=truth,
    )


@pytest.fixture(scope="module")
def tiny_tau(tmp_path_factory: pytest.TempPathFactory) -> tuple[SoftTauTransformer, Path]:
    torch.manual_seed(4)
    model = SoftTauTransformer(TINY).eval()
    path = export_transformer(model, tmp_path_factory.mktemp("tau") / "tau.onnx")
    return model, path


def test_ditau_equals_the_taus_task_path(tiny_tau: tuple[SoftTauTransformer, Path]) -> None:
    model, path = tiny_tau
    rng = np.random.default_rng(11)
    off, puppi = _puppi(rng, 120)
    clue = ClueParams(dc=0.2, rhoc=5.0, dm=0.4)
    params = DiTauParams(
        clue.dc, clue.rhoc, clue.dm, 0.0, TINY.n_constituents, class_threshold=0.0,
        charge_threshold=-math.inf, dvz_cut=math.inf,
    )  # fmt: skip
    # the taus task: CLUE candidates and transformer inputs of build_tau_dataset, torch scores
    ds = build_tau_dataset(
        _tau_events(off, puppi),
        "clue",
        CandidatesConfig(clue=clue, n_constituents=TINY.n_constituents),
    )
    cand, inputs = ditau_inputs(off, puppi, params)
    np.testing.assert_array_equal(cand.offsets, ds.event_offsets)
    np.testing.assert_array_equal(inputs.features, ds.transformer.features)
    np.testing.assert_array_equal(inputs.mask, ds.transformer.mask)
    assert len(inputs) > 50
    torch_out = predict_transformer(model, ds.transformer)
    scored = ScoredCandidates.build(
        ds.event_offsets, torch_out["tau_score"], torch_out["charge_score"], torch_out["vz"]
    )
    scorer = load_scorer(str(path))
    n_pass = []
    for t_class in np.quantile(torch_out["tau_score"], [0.2, 0.5, 0.8]):
        for q, dvz in ((-math.inf, math.inf), (0.3, 50.0)):
            p = DiTauParams(**{**params.__dict__, "class_threshold": float(t_class),
                               "charge_threshold": q, "dvz_cut": dvz})  # fmt: skip
            out = ditau_select(off, puppi, scorer, p)
            expected = ditau_decisions(scored, float(t_class), q, dvz)
            np.testing.assert_array_equal(out.passed, expected)
            n_pass.append(int(expected.sum()))
            assert out.table["bx_index"].tolist() == np.flatnonzero(expected).tolist()
    assert max(n_pass) > 5
    assert min(n_pass) < max(n_pass)


def test_ditau_without_candidates(tiny_tau: tuple[SoftTauTransformer, Path]) -> None:
    scorer = load_scorer(str(tiny_tau[1]))
    off, puppi = (
        np.array([0, 0, 0]),
        {k: np.zeros(0) for k in ("pt", "eta", "phi", "puppi_w", "z0", "charge", "pdgid")},
    )
    out = ditau_select(off, puppi, scorer, DiTauParams(n_constituents=4))
    assert out.passed.tolist() == [False, False]


# ---------------------------------------------------------------- the registry


def test_registry_round_trip(linear_model: tuple[Path, np.ndarray, float], tmp_path: Path) -> None:
    from l1scout.track.registry import register_model
    from l1scout.track.runs import start_run
    from l1scout.track.store import local_store

    path = linear_model[0]
    store = local_store(tmp_path / "mlflow").uri
    with start_run("scouting-test", run_name="axo", uri=store) as run:
        uri = run.log_onnx_model(path, name="model")
    registered = register_model(uri, "scouting-axo", alias="demo", uri=store)
    assert registered.alias_uri == "models:/scouting-axo@demo"
    menu = menu_from_dict(
        {
            "selection": [
                {"name": "axo", "kind": "anomaly", "model": registered.alias_uri, "threshold": 0.0}
            ]
        }
    )
    models = load_menu_models(menu, tracking_uri=store)
    x = np.random.default_rng(2).normal(0, 3, (64, 57)).astype(np.float32)
    from_registry = models.scorers["axo"].run(x)[0]
    from_file = load_scorer(str(path)).run(x)[0]
    np.testing.assert_array_equal(from_registry, from_file)
    assert load_menu_models(menu, tracking_uri=store).scorers["axo"] is models.scorers["axo"]
    # an override by file replaces the registry source
    over = load_menu_models(menu, tracking_uri=store, overrides={"axo": str(path)})
    assert over.scorers["axo"] is load_scorer(str(path))
    # the alias moves to a new version: the next load follows it
    other = export_onnx(_Linear(np.ones(57, np.float32), -1.0), 57, tmp_path / "other.onnx")
    with start_run("scouting-test", run_name="axo-2", uri=store) as run:
        uri2 = run.log_onnx_model(other, name="model")
    register_model(uri2, "scouting-axo", alias="demo", uri=store)
    moved = load_scorer("models:/scouting-axo@demo", tracking_uri=store).run(x)[0]
    np.testing.assert_allclose(moved[:, 0], x.sum(axis=1) - 1.0, rtol=1e-5, atol=1e-4)
    # a name or an alias the store does not have: one line naming the source
    with pytest.raises(
        DataFormatError, match=r"model models:/scouting-axo@nosuch: cannot be loaded"
    ):
        load_scorer("models:/scouting-axo@nosuch", tracking_uri=store)
    with pytest.raises(DataFormatError, match=r"model models:/nosuch@demo: cannot be loaded"):
        load_scorer("models:/nosuch@demo", tracking_uri=store)
