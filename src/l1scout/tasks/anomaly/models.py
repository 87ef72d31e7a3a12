"""The anomaly-trigger models: the AXOL1TL variational autoencoder and the VICReg recipe.

Both read the 57 trigger inputs AFTER the power-of-two scaler (``x_scaled``,
float32, shape (n, 57); :mod:`l1scout.tasks.anomaly.train` applies the scaler)
and implement :class:`AnomalyModel`: a per-event score (higher = more
anomalous), the part that goes to the trigger hardware, and the map from that
part's outputs to the score.

**VAE** (AXOL1TL v2-v4, ``docs/physics/l1-algorithms.md``; CMS-DP-2023-079):
encoder trunk ``57 -> hidden...`` (ReLU after every layer), a mean head
``-> latent`` and a log-variance head whose weights and bias start at zero
(log-variance 0, unit variance, at the start of training); the decoder mirrors
the encoder (float layers) back to 57 outputs. With ``quantized=True`` the
trunk and the mean head are :func:`l1scout.deploy.quant.quantized_mlp` layers
(weights ap_fixed<6,3>, biases ap_fixed<10,7>, quantized ReLU, by default); the
log-variance head and the decoder stay float: they are never deployed.

Loss, per mini-batch (:func:`vae_loss`)::

    loss = alpha * ((1 - beta) * reco + beta * KL)
    reco = mean over events and the 57 inputs of (x - x_hat)^2
    KL   = mean over events of -1/2 * sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j))

``reco`` is the MSE per input (not summed over the 57), the KL the closed form
of KL(N(mu, sigma^2) || N(0, 1)) summed over the latent dimensions. Padded
objects (pT = 0) count in ``reco`` like real ones: nothing is masked, as in the
AXOL1TL approach; the scaler maps them to a fixed value that no real object
has, so reconstructing them is easy and "which objects exist" is part of what
the model learns to expect.

Scores: ``"latent"``: ``sum_j mu_j^2`` (AXOL1TL: only the encoder's mean path
is deployed, half the size and latency); ``"reco"``: the reconstruction MSE
through the mean path (z = mu), the same per-event quantity as ``reco``.

**VICReg** (AXOL1TL v5, 2025; ``docs/physics/l1-algorithms.md``, "The 2025 model (v5)"): a backbone ``57 -> 29 -> 10``
(float by default) trained self-supervised on two augmented views of each event
(:mod:`l1scout.tasks.anomaly.augment`) with the VICReg loss on a projector
(Bardes, Ponce, LeCun, "VICReg", ICLR 2022; :func:`vicreg_loss`, in the form
``loss_form`` picks), then frozen; the embedding is standardised with
constants from the zero-bias training embeddings. Two downstream scores read
the standardised embedding (``VICRegConfig.scores``):

* ``"autoencoder"``: a small autoencoder ``10 -> ae_hidden... -> 10`` trained
  on it; the score is its reconstruction MSE (mean over the embedding
  dimensions);
* ``"mahalanobis"``: the squared Mahalanobis distance to the zero-bias
  training embeddings (:mod:`l1scout.tasks.anomaly.distance`, regularised
  covariance); nothing more is trained.

:meth:`VICReg.scorer` gives one of them as its own :class:`AnomalyModel`
(sharing the weights), so the pipeline evaluates both from one training.

What can go to firmware (``firmware_deployable``): the latent-score VAE's
:meth:`VAE.deployable` is a plain chain of quantized dense layers that hls4ml
converts bit-accurately. The ``"reco"`` VAE and the VICReg autoencoder scorer
output their score directly, which needs the module's own input again (a
subtract, square and mean against the input): an ONNX graph, not a dense chain.
The VICReg distance scorer's deployable part is backbone, standardisation and
the distance's linear map, whose outputs' sum of squares is the score (as the
VAE's latent score); it goes to ONNX, not to firmware (its last layer is not
quantization-aware).
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from l1scout._types import F64
from l1scout.deploy.quant import float_mlp, quantized_mlp
from l1scout.errors import ConfigError, DataFormatError
from l1scout.io.trigger_inputs import N_TRIGGER_INPUTS
from l1scout.tasks.anomaly.config import VAEConfig, VICRegConfig
from l1scout.tasks.anomaly.distance import Mahalanobis

__all__ = [
    "VAE",
    "AnomalyModel",
    "ReconstructionError",
    "Standardize",
    "VICReg",
    "VICRegScorer",
    "build_model",
    "kl_divergence",
    "vae_loss",
    "vicreg_loss",
]


@runtime_checkable
class AnomalyModel(Protocol):
    """What the pipeline needs from an anomaly model."""

    def score(self, x_scaled: torch.Tensor) -> torch.Tensor:
        """Per-event anomaly score (n,), float64; higher = more anomalous."""
        ...

    def deployable(self) -> nn.Module:
        """The part that goes to the trigger hardware (reads ``x_scaled``)."""
        ...

    def score_from_deployed(self, outputs: npt.NDArray[np.floating]) -> F64:
        """The score from the deployed part's outputs (e.g. the sum of mu^2)."""
        ...


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)) per event, summed over the latent dimensions.

    Closed form (Kingma and Welling 2014, appendix B):
    ``-1/2 * sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j))``.

    >>> float(kl_divergence(torch.tensor([[1.0, 0.0]]), torch.zeros(1, 2))[0])
    0.5
    """
    return -0.5 * torch.sum(1.0 + logvar - mu.square() - logvar.exp(), dim=-1)


def vae_loss(
    x: torch.Tensor,
    x_hat: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    *,
    alpha: float,
    beta: float,
) -> dict[str, torch.Tensor]:
    """The AXOL1TL loss ``alpha * ((1 - beta) * reco + beta * KL)`` of a mini-batch.

    Returns:
        ``{"loss", "reco", "kl"}``, scalars: ``reco`` the mean over events and
        inputs of the squared error, ``kl`` the mean over events of
        :func:`kl_divergence`.
    """
    reco = torch.mean((x - x_hat).square())
    kl = torch.mean(kl_divergence(mu, logvar))
    loss = alpha * ((1.0 - beta) * reco + beta * kl)
    return {"loss": loss, "reco": reco, "kl": kl}


def _off_diagonal_square_sum(cov: torch.Tensor) -> torch.Tensor:
    return cov.square().sum() - torch.diagonal(cov).square().sum()


def vicreg_loss(
    z1: torch.Tensor,
    z2: torch.Tensor,
    *,
    invariance: float = 25.0,
    variance: float = 25.0,
    covariance: float = 1.0,
    gamma: float = 1.0,
    eps: float = 1e-4,
    form: Literal["ngt", "bardes"] = "ngt",
) -> dict[str, torch.Tensor]:
    """The VICReg loss of two batches of projections, in one of two published forms.

    With N events, d dimensions, ``std_j = sqrt(Var(z_j) + eps)`` (unbiased
    variance over the batch) and ``C`` the unbiased covariance matrix of a branch:

    * ``form="ngt"`` (default), as the AXOL1TL team writes the loss (J. Ngadiuba
      for NGT WP 3.7): ``invariance`` term ``1/N sum_i ||z1_i - z2_i||^2`` (mean
      over events of the squared distance, summed over dimensions);
      ``variance`` term, per branch, ``1/d sum_j max(0, gamma - std_j)^2`` (a
      squared hinge);
    * ``form="bardes"``, as the VICReg reference implementation (Bardes, Ponce,
      LeCun, ICLR 2022): ``invariance`` term = mean over events AND dimensions of
      ``(z1 - z2)^2`` (1/d of the ``"ngt"`` one); ``variance`` term, per branch,
      ``1/d sum_j max(0, gamma - std_j)`` (hinge not squared).

    In both, the variance term is averaged over the two branches and the
    ``covariance`` term is ``1/d sum_{i != j} C_ij^2`` summed over the two
    branches (as the reference implementation combines them); ``eps`` keeps
    the gradient of ``std`` finite at zero variance.

    Returns:
        ``{"loss", "invariance", "variance", "covariance"}`` (the unweighted
        terms and the weighted sum).

    Raises:
        DataFormatError: fewer than two events (no batch variance).
        ConfigError: an unknown *form*.
    """
    if form not in ("ngt", "bardes"):
        msg = f"VICReg loss form {form!r}: expected 'ngt' or 'bardes'"
        raise ConfigError(msg)
    n, d = z1.shape
    if n < 2:
        msg = f"VICReg needs at least 2 events per batch for its variance terms, got {n}"
        raise DataFormatError(msg)
    squared = (z1 - z2).square()
    inv = torch.sum(squared) / n if form == "ngt" else torch.mean(squared)
    var_terms = []
    cov_terms = []
    for z in (z1, z2):
        std = torch.sqrt(z.var(dim=0) + eps)
        hinge = torch.relu(gamma - std)
        var_terms.append(torch.mean(hinge.square() if form == "ngt" else hinge))
        zc = z - z.mean(dim=0)
        cov = zc.T @ zc / (n - 1)
        cov_terms.append(_off_diagonal_square_sum(cov) / d)
    var = (var_terms[0] + var_terms[1]) / 2
    cov_loss = cov_terms[0] + cov_terms[1]
    loss = invariance * inv + variance * var + covariance * cov_loss
    return {"loss": loss, "invariance": inv, "variance": var, "covariance": cov_loss}


def _check_inputs(x: torch.Tensor, n_features: int) -> None:
    if x.ndim != 2 or x.shape[1] != n_features:
        msg = f"expected scaled inputs of shape (n, {n_features}), got {tuple(x.shape)}"
        raise DataFormatError(msg)


def _scores_from_column(outputs: npt.NDArray[np.floating]) -> F64:
    out = np.asarray(outputs, dtype=np.float64)
    if out.ndim == 2 and out.shape[1] == 1:
        return out[:, 0]
    if out.ndim == 1:
        return out
    msg = f"expected deployed outputs of shape (n, 1) or (n,), got {out.shape}"
    raise DataFormatError(msg)


class ReconstructionError(nn.Module):
    """``mean_j (t_j - net(t)_j)^2`` per event as an (n, 1) tensor, where ``t = target(x)``.

    The deployable form of a reconstruction score: one module from the scaled
    inputs to the score (ONNX-exportable).

    Args:
        net: the reconstruction path.
        target: what is reconstructed (None: the input itself).
    """

    def __init__(self, net: nn.Module, target: nn.Module | None = None) -> None:
        super().__init__()
        self.target = target if target is not None else nn.Identity()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The per-event mean squared reconstruction error, shape (n, 1)."""
        t = self.target(x)
        return torch.mean((t - self.net(t)).square(), dim=1, keepdim=True)


class VAE(nn.Module):
    """The AXOL1TL variational autoencoder (see the module docstring).

    Args:
        cfg: the model configuration.

    Attributes:
        trunk: the encoder's hidden layers (deployed).
        mu_head: the latent mean layer (deployed).
        logvar_head: the latent log-variance layer (float, zero-initialised).
        decoder: float layers ``latent -> reversed(hidden) -> 57``.
    """

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        hidden = list(cfg.hidden)
        if cfg.quantized:
            self.trunk = quantized_mlp(
                [N_TRIGGER_INPUTS, *hidden], cfg.quant, final_activation=True
            )
            self.mu_head = quantized_mlp(
                [hidden[-1], cfg.latent], cfg.quant, final_activation=False, quantize_input=False
            )
        else:
            self.trunk = float_mlp([N_TRIGGER_INPUTS, *hidden], final_activation=True)
            self.mu_head = float_mlp([hidden[-1], cfg.latent])
        self.logvar_head = nn.Linear(hidden[-1], cfg.latent)
        nn.init.zeros_(self.logvar_head.weight)
        nn.init.zeros_(self.logvar_head.bias)
        self.decoder = float_mlp([cfg.latent, *reversed(hidden), N_TRIGGER_INPUTS])

    @property
    def firmware_deployable(self) -> bool:
        """True when :meth:`deployable` is a plain dense chain (the latent score)."""
        return self.cfg.score == "latent"

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Latent mean and log-variance, each (n, latent)."""
        _check_inputs(x, N_TRIGGER_INPUTS)
        h = self.trunk(x)
        return self.mu_head(h), self.logvar_head(h)

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruction from a sampled z = mu + exp(logvar / 2) * N(0, 1), with mu and logvar."""
        mu, logvar = self.encode(x)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        z = mu + torch.exp(0.5 * logvar) * eps
        return self.decoder(z), mu, logvar

    def losses(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """:func:`vae_loss` of the batch *x* (one draw of z per event from *generator*)."""
        x_hat, mu, logvar = self(x, generator)
        return vae_loss(x, x_hat, mu, logvar, alpha=self.cfg.alpha, beta=self.cfg.beta)

    def deployable(self) -> nn.Module:
        """``Sequential(trunk, mu_head)`` (latent score) or the mean-path reconstruction error.

        The returned module shares this model's parameters.
        """
        encoder = nn.Sequential(self.trunk, self.mu_head)
        if self.cfg.score == "latent":
            return encoder
        return ReconstructionError(nn.Sequential(self.trunk, self.mu_head, self.decoder))

    def score(self, x_scaled: torch.Tensor) -> torch.Tensor:
        """Per-event score (n,) float64: sum of mu^2, or the mean-path reconstruction MSE."""
        _check_inputs(x_scaled, N_TRIGGER_INPUTS)
        out: torch.Tensor = self.deployable()(x_scaled)
        if self.cfg.score == "latent":
            return torch.sum(out.to(torch.float64).square(), dim=1)
        return out[:, 0].to(torch.float64)

    def score_from_deployed(self, outputs: npt.NDArray[np.floating]) -> F64:
        """Sum of squares of the deployed latent means (n, latent), or the (n, 1) error."""
        if self.cfg.score == "reco":
            return _scores_from_column(outputs)
        out = np.asarray(outputs, dtype=np.float64)
        if out.ndim != 2 or out.shape[1] != self.cfg.latent:
            msg = f"expected deployed outputs of shape (n, {self.cfg.latent}), got {out.shape}"
            raise DataFormatError(msg)
        return np.asarray(np.sum(np.square(out), axis=1), dtype=np.float64)


class Standardize(nn.Module):
    """``(x - mean) / std`` with constant buffers (set by :meth:`set`; start 0 and 1)."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, n_features: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))

    def set(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Set the constants; a zero (or non-finite) std becomes 1."""
        safe = torch.where(torch.isfinite(std) & (std > 0), std, torch.ones_like(std))
        self.mean.copy_(mean.detach())
        self.std.copy_(safe.detach())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The standardised input."""
        return (x - self.mean) / self.std


def _mirror(n_in: int, hidden: tuple[int, ...]) -> list[int]:
    """Autoencoder widths ``n_in -> hidden -> reversed(hidden[:-1]) -> n_in``."""
    return [n_in, *hidden, *reversed(hidden[:-1]), n_in]


#: The downstream scores of a VICReg model (``VICRegConfig.scores``).
Scoring = Literal["autoencoder", "mahalanobis"]


class VICReg(nn.Module):
    """The 2025 recipe: VICReg backbone, projector, embedding standardisation, two score heads.

    Args:
        cfg: the model configuration.

    Attributes:
        backbone: ``57 -> backbone...`` (last = embedding dimension, no final ReLU).
        projector: the VICReg expander (float, batch norm; identity if empty).
        standardize: per-dimension constants of the embedding (set after phase 1).
        ae: the autoencoder on the standardised embedding.
        distance: the Mahalanobis map of the standardised embedding (fitted after phase 1).
    """

    def __init__(self, cfg: VICRegConfig) -> None:
        super().__init__()
        self.cfg = cfg
        emb = cfg.backbone[-1]
        ae_sizes = _mirror(emb, cfg.ae_hidden)
        if cfg.quantized:
            self.backbone = quantized_mlp(
                [N_TRIGGER_INPUTS, *cfg.backbone], cfg.quant, final_activation=False
            )
            self.ae = quantized_mlp(ae_sizes, cfg.quant, final_activation=False)
        else:
            self.backbone = float_mlp([N_TRIGGER_INPUTS, *cfg.backbone])
            self.ae = float_mlp(ae_sizes)
        self.projector: nn.Module = (
            float_mlp([emb, *cfg.projector], batch_norm=True) if cfg.projector else nn.Identity()
        )
        self.standardize = Standardize(emb)
        self.distance = Mahalanobis(emb)

    @property
    def firmware_deployable(self) -> bool:
        """False: the autoencoder scorer compares its output with its input, the distance map is float."""
        return False

    @property
    def scoring(self) -> Scoring:
        """The default score: the first of ``cfg.scores``."""
        return self.cfg.scores[0]

    def _scoring(self, scoring: str | None) -> Scoring:
        if scoring is None:
            return self.scoring
        for known in self.cfg.scores:
            if scoring == known:
                return known
        msg = (
            f"score {scoring!r} of VICReg model {self.cfg.name!r}: expected one of its scores "
            f"{list(self.cfg.scores)}"
        )
        raise ConfigError(msg)

    def embed(self, x_scaled: torch.Tensor) -> torch.Tensor:
        """The backbone's embedding (n, backbone[-1])."""
        _check_inputs(x_scaled, N_TRIGGER_INPUTS)
        emb: torch.Tensor = self.backbone(x_scaled)
        return emb

    def vicreg_losses(self, x1: torch.Tensor, x2: torch.Tensor) -> dict[str, torch.Tensor]:
        """:func:`vicreg_loss` of two scaled views of the same events (phase 1)."""
        z1 = self.projector(self.embed(x1))
        z2 = self.projector(self.embed(x2))
        return vicreg_loss(
            z1,
            z2,
            invariance=self.cfg.invariance,
            variance=self.cfg.variance,
            covariance=self.cfg.covariance,
            form=self.cfg.loss_form,
        )

    def ae_losses(self, x_scaled: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"loss"}``: the autoencoder's MSE on the standardised embedding (phase 2)."""
        with torch.no_grad():
            e = self.standardize(self.embed(x_scaled))
        return {"loss": torch.mean((e - self.ae(e)).square())}

    def deployable(self, scoring: str | None = None) -> nn.Module:
        """The deployed part of a score (default :attr:`scoring`); reads scaled inputs.

        ``"autoencoder"``: scaled inputs -> (n, 1) reconstruction MSE of the
        standardised embedding. ``"mahalanobis"``: scaled inputs -> (n, d)
        ``L^T (e - mu)`` of the standardised embedding ``e``, whose sum of
        squares is the score. Shares this model's weights and constants.

        Raises:
            ConfigError: *scoring* is not one of ``cfg.scores``.
        """
        if self._scoring(scoring) == "autoencoder":
            return ReconstructionError(self.ae, nn.Sequential(self.backbone, self.standardize))
        return nn.Sequential(self.backbone, self.standardize, self.distance)

    def score(self, x_scaled: torch.Tensor, scoring: str | None = None) -> torch.Tensor:
        """Per-event score (n,) float64: the autoencoder's MSE, or the squared Mahalanobis distance."""
        _check_inputs(x_scaled, N_TRIGGER_INPUTS)
        which = self._scoring(scoring)
        out: torch.Tensor = self.deployable(which)(x_scaled)
        if which == "autoencoder":
            return out[:, 0].to(torch.float64)
        return torch.sum(out.to(torch.float64).square(), dim=1)

    def score_from_deployed(
        self, outputs: npt.NDArray[np.floating], scoring: str | None = None
    ) -> F64:
        """The score from the outputs of :meth:`deployable`: the (n, 1) column, or the sum of squares."""
        if self._scoring(scoring) == "autoencoder":
            return _scores_from_column(outputs)
        out = np.asarray(outputs, dtype=np.float64)
        d = self.cfg.backbone[-1]
        if out.ndim != 2 or out.shape[1] != d:
            msg = f"expected deployed outputs of shape (n, {d}), got {out.shape}"
            raise DataFormatError(msg)
        return np.asarray(np.sum(np.square(out), axis=1), dtype=np.float64)

    def scorer(self, scoring: str) -> VICRegScorer:
        """One score of this model as an :class:`AnomalyModel` of its own (sharing the weights).

        Raises:
            ConfigError: *scoring* is not one of ``cfg.scores``.
        """
        return VICRegScorer(self, self._scoring(scoring))


class VICRegScorer(nn.Module):
    """One downstream score of a :class:`VICReg` model, as an :class:`AnomalyModel`.

    Holds the model (its weights are shared, not copied) and the score's name;
    ``score``, ``deployable`` and ``score_from_deployed`` are the model's for
    that score.

    Args:
        model: the trained VICReg model.
        scoring: ``"autoencoder"`` or ``"mahalanobis"`` (one of its ``cfg.scores``).
    """

    def __init__(self, model: VICReg, scoring: Scoring) -> None:
        super().__init__()
        self.model = model
        self.scoring: Scoring = model._scoring(scoring)

    @property
    def cfg(self) -> VICRegConfig:
        """The model's configuration."""
        return self.model.cfg

    @property
    def firmware_deployable(self) -> bool:
        """False, as :attr:`VICReg.firmware_deployable`."""
        return False

    def score(self, x_scaled: torch.Tensor) -> torch.Tensor:
        """:meth:`VICReg.score` for this score."""
        return self.model.score(x_scaled, self.scoring)

    def deployable(self) -> nn.Module:
        """:meth:`VICReg.deployable` for this score."""
        return self.model.deployable(self.scoring)

    def score_from_deployed(self, outputs: npt.NDArray[np.floating]) -> F64:
        """:meth:`VICReg.score_from_deployed` for this score."""
        return self.model.score_from_deployed(outputs, self.scoring)


def build_model(cfg: VAEConfig | VICRegConfig) -> VAE | VICReg:
    """The untrained model that *cfg* describes (weights from torch's global generator).

    Raises:
        ConfigError: *cfg* is not a model configuration.
    """
    if isinstance(cfg, VAEConfig):
        return VAE(cfg)
    if isinstance(cfg, VICRegConfig):
        return VICReg(cfg)
    msg = f"expected a VAEConfig or VICRegConfig, got {type(cfg).__name__}"
    raise ConfigError(msg)
