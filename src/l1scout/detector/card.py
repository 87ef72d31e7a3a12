"""Detector cards: typed, closed data models for the numbers of a detector view.

A card is a TOML file validated by pydantic (``extra="forbid"``): a malformed
card raises :class:`~l1scout.errors.CardError` naming the file, the field and
what was expected. No card value is ever evaluated as code.

Example:
    >>> card = load_frontend_card()
    >>> card.pileup.mean, card.pileup.sigma_z_mm
    (200.0, 53.0)
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from l1scout._datafile import load_toml_model
from l1scout.errors import CardError

__all__ = ["CARD_DIR", "FrontendCard", "PileupSpec", "TruthJetSpec", "load_frontend_card"]

CARD_DIR = Path(__file__).with_name("cards")


class PileupSpec(BaseModel):
    """The pileup merger: how many collisions per crossing and where they sit.

    Vertices follow independent Gaussians in z (mm) and t (ps), truncated at
    ``z_max_mm`` and ``t_max_ps`` (Delphes ``PileUpMerger``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    mean: float = Field(ge=0)
    distribution: Literal["poisson", "fixed"]
    sigma_z_mm: float = Field(gt=0)
    sigma_t_ps: float = Field(gt=0)
    z_max_mm: float = Field(gt=0)
    t_max_ps: float = Field(gt=0)
    beamspot_x_mm: float
    beamspot_y_mm: float
    random_azimuth: bool

    @model_validator(mode="after")
    def _window_holds_core(self) -> PileupSpec:
        if self.z_max_mm < 0.5 * self.sigma_z_mm or self.t_max_ps < 0.5 * self.sigma_t_ps:
            msg = "z_max_mm / t_max_ps must be at least half of sigma_z_mm / sigma_t_ps"
            raise ValueError(msg)
        return self


class TruthJetSpec(BaseModel):
    """A generator-jet collection: clustered from visible non-pileup particles."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^Gen_[A-Za-z][A-Za-z0-9]*$")
    algorithm: Literal["antikt", "kt", "cambridge"]
    radius: float = Field(gt=0, le=2)
    pt_min: float = Field(ge=0)


class FrontendCard(BaseModel):
    """The front end shared by all views of one detector."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1]
    name: str = Field(min_length=1)
    description: str
    pileup: PileupSpec
    truth_jets: list[TruthJetSpec]


def load_frontend_card(path: Path | str | None = None) -> FrontendCard:
    """Load the front-end card *path* (default: the Phase-2 card shipped with l1scout).

    Raises:
        CardError: unreadable or malformed card; the message names file and field.
    """
    return load_toml_model(
        Path(path) if path else CARD_DIR / "frontend.toml", FrontendCard, CardError
    )
