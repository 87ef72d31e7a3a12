"""Detector elements with their truth: the tracks and towers a machine-learned particle flow reads.

The optional collections ``<View>_Track``, ``<View>_Tower`` and
``<View>_TowerContrib`` (:data:`l1scout.io.schema.ELEMENT_COLLECTIONS`) are
made here from what the view's simulation already has: the reconstructed
tracks, each calorimeter's filled towers and the true energy deposits of the
generator particles. Nothing is drawn at random: the columns are functions of
those arrays, so asking for them changes no other column of a file.

**Tracks** are the view's reconstructed tracks, in generator order; the truth
is the index of the particle in its event's ``Gen_Part`` list (``GenIndex``)
and its ``IsPU``.

**Towers.** One element per tower of the **HCAL grid**, with the ECAL towers
mapped into it: an ECAL tower belongs to the HCAL tower that holds its centre
(:func:`cell_map`). In the shipped cards the grids nest exactly (5 x 5 ECAL
towers of 0.0174 x 1 degree in each 0.087 x 5 degree HCAL barrel tower, 4 x 4
in the 0.0696 x 4 degree end-cap towers, and one HF grid for both), so each
element is an HCAL tower with its ECAL energy beside it, its ECAL/HCAL split
stored, as in the calorimeter towers of the Delphes-based MLPF study (Pata et
al., arXiv:2101.08578): a hadron's ECAL and HCAL deposits are one element,
and "the tower that holds most of a particle's energy" is one tower. One
element per calorimeter tower would keep the ECAL's 5 times finer position
but give about 1.5 times more elements (FullReco ttbar at pileup 200: about
3,400 filled ECAL and 2,800 HCAL towers per event against 4,200 towers here),
and the model's attention grows with their number. A card whose ECAL reaches
where its HCAL has no tower cannot make towers (:class:`l1scout.errors.ConfigError`).

A tower is written when its measured energy (ECAL + HCAL, each above its
calorimeter's thresholds) is positive; its truth covers every true deposit in
it, also those of ECAL or HCAL towers whose own measured energy fell below
threshold. Particles whose deposits all lie in unwritten towers have no tower.

**Forward (HF) towers** (:func:`forward_rows`): rows of segments that the ECAL
and HCAL share exactly (same eta range, step and number in phi): one detector
read out twice, as CMS's HF with its long and short fibres; in the shipped
cards 2.958 < |eta| < 5. ``Ehf`` is the tower's measured energy there, 0
elsewhere.

**Contributors.** ``<View>_TowerContrib`` lists, per event, every (tower,
particle) pair with the particle's true deposited energy in that tower (ECAL
and HCAL together), within a tower by decreasing energy. Per tower their sum
is ``ETrue``; per particle their sum is what it deposited in written towers.

Example:
    >>> from l1scout.detector.view_card import CaloSegment
    >>> fine = TowerGrid.from_segments([CaloSegment(eta_min=-1, eta_max=1, deta=0.5, n_phi=4)])
    >>> coarse = TowerGrid.from_segments([CaloSegment(eta_min=-1, eta_max=1, deta=1.0, n_phi=2)])
    >>> cell_map(fine, coarse).reshape(4, 4).tolist()
    [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]]
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from l1scout._jagged import event_index, offsets_from_counts
from l1scout._types import F64, I64
from l1scout.detector.calorimeter import CaloTowers, Deposits, TowerGrid
from l1scout.detector.particles import GenParticles
from l1scout.detector.tracking import Tracks
from l1scout.detector.view_card import CalorimeterSpec, CaloSegment, ViewCard
from l1scout.errors import ConfigError

__all__ = [
    "TowerElements",
    "cell_map",
    "element_arrays",
    "forward_rows",
    "surface_position",
    "tower_elements",
    "track_fields",
]


def track_fields(gen: GenParticles, tracks: Tracks) -> dict[str, npt.NDArray[np.generic]]:
    """The fields of ``<View>_Track`` (offsets: ``tracks.offsets``).

    Momenta in GeV, impact parameters in mm; ``GenIndex`` is the particle's
    index in its event's ``Gen_Part`` list.
    """
    return {
        "PT": tracks.pt,
        "Eta": tracks.eta,
        "Phi": tracks.phi,
        "Charge": tracks.charge,
        "P": tracks.pt * np.cosh(tracks.eta),
        "D0": tracks.d0,
        "DZ": tracks.dz,
        "ErrorPT": tracks.sigma_pt,
        "ErrorD0": tracks.err_d0,
        "ErrorDZ": tracks.err_dz,
        "EtaOuter": tracks.surface_eta,
        "PhiOuter": tracks.surface_phi,
        "GenIndex": gen.index[tracks.gen],
        "IsPU": tracks.is_pu,
    }


def _centres(grid: TowerGrid, tower: I64) -> tuple[F64, F64]:
    eta_lo, eta_hi, phi_lo, phi_hi = grid.bounds(tower)
    return 0.5 * (eta_lo + eta_hi), 0.5 * (phi_lo + phi_hi)


def cell_map(fine: TowerGrid, coarse: TowerGrid) -> I64:
    """For every tower of *fine*, the tower of *coarse* that holds its centre (-1: none)."""
    eta, phi = _centres(fine, np.arange(fine.n_towers, dtype=np.int64))
    return coarse.locate(eta, phi)


def forward_rows(ecal: CalorimeterSpec, hcal: CalorimeterSpec) -> npt.NDArray[np.bool_]:
    """For every eta row of the HCAL grid: True in a segment the ECAL has too (the HF).

    >>> from l1scout.detector.param import BinnedFunction
    >>> res = BinnedFunction(form="quadrature", variable="energy", abs_eta_edges=[0.0, 5.0],
    ...     edges=[0.0, float("inf")], coefficients={"a": [[0.1]], "b": [[1.0]], "c": [[0.0]]})
    >>> hf = CaloSegment(eta_min=3.0, eta_max=5.0, deta=1.0, n_phi=18)
    >>> def calo(*segs):
    ...     return CalorimeterSpec(segments=list(segs), resolution=res, energy_min=0.0,
    ...         significance_min=0.0, smear_tower_center=False)
    >>> ecal = calo(CaloSegment(eta_min=0.0, eta_max=3.0, deta=0.5, n_phi=36), hf)
    >>> hcal = calo(CaloSegment(eta_min=0.0, eta_max=3.0, deta=1.5, n_phi=18), hf)
    >>> forward_rows(ecal, hcal).tolist()
    [False, False, True, True]
    """
    shared = {_segment_key(s) for s in ecal.segments}
    rows = []
    for seg in sorted(hcal.segments, key=lambda s: s.eta_min):
        n = max(1, round((seg.eta_max - seg.eta_min) / seg.deta))  # as TowerGrid makes its rows
        rows.append(np.full(n, _segment_key(seg) in shared))
    return np.concatenate(rows)


def _segment_key(seg: CaloSegment) -> tuple[float, float, float, int]:
    return (seg.eta_min, seg.eta_max, seg.deta, seg.n_phi)


def surface_position(
    eta: F64, phi: F64, *, radius_mm: float, half_length_mm: float
) -> tuple[F64, F64, F64]:
    """x, y, z (mm) of the direction (eta, phi) from the origin on the calorimeter surface.

    The surface is the cylinder of the card's propagation section: its side
    (rho = R, |z| <= L) or an end cap (|z| = L).

    >>> x, y, z = surface_position(np.array([0.0, 3.0]), np.array([0.0, np.pi / 2]),
    ...     radius_mm=1290.0, half_length_mm=3000.0)
    >>> np.round([x, y, z], 1).tolist()
    [[1290.0, 0.0], [0.0, 299.5], [0.0, 3000.0]]
    """
    sinh = np.sinh(np.asarray(eta, dtype=np.float64))
    side = radius_mm * np.abs(sinh) <= half_length_mm
    with np.errstate(divide="ignore"):
        rho = np.where(side, radius_mm, half_length_mm / np.where(side, 1.0, np.abs(sinh)))
    z = np.where(side, radius_mm * sinh, np.copysign(half_length_mm, sinh))
    return rho * np.cos(phi), rho * np.sin(phi), z


@dataclass(frozen=True)
class TowerElements:
    """The written towers of a batch and their contributors (flat, grouped by event).

    Towers are sorted by (event, HCAL tower id), contributors by (event, tower,
    decreasing energy, particle). Energies in GeV, positions in mm.

    Attributes:
        offsets: towers per event.
        tower: the tower's id in the HCAL grid.
        energy: measured energy, ECAL + HCAL.
        eem: measured ECAL energy (the ECAL towers mapped into this one).
        ehad: measured HCAL energy.
        ehf: the measured energy of a forward (HF) tower, 0 elsewhere.
        eta: centre of the tower.
        phi: centre of the tower.
        x: the centre's position on the calorimeter surface.
        y: the same.
        z: the same.
        n_particles: generator particles that deposit in the tower.
        true_energy: sum of the true deposits (ECAL + HCAL).
        pu_fraction: sum(IsPU x E) / sum(E) over the true deposits.
        contrib_offsets: contributors per event.
        contrib_tower: the tower of each contributor (index in its event's towers).
        contrib_particle: the contributing particle (global index in the batch).
        contrib_energy: its true deposited energy in the tower.
    """

    offsets: I64
    tower: I64
    energy: F64
    eem: F64
    ehad: F64
    ehf: F64
    eta: F64
    phi: F64
    x: F64
    y: F64
    z: F64
    n_particles: I64
    true_energy: F64
    pu_fraction: F64
    contrib_offsets: I64
    contrib_tower: I64
    contrib_particle: I64
    contrib_energy: F64

    def fields(self) -> dict[str, npt.NDArray[np.generic]]:
        """The fields of ``<View>_Tower`` (offsets: :attr:`offsets`)."""
        return {
            "E": self.energy,
            "ET": self.energy / np.cosh(self.eta),
            "Eem": self.eem,
            "Ehad": self.ehad,
            "Ehf": self.ehf,
            "Eta": self.eta,
            "Phi": self.phi,
            "X": self.x,
            "Y": self.y,
            "Z": self.z,
            "NParticles": self.n_particles,
            "ETrue": self.true_energy,
            "PUFraction": self.pu_fraction,
        }

    def contrib_fields(self, gen: GenParticles) -> dict[str, npt.NDArray[np.generic]]:
        """The fields of ``<View>_TowerContrib`` (offsets: :attr:`contrib_offsets`)."""
        return {
            "Tower": self.contrib_tower,
            "GenIndex": gen.index[self.contrib_particle],
            "E": self.contrib_energy,
        }


def _sums(index: I64, weights: F64, minlength: int) -> F64:
    out: F64 = np.bincount(index, weights=weights, minlength=minlength).astype(np.float64)
    return out


def tower_elements(
    gen: GenParticles,
    ecal: CaloTowers,
    hcal: CaloTowers,
    deposits: Sequence[Deposits],
    forward: npt.NDArray[np.bool_],
    *,
    radius_mm: float,
    half_length_mm: float,
    ecal_to_hcal: I64 | None = None,
) -> TowerElements:
    """The towers of a batch on the HCAL grid, with ECAL energy mapped in, and their contributors.

    Args:
        gen: the generated particles.
        ecal: the filled ECAL towers (:func:`l1scout.detector.calorimeter.run_calorimeter`).
        hcal: the filled HCAL towers.
        deposits: the true deposits in the ECAL and in the HCAL, in that order
            (:func:`l1scout.detector.calorimeter.particle_deposits`).
        forward: per HCAL row, whether it is forward (:func:`forward_rows`).
        radius_mm: radius of the calorimeter surface.
        half_length_mm: its half-length.
        ecal_to_hcal: :func:`cell_map` of the ECAL grid onto the HCAL grid, if made already.

    Raises:
        ConfigError: an ECAL tower with deposits lies outside every HCAL tower.
    """
    n_ev = gen.n_events
    grid = hcal.grid
    n_h, n_e = grid.n_towers, ecal.grid.n_towers
    cmap = cell_map(ecal.grid, grid) if ecal_to_hcal is None else ecal_to_hcal
    dep_e, dep_h = deposits

    def to_hcal(key: I64) -> I64:
        cell = cmap[key % n_e]
        if np.any(cell < 0):
            eta, _ = _centres(ecal.grid, key[cell < 0][:1] % n_e)
            msg = (
                f"ECAL tower at eta {float(eta[0]):.3f} lies outside every HCAL tower: the "
                "Tower elements need the HCAL grid to cover the ECAL's"
            )
            raise ConfigError(msg)
        return (key // n_e) * n_h + cell

    # measured energy per tower key, ECAL and HCAL apart
    e_on = ecal.energy > 0
    h_on = hcal.energy > 0
    m_key = np.concatenate([to_hcal(ecal.key[e_on]), hcal.key[h_on]])
    keys, inverse = np.unique(m_key, return_inverse=True)
    n_ecal = int(e_on.sum())
    eem = _sums(inverse[:n_ecal], weights=ecal.energy[e_on], minlength=len(keys))
    ehad = _sums(inverse[n_ecal:], weights=hcal.energy[h_on], minlength=len(keys))
    energy = eem + ehad

    # true deposits in the written towers, summed per (tower, particle)
    d_key = np.concatenate([to_hcal(dep_e.key), dep_h.key])
    d_particle = np.concatenate([dep_e.particle, dep_h.particle])
    d_energy = np.concatenate([dep_e.energy, dep_h.energy])
    pos = np.searchsorted(keys, d_key)
    inside = pos < len(keys)
    inside[inside] = keys[pos[inside]] == d_key[inside]
    pos, d_particle, d_energy = pos[inside], d_particle[inside], d_energy[inside]
    pair = pos * max(len(gen.pt), 1) + d_particle
    pairs, pair_inv = np.unique(pair, return_inverse=True)
    c_energy = _sums(pair_inv, weights=d_energy, minlength=len(pairs))
    c_tower = pairs // max(len(gen.pt), 1)
    c_particle = pairs % max(len(gen.pt), 1)
    order = np.lexsort((c_particle, -c_energy, c_tower))
    c_tower, c_particle, c_energy = c_tower[order], c_particle[order], c_energy[order]

    n_tow = len(keys)
    true_e = _sums(c_tower, weights=c_energy, minlength=n_tow)
    pu_e = _sums(c_tower, weights=c_energy * gen.is_pu[c_particle], minlength=n_tow)
    with np.errstate(invalid="ignore", divide="ignore"):
        pu_fraction = np.where(true_e > 0, pu_e / np.where(true_e > 0, true_e, 1.0), 0.0)

    event = keys // n_h
    offsets = offsets_from_counts(np.bincount(event, minlength=n_ev))
    tower = keys % n_h
    eta, phi = _centres(grid, tower)
    x, y, z = surface_position(eta, phi, radius_mm=radius_mm, half_length_mm=half_length_mm)
    row = event_index(grid.row_start)[tower]
    c_event = event[c_tower]
    return TowerElements(
        offsets=offsets,
        tower=tower,
        energy=energy,
        eem=eem,
        ehad=ehad,
        ehf=np.where(forward[row], energy, 0.0),
        eta=eta,
        phi=phi,
        x=x,
        y=y,
        z=z,
        n_particles=np.bincount(c_tower, minlength=n_tow).astype(np.int64),
        true_energy=true_e,
        pu_fraction=pu_fraction,
        contrib_offsets=offsets_from_counts(np.bincount(c_event, minlength=n_ev)),
        contrib_tower=c_tower - offsets[c_event],
        contrib_particle=c_particle,
        contrib_energy=c_energy,
    )


def element_arrays(
    card: ViewCard,
    gen: GenParticles,
    tracks: Tracks,
    towers: tuple[CaloTowers, CaloTowers],
    deposits: Sequence[Deposits],
    wanted: Collection[str],
    cache: dict[str, Any] | None = None,
) -> dict[str, tuple[I64, npt.NDArray[np.generic]]]:
    """The requested ``<View>_Track``, ``_Tower`` and ``_TowerContrib`` columns as (offsets, values).

    Args:
        card: the view card (its name, calorimeters and surface).
        gen: the generated particles.
        tracks: the view's tracks.
        towers: its filled ECAL and HCAL towers.
        deposits: the true ECAL and HCAL deposits.
        wanted: names among :data:`l1scout.io.schema.ELEMENT_COLLECTIONS`.
        cache: keeps the ECAL-to-HCAL map and the forward rows of the card
            between batches.
    """
    cache = {} if cache is None else cache
    view = card.name
    cols: dict[str, tuple[I64, npt.NDArray[np.generic]]] = {}

    def put(prefix: str, offsets: I64, fields: dict[str, npt.NDArray[np.generic]]) -> None:
        for name, values in fields.items():
            cols[f"{view}_{prefix}_{name}"] = (offsets, values)

    if "Track" in wanted:
        put("Track", tracks.offsets, track_fields(gen, tracks))
    if "Tower" not in wanted and "TowerContrib" not in wanted:
        return cols
    ecal, hcal = towers
    key = f"ecal to hcal {card.ecal.model_dump_json()} {card.hcal.model_dump_json()}"
    if key not in cache:
        cache[key] = cell_map(ecal.grid, hcal.grid), forward_rows(card.ecal, card.hcal)
    cmap, forward = cache[key]
    prop = card.propagation
    elems = tower_elements(
        gen,
        ecal,
        hcal,
        deposits,
        forward,
        radius_mm=prop.radius_mm,
        half_length_mm=prop.half_length_mm,
        ecal_to_hcal=cmap,
    )
    if "Tower" in wanted:
        put("Tower", elems.offsets, elems.fields())
    if "TowerContrib" in wanted:
        put("TowerContrib", elems.contrib_offsets, elems.contrib_fields(gen))
    return cols
