"""Detector cards: typed, closed data models for the numbers of a detector view.

A card is a TOML file validated by pydantic (``extra="forbid"``): a malformed
card raises :class:`~l1scout.errors.CardError` naming the file, the field and
what was expected. No card value is ever evaluated as code.

Example:
    >>> card = load_frontend_card()
    >>> card.pileup.mean, card.pileup.sigma_z_mm, card.pileup.definition
    (200.0, 53.0, 'collide2v')

``pileup.definition`` says what one of the ``mean`` collisions is
(``collide2v``: Pythia ``SoftQCD:all``, elastic included, as COLLIDE-2V;
``inelastic``: CMS's definition); a card without it reads as ``collide2v``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from l1scout._datafile import load_toml_model
from l1scout.errors import CardError
from l1scout.generate.vertex import PileupSpec

__all__ = ["CARD_DIR", "FrontendCard", "TruthJetSpec", "load_frontend_card"]

CARD_DIR = Path(__file__).with_name("cards")


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
