"""The three classifiers: sizes, standardisation, padding and permutation invariance, ONNX parity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from l1scout.errors import DataFormatError
from l1scout.tasks.classify.models import (
    ClassifierModelConfig,
    EventClassifier,
    build_classifier,
    classifier_onnx_parity,
    export_classifier_onnx,
    fit_standardization,
)

N_CLASSES = 18
SHAPES = {"transformer": (13, 37), "mlp": (247, 1), "particles": (14, 128)}


def _small(kind: str) -> ClassifierModelConfig:
    return ClassifierModelConfig(
        kind=kind, width=16, n_heads=2, n_layers=2, ff_dim=24, hidden=16, dropout=0.0
    )


def _model(kind: str, seed: int = 0) -> EventClassifier:
    torch.manual_seed(seed)
    n_features, n_tokens = SHAPES[kind]
    return build_classifier(_small(kind), n_features, n_tokens, N_CLASSES).eval()


def _inputs(kind: str, n: int = 16, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    n_features, n_tokens = SHAPES[kind]
    if kind == "mlp":
        return 30.0 * torch.randn(n, n_features, generator=gen), torch.ones(n, 1, dtype=torch.bool)
    x = 5.0 + 20.0 * torch.randn(n, n_tokens, n_features, generator=gen)
    mask = torch.rand(n, n_tokens, generator=gen) < 0.4
    mask[0] = True  # a full event
    mask[1] = False  # an empty event
    mask[2, :] = False
    mask[2, 5] = True  # one real token, not in slot 0
    return x, mask


def test_defaults_are_the_public_sizes() -> None:
    cfg = ClassifierModelConfig(kind="transformer")
    assert (cfg.width, cfg.n_heads, cfg.n_layers, cfg.ff_dim, cfg.hidden) == (512, 8, 4, 256, 512)
    model = build_classifier(cfg, 13, 37, N_CLASSES)
    layer = model.encoder[0]  # type: ignore[index]
    assert layer.self_attn.num_heads == 8
    assert layer.linear1.out_features == 256
    assert len(model.encoder) == 4  # type: ignore[arg-type]
    mlp = build_classifier(ClassifierModelConfig(kind="mlp"), 247, 1, N_CLASSES)
    widths = [m.out_features for m in mlp.modules() if isinstance(m, torch.nn.Linear)]
    assert widths == [512, 512, N_CLASSES]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "transformer", "width": 30, "n_heads": 8}, "n_heads"),
        ({"kind": "mlp", "heads": 4}, "heads"),
        ({"kind": "bdt"}, "kind"),
        ({"kind": "mlp", "dropout": 1.0}, "dropout"),
    ],
)
def test_bad_configuration_names_the_field(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ClassifierModelConfig(**data)  # type: ignore[arg-type]


def test_standardization_is_the_mean_and_std_of_real_entries() -> None:
    model = _model("particles")
    x, mask = _inputs("particles")
    x[..., 3] = 7.0  # a constant feature keeps std 1
    fit_standardization(model, x, mask)
    real = x[mask].double().numpy()
    np.testing.assert_allclose(model.x_mean.numpy(), real.mean(axis=0), rtol=1e-5)
    expected_std = real.std(axis=0)
    expected_std[3] = 1.0
    np.testing.assert_allclose(model.x_std.numpy(), expected_std, rtol=1e-5)
    # the buffers travel with the state dict
    assert {"x_mean", "x_std"} <= set(model.state_dict())


def test_standardization_refuses_bad_inputs() -> None:
    model = _model("transformer")
    x, mask = _inputs("transformer")
    with pytest.raises(DataFormatError, match="mask: expected shape"):
        fit_standardization(model, x, mask[:, :10])
    with pytest.raises(DataFormatError, match="x: expected shape"):
        fit_standardization(model, x[..., :5], mask)
    x[0, 0, 0] = float("nan")
    with pytest.raises(DataFormatError, match="NaN"):
        fit_standardization(model, x, mask)


@pytest.mark.parametrize("kind", ["transformer", "particles"])
def test_padded_tokens_do_not_change_the_logits(kind: str) -> None:
    model = _model(kind)
    x, mask = _inputs(kind)
    fit_standardization(model, x, mask)
    with torch.no_grad():
        ref = model(x, mask)
        garbage = torch.where(mask.unsqueeze(-1), x, 1e3 * torch.randn_like(x))
        np.testing.assert_allclose(model(garbage, mask).numpy(), ref.numpy(), rtol=1e-5, atol=1e-5)
        # more padded slots at the end: the same logits
        extra = torch.cat([x, torch.randn(x.shape[0], 5, x.shape[2])], dim=1)
        extra_mask = torch.cat([mask, torch.zeros(x.shape[0], 5, dtype=torch.bool)], dim=1)
        np.testing.assert_allclose(
            model(extra, extra_mask).numpy(), ref.numpy(), rtol=1e-5, atol=1e-5
        )


@pytest.mark.parametrize("kind", ["transformer", "particles"])
def test_set_models_are_permutation_invariant(kind: str) -> None:
    model = _model(kind)
    x, mask = _inputs(kind)
    fit_standardization(model, x, mask)
    perm = torch.randperm(x.shape[1], generator=torch.Generator().manual_seed(5))
    keep = ~(~mask).all(dim=1)  # events with a real token (an empty event has no order to permute)
    with torch.no_grad():
        ref = model(x, mask)[keep]
        got = model(x[:, perm], mask[:, perm])[keep]
    np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["transformer", "particles", "mlp"])
def test_logits_are_finite_on_empty_events_and_in_training_mode(kind: str) -> None:
    model = _model(kind)
    x, mask = _inputs(kind)
    if kind != "mlp":
        mask[:] = False
    with torch.no_grad():
        assert torch.isfinite(model(x, mask)).all()
    model.train()
    logits = model(x, mask)
    assert logits.shape == (x.shape[0], N_CLASSES)
    assert torch.isfinite(logits).all()
    logits.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_mlp_ignores_the_mask() -> None:
    model = _model("mlp")
    x, mask = _inputs("mlp")
    with torch.no_grad():
        np.testing.assert_array_equal(model(x, mask).numpy(), model(x, ~mask).numpy())


@pytest.fixture
def one_thread() -> object:
    """Torch on one thread (the test machine's cores are shared: more threads are slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("kind", ["transformer", "particles"])
def test_set_models_learn_to_count_real_tokens(kind: str) -> None:
    """Class = more than 3 real tokens, pT random: only the mask (the multiplicity) tells."""
    torch.manual_seed(0)
    cfg = ClassifierModelConfig(
        kind=kind, width=16, n_heads=2, n_layers=1, ff_dim=24, hidden=16, dropout=0.0
    )
    model = build_classifier(cfg, 13, 37, 2)
    gen = torch.Generator().manual_seed(2)
    n = 128
    n_real = torch.randint(0, 8, (n,), generator=gen)
    mask = torch.arange(37)[None, :] < n_real[:, None]
    x = torch.zeros(n, 37, 13)
    x[..., 0] = torch.rand(n, 37, generator=gen) * 50.0
    x[..., 8] = 1.0  # all tokens in the first group
    y = (n_real > 3).long()
    fit_standardization(model, x, mask)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x, mask), y)
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(x, mask).argmax(dim=1) == y).float().mean().item()
    assert accuracy > 0.95


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["transformer", "mlp", "particles"])
def test_onnx_parity_with_a_dynamic_batch(kind: str, tmp_path: Path) -> None:
    model = _model(kind)
    x, mask = _inputs(kind, n=40)
    fit_standardization(model, x, mask)
    path = export_classifier_onnx(model, tmp_path / f"{kind}.onnx", x, mask)
    assert path.is_file()
    # every batch size, empty events included
    assert classifier_onnx_parity(model, path, x, mask) <= 1e-5
    assert classifier_onnx_parity(model, path, x[1:2].numpy(), mask[1:2].numpy()) <= 1e-5
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["x", "mask"]
    out = session.run(None, {"x": x.numpy(), "mask": mask.numpy()})[0]
    assert out.shape == (40, N_CLASSES)
    assert np.isfinite(out).all()


def test_export_refuses_inputs_of_the_wrong_shape(tmp_path: Path) -> None:
    model = _model("particles")
    x, mask = _inputs("transformer")
    with pytest.raises(DataFormatError, match="x: expected shape"):
        export_classifier_onnx(model, tmp_path / "m.onnx", x, mask)
    assert not (tmp_path / "m.onnx").exists()
