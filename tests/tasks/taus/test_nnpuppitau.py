"""NNPuppiTau: inputs, network, training, bit-exact firmware emulation, double-tau menu seed."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from l1scout._jagged import offsets_from_counts
from l1scout.errors import ConfigError, DataFormatError
from l1scout.reco.taus import puppi_type
from l1scout.tasks.taus.nnpuppitau import (
    NNPUPPITAU_SPEC,
    DoubleTauMenu,
    NNPuppiTau,
    NNPuppiTauTraining,
    TrainingResult,
    build_nnpuppitau_firmware,
    double_tau_decision,
    id_score,
    nnpuppitau_emulator,
    nnpuppitau_inputs,
    offline_tau_pt,
    predict_nnpuppitau,
    train_nnpuppitau,
)

PHOTON, ELECTRON, MUON, NEUTRAL, CHARGED = range(5)


# ---------------------------------------------------------------- inputs


def test_inputs_of_a_hand_built_cone() -> None:
    # candidate 0: 12 constituents, unsorted; candidate 1: 3; candidate 2: none
    pt0 = [3.0, 25.0, 1.0, 7.0, 0.5, 12.0, 2.0, 9.0, 4.0, 6.0, 0.7, 5.0]
    pt1 = [2.0, 8.0, 0.0]
    pt = np.array(pt0 + pt1)
    eta = np.full(15, 1.0)
    eta[1] = 1.1  # the leading constituent of candidate 0
    phi = np.full(15, 3.1)
    phi[12:] = -3.1  # candidate 1's seed sits at phi = 3.1: across the wrap
    codes = np.array([PHOTON, CHARGED, NEUTRAL, ELECTRON, MUON, CHARGED, PHOTON, NEUTRAL] + [0] * 4)
    codes = np.concatenate([codes, [MUON, ELECTRON, CHARGED]])
    x = nnpuppitau_inputs(pt, eta, phi, codes, [1.05, 0.5, 0.0], [3.0, 3.1, 0.0], [0, 12, 15, 15])
    assert x.shape == (3, 80)
    rows = x.reshape(3, 10, 8)
    assert not rows[2].any()
    # sorted by decreasing pT, cut at 10: 0.7 and 0.5 GeV are dropped
    assert rows[0, :, 0].tolist() == [25.0, 12.0, 9.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0]
    # d-eta = seed - constituent; d-phi = seed - constituent
    assert rows[0, 0, 1] == pytest.approx(1.05 - 1.1, abs=1e-6)
    assert rows[0, 1, 1] == pytest.approx(0.05, abs=1e-6)
    assert rows[0, 0, 2] == pytest.approx(-0.1, abs=1e-6)
    # one-hot in photon, electron, muon, neutral hadron, charged hadron order
    assert rows[0, 0, 3:].tolist() == [0, 0, 0, 0, 1]  # 25 GeV charged hadron
    assert rows[0, 3, 3:].tolist() == [0, 1, 0, 0, 0]  # 7 GeV electron
    assert rows[0, 2, 3:].tolist() == [0, 0, 0, 1, 0]  # 9 GeV neutral hadron
    assert rows[0, 7, 3:].tolist() == [1, 0, 0, 0, 0]  # 3 GeV photon
    assert rows[0, :, 3:].sum() == 10.0
    # candidate 1: 8, 2, then the 0-GeV constituent (no one-hot, as in CMSSW), then padding
    assert rows[1, :3, 0].tolist() == [8.0, 2.0, 0.0]
    assert rows[1, 0, 3:].tolist() == [0, 1, 0, 0, 0]
    assert rows[1, 1, 3:].tolist() == [0, 0, 1, 0, 0]
    assert rows[1, 2, 3:].sum() == 0.0
    # phi wrap: 3.1 - (-3.1) = 6.2 rad -> 6.2 - 2 pi
    assert rows[1, 0, 2] == pytest.approx(6.2 - 2 * math.pi, abs=1e-6)
    assert rows[1, 0, 1] == pytest.approx(-0.5, abs=1e-6)
    assert not rows[1, 3:].any()


def test_inputs_empty_candidates_are_all_zero() -> None:
    x = nnpuppitau_inputs([4.0], [0.0], [0.0], [1], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0, 0, 1, 1])
    assert x.shape == (3, 80)
    assert not x[0].any()
    assert not x[2].any()
    assert x[1, :8].tolist() == [4.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    empty = nnpuppitau_inputs([], [], [], np.zeros(0, int), [0.0], [0.0], [0, 0])
    assert empty.shape == (1, 80)
    assert not empty.any()


def test_type_codes_follow_the_particle_flow_ids() -> None:
    codes = puppi_type([22, 11, -13, 0, 130, -211, 211], [0, -1, 1, 0, 0, -1, 1])
    assert codes.tolist() == [PHOTON, ELECTRON, MUON, NEUTRAL, NEUTRAL, CHARGED, CHARGED]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"eta": [0.0, np.nan]}, "^eta: 1 NaN"),
        ({"pt": [[1.0, 2.0]]}, "^pt: expected a 1-D"),
        ({"phi": [0.0]}, "^phi: expected 2 values"),
        ({"type_code": [0, 5]}, "^type_code: expected codes 0-4"),
        ({"type_code": [0.0, 1.0]}, "^type_code: expected 2 integers"),
        ({"seed_phi": [0.0, 0.1]}, "^seed_phi: expected 1 values"),
        ({"seed_eta": [np.nan]}, "^seed_eta: 1 NaN"),
        ({"offsets": [0, 1]}, "^offsets: expected the last offset"),
        ({"offsets": [0.0, 2.0]}, "^offsets: expected a 1-D integer"),
    ],
)
def test_inputs_refuse_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {
        "pt": [1.0, 2.0],
        "eta": [0.0, 0.1],
        "phi": [0.0, 0.1],
        "type_code": [0, 4],
        "seed_eta": [0.0],
        "seed_phi": [0.0],
        "offsets": [0, 2],
    }
    args |= kwargs
    with pytest.raises(DataFormatError, match=match) as info:
        nnpuppitau_inputs(**args)
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------- network


def test_shapes_and_parameter_count() -> None:
    model = NNPuppiTau()
    # trunk 80-25-25-15-15-10, two heads 10 -> 1 (held as one 10 -> 2 layer)
    trunk = 80 * 25 + 25 + 25 * 25 + 25 + 25 * 15 + 15 + 15 * 15 + 15 + 15 * 10 + 10
    heads = 2 * (10 * 1 + 1)
    assert (trunk, heads) == (3465, 22)
    assert sum(p.numel() for p in model.parameters()) == trunk + heads == 3487
    assert sum(p.numel() for p in NNPuppiTau(None).parameters()) == 3487
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (80, 25), (25, 25), (25, 15), (15, 15), (15, 10), (10, 2),
    ]  # fmt: skip
    assert model(torch.zeros(7, 80)).shape == (7, 2)
    with pytest.raises(DataFormatError, match=r"shape \(n, 80\)"):
        model(torch.zeros(7, 79))


def test_relu_outputs_saturate_below_one() -> None:
    """ap_ufixed<9,0>: hidden activations are multiples of 2**-9 in [0, 1 - 2**-9]."""
    torch.manual_seed(3)
    model = NNPuppiTau().eval()
    x = torch.zeros(200, 80)
    x[:, 0::8] = torch.linspace(0.0, 600.0, 200)[:, None]  # up to beyond the input range
    with torch.no_grad():
        h = model.trunk[:3](x)  # input quantizer, first dense layer, first quantized ReLU
        out = model.trunk(x)
    assert float(h.max()) == 1.0 - 2.0**-9
    assert float(h.min()) == 0.0
    assert torch.equal(h * 512, torch.round(h * 512))
    assert int((h == 1.0 - 2.0**-9).sum()) > 0
    assert float(out.min()) >= 0.0
    assert float(out.max()) <= 1.0 - 2.0**-9
    assert torch.equal(out * 512, torch.round(out * 512))


def test_id_score_is_the_sigmoid_of_the_logit() -> None:
    logit = math.log(0.28 / 0.72)
    assert id_score([[logit, 0.0], [0.0, 1.0], [-40.0, 0.0]]).tolist() == pytest.approx(
        [0.28, 0.5, 0.0], abs=1e-12
    )
    with pytest.raises(DataFormatError, match="outputs"):
        id_score([0.0, 1.0])


# ---------------------------------------------------------------- training


def _separable(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Taus: 1-3 hard charged hadrons near the seed; fakes: 6-10 soft mixed candidates spread out.

    The pT target of a tau grows with its leading constituent: 1 + pT_lead / 100.
    """
    rng = np.random.default_rng(seed)
    is_tau = rng.random(n) < 0.5
    counts = np.where(is_tau, rng.integers(1, 4, n), rng.integers(6, 11, n))
    off = offsets_from_counts(counts)
    owner = np.repeat(is_tau, counts)
    m = int(off[-1])
    pt = np.where(owner, rng.uniform(5.0, 40.0, m), rng.exponential(3.0, m))
    spread = np.where(owner, 0.03, 0.25)
    eta = rng.normal(0.0, spread)
    phi = rng.normal(0.0, spread)
    codes = np.where(owner, CHARGED, rng.integers(0, 5, m))
    x = nnpuppitau_inputs(pt, eta, phi, codes, np.zeros(n), np.zeros(n), off)
    target = np.where(is_tau, 1.0 + x[:, 0] / 100.0, np.nan)
    return x, is_tau.astype(np.float32), target


@pytest.fixture(scope="module")
def trained() -> TrainingResult:
    x, y, t = _separable(2000, 1)
    return train_nnpuppitau(x, y, t, NNPuppiTauTraining(epochs=20, seed=0))


def test_training_reduces_both_losses(trained: TrainingResult) -> None:
    assert len(trained.loss) == 21
    assert trained.loss[-1] < 0.5 * trained.loss[0]
    assert trained.id_loss[-1] < 0.4  # chance: log 2 = 0.69
    assert trained.pt_loss[-1] < 0.2 * trained.pt_loss[0]
    x, y, t = _separable(1000, 2)  # fresh candidates
    score, corr = predict_nnpuppitau(trained.model, x)
    assert ((score > 0.5) == (y == 1)).mean() > 0.85
    tau = y == 1
    assert np.median(np.abs(corr[tau] - t[tau])) < 0.1  # targets 1.05 ... 1.4


def test_training_is_deterministic(trained: TrainingResult) -> None:
    x, y, t = _separable(300, 1)
    cfg = NNPuppiTauTraining(epochs=2, seed=5)
    a, b = train_nnpuppitau(x, y, t, cfg), train_nnpuppitau(x, y, t, cfg)
    c = train_nnpuppitau(x, y, t, cfg.model_copy(update={"seed": 6}))
    assert a.loss == b.loss
    for (name, pa), pb in zip(
        a.model.state_dict().items(), b.model.state_dict().values(), strict=True
    ):
        assert torch.equal(pa, pb), name
    assert not torch.equal(a.model.trunk[1].weight, c.model.trunk[1].weight)


def test_training_refuses_bad_data() -> None:
    x, y, t = _separable(20, 1)
    bad = x.copy()
    bad[3, 5] = np.nan
    with pytest.raises(DataFormatError, match=r"^x: 1 rows hold NaN"):
        train_nnpuppitau(bad, y, t)
    with pytest.raises(DataFormatError, match=r"^x: expected shape \(n, 80\)"):
        train_nnpuppitau(x[:, :79], y, t)
    with pytest.raises(DataFormatError, match=r"^is_tau"):
        train_nnpuppitau(x, np.full(20, 2.0), t)
    t_bad = t.copy()
    t_bad[np.flatnonzero(y == 1)[0]] = np.nan
    with pytest.raises(DataFormatError, match=r"^pt_target: NaN"):
        train_nnpuppitau(x, y, t_bad)
    with pytest.raises(ValueError, match="extra"):
        NNPuppiTauTraining(epoch=3)


# ---------------------------------------------------------------- firmware


def _random_cones(n: int, seed: int) -> np.ndarray:
    """Candidate inputs like real cones: 0-15 constituents, pT falling, a few beyond 512 GeV."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 16, n)
    m = int(counts.sum())
    pt = rng.exponential(6.0, m) * rng.choice([1.0, 5.0], m, p=[0.9, 0.1])
    pt[rng.random(m) < 1e-3] = 700.0  # saturates ap_fixed<16,10>
    eta = rng.uniform(-0.4, 0.4, m)
    phi = rng.uniform(-0.4, 0.4, m)
    codes = rng.integers(0, 5, m)
    x: np.ndarray = nnpuppitau_inputs(
        pt, eta, phi, codes, np.zeros(n), np.zeros(n), offsets_from_counts(counts)
    )
    return x


@pytest.fixture(scope="module")
def cones() -> np.ndarray:
    return _random_cones(100_000, 7)


@pytest.fixture(scope="module")
def spread() -> NNPuppiTau:
    """Random weights on the formats' grids, scaled so that activations spread over [0, 1).

    The trained model of the small synthetic set leaves most units at 0 or
    saturated (a few distinct outputs); this one exercises rounding at every
    layer, saturation of about 8% of the first layer's outputs, and zeros.
    """
    gen = torch.Generator().manual_seed(12)
    model = NNPuppiTau().eval()
    layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for k, layer in enumerate(layers):
            scale = 3.0 / 64.0 if k == 0 else 1.5 / math.sqrt(layer.in_features)
            layer.weight.copy_((torch.rand(layer.weight.shape, generator=gen) * 2 - 1) * scale)
            layer.bias.copy_((torch.rand(layer.bias.shape, generator=gen) * 2 - 1) * 0.3)
    return model


@pytest.mark.parametrize("which", ["trained", "spread"])
def test_emulation_is_bit_exact_on_1e5_candidates(
    which: str, trained: TrainingResult, spread: NNPuppiTau, cones: np.ndarray
) -> None:
    model = trained.model if which == "trained" else spread
    emulator = nnpuppitau_emulator(model)
    assert (emulator.input, emulator.output) == (NNPUPPITAU_SPEC.input, NNPUPPITAU_SPEC.output)
    got = emulator.predict(cones)
    with torch.no_grad():
        want = model(torch.from_numpy(cones)).numpy()
        first = model.trunk[:3](torch.from_numpy(cones))
    assert got.shape == (100_000, 2)
    np.testing.assert_array_equal(got, want)
    assert np.all(want * 1024 == np.round(want * 1024))  # on the ap_fixed<16,6> grid
    assert np.unique(want[:, 1]).size >= (4 if which == "trained" else 50)
    if which == "spread":
        assert 0.02 < float((first == 1.0 - 2.0**-9).float().mean()) < 0.2
        assert 0.2 < float((first == 0.0).float().mean()) < 0.8


def test_firmware_project_has_the_published_types(trained: TrainingResult, tmp_path: Path) -> None:
    project = build_nnpuppitau_firmware(trained.model, tmp_path / "fw", compile=False)
    assert (project.n_inputs, project.n_outputs) == (80, 2)
    assert project.output == NNPUPPITAU_SPEC.output
    defines = (project.path / "firmware" / "defines.h").read_text()
    assert "ap_fixed<16,10,AP_RND_CONV,AP_SAT,0> input_t" in defines.replace("typedef ", "")
    assert defines.count("ap_fixed<9,3,AP_RND_CONV,AP_SAT,0>") == 12  # 6 weights + 6 biases
    assert defines.count("ap_ufixed<9,0,AP_RND_CONV,AP_SAT,0>") == 5  # the ReLU outputs
    assert "ap_fixed<16,6,AP_RND_CONV,AP_SAT,0> result_t" in defines.replace("typedef ", "")


def test_float_model_is_not_deployable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="quantized"):
        nnpuppitau_emulator(NNPuppiTau(None))
    with pytest.raises(ConfigError, match="quantized"):
        build_nnpuppitau_firmware(NNPuppiTau(None), tmp_path / "fw", compile=False)


@pytest.mark.slow
def test_hls4ml_emulation_is_bit_exact_on_1e5_candidates(
    spread: NNPuppiTau, cones: np.ndarray, tmp_path: Path
) -> None:
    """hls4ml's compiled C++ (ap_fixed types), the reference, equals torch bit for bit."""
    project = build_nnpuppitau_firmware(spread, tmp_path / "fw")
    with torch.no_grad():
        want = spread(torch.from_numpy(cones)).numpy()
    np.testing.assert_array_equal(project.predict(cones), want)
    np.testing.assert_array_equal(project.predict(cones, engine="integer"), want)


# ---------------------------------------------------------------- menu


def test_offline_scaling_barrel_and_endcap() -> None:
    got = offline_tau_pt([36.0, 35.0, 23.0, 22.9, 23.0], [0.5, -1.49, 1.6, -2.0, 1.5])
    want = [
        -9.54 + 1.734 * 36.0,  # 52.884
        -9.54 + 1.734 * 35.0,  # 51.15
        -36.16 + 3.837 * 23.0,  # 52.091
        -36.16 + 3.837 * 22.9,  # 51.7073
        -36.16 + 3.837 * 23.0,  # |eta| = 1.5 is endcap
    ]
    assert got.tolist() == pytest.approx(want, abs=1e-12)
    assert want[0] == pytest.approx(52.884)
    assert want[3] == pytest.approx(51.7073)


def test_double_tau_decision_on_hand_computed_events() -> None:
    taus = [
        # event 0: barrel 36 GeV (52.88) and endcap 23 GeV (52.09), both ID 0.5: fires
        (36.0, 0.5, 0.5), (23.0, -1.7, 0.5),
        # event 1: the endcap tau at 22.9 GeV scales to 51.71 < 52: does not fire
        (36.0, 0.5, 0.5), (22.9, -1.7, 0.5),
        # event 2: ID exactly 0.28 is not above it: does not fire
        (36.0, 0.5, 0.5), (40.0, 0.1, 0.28),
        # event 3: |eta| 2.2 > 2.172 out; the two others pass: fires
        (100.0, 2.2, 0.9), (40.0, -2.17, 0.3), (40.0, 1.0, 0.9),
        # event 4: one tau only
        (200.0, 0.0, 1.0),
    ]  # fmt: skip
    pt, eta, score = (np.array(v) for v in zip(*taus, strict=True))
    offsets = [0, 2, 4, 6, 9, 10, 10]  # event 5: empty
    fired = double_tau_decision(pt, eta, score, offsets)
    assert fired.tolist() == [True, False, False, True, False, False]
    single = double_tau_decision(pt, eta, score, offsets, DoubleTauMenu(n_taus=1))
    assert single.tolist() == [True, True, True, True, True, False]
    with pytest.raises(DataFormatError, match=r"^score: 1 NaN"):
        double_tau_decision(pt, eta, np.where(pt == 200.0, np.nan, score), offsets)
    with pytest.raises(DataFormatError, match=r"^offsets"):
        double_tau_decision(pt, eta, score, [0, 2, 4])
