"""The MLPF transformer (l1scout.tasks.mlpf.model): windows, equivariance, padding, ONNX, training."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from l1scout.tasks.mlpf.features import (
    INPUT_WIDTH,
    TOWER,
    TOWER_COLUMNS,
    TRACK,
    TRACK_COLUMNS,
    element_features,
    pad_events,
)
from l1scout.tasks.mlpf.loss import TargetBatch, mlpf_loss
from l1scout.tasks.mlpf.model import (
    OUTPUT_NAMES,
    MLPFModel,
    MLPFModelConfig,
    export_mlpf,
    mlpf_onnx_parity,
)
from l1scout.tasks.mlpf.targets import CLASS_NAMES


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """One torch thread: small models gain nothing from more, and thread barriers stall under load."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _config(**kw: object) -> MLPFModelConfig:
    base: dict[str, object] = {
        "width": 16,
        "n_heads": 2,
        "n_layers": 2,
        "ff_dim": 32,
        "head_hidden": 16,
        "bin_size": 8,
    }
    return MLPFModelConfig.model_validate(base | kw)


def _model(seed: int = 0, **kw: object) -> MLPFModel:
    torch.manual_seed(seed)
    return MLPFModel(_config(**kw)).eval()


def _events(batch: int, n: int, n_real: list[int] | None = None, seed: int = 0) -> torch.Tensor:
    """Random inputs ``(batch, n, 17)``: the first ``n_real[i]`` slots real, sorted by eta."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(batch, n, INPUT_WIDTH)
    for i, k in enumerate(n_real or [n] * batch):
        x[i, :k, 0] = torch.where(torch.rand(k, generator=g) < 0.4, float(TRACK), float(TOWER))
        x[i, :k, 1] = torch.sort(torch.rand(k, generator=g) * 6 - 3).values
        x[i, :k, 2] = torch.rand(k, generator=g) * 6 - 3
        x[i, :k, 3:] = torch.randn(k, INPUT_WIDTH - 3, generator=g)
    return x


def _run(model: MLPFModel, x: torch.Tensor) -> list[torch.Tensor]:
    with torch.no_grad():
        return list(model(x))


def _dense_reference(model: MLPFModel, x: torch.Tensor) -> list[torch.Tensor]:
    """The model with dense N x N attention and a block-diagonal mask, one event at a time."""
    cfg = model.config
    w, nh, d = cfg.bin_size, cfg.n_heads, cfg.width
    outs: list[list[torch.Tensor]] = [[] for _ in OUTPUT_NAMES]
    with torch.no_grad():
        for ev in x:
            n = ev.shape[0]
            kind, feats = ev[:, 0], ev[:, 3:]
            h = (kind == TRACK).float()[:, None] * model.encode_track(feats) + (
                kind == TOWER
            ).float()[:, None] * model.encode_tower(feats)
            real = kind > 0.5
            pos = torch.arange(n)
            for layer in model.layers:
                window = (pos + layer.shift) // w  # the window of each element
                allowed = (window[:, None] == window[None, :]) & real[None, :]
                a = layer.norm1(h)
                q, k, v = layer.attn.qkv(a).reshape(n, 3, nh, d // nh).permute(1, 2, 0, 3)
                scores = q @ k.transpose(-1, -2) / math.sqrt(d // nh)
                scores = scores.masked_fill(~allowed, -torch.inf)
                att = (scores.softmax(-1) @ v).transpose(0, 1).reshape(n, d)
                h = h + layer.attn.out(att)
                h = h + layer.ffn(layer.norm2(h))
                h = torch.where(real[:, None], h, 0.0)  # padding rows: no key, no value
            h = model.norm(h)
            reg = model.regression_head(h)
            reg = torch.cat([reg[:, :1], reg[:, 1:4] + feats[:, 1:4], reg[:, 4:]], dim=-1)
            for i, o in enumerate(
                (model.particle_head(h), model.class_head(h), reg, model.pileup_head(h))
            ):
                outs[i].append(o)
    return [torch.stack(o) for o in outs]


def test_shapes_and_config() -> None:
    model = _model()
    out = _run(model, _events(3, 20))  # not a multiple of the window: padded inside
    assert [tuple(o.shape) for o in out] == [
        (3, 20, 2),
        (3, 20, len(CLASS_NAMES)),
        (3, 20, 5),
        (3, 20, 2),
    ]
    assert all(torch.isfinite(o).all() for o in out)
    default = MLPFModelConfig()  # the published CMS size: 3 layers, 16 heads of 16
    assert (default.n_layers, default.n_heads, default.width) == (3, 16, 256)
    with pytest.raises(ValidationError, match="n_heads: must divide width"):
        _config(n_heads=3)
    with pytest.raises(ValidationError, match="bin_size: must be even"):
        _config(bin_size=7)
    with pytest.raises(ValidationError, match="Extra inputs"):
        _config(heads=2)


@pytest.mark.parametrize("shifted", [False, True])
def test_windowed_attention_equals_dense_block_diagonal(shifted: bool) -> None:
    model = _model(shifted_windows=shifted, n_layers=3)
    x = _events(2, 32, n_real=[32, 19], seed=3)
    got, ref = _run(model, x), _dense_reference(model, x)
    real = x[..., 0] > 0
    for g, r in zip(got, ref, strict=True):
        torch.testing.assert_close(g[real], r[real], atol=2e-5, rtol=1e-5)


def test_permutation_equivariance_in_one_window() -> None:
    model = _model(shifted_windows=False, bin_size=32)
    x = _events(1, 32, n_real=[25], seed=4)
    perm = torch.cat(
        [torch.randperm(25, generator=torch.Generator().manual_seed(1)), torch.arange(25, 32)]
    )
    out, out_p = _run(model, x), _run(model, x[:, perm])
    for o, op in zip(out, out_p, strict=True):
        torch.testing.assert_close(op[0, :25], o[0, perm[:25]], atol=1e-5, rtol=1e-5)


def test_element_outputs_do_not_depend_on_the_input_order() -> None:
    """pad_events sorts by (eta, phi): shuffling the collections permutes the outputs, with windows."""
    rng = np.random.default_rng(9)
    n_trk, n_twr = 30, 50
    tracks = {c: rng.uniform(0.5, 2.0, n_trk) for c in TRACK_COLUMNS}
    tracks |= {"EtaOuter": rng.uniform(-3, 3, n_trk), "PhiOuter": rng.uniform(-3, 3, n_trk)}
    towers = {c: rng.uniform(0.5, 2.0, n_twr) for c in TOWER_COLUMNS}
    towers |= {"Eta": rng.uniform(-3, 3, n_twr), "Phi": rng.uniform(-3, 3, n_twr)}
    p_trk, p_twr = rng.permutation(n_trk), rng.permutation(n_twr)
    shuffled_tracks = {c: v[p_trk] for c, v in tracks.items()}
    shuffled_towers = {c: v[p_twr] for c, v in towers.items()}
    model = _model(shifted_windows=True, n_layers=3)
    flat = []
    for trk, twr in ((tracks, towers), (shuffled_tracks, shuffled_towers)):
        batch = pad_events(element_features(trk, [0, n_trk], twr, [0, n_twr]), multiple=8)
        out = _run(model, torch.from_numpy(batch.x))[2][0].numpy()
        per_element = np.zeros((n_trk + n_twr, out.shape[-1]), dtype=np.float32)
        per_element[batch.index[0][batch.mask[0]]] = out[batch.mask[0]]
        flat.append(per_element)
    unshuffle = np.concatenate(
        [p_trk, n_trk + p_twr]
    )  # shuffled element i is original unshuffle[i]
    np.testing.assert_allclose(flat[1], flat[0][unshuffle], atol=1e-5)


def test_windows_limit_and_shifts_spread_information() -> None:
    x = _events(1, 32, seed=5)
    x2 = x.clone()
    x2[0, 8, 3:] += 1.0  # change the first element of window 1
    plain = _model(shifted_windows=False)
    a, b = _run(plain, x)[2], _run(plain, x2)[2]
    assert torch.equal(a[0, :8], b[0, :8])  # window 0 never sees window 1
    assert not torch.allclose(a[0, 8:16], b[0, 8:16])
    shifted = _model(shifted_windows=True)  # layer 2 windows: [0, 4), [4, 12), ...
    a, b = _run(shifted, x)[2], _run(shifted, x2)[2]
    assert not torch.allclose(a[0, 4:8], b[0, 4:8])  # crossed the edge at 8
    assert torch.equal(a[0, :4], b[0, :4])  # but not two windows in two layers


def test_padding_changes_no_real_output() -> None:
    model = _model(shifted_windows=True, n_layers=3)
    x = _events(1, 21, seed=6)
    longer = torch.cat([x, torch.zeros(1, 27, INPUT_WIDTH)], dim=1)
    batch = torch.cat([longer, _events(1, 48, seed=7)])  # padded next to a longer event
    for out in (_run(model, longer), _run(model, batch)):
        for o, r in zip(out, _run(model, x), strict=True):
            torch.testing.assert_close(o[0, :21], r[0], atol=1e-6, rtol=1e-6)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[MLPFModel, Path]:
    model = _model(seed=11, n_layers=3)
    return model, export_mlpf(model, tmp_path_factory.mktemp("mlpf") / "mlpf.onnx")


def test_onnx_parity_on_events_of_different_sizes(exported: tuple[MLPFModel, Path]) -> None:
    import onnx

    model, path = exported
    dims = [
        d.dim_param or d.dim_value
        for d in onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim
    ]
    assert dims[0] == "batch"
    assert "nbins" in str(dims[1])
    assert dims[2] == INPUT_WIDTH
    for batch, n, real in [(1, 8, [5]), (3, 24, [24, 1, 17]), (2, 64, [60, 33]), (5, 16, [16] * 5)]:
        x = _events(batch, n, n_real=real, seed=n)
        parity = mlpf_onnx_parity(model, path, x.numpy(), threads=1)
        assert parity.regression <= 1e-4
        assert parity.same_argmax


def test_tiny_training_reduces_the_loss() -> None:
    """A toy rule: towers with features[0] > 0 and all tracks are particles; pT = 1.5 x element."""
    torch.manual_seed(0)
    model = MLPFModel(_config(n_layers=1))
    x = _events(8, 16, seed=8)
    kind, feats = x[..., 0], x[..., 3:]
    is_part = ((kind == TRACK) | (feats[..., 0] > 0)).long()
    cls = torch.where(kind == TRACK, 1, 3) * is_part
    reg = torch.stack(
        [
            torch.full_like(kind, math.log(1.5)),
            feats[..., 1],
            feats[..., 2],
            feats[..., 3],
            torch.zeros_like(kind),
        ],
        dim=-1,
    )
    targets = TargetBatch(
        mask=kind > 0,
        is_particle=is_part,
        cls=cls,
        regression=reg,
        pt=torch.full_like(kind, 4.0),
        pileup=(feats[..., 4] > 0).long(),
    )
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = mlpf_loss(model(x), targets)["total"]
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.3 * losses[0]
