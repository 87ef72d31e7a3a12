"""View cards: every number and table of one detector view, as validated data.

A view card (``cards/FullReco.toml``, ``cards/L1T.toml``) describes how one
view sees the generated particles: propagation in the field, tracking,
calorimeters, particle flow, vertexing, charged-hadron subtraction, PUPPI,
leptons and photons, jets, b-tagging and rho. Efficiencies and resolutions are
:class:`~l1scout.detector.param.BinnedFunction` tables. A user copies a card,
changes a number and runs a third view: ``l1scout generate --view my.toml``.
A malformed card raises :class:`~l1scout.errors.CardError` naming the file,
the field path and what was expected. No card value is ever evaluated.

Example:
    >>> card = load_view_card("L1T")
    >>> card.name, card.particle_flow.max_candidates, card.tracking.eta_max
    ('L1T', 1000, 2.4)
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from l1scout._datafile import load_toml_model
from l1scout.detector.muon_system import MuonSystemSpec
from l1scout.detector.param import BinnedFunction
from l1scout.errors import CardError

__all__ = [
    "CARD_NAMES",
    "VIEW_NAMES",
    "BTagWorkingPoint",
    "CaloSegment",
    "CalorimeterSpec",
    "ChsSpec",
    "EnergyFraction",
    "IsolationSpec",
    "JetSpec",
    "LeptonSpec",
    "ParticleFlowSpec",
    "PhotonSpec",
    "PropagationSpec",
    "PuppiBin",
    "PuppiTune",
    "RhoSpec",
    "TrackingSpec",
    "VertexingSpec",
    "ViewCard",
    "load_view_card",
]

#: The views shipped with l1scout, in the order they are written.
VIEW_NAMES = ("FullReco", "L1T")
#: Every card shipped with l1scout, loadable by name: the views and ``FullRecoCLD`` (FullReco changed as
#: CLD differs from CLICdet, the second detector of the MLPF transfer study; not written by default).
CARD_NAMES = (*VIEW_NAMES, "FullRecoCLD")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PropagationSpec(_Model):
    """Solenoid field and the calorimeter surface (Delphes ``ParticlePropagator``)."""

    bz_tesla: float = Field(gt=0)
    radius_mm: float = Field(gt=0)
    half_length_mm: float = Field(gt=0)


class _ByParticle(_Model):
    electron: BinnedFunction
    muon: BinnedFunction
    charged_hadron: BinnedFunction


class TrackingSpec(_Model):
    """Tracker: acceptance, efficiencies, momentum and impact-parameter resolutions.

    ``momentum_resolution`` is relative (sigma(pT) / pT); ``d0_resolution`` and
    ``dz_resolution`` are in mm.
    """

    eta_max: float = Field(gt=0)
    pt_min: float = Field(ge=0)
    efficiency: _ByParticle
    momentum_resolution: _ByParticle
    d0_resolution: BinnedFunction
    dz_resolution: BinnedFunction


class CaloSegment(_Model):
    """A band of towers: eta from ``eta_min`` to ``eta_max`` in steps of ``deta``, ``n_phi`` towers in phi."""

    eta_min: float
    eta_max: float
    deta: float = Field(gt=0)
    n_phi: int = Field(gt=0, le=4096)

    @model_validator(mode="after")
    def _order(self) -> CaloSegment:
        if self.eta_max <= self.eta_min:
            msg = f"eta_max ({self.eta_max}) must be above eta_min ({self.eta_min})"
            raise ValueError(msg)
        return self


class CalorimeterSpec(_Model):
    """One calorimeter (ECAL or HCAL incl. its forward part): towers and resolution.

    ``resolution`` is sigma(E) in GeV as a function of the deposited energy.
    A tower makes a neutral candidate when its energy minus the energy of the
    tracks pointing at it exceeds ``energy_min`` and ``significance_min`` times
    the combined resolution (Delphes ``SimpleCalorimeter`` energy flow).
    """

    segments: list[CaloSegment] = Field(min_length=1)
    resolution: BinnedFunction
    energy_min: float = Field(ge=0)
    significance_min: float = Field(ge=0)
    smear_tower_center: bool

    @model_validator(mode="after")
    def _contiguous(self) -> CalorimeterSpec:
        segs = sorted(self.segments, key=lambda s: s.eta_min)
        for a, b in itertools.pairwise(segs):
            if b.eta_min < a.eta_max - 1e-9:
                msg = f"segments overlap: [{a.eta_min}, {a.eta_max}] and [{b.eta_min}, {b.eta_max}]"
                raise ValueError(msg)
        return self


class EnergyFraction(_Model):
    """Share of a particle's energy that goes to ECAL and to HCAL (Delphes ``EnergyFraction``)."""

    pids: list[int] = Field(min_length=1)
    ecal: float = Field(ge=0, le=1)
    hcal: float = Field(ge=0, le=1)


class ParticleFlowSpec(_Model):
    """Energy-flow candidates: ids given to neutrals and the per-event cap (0: none)."""

    photon_pid: int
    neutral_hadron_pid: int
    max_candidates: int = Field(ge=0)
    default_fraction_ecal: float = Field(ge=0, le=1)
    default_fraction_hcal: float = Field(ge=0, le=1)
    energy_fractions: list[EnergyFraction]


class VertexingSpec(_Model):
    """Reconstructed vertices: 1D clustering of track z (gap clustering) and timing."""

    track_pt_min: float = Field(ge=0)
    z_gap_mm: float = Field(gt=0)
    min_tracks: int = Field(ge=1)
    time_resolution_ps: float = Field(ge=0)


class ChsSpec(_Model):
    """Charged-hadron subtraction (Delphes ``TrackPileUpSubtractor``); sigma_z in mm."""

    sigma_z: BinnedFunction
    pt_min: float = Field(ge=0)


class PuppiBin(_Model):
    """One eta bin of a PUPPI tune (Delphes ``RunPUPPI`` parameters)."""

    eta_min: float = Field(ge=0)
    eta_max: float
    pt_min: float = Field(ge=0)
    cone_size: float = Field(gt=0)
    rms_pt_min: float = Field(ge=0)
    rms_scale_factor: float = Field(gt=0)
    neutral_min_e: float = Field(ge=0)
    neutral_pt_slope: float = Field(ge=0)
    use_charged: bool


class PuppiTune(_Model):
    """A PUPPI tune: its eta bins and global settings (``docs/physics/puppi.md``)."""

    bins: tuple[PuppiBin, ...] = Field(min_length=1)
    min_puppi_weight: float = Field(ge=0, le=1)
    apply_low_pu_corr: bool
    metric: Literal[5]
    n_pv_fraction: float = Field(gt=0, le=1)


class IsolationSpec(_Model):
    """Isolation cone (Delphes ``Isolation``): radius, candidate pT threshold, cut on IsolationVar."""

    delta_r_max: float = Field(gt=0)
    pt_min: float = Field(ge=0)
    pt_ratio_max: float = Field(gt=0)


class LeptonSpec(_Model):
    """Electrons or muons: reconstruction and identification efficiencies, isolation."""

    efficiency: BinnedFunction
    id_efficiency: BinnedFunction
    isolation: IsolationSpec
    pt_min: float = Field(ge=0)


class PhotonSpec(_Model):
    """Photons from ECAL neutral candidates, identified as Delphes ``PhotonID`` does.

    A photon matched to a generated non-pileup photon (within ``match_delta_r``
    and ``match_pt_ratio`` in relative pT) is prompt when its IsolationVar is
    below ``prompt_isolation_max``, else non-prompt; an unmatched one is a
    fake. Each class is kept with its own efficiency.
    """

    pt_min: float = Field(ge=0)
    isolation: IsolationSpec
    match_delta_r: float = Field(gt=0)
    match_pt_ratio: float = Field(gt=0)
    prompt_isolation_max: float = Field(gt=0)
    prompt: BinnedFunction
    non_prompt: BinnedFunction
    fake: BinnedFunction


class BTagWorkingPoint(_Model):
    """One b-tagging working point: its bit in ``BTag`` and the efficiencies per true flavour."""

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    bit: int = Field(ge=0, le=6)
    b: BinnedFunction
    c: BinnedFunction
    light: BinnedFunction


class JetSpec(_Model):
    """A jet collection: name, input, algorithm, radius, pT threshold, flavour association, b-tag points.

    Flavour association (Delphes ``JetFlavorAssociation``): b/c hadrons and
    hard-process partons above ``flavour_parton_pt_min`` inside
    ``flavour_parton_eta_max``, within ``flavour_delta_r`` of the jet axis.

    With ``subtract_rho_area`` the jet four-momentum is scaled down by
    rho x area with the anti-kT area pi R^2 (Delphes ``JetPileUpSubtractor``)
    before the pT threshold is applied.
    """

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9]*$")
    input: Literal["pf", "puppi"]
    algorithm: Literal["antikt", "kt", "cambridge"]
    radius: float = Field(gt=0, le=2)
    pt_min: float = Field(ge=0)
    flavour_delta_r: float = Field(gt=0)
    flavour_parton_pt_min: float = Field(ge=0)
    flavour_parton_eta_max: float = Field(gt=0)
    subtract_rho_area: bool
    btag: list[str]


class RhoSpec(_Model):
    """Pileup density by the median method: rapidity regions (signed) and grid cell size."""

    regions: list[tuple[float, float]] = Field(min_length=1)
    cell_size: float = Field(gt=0)


class ViewCard(_Model):
    """Every number of one detector view.

    ``muon_system`` (optional, the ``L1T`` card has it) adds the standalone
    Level-1 muons of the muon track finders
    (:mod:`l1scout.detector.muon_system`).
    """

    schema_version: Literal[1]
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9]*$")
    description: str
    propagation: PropagationSpec
    tracking: TrackingSpec
    ecal: CalorimeterSpec
    hcal: CalorimeterSpec
    particle_flow: ParticleFlowSpec
    vertexing: VertexingSpec
    chs: ChsSpec
    puppi: PuppiTune
    electron: LeptonSpec
    muon: LeptonSpec
    photon: PhotonSpec
    jets: list[JetSpec] = Field(min_length=1)
    btag: list[BTagWorkingPoint]
    rho: RhoSpec
    muon_system: MuonSystemSpec | None = None

    @model_validator(mode="after")
    def _references(self) -> ViewCard:
        names = [j.name for j in self.jets]
        if len(set(names)) != len(names):
            msg = f"jet collection names must be unique, got {names}"
            raise ValueError(msg)
        points = {wp.name for wp in self.btag}
        if len(points) != len(self.btag):
            msg = "b-tag working point names must be unique"
            raise ValueError(msg)
        for i, jet in enumerate(self.jets):
            unknown = sorted(set(jet.btag) - points)
            if unknown:
                msg = f"jets[{i}].btag: jet collection {jet.name} names unknown b-tag working points {unknown} (card has {sorted(points)})"
                raise ValueError(msg)
        return self


def load_view_card(name_or_path: str | Path) -> ViewCard:
    """Load a view card: a shipped card by name (:data:`CARD_NAMES`) or a TOML file.

    Raises:
        CardError: unknown view, unreadable or malformed card; the message
            names the file and the field.
    """
    if isinstance(name_or_path, str) and name_or_path in CARD_NAMES:
        path = Path(__file__).with_name("cards") / f"{name_or_path}.toml"
    else:
        path = Path(name_or_path)
        if not path.suffix:
            msg = f"view {str(name_or_path)!r}: not a shipped view ({', '.join(CARD_NAMES)}) nor a .toml file"
            raise CardError(msg)
    return load_toml_model(path, ViewCard, CardError)
