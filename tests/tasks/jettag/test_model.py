"""The DeepSets jet tagger: layout, masking, a slow reference, standardisation, ONNX."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydantic
import pytest
import torch

from l1scout.deploy.fixedpoint import FixedPoint, QuantSpec
from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.jettag.model import (
    JETTAG_SPEC,
    N_OUTPUTS,
    JetTagDeepSets,
    JetTagModelConfig,
    export_jettag_onnx,
    fit_standardization,
    flat_jettag_inputs,
    jettag_onnx_parity,
)

N, F = 16, 21


def random_jets(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Jets with 0 ... 16 real constituents (leading slots), garbage in the padded slots."""
    x = (rng.standard_t(df=4, size=(n, N, F)) * 2.0 + rng.normal(size=F)).astype(np.float32)
    count = rng.integers(0, N + 1, size=n)
    mask = np.arange(N)[None, :] < count[:, None]
    x[~mask] = rng.normal(size=int((~mask).sum()))[:, None] * 50.0
    return x, mask


def spread_model(
    config: JetTagModelConfig | None = None, seed: int = 0, width: float = 0.6
) -> JetTagDeepSets:
    """A model with weights spread over +-width (so roundings and saturations happen)."""
    torch.manual_seed(seed)
    model = JetTagDeepSets(config or JetTagModelConfig())
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-width, width)
    return model.eval()


def run(model: JetTagDeepSets, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        out: np.ndarray = model(torch.from_numpy(x), torch.from_numpy(mask)).numpy()
    return out


def slow_reference(model: JetTagDeepSets, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Jet by jet, constituent by constituent, in float64 with ``FixedPoint.quantize_numpy``."""
    cfg = model.config
    fm = cfg.formats
    q = cfg.quantized

    def qz(v: np.ndarray, fmt: FixedPoint) -> np.ndarray:
        return fmt.quantize_numpy(np.asarray(v, dtype=np.float64)) if q else v

    phi = [qz(layer.weight.detach().double().numpy(), fm.weight) for layer in model.phi_layers]
    rho = [
        (
            qz(layer.weight.detach().double().numpy(), fm.weight),
            qz(layer.bias.detach().double().numpy(), fm.bias),
        )
        for layer in model.rho_layers
    ]
    offset = model.offset.numpy()
    scale = model.scale.numpy()
    out = np.zeros((x.shape[0], N_OUTPUTS))
    for j in range(x.shape[0]):
        pooled = np.zeros(model.n_phi)
        for c in range(N):
            if not mask[j, c]:
                continue  # a padded constituent contributes nothing
            h = qz(((x[j, c] - offset) * scale).astype(np.float64), fm.input)
            for w in phi:
                h = qz(np.maximum(w @ np.append(h, 1.0), 0.0), fm.activation)
            pooled += h
        z = pooled / N if cfg.pooling == "mean" else pooled
        for k, (w, b) in enumerate(rho):
            z = w @ z + b
            z = qz(np.maximum(z, 0.0), fm.activation) if k < len(rho) - 1 else qz(z, fm.output)
        out[j] = z
    return out.astype(np.float32)


def test_forward_shape_and_default_layout() -> None:
    model = JetTagDeepSets(JetTagModelConfig())
    x, mask = random_jets(np.random.default_rng(0), 5)
    out = run(model.eval(), x, mask)
    assert out.shape == (5, 9)
    assert out.dtype == np.float32
    assert [layer.in_features for layer in model.phi_layers] == [22, 33]
    assert [layer.out_features for layer in model.rho_layers] == [32, 9]
    assert all(layer.bias is None for layer in model.phi_layers)


@pytest.mark.parametrize(
    "config",
    [
        JetTagModelConfig(),
        JetTagModelConfig(pooling="sum", phi_widths=(16, 8, 8), rho_widths=(16, 8)),
        JetTagModelConfig(quantized=False),
        JetTagModelConfig(quantized=False, pooling="sum", rho_widths=()),
    ],
)
def test_equals_a_slow_per_constituent_reference(config: JetTagModelConfig) -> None:
    model = spread_model(config, seed=1, width=0.4)
    x, mask = random_jets(np.random.default_rng(1), 300)
    fit_standardization(model, x, mask)
    got, want = run(model, x, mask), slow_reference(model, x, mask)
    if config.quantized:
        assert np.array_equal(got, want)
        lsb = config.formats.output.lsb
        assert np.array_equal(got / lsb, np.round(got / lsb))  # on the output grid
    else:
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("quantized", [True, False])
def test_padded_slots_and_their_order_do_not_matter(quantized: bool) -> None:
    rng = np.random.default_rng(2)
    model = spread_model(JetTagModelConfig(quantized=quantized), seed=2)
    x, mask = random_jets(rng, 200)
    fit_standardization(model, x, mask)
    ref = run(model, x, mask)
    # other garbage in the padded slots
    x2 = x.copy()
    x2[~mask] = 1e4
    assert np.array_equal(run(model, x2, mask), ref)
    # constituents and padding in any slot order (the same permutation per jet)
    perm = np.stack([rng.permutation(N) for _ in range(x.shape[0])])
    xp = np.take_along_axis(x, perm[..., None], axis=1)
    mp = np.take_along_axis(mask, perm, axis=1)
    got = run(model, xp, mp)
    if quantized:
        assert np.array_equal(got, ref)  # exact sums: any order gives the same bits
    else:
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_an_empty_jet_gives_rho_of_zero() -> None:
    model = spread_model(seed=3)
    x, _ = random_jets(np.random.default_rng(3), 4)
    out = run(model, x, np.zeros((4, N), dtype=bool))
    assert np.all(np.isfinite(out))
    assert np.array_equal(out, np.repeat(out[:1], 4, axis=0))
    fm = JETTAG_SPEC
    (_, b0), (w1, b1) = (
        (
            fm.weight.quantize_numpy(layer.weight.detach().double().numpy()),
            fm.bias.quantize_numpy(layer.bias.detach().double().numpy()),
        )
        for layer in model.rho_layers
    )
    h = fm.activation.quantize_numpy(np.maximum(b0, 0.0))  # rho's first layer on zeros
    want = fm.output.quantize_numpy(w1 @ h + b1).astype(np.float32)
    assert np.array_equal(out[0], want)


def test_sum_and_mean_pooling_differ_by_the_slot_count() -> None:
    x, mask = random_jets(np.random.default_rng(4), 50)
    cfg = JetTagModelConfig(quantized=False, rho_widths=())
    mean = spread_model(cfg, seed=4)
    total = spread_model(cfg.model_copy(update={"pooling": "sum"}), seed=4)
    with torch.no_grad():
        total.rho_layers[0].weight.mul_(1.0 / N)  # rho linear: sum / 16 == mean
    np.testing.assert_allclose(run(mean, x, mask), run(total, x, mask), rtol=1e-5, atol=1e-6)


def test_fit_standardization_uses_real_constituents_only() -> None:
    rng = np.random.default_rng(5)
    x, mask = random_jets(rng, 2000)
    x[..., 0] = np.where(mask, rng.normal(40.0, 12.0, size=mask.shape), 1e6)
    x[..., 1] = 3.0  # constant
    model = JetTagDeepSets(JetTagModelConfig())
    fit_standardization(model, x, mask)
    offset, scale = model.offset.numpy(), model.scale.numpy()
    real = x[mask].astype(np.float64)
    lsb = JETTAG_SPEC.input.lsb
    assert np.all(np.abs(offset - real.mean(axis=0)) <= 0.5 * lsb / scale)
    grid = offset.astype(np.float64) * scale / lsb
    assert np.array_equal(grid, np.round(grid))  # a fixed-point constant of the input format
    assert offset[0] == pytest.approx(40.0, abs=1.0)
    assert scale[1] == 1.0
    mant, _ = np.frexp(scale)
    assert np.all(mant == 0.5)  # powers of two
    spread = real.std(axis=0)[[0, *range(2, F)]] * scale[[0, *range(2, F)]]
    assert np.all((spread > 0.5) & (spread <= 1.0))
    x[0, 0, 0] = np.nan
    mask[0, 0] = True
    with pytest.raises(DataFormatError, match="non-finite"):
        fit_standardization(model, x, mask)
    with pytest.raises(DataFormatError, match=r"\(n, 16, 21\)"):
        fit_standardization(model, x[:, :8], mask[:, :8])


def test_quantization_aware_training_gets_gradients() -> None:
    model = spread_model(seed=6).train()
    x, mask = random_jets(np.random.default_rng(6), 64)
    fit_standardization(model, x, mask)
    out = model(torch.from_numpy(x), torch.from_numpy(mask))
    loss = torch.nn.functional.cross_entropy(out[:, :8], torch.zeros(64, dtype=torch.long))
    (loss + out[:, 8].pow(2).mean()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert float(p.grad.abs().sum()) > 0.0, name


def test_config_is_closed_and_checked() -> None:
    with pytest.raises(pydantic.ValidationError):
        JetTagModelConfig(width=3)  # type: ignore[call-arg]
    with pytest.raises(pydantic.ValidationError, match="mask bit"):
        JetTagModelConfig(formats=QuantSpec(activation=FixedPoint(6, 0, signed=False)))
    with pytest.raises(pydantic.ValidationError, match="phi_widths"):
        JetTagModelConfig(phi_widths=())
    cfg = JetTagModelConfig.model_validate(
        {"formats": {"weight": {"width": 6, "integer": 2}}, "phi_widths": [8]}
    )
    assert cfg.formats.weight == FixedPoint(6, 2)
    assert cfg.n_outputs == 9
    with pytest.raises(ConfigError, match="power-of-two"):
        JetTagDeepSets(JetTagModelConfig(), n_constituents=12)
    JetTagDeepSets(JetTagModelConfig(pooling="sum"), n_constituents=12)


@pytest.mark.parametrize("quantized", [True, False])
def test_onnx_parity_with_a_dynamic_batch(tmp_path: Path, quantized: bool) -> None:
    model = spread_model(JetTagModelConfig(quantized=quantized), seed=7, width=0.3)
    x, mask = random_jets(np.random.default_rng(7), 257)
    fit_standardization(model, x, mask)
    path = export_jettag_onnx(model, tmp_path / "jettag.onnx")
    assert jettag_onnx_parity(model, path, x, mask) <= 1e-5
    assert jettag_onnx_parity(model, path, x[:1], mask[:1]) <= 1e-5
    flat = flat_jettag_inputs(x, mask)
    assert flat.shape == (257, N * (F + 1))
    assert np.array_equal(flat.reshape(257, N, F + 1)[..., F], mask.astype(np.float32))
