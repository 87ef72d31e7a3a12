"""Tests of the soft-tau transformer: inputs, sizes, masking, training, ONNX parity, configuration."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from l1scout.deploy.onnx import OnnxModel, onnx_parity
from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.taus.transformer import (
    FEATURE_NAMES,
    OUTPUT_NAMES,
    LossWeights,
    SoftTauTransformer,
    TransformerInputs,
    TransformerModelConfig,
    export_transformer,
    load_transformer_config,
    transformer_inputs,
    transformer_op_count,
)
from l1scout.tasks.taus.transformer_training import (
    TauTargets,
    train_transformer,
    transformer_losses,
)

TINY = {"n_constituents": 6, "embed_dims": [16], "n_heads": 4, "ff_dim": 32, "head_hidden": 8}


def _tiny_model(seed: int = 0) -> SoftTauTransformer:
    torch.manual_seed(seed)
    return SoftTauTransformer(load_transformer_config({"model": TINY}).model).eval()


def _random_inputs(n: int, k: int, seed: int) -> TransformerInputs:
    """Random candidates of 1..k constituents through the input builder."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, k + 3, n)  # some exceed k: truncated
    off = np.concatenate([[0], np.cumsum(counts)])
    m = int(off[-1])
    charge = rng.integers(-1, 2, m)
    return transformer_inputs(
        off,
        pt=rng.exponential(5.0, m) + 0.5,
        eta=rng.normal(0, 0.2, m),
        phi=rng.normal(0, 0.2, m),
        dz=rng.normal(0, 50, m) * (charge != 0),
        charge=charge,
        pid=np.where(charge != 0, 211 * charge, rng.choice([22, 0], m)),
        axis_eta=np.zeros(n),
        axis_phi=np.zeros(n),
        is_pu=rng.integers(0, 2, m),
        n_constituents=k,
    )


# ------------------------------------------------------------------ inputs


def test_inputs_of_a_hand_built_candidate() -> None:
    # candidate 0: three constituents, not in pT order, one across the phi wrap; candidate 1: none
    x = transformer_inputs(
        [0, 3, 3],
        pt=[2.0, 8.0, 5.0],
        eta=[1.1, 0.9, 1.0],
        phi=[3.0, -3.0, 3.1],
        dz=[12.0, 0.0, -30.0],
        charge=[-1, 0, 1],
        pid=[-211, 0, 11],
        axis_eta=[1.0, 0.0],
        axis_phi=[3.1, 0.0],
        is_pu=[1, 0, 0],
        n_constituents=4,
    )
    f = x.features.astype(np.float64)
    assert f.shape == (2, 4, 10)
    assert x.mask.tolist() == [[True] * 3 + [False], [False] * 4]
    # order: 8 GeV (neutral hadron), 5 GeV (electron), 2 GeV (charged pion)
    np.testing.assert_allclose(f[0, :3, 0], np.log([8.0, 5.0, 2.0]), rtol=1e-6)
    np.testing.assert_allclose(f[0, :3, 1], [-0.1, 0.0, 0.1], atol=1e-6)
    # -3.0 - 3.1 = -6.1 rad, wrapped: 2 pi - 6.1 = 0.18318...
    np.testing.assert_allclose(f[0, :3, 2], [2 * math.pi - 6.1, 0.0, -0.1], atol=1e-6)
    np.testing.assert_allclose(f[0, :3, 3], [0.0, -0.3, 0.12], atol=1e-7)  # DZ / 100 mm
    assert f[0, :3, 4].tolist() == [0.0, 1.0, -1.0]
    types = FEATURE_NAMES[5:]
    assert [types[int(np.argmax(row))] for row in f[0, :3, 5:]] == [
        "IsNeutralHadron",
        "IsElectron",
        "IsChargedHadron",
    ]
    assert f[0, :3, 5:].sum(axis=1).tolist() == [1.0, 1.0, 1.0]
    assert not f[0, 3].any()
    assert not f[1].any()
    assert x.is_pu is not None
    assert x.is_pu.tolist() == [[0, 0, 1, 0], [0, 0, 0, 0]]
    packed = x.packed()
    assert packed.shape == (2, 44)
    assert packed.reshape(2, 4, 11)[..., 10].tolist() == [[1, 1, 1, 0], [0, 0, 0, 0]]


def test_inputs_keep_the_highest_pt_and_map_every_type() -> None:
    pid = [22, -11, 13, 211, 0, 130, -13, 22]
    charge = [0, 1, -1, 1, 0, 0, 1, 0]
    pt = [9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 0.5]
    x = transformer_inputs(
        [0, 8],
        pt=pt[::-1],
        eta=np.zeros(8),
        phi=np.zeros(8),
        dz=np.zeros(8),
        charge=charge[::-1],
        pid=pid[::-1],
        axis_eta=[0.0],
        axis_phi=[0.0],
        n_constituents=7,
    )
    assert x.is_pu is None
    assert x.mask.all()
    np.testing.assert_allclose(np.exp(x.features[0, :, 0]), pt[:7], rtol=1e-6)
    onehot = x.features[0, :, 5:].astype(int).tolist()
    # photon, electron, muon, charged hadron, neutral hadron, neutral hadron, muon
    assert [row.index(1) for row in onehot] == [0, 1, 2, 3, 4, 4, 2]


def test_candidates_without_constituents() -> None:
    e = np.zeros(0)
    none = transformer_inputs(
        [0, 0, 0],
        pt=e,
        eta=e,
        phi=e,
        dz=e,
        charge=e.astype(int),
        pid=e.astype(int),
        axis_eta=[0.0, 1.0],
        axis_phi=[0.0, 1.0],
        is_pu=np.zeros(0, dtype=bool),
        n_constituents=6,
    )
    assert none.features.shape == (2, 6, 10)
    assert not none.mask.any()
    assert none.is_pu is not None
    assert not none.is_pu.any()
    # the model gives finite outputs for them (slot 0 is never masked out of the attention)
    assert all(np.isfinite(o).all() for o in _outputs(_tiny_model(), none.packed()))


@pytest.mark.parametrize(
    ("change", "name"),
    [
        ({"eta": [0.0, np.nan]}, "eta"),
        ({"dz": [0.0, np.inf]}, "dz"),
        ({"axis_phi": [0.0, 1.0]}, "axis_phi"),
        ({"pt": [1.0, 0.0]}, "pt"),
        ({"charge": [0.5, 1.0]}, "charge"),
        ({"offsets": [0, 3]}, "offsets"),
        ({"is_pu": [0, 2]}, "is_pu"),
    ],
)
def test_bad_inputs_name_the_argument(change: dict[str, object], name: str) -> None:
    args: dict[str, object] = {
        "offsets": [0, 2],
        "pt": [1.0, 2.0],
        "eta": [0.0, 0.1],
        "phi": [0.0, 0.1],
        "dz": [0.0, 1.0],
        "charge": [0, 1],
        "pid": [22, 211],
        "axis_eta": [0.0],
        "axis_phi": [0.0],
    }
    args |= change
    offsets = args.pop("offsets")
    with pytest.raises(DataFormatError) as err:
        transformer_inputs(offsets, **args)  # type: ignore[arg-type]
    text = str(err.value)
    assert text.startswith(f"{name}:")
    assert "\n" not in text


# ------------------------------------------------------------------ sizes


def test_parameter_count_at_the_seed_size() -> None:
    def linear(a: int, b: int) -> int:
        return a * b + b

    d, ff = 128, 512
    embedding = linear(10, 128) + linear(128, 512) + linear(512, 128)
    attention = linear(d, 3 * d) + linear(d, d)
    feed_forward = linear(d, ff) + linear(ff, d)
    norms = 2 * 2 * d
    heads = 5 * (linear(d, 128) + linear(128, 1))
    expected = embedding + attention + feed_forward + norms + heads
    assert expected == 414_597
    model = SoftTauTransformer(TransformerModelConfig())
    assert sum(p.numel() for p in model.parameters()) == expected
    assert transformer_op_count(TransformerModelConfig()).params == expected
    assert abs(expected - 400_000) / 400_000 < 0.05  # the seed's "~400k"


def test_operation_count_by_hand_and_against_torch() -> None:
    cfg = load_transformer_config({"model": TINY | {"n_layers": 2}}).model
    k, d, ff, h = 6, 16, 32, 8
    embed = k * 10 * d
    layer = k * (3 * d * d + d * d) + 2 * k * k * d + k * (d * ff + ff * d)
    heads = (4 + k) * (d * h + h)
    count = transformer_op_count(cfg)
    assert count.macs == embed + 2 * layer + heads
    assert count.params == sum(p.numel() for p in SoftTauTransformer(cfg).parameters())
    # torch's counter (training-mode path) counts every matmul but the two of the attention itself
    from torch.utils.flop_counter import FlopCounterMode

    model = SoftTauTransformer(cfg).train()
    x = torch.from_numpy(_random_inputs(1, k, seed=3).packed())
    with FlopCounterMode(display=False) as counter:
        model(x)
    assert counter.get_total_flops() == 2 * (count.macs - 2 * 2 * k * k * d)


# ------------------------------------------------------------------ masking


def _outputs(model: SoftTauTransformer, packed: np.ndarray) -> list[np.ndarray]:
    with torch.no_grad():
        return [o.numpy() for o in model(torch.from_numpy(packed))]


def test_padded_slots_do_not_change_the_outputs() -> None:
    model = _tiny_model()
    x = _random_inputs(20, 6, seed=1)
    assert not x.mask.all()
    assert x.mask[:, 0].all()
    clean = x.packed().reshape(20, 6, 11)
    garbage = clean.copy()
    rng = np.random.default_rng(2)
    noise = rng.normal(0, 5, garbage[..., :10].shape).astype(np.float32)
    garbage[..., :10] = np.where(x.mask[..., None], garbage[..., :10], noise)
    a = _outputs(model, clean.reshape(20, -1))
    b = _outputs(model, garbage.reshape(20, -1))
    for j in range(4):
        np.testing.assert_allclose(a[j], b[j], atol=1e-5)
    np.testing.assert_allclose(a[4][x.mask], b[4][x.mask], atol=1e-5)
    # and the padded candidate rows do not leak into each other: one at a time equals the batch
    one = _outputs(model, clean.reshape(20, -1)[7:8])
    np.testing.assert_allclose(one[0], a[0][7:8], atol=1e-5)


def test_outputs_are_permutation_invariant() -> None:
    model = _tiny_model()
    x = _random_inputs(30, 6, seed=4)
    full = np.flatnonzero(x.mask.sum(axis=1) >= 3)
    assert full.size > 5
    packed = x.packed().reshape(30, 6, 11)[full]
    rng = np.random.default_rng(5)
    permuted = packed.copy()
    perms = []
    for i in range(len(full)):
        n_real = int(x.mask[full[i]].sum())
        p = np.concatenate([rng.permutation(n_real), np.arange(n_real, 6)])
        permuted[i] = packed[i, p]
        perms.append(p)
    a = _outputs(model, packed.reshape(len(full), -1))
    b = _outputs(model, permuted.reshape(len(full), -1))
    for j in range(4):
        np.testing.assert_allclose(a[j], b[j], atol=1e-5)
    for i, p in enumerate(perms):
        real = x.mask[full[i]]
        np.testing.assert_allclose(b[4][i][real[p]], a[4][i][p][real[p]], atol=1e-5)
    # the heads are not constant: the check above is not vacuous
    assert np.ptp(a[0]) > 1e-3
    assert np.ptp(a[4][:, 0]) > 1e-3


# ------------------------------------------------------------------ training


def _synthetic(n: int, seed: int) -> tuple[TransformerInputs, TauTargets]:
    """Taus: 1-3 collimated constituents near a common vz plus pileup; fakes: wide sprays.

    The class is learnable from the spread and the multiplicity; the visible pT
    is the sum of the non-pileup constituents' pT.
    """
    rng = np.random.default_rng(seed)
    is_tau = rng.random(n) < 0.5
    off, cols = [0], {k: [] for k in ("pt", "eta", "phi", "dz", "charge", "pid", "pu")}
    tau_charge = rng.choice([-1, 1], n)
    vis_pt, vz = np.zeros(n), rng.normal(0, 40, n)
    for i in range(n):
        if is_tau[i]:
            n_sig = int(rng.integers(1, 4))
            q = np.zeros(n_sig, dtype=int)
            q[0] = tau_charge[i]
            if n_sig == 3:
                q = np.array([tau_charge[i], tau_charge[i], -tau_charge[i]])
            spread, pts = 0.03, rng.uniform(3, 15, n_sig)
            vis_pt[i] = pts.sum()
        else:
            n_sig = int(rng.integers(4, 9))
            q = rng.integers(-1, 2, n_sig)
            spread, pts = 0.25, rng.exponential(3, n_sig) + 0.5
        n_pu = int(rng.integers(0, 3))
        pu_q = rng.integers(-1, 2, n_pu)
        cols["pt"] += [*pts, *(rng.exponential(1, n_pu) + 0.5)]
        cols["eta"] += [*rng.normal(0, spread, n_sig), *rng.normal(0, 0.3, n_pu)]
        cols["phi"] += [*rng.normal(0, spread, n_sig), *rng.normal(0, 0.3, n_pu)]
        z_sig = (vz[i] + rng.normal(0, 1, n_sig)) * (q != 0)
        cols["dz"] += [*z_sig, *(rng.normal(0, 40, n_pu) * (pu_q != 0))]
        cols["charge"] += [*q, *pu_q]
        cols["pid"] += [*np.where(q != 0, 211 * q, 22), *np.where(pu_q != 0, 211, 0)]
        cols["pu"] += [0] * n_sig + [1] * n_pu
        off.append(off[-1] + n_sig + n_pu)
    x = transformer_inputs(
        np.array(off),
        pt=np.array(cols["pt"]),
        eta=np.array(cols["eta"]),
        phi=np.array(cols["phi"]),
        dz=np.array(cols["dz"]),
        charge=np.array(cols["charge"], dtype=int),
        pid=np.array(cols["pid"], dtype=int),
        axis_eta=np.zeros(n),
        axis_phi=np.zeros(n),
        is_pu=np.array(cols["pu"], dtype=int),
        n_constituents=6,
    )
    vz_truth = np.where(is_tau, vz, np.nan)
    return x, TauTargets(is_tau, np.where(is_tau, tau_charge, 0), vis_pt, vz_truth)


_TRAIN = {
    "learning_rate": 3e-3,
    "batch_size": 32,
    "max_epochs": 12,
    "patience": 4,
    "seed": 7,
    "threads": 1,
}


def test_training_lowers_the_loss_and_beats_chance() -> None:
    x, y = _synthetic(500, seed=10)
    cfg = load_transformer_config({"model": TINY, "train": _TRAIN})
    seen: list[int] = []
    result = train_transformer(x, y, cfg, on_epoch=lambda epoch, _m: seen.append(epoch))
    hist = result.history
    assert seen == list(range(len(hist)))
    assert len(hist) >= 5
    assert hist[result.best_epoch]["val_loss"] < 0.7 * hist[0]["val_loss"]
    assert {"val_tau", "val_charge", "val_pt", "val_vz", "val_pu", "lr"} <= set(hist[0])
    # the class head on fresh candidates: accuracy well above the 50% of chance
    xt, yt = _synthetic(300, seed=11)
    out = _outputs(result.model, xt.packed())
    accuracy = np.mean((out[0] > 0) == yt.is_tau)
    assert accuracy > 0.85
    # the pileup head separates pileup constituents (mean logit higher on them)
    assert xt.is_pu is not None
    pu_logit, real = out[4][xt.mask], xt.is_pu[xt.mask] > 0.5
    assert pu_logit[real].mean() > pu_logit[~real].mean()


def test_losses_by_hand() -> None:
    zeros = torch.zeros(2)
    logits = torch.tensor([0.0, 2.0])
    mask = torch.tensor([[True, False], [True, True]])
    pu_logit = torch.tensor([[0.0, 9.0], [0.0, 0.0]])
    outputs = (
        logits,
        logits,
        torch.log(torch.tensor([10.0, 30.0])),
        torch.tensor([0.5, 0.0]),
        pu_logit,
    )
    is_pu = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    weights = LossWeights(tau=1.0, charge=2.0, pt=3.0, vz=4.0, pu=5.0)
    # candidate 0 a fake, candidate 1 a tau of charge -1, visible pT 20 GeV, vz 10 mm
    is_tau, charge = torch.tensor([0.0, 1.0]), torch.tensor([0.0, -1.0])
    out = transformer_losses(
        outputs,
        is_tau,
        charge,
        torch.tensor([0.0, 20.0]),
        torch.tensor([0.0, 10.0]),
        mask,
        is_pu,
        weights,
    )
    bce0 = math.log(2.0)  # logit 0, either label
    tau = (bce0 + math.log1p(math.exp(-2.0))) / 2
    charge_loss = math.log1p(math.exp(2.0))  # logit 2 against label 0 (charge -1)
    pt = abs(30.0 - 20.0) / 20.0
    vz = abs(0.0 - 10.0 / 100.0)
    pu = bce0  # three real constituents, all at logit 0; the padded logit 9 is ignored
    expected = {"tau": tau, "charge": charge_loss, "pt": pt, "vz": vz, "pu": pu}
    for name, value in expected.items():
        assert float(out[name]) == pytest.approx(value, rel=1e-5), name
    total = tau + 2 * charge_loss + 3 * pt + 4 * vz + 5 * pu
    assert float(out["loss"]) == pytest.approx(total, rel=1e-5)
    # a batch of fakes only: the tau-only losses are zero, and without IsPU the pileup one too
    fakes = transformer_losses(outputs, zeros, zeros, zeros, zeros, mask, None, weights)
    assert [float(fakes[n]) for n in ("charge", "pt", "vz", "pu")] == [0.0] * 4


def test_training_is_deterministic_under_a_seed() -> None:
    x, y = _synthetic(120, seed=12)
    cfg = load_transformer_config({"model": TINY, "train": _TRAIN | {"max_epochs": 2}})
    a = train_transformer(x, y, cfg).model.state_dict()
    before = torch.random.get_rng_state()
    b = train_transformer(x, y, cfg).model.state_dict()
    assert torch.equal(before, torch.random.get_rng_state())  # the caller's generator untouched
    assert all(torch.equal(a[name], b[name]) for name in a)


def test_early_stopping_and_the_plateau_schedule() -> None:
    x, y = _synthetic(80, seed=14)
    # a learning rate too small to move the loss: no epoch after the first improves by min_delta
    frozen = _TRAIN | {"learning_rate": 1e-12, "min_delta": 1.0, "patience": 3, "lr_patience": 0}
    cfg = load_transformer_config({"model": TINY, "train": frozen | {"max_epochs": 10}})
    result = train_transformer(x, y, cfg)
    assert len(result.history) == 4  # epochs 1, 2, 3 without improvement, then stop
    assert result.stopped_early
    assert result.best_epoch == 0
    # ReduceLROnPlateau (patience 0, factor 0.5): halves after every epoch from the second
    lrs = [m["lr"] for m in result.history]
    assert lrs == pytest.approx([1e-12, 1e-12, 5e-13, 2.5e-13], rel=1e-9)
    # the best epoch's weights are restored: those of a one-epoch training
    one = train_transformer(
        x, y, load_transformer_config({"model": TINY, "train": frozen | {"max_epochs": 1}})
    )
    assert not one.stopped_early
    best, first = result.model.state_dict(), one.model.state_dict()
    assert all(torch.equal(best[name], first[name]) for name in best)


def test_bad_targets_are_refused() -> None:
    x, y = _synthetic(20, seed=13)
    bad_charge = TauTargets(y.is_tau, np.zeros(20, dtype=int), y.pt, y.vz)
    cfg = load_transformer_config({"model": TINY, "train": _TRAIN})
    with pytest.raises(DataFormatError, match=r"^inputs targets\.charge: expected \+1 or -1"):
        train_transformer(x, bad_charge, cfg)
    with pytest.raises(DataFormatError, match=r"^inputs\.features: expected shape \(n, 16, 10\)"):
        train_transformer(x, y, load_transformer_config({}))


# ------------------------------------------------------------------ ONNX


def test_onnx_parity_with_a_dynamic_batch_axis(tmp_path: Path) -> None:
    model = _tiny_model(seed=3)
    path = export_transformer(model, tmp_path / "tau.onnx")
    onnx_model = OnnxModel(path)
    assert onnx_model.output_names == list(OUTPUT_NAMES)
    for n in (2, 7):
        packed = _random_inputs(n, 6, seed=n).packed()
        assert onnx_parity(model, path, packed) <= 1e-5
        shapes = [o.shape for o in onnx_model.run(packed)]
        assert shapes == [(n,), (n,), (n,), (n,), (n, 6)]


# ------------------------------------------------------------------ configuration


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"model": {"heads": 4}}, "transformer: model.heads: Extra inputs are not permitted"),
        ({"train": {"lr": 1.0}}, "transformer: train.lr: Extra inputs are not permitted"),
        ({"model": {"embed_dims": [16], "n_heads": 3}}, "transformer: model: n_heads: must divide"),
        ({"model": {"embed_dims": [16, 0]}}, "transformer: model.embed_dims[1]: Input should be"),
        ({"train": {"loss_weights": {"pt": -1.0}}}, "transformer: train.loss_weights.pt: Input"),
        ({"train": {"batch_size": 0}}, "transformer: train.batch_size: Input should be greater"),
    ],
)
def test_bad_configuration_names_the_field(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_transformer_config(data)
    text = str(err.value)
    assert text.startswith(message)
    assert "\n" not in text


def test_configuration_from_a_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text('[model]\nembed_dims = [32]\nn_heads = 4\n[train]\nbatch_size = "20"\n')
    with pytest.raises(ConfigError, match=r"t\.toml: train\.batch_size: expected a number"):
        load_transformer_config(path)
