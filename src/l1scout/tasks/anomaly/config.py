"""Typed configuration of the anomaly-trigger models and their training.

Every model of the anomaly task is described by data, not code: a
:class:`VAEConfig` (the AXOL1TL family, ``docs/physics/l1-algorithms.md``)
or a :class:`VICRegConfig` (the 2025 recipe, AXOL1TL v5), told apart by their
``kind``; :class:`TrainConfig` holds the optimiser and early-stopping settings.
All are closed pydantic models (unknown keys are errors) and immutable.
:func:`load_model_config` reads one from a TOML file or a mapping and turns a
validation failure into :class:`~l1scout.errors.ConfigError` naming the dotted
path of each bad field.

Example:
    >>> cfg = load_model_config({"kind": "vae", "name": "axol1tl_v4", "hidden": [28, 15]})
    >>> cfg.hidden, cfg.latent, cfg.score, cfg.quant.weight.width
    ((28, 15), 8, 'latent', 6)
    >>> load_model_config({"kind": "vae", "name": "v", "beta": 2.0})
    Traceback (most recent call last):
    ...
    l1scout.errors.ConfigError: model: beta: Input should be less than or equal to 1 (got 2.0)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from l1scout._datafile import read_toml, validate_data
from l1scout.deploy.fixedpoint import QuantSpec
from l1scout.errors import ConfigError

__all__ = [
    "AugmentConfig",
    "ModelConfig",
    "Resolution",
    "TrainConfig",
    "VAEConfig",
    "VICRegConfig",
    "load_model_config",
    "load_train_config",
]

PositiveInt = Annotated[int, Field(ge=1)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
#: Model names end up in run names and file names: letters, digits, ``_``, ``.``, ``-``.
ModelName = Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Resolution(_Config):
    """Gaussian smearing widths of one object type (one standard deviation).

    Attributes:
        pt: relative pT resolution sigma(pT) / pT (dimensionless).
        eta: absolute pseudorapidity resolution.
        phi: absolute azimuth resolution (rad).
    """

    pt: NonNegative
    eta: NonNegative
    phi: NonNegative


class AugmentConfig(_Config):
    """Physics augmentations of the VICReg views (see :mod:`l1scout.tasks.anomaly.augment`).

    They act on the PHYSICAL 57 trigger inputs, before scaling. The default
    widths are representative Level-1 resolutions, not a fit to our detector
    cards: MET 20% (its phi 0.1 rad), e/gamma 4% (crystal calorimeter; 0.01 in
    eta and phi), muons 3% (tracker muons; 0.005 in eta and phi), jets 12% (PUPPI
    jets at the trigger thresholds; 0.05 in eta and phi, about half a tower).

    Attributes:
        smear: apply the Gaussian smearing below.
        met, egamma, muon, jet: the smearing widths per object type; MET has no
            eta (it is 0 by construction), so ``met.eta`` must be 0.
        mask_probability: probability to drop each e/gamma, muon and jet object
            (its three values set to 0, as padding).
        mask_met: also drop the MET with that probability (default False: the
            MET is an event sum, not an object a trigger can lose).
        rotate: rotate every event by one random azimuth (uniform in [-pi, pi)).
        resort: after smearing and masking, re-sort each object group by
            decreasing pT, so dropped objects move to the end as padding does and
            the view keeps the trigger's pT ordering.
    """

    smear: bool = True
    met: Resolution = Resolution(pt=0.20, eta=0.0, phi=0.10)
    egamma: Resolution = Resolution(pt=0.04, eta=0.01, phi=0.01)
    muon: Resolution = Resolution(pt=0.03, eta=0.005, phi=0.005)
    jet: Resolution = Resolution(pt=0.12, eta=0.05, phi=0.05)
    mask_probability: float = Field(default=0.1, ge=0.0, lt=1.0)
    mask_met: bool = False
    rotate: bool = True
    resort: bool = True

    @model_validator(mode="after")
    def _met_has_no_eta(self) -> Self:
        if self.met.eta != 0.0:
            msg = f"met.eta: the MET has eta = 0 by construction; expected 0, got {self.met.eta!r}"
            raise ValueError(msg)
        return self


class VAEConfig(_Config):
    """A variational autoencoder of the AXOL1TL family (v2/v3: hidden (32, 16); v4: (28, 15)).

    Encoder trunk ``57 -> hidden... `` with ReLU after every layer, then a mean
    head ``hidden[-1] -> latent`` and a log-variance head (float, zero-initialised,
    never deployed); the decoder mirrors the encoder back to 57 outputs.

    Attributes:
        name: the model's name (runs, files).
        hidden: widths of the encoder trunk.
        latent: latent dimension.
        alpha, beta: loss ``alpha * ((1 - beta) * reconstruction + beta * KL)``.
        quantized: the deployed encoder (trunk and mean head) uses the
            fixed-point layers of :func:`l1scout.deploy.quant.quantized_mlp`
            with ``quant``; False: float layers, for comparison.
        quant: the fixed-point formats (default: the deployed AXOL1TL's).
        score: ``"latent"``: sum of the latent means squared (only the encoder
            is deployed); ``"reco"``: the reconstruction error of the whole VAE
            through its mean path.
    """

    kind: Literal["vae"] = "vae"
    name: ModelName
    hidden: tuple[PositiveInt, ...] = Field(default=(32, 16), min_length=1)
    latent: PositiveInt = 8
    alpha: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    beta: float = Field(default=0.5, ge=0.0, le=1.0)
    quantized: bool = True
    quant: QuantSpec = Field(default_factory=QuantSpec)
    score: Literal["latent", "reco"] = "latent"

    @property
    def firmware_ready(self) -> bool:
        """The quantized encoder with the latent score: the firmware the trigger runs."""
        return self.quantized and self.score == "latent"


class VICRegConfig(_Config):
    """The 2025 recipe (AXOL1TL v5): a VICReg backbone, frozen, and scores from its embedding.

    The two downstream scores the AXOL1TL team names for the frozen embedding
    (``docs/physics/l1-algorithms.md``, "The 2025 model (v5)") are both
    available and evaluated side by side from ONE trained backbone: an
    autoencoder on the standardised embedding (score: its reconstruction
    error) and the squared Mahalanobis distance to the zero-bias embedding
    distribution (:mod:`l1scout.tasks.anomaly.distance`).

    Attributes:
        name: the model's name.
        backbone: widths of the backbone after the 57 inputs; the last is the
            embedding dimension (v5: 57-29-10).
        projector: widths of the VICReg projector ("expander") on the embedding,
            used only for the self-supervised loss, never deployed; empty: none.
        ae_hidden: the autoencoder on the (standardised) embedding:
            ``embedding -> ae_hidden... -> mirrored -> embedding``.
        augment: the physics augmentations that make the two views.
        invariance, variance, covariance: the VICReg loss weights
            (Bardes, Ponce, LeCun, ICLR 2022: 25, 25, 1).
        loss_form: how the VICReg terms are normalised
            (:func:`l1scout.tasks.anomaly.models.vicreg_loss`): ``"ngt"``
            (default), the form the AXOL1TL team writes (NGT WP 3.7): invariance
            = mean over events of the squared distance between the two views
            (summed over dimensions), variance = mean over dimensions of the
            squared hinge ``max(0, 1 - std)^2``; ``"bardes"``, the form of the
            VICReg reference implementation (Bardes et al. 2022): invariance =
            mean over events AND dimensions, variance hinge not squared.
        scores: the downstream scores to evaluate, in order, each a candidate
            of the pipeline: ``"autoencoder"`` and/or ``"mahalanobis"``; the
            first is the model's default score. Without ``"autoencoder"`` the
            autoencoder is not trained.
        mahalanobis_shrinkage: shrinkage of the embedding covariance of the
            distance score, in [0, 1]; None (default): the Ledoit-Wolf estimate.
        quantized: build the backbone and the autoencoder with the fixed-point
            layers (default False: float, as the embedding study).
        quant: the fixed-point formats when ``quantized``.
        backbone_epochs: epochs of the self-supervised phase (None: the
            training's ``epochs``); the autoencoder phase uses ``epochs``.
    """

    kind: Literal["vicreg"] = "vicreg"
    name: ModelName
    backbone: tuple[PositiveInt, ...] = Field(default=(29, 10), min_length=1)
    projector: tuple[PositiveInt, ...] = (32, 32)
    ae_hidden: tuple[PositiveInt, ...] = Field(default=(8, 4), min_length=1)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    invariance: NonNegative = 25.0
    variance: NonNegative = 25.0
    covariance: NonNegative = 1.0
    loss_form: Literal["ngt", "bardes"] = "ngt"
    scores: tuple[Literal["autoencoder", "mahalanobis"], ...] = Field(
        default=("autoencoder", "mahalanobis"), min_length=1
    )
    mahalanobis_shrinkage: float | None = Field(default=None, ge=0.0, le=1.0)
    quantized: bool = False
    quant: QuantSpec = Field(default_factory=QuantSpec)
    backbone_epochs: PositiveInt | None = None

    @property
    def firmware_ready(self) -> bool:
        """False: only the quantized AXOL1TL encoder goes to firmware (:class:`VAEConfig`)."""
        return False

    @model_validator(mode="after")
    def _scores_once(self) -> Self:
        doubled = sorted({s for s in self.scores if self.scores.count(s) > 1})
        if doubled:
            msg = f"scores: each score once, got {', '.join(doubled)} more than once"
            raise ValueError(msg)
        return self


class TrainConfig(_Config):
    """Optimiser and early stopping, shared by the model kinds.

    Attributes:
        epochs: maximum epochs (of each phase, for VICReg).
        batch_size: events per mini-batch.
        lr: Adam learning rate.
        weight_decay: Adam's L2 weight decay.
        patience: stop after this many epochs without a validation-loss
            improvement larger than ``min_delta``; the best weights are kept.
        min_delta: smallest decrease of the validation loss that counts.
        seed: seeds the weight initialisation, the shuffling, the VAE's
            sampling and the augmentations: the same seed gives the same weights.
        threads: torch CPU threads during training (None: leave torch's setting).
    """

    epochs: PositiveInt = 30
    batch_size: PositiveInt = 1024
    lr: float = Field(default=1e-3, gt=0, allow_inf_nan=False)
    weight_decay: NonNegative = 0.0
    patience: PositiveInt = 5
    min_delta: NonNegative = 0.0
    seed: int = Field(default=1, ge=0)
    threads: PositiveInt | None = None


#: One model configuration; the ``kind`` key selects the class.
ModelConfig = Annotated[VAEConfig | VICRegConfig, Field(discriminator="kind")]

_KINDS: dict[str, type[VAEConfig] | type[VICRegConfig]] = {
    "vae": VAEConfig,
    "vicreg": VICRegConfig,
}


def _read(source: Path | str | Mapping[str, Any], what: str) -> tuple[dict[str, Any], str]:
    """The table in *source* (a TOML file or a mapping) and the name errors start with."""
    if isinstance(source, Mapping):
        return dict(source), what
    return read_toml(source, f"{what} file"), str(source)


def load_model_config(
    source: Path | str | Mapping[str, Any], *, where: str = "model"
) -> VAEConfig | VICRegConfig:
    """A model configuration from a TOML file or a mapping (for example a pipeline's table).

    The ``kind`` key (``"vae"`` or ``"vicreg"``) picks the class; the other
    keys are its fields (see :class:`VAEConfig`, :class:`VICRegConfig`).

    Args:
        source: a TOML file path, or the table itself.
        where: how errors name a mapping source (a file is named by its path).

    Raises:
        ConfigError: unreadable file, invalid TOML, missing or unknown ``kind``,
            or a bad value; the message names the source and the dotted path of
            every bad field, e.g. ``model: quant.weight.width: ...``.
    """
    data, source_name = _read(source, where)
    kind = data.get("kind")
    if kind not in _KINDS:
        expected = " or ".join(repr(k) for k in _KINDS)
        got = "missing" if kind is None else f"got {kind!r}"
        msg = f"{source_name}: kind: expected {expected}, {got}"
        raise ConfigError(msg)
    return validate_data(data, _KINDS[kind], source_name)


def load_train_config(
    source: Path | str | Mapping[str, Any], *, where: str = "train"
) -> TrainConfig:
    """A :class:`TrainConfig` from a TOML file or a mapping.

    Raises:
        ConfigError: unreadable file, invalid TOML or a bad value (the message
            names the source and the field).

    >>> load_train_config({"epochs": 3, "batch_size": 256}).batch_size
    256
    """
    data, source_name = _read(source, where)
    return validate_data(data, TrainConfig, source_name)
