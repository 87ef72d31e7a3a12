"""The anomaly models: shapes, initialisation, loss formulas, scores and the deployed parts."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.anomaly.config import TrainConfig, VAEConfig, VICRegConfig
from l1scout.tasks.anomaly.models import (
    VAE,
    AnomalyModel,
    VICReg,
    build_model,
    kl_divergence,
    vae_loss,
    vicreg_loss,
)


def _weights(module: nn.Module) -> list[tuple[int, ...]]:
    """Shapes of the 2-d parameters (dense weights), in order."""
    return [tuple(p.shape) for p in module.parameters() if p.ndim == 2]


def _x(n: int = 64, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 57, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(
    ("hidden", "dense"),
    [((32, 16), [(32, 57), (16, 32), (8, 16)]), ((28, 15), [(28, 57), (15, 28), (8, 15)])],
)
@pytest.mark.parametrize("quantized", [True, False])
def test_vae_encoder_shapes(
    hidden: tuple[int, ...], dense: list[tuple[int, ...]], quantized: bool
) -> None:
    model = build_model(VAEConfig(name="v", hidden=hidden, quantized=quantized))
    assert isinstance(model, VAE)
    assert isinstance(model, AnomalyModel)
    enc = model.deployable()
    assert _weights(enc) == dense  # 57-32-16-8 / 57-28-15-8
    x = _x()
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (64, 8)
    x_hat, _, _ = model(x)
    assert x_hat.shape == (64, 57)
    assert enc(x).shape == (64, 8)
    # the decoder mirrors the encoder: 8 -> 16 -> 32 -> 57
    assert _weights(model.decoder) == [(hidden[1], 8), (hidden[0], hidden[1]), (57, hidden[0])]
    assert model.score(x).shape == (64,)
    assert model.score(x).dtype == torch.float64


def test_quantized_encoder_outputs_are_fixed_point_and_float_is_not() -> None:
    x = _x(256)
    q = build_model(VAEConfig(name="q", quantized=True))
    lsb = q.cfg.quant.output.lsb
    mu = q.deployable()(x).detach().numpy().astype(np.float64)
    assert np.array_equal(mu / lsb, np.round(mu / lsb))
    f = build_model(VAEConfig(name="f", quantized=False))
    mu_f = f.deployable()(x).detach().numpy().astype(np.float64)
    assert not np.array_equal(mu_f / lsb, np.round(mu_f / lsb))


def test_logvar_head_starts_at_zero() -> None:
    model = build_model(VAEConfig(name="v"))
    assert isinstance(model, VAE)
    assert torch.count_nonzero(model.logvar_head.weight) == 0
    assert torch.count_nonzero(model.logvar_head.bias) == 0
    _, logvar = model.encode(_x())
    assert torch.equal(logvar, torch.zeros_like(logvar))


def test_vae_loss_by_hand() -> None:
    x = torch.tensor([[1.0, 2.0], [0.0, -1.0]])
    x_hat = torch.tensor([[0.0, 2.0], [1.0, 1.0]])
    mu = torch.tensor([[1.0], [0.0]])
    logvar = torch.tensor([[0.0], [math.log(2.0)]])
    # squared errors 1, 0, 1, 4 -> reco = 6 / 4 = 1.5
    # KL event 1: -1/2 (1 + 0 - 1 - 1) = 0.5; event 2: -1/2 (1 + ln 2 - 0 - 2) = (1 - ln 2) / 2
    kl = (0.5 + (1 - math.log(2.0)) / 2) / 2
    out = vae_loss(x, x_hat, mu, logvar, alpha=2.0, beta=0.25)
    assert float(out["reco"]) == pytest.approx(1.5)
    assert float(out["kl"]) == pytest.approx(kl)
    assert float(out["loss"]) == pytest.approx(2.0 * (0.75 * 1.5 + 0.25 * kl))


def test_kl_against_torch_distributions() -> None:
    g = torch.Generator().manual_seed(1)
    mu = torch.randn(50, 8, generator=g, dtype=torch.float64)
    logvar = torch.randn(50, 8, generator=g, dtype=torch.float64)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    expected = torch.distributions.kl_divergence(q, p).sum(-1)
    torch.testing.assert_close(kl_divergence(mu, logvar), expected)


def test_vae_losses_use_a_sampled_latent() -> None:
    model = build_model(VAEConfig(name="v", alpha=1.5, beta=0.3, quantized=False))
    assert isinstance(model, VAE)
    with torch.no_grad():  # a non-zero log-variance, so the sampling matters
        model.logvar_head.bias.fill_(-1.0)
    x = _x(32)
    got = model.losses(x, torch.Generator().manual_seed(4))
    mu, logvar = model.encode(x)
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(4))
    x_hat = model.decoder(mu + torch.exp(0.5 * logvar) * eps)
    reco = ((x - x_hat) ** 2).mean()
    kl = (-0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(1)).mean()
    torch.testing.assert_close(got["reco"], reco)
    torch.testing.assert_close(got["kl"], kl)
    torch.testing.assert_close(got["loss"], 1.5 * (0.7 * reco + 0.3 * kl))


def _vicreg_reference(z1: np.ndarray, z2: np.ndarray, form: str) -> tuple[float, float, float]:
    """The three VICReg terms with explicit loops, in either form."""
    n, d = z1.shape
    inv = sum((z1[i, j] - z2[i, j]) ** 2 for i in range(n) for j in range(d))
    inv /= n if form == "ngt" else n * d  # per event (summed over d), or per event and dimension
    var = 0.0
    cov_total = 0.0
    for z in (z1, z2):
        mean = [sum(z[i, j] for i in range(n)) / n for j in range(d)]
        for j in range(d):
            v = sum((z[i, j] - mean[j]) ** 2 for i in range(n)) / (n - 1)
            hinge = max(0.0, 1.0 - math.sqrt(v + 1e-4))
            var += (hinge**2 if form == "ngt" else hinge) / d / 2
        for a in range(d):
            for b in range(d):
                if a != b:
                    c = sum((z[i, a] - mean[a]) * (z[i, b] - mean[b]) for i in range(n)) / (n - 1)
                    cov_total += c * c / d
    return inv, var, cov_total


@pytest.mark.parametrize("form", ["ngt", "bardes"])
def test_vicreg_loss_against_loops(form: str) -> None:
    rng = np.random.default_rng(3)
    z1 = rng.normal(0, 0.7, (12, 4))
    z1[:, 1] *= 3.0  # one dimension above the variance target
    z2 = z1 + rng.normal(0, 0.2, (12, 4))
    z2[:, 3] = z2[:, 0] * 0.5  # correlated dimensions
    inv, var, cov = _vicreg_reference(z1, z2, form)
    out = vicreg_loss(
        torch.from_numpy(z1),
        torch.from_numpy(z2),
        invariance=2.0,
        variance=3.0,
        covariance=0.5,
        form=form,  # type: ignore[arg-type]
    )
    assert float(out["invariance"]) == pytest.approx(inv, rel=1e-9)
    assert float(out["variance"]) == pytest.approx(var, rel=1e-9)
    assert float(out["covariance"]) == pytest.approx(cov, rel=1e-9)
    assert float(out["loss"]) == pytest.approx(2.0 * inv + 3.0 * var + 0.5 * cov, rel=1e-9)
    with pytest.raises(DataFormatError, match="at least 2 events"):
        vicreg_loss(torch.zeros(1, 4), torch.zeros(1, 4), form=form)  # type: ignore[arg-type]


# Two views of three events in two dimensions, with numbers one can follow by hand (eps = 0):
#   z1 = [[2, 0.5], [0, 0], [-2, -0.5]]: means 0; unbiased variances 8/2 = 4 and 0.5/2 = 0.25,
#        so std 2 and 0.5, hinges max(0, 1 - std) = 0 and 0.5; covariance (1 + 1)/2 = 1
#   z2 = [[1, 1], [0, 0], [-1, -1]]:    variances 1 and 1, hinges 0 and 0; covariance 1
#   z1 - z2 = [[1, -0.5], [0, 0], [-1, 0.5]]: squares sum to 1 + 0.25 + 1 + 0.25 = 2.5
#   covariance term, per branch 1/d * (C01^2 + C10^2) = (1 + 1)/2 = 1, summed over branches: 2
HAND_Z1 = [[2.0, 0.5], [0.0, 0.0], [-2.0, -0.5]]
HAND_Z2 = [[1.0, 1.0], [0.0, 0.0], [-1.0, -1.0]]


def test_vicreg_loss_seed_form_by_hand() -> None:
    """The default ("ngt"): invariance per event summed over dimensions, squared variance hinge."""
    out = vicreg_loss(torch.tensor(HAND_Z1), torch.tensor(HAND_Z2), eps=0.0)
    inv = 2.5 / 3  # sum of squares / N
    var = ((0.0**2 + 0.5**2) / 2 + (0.0 + 0.0) / 2) / 2  # mean_j hinge^2, averaged over branches
    cov = 1.0 + 1.0
    assert float(out["invariance"]) == pytest.approx(inv, rel=1e-6)
    assert float(out["variance"]) == pytest.approx(var, rel=1e-6)  # 0.0625
    assert float(out["covariance"]) == pytest.approx(cov, rel=1e-6)
    assert float(out["loss"]) == pytest.approx(25 * inv + 25 * var + 1 * cov, rel=1e-6)
    assert float(out["loss"]) == pytest.approx(24.395833, rel=1e-6)


def test_vicreg_loss_paper_form_by_hand() -> None:
    """Bardes et al.: invariance per event and dimension, variance hinge not squared."""
    out = vicreg_loss(torch.tensor(HAND_Z1), torch.tensor(HAND_Z2), eps=0.0, form="bardes")
    inv = 2.5 / (3 * 2)  # sum of squares / (N d)
    var = ((0.0 + 0.5) / 2 + (0.0 + 0.0) / 2) / 2  # mean_j hinge, averaged over branches
    cov = 1.0 + 1.0
    assert float(out["invariance"]) == pytest.approx(inv, rel=1e-6)
    assert float(out["variance"]) == pytest.approx(var, rel=1e-6)  # 0.125
    assert float(out["covariance"]) == pytest.approx(cov, rel=1e-6)
    assert float(out["loss"]) == pytest.approx(15.541667, rel=1e-6)
    with pytest.raises(ConfigError, match="'ngt' or 'bardes'"):
        vicreg_loss(torch.tensor(HAND_Z1), torch.tensor(HAND_Z2), form="paper")  # type: ignore[arg-type]


def test_vicreg_model_uses_its_configured_loss_form() -> None:
    x = _x(64, seed=8)
    losses = {}
    for form in ("ngt", "bardes"):
        torch.manual_seed(0)
        model = build_model(VICRegConfig(name="w", loss_form=form, projector=()))
        assert isinstance(model, VICReg)
        losses[form] = model.vicreg_losses(x[:32], x[32:])
    # the same weights (same seed): the "ngt" invariance is d = 10 times the paper's
    torch.testing.assert_close(losses["ngt"]["invariance"], 10 * losses["bardes"]["invariance"])
    assert VICRegConfig(name="w").loss_form == "ngt"


def test_latent_score_is_sum_of_mu_squared_and_matches_the_deployed_encoder() -> None:
    for quantized in (True, False):
        model = build_model(VAEConfig(name="v", quantized=quantized))
        model.eval()
        x = _x(500, seed=2)
        with torch.no_grad():
            s = model.score(x).numpy()
            mu, _ = model.encode(x)
            deployed = model.deployable()(x).numpy()
        expected = (mu.double() ** 2).sum(1).numpy()
        np.testing.assert_allclose(s, expected, rtol=1e-12, atol=0)
        from_deployed = model.score_from_deployed(deployed)
        assert from_deployed.dtype == np.float64
        if quantized:  # fixed-point outputs: the sums of squares are exact
            assert np.array_equal(from_deployed, s)
        else:
            np.testing.assert_allclose(from_deployed, s, rtol=1e-12, atol=0)


def test_reco_score_is_the_mean_path_reconstruction_error() -> None:
    model = build_model(VAEConfig(name="v", score="reco"))
    assert isinstance(model, VAE)
    assert not model.firmware_deployable
    model.eval()
    x = _x(100, seed=3)
    with torch.no_grad():
        mu, _ = model.encode(x)
        expected = ((x - model.decoder(mu)) ** 2).mean(1).double().numpy()
        s = model.score(x).numpy()
        out = model.deployable()(x).numpy()
    assert out.shape == (100, 1)
    np.testing.assert_allclose(s, expected, rtol=1e-6)
    assert np.array_equal(model.score_from_deployed(out), s)


def test_vicreg_shapes_and_scorer() -> None:
    model = build_model(VICRegConfig(name="w"))
    assert isinstance(model, VICReg)
    assert isinstance(model, AnomalyModel)
    assert _weights(model.backbone) == [(29, 57), (10, 29)]
    assert _weights(model.ae) == [(8, 10), (4, 8), (8, 4), (10, 8)]
    assert _weights(model.projector) == [(32, 10), (32, 32)]
    model.eval()
    x = _x(200, seed=5)
    with torch.no_grad():
        emb = model.embed(x)
        assert emb.shape == (200, 10)
        mean, std = emb.mean(0), emb.std(0)
        model.standardize.set(mean, std)
        e = (emb - mean) / std
        expected = ((e - model.ae(e)) ** 2).mean(1).double().numpy()
        s = model.score(x).numpy()
        out = model.deployable()(x).numpy()
    np.testing.assert_allclose(s, expected, rtol=1e-5)
    assert out.shape == (200, 1)
    assert np.array_equal(model.score_from_deployed(out), s)
    losses = model.vicreg_losses(x[:100], x[100:])
    assert set(losses) == {"loss", "invariance", "variance", "covariance"}


def test_quantized_vicreg_uses_fixed_point_layers() -> None:
    model = build_model(VICRegConfig(name="w", quantized=True, projector=()))
    assert isinstance(model, VICReg)
    assert isinstance(model.projector, nn.Identity)
    x = _x(64)
    lsb = model.cfg.quant.output.lsb
    emb = model.embed(x).detach().numpy().astype(np.float64)
    assert np.array_equal(emb / lsb, np.round(emb / lsb))


def test_bad_inputs_and_configs() -> None:
    model = build_model(VAEConfig(name="v"))
    with pytest.raises(DataFormatError, match=r"\(n, 57\)"):
        model.score(torch.zeros(3, 19, 3))
    with pytest.raises(DataFormatError, match=r"\(n, 8\)"):
        model.score_from_deployed(np.zeros((3, 4)))
    with pytest.raises(ConfigError, match="VAEConfig or VICRegConfig"):
        build_model(TrainConfig())  # type: ignore[arg-type]
