"""Electrons, muons and photons of a view, as the Delphes Phase-2 card makes them.

* Electrons: the electron tracks of the energy flow (``ElectronFilter``), kept
  with the card's ``ElectronEfficiency``.
* Muons (tight): the muon tracks, kept with the reconstruction and the
  tight-identification efficiencies (``MuonTightIdEfficiency``).
* Photons (tight): ECAL neutral candidates above ``pt_min`` (``PhotonFilter``),
  matched to generated non-pileup photons and kept with the prompt, non-prompt
  or fake efficiency of ``PhotonTightID``.

Isolation (Delphes ``Isolation``, cone ``delta_r_max``): ``IsolationVar`` on
the PUPPI-weighted candidates without leptons (as the card's ``Electron`` and
``MuonTight`` branches), ``IsolationVarRhoCorr`` on the CHS candidates without
leptons with rho from the median method (the card's ``*IsolationCHS``).
``EhadOverEem`` is the ratio of the HCAL and ECAL tower energies at the
object's impact point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from l1scout._jagged import event_index, offsets_from_counts, wrap_phi
from l1scout._types import F64, I64
from l1scout.detector.calorimeter import CaloTowers
from l1scout.detector.param import BinnedFunction
from l1scout.detector.particles import GenParticles
from l1scout.detector.view_card import IsolationSpec
from l1scout.reco.isolation import CHARGED_NOPU, CHARGED_PU, NEUTRAL, IsolationSums, isolation
from l1scout.reco.particleflow import Candidates

__all__ = ["IsolationInputs", "ehad_over_eem", "keep_with", "match_photons", "select"]


@dataclass(frozen=True)
class IsolationInputs:
    """A candidate list for isolation sums (flat + offsets) with its classes.

    ``source`` is the index of each entry in the :class:`Candidates` batch it
    was taken from.
    """

    offsets: I64
    pt: F64
    eta: F64
    phi: F64
    cls: npt.NDArray[np.int8]
    source: I64
    n_source: int

    @classmethod
    def from_candidates(cls, cands: Candidates, *, weighted: bool) -> IsolationInputs:
        """Candidates without electrons and muons (Delphes ``EFlowFilterPuppi`` / ``EFlowFilterCHS``).

        With *weighted*, the PUPPI candidates: w > 0 only, pT scaled by w;
        otherwise the CHS candidates (not flagged ``IsRecoPU``).
        """
        keep = ~cands.is_lepton
        pt = cands.pt
        if weighted:
            keep &= cands.puppi_w > 0
            pt = cands.pt * cands.puppi_w
        else:
            keep &= cands.is_reco_pu == 0
        sub = np.flatnonzero(keep)
        klass = np.where(
            cands.charge[sub] == 0,
            NEUTRAL,
            np.where(cands.is_reco_pu[sub] == 1, CHARGED_PU, CHARGED_NOPU),
        ).astype(np.int8)
        counts = np.bincount(cands.event[sub], minlength=cands.n_events)
        return cls(
            offsets_from_counts(counts),
            pt[sub],
            cands.eta[sub],
            cands.phi[sub],
            klass,
            sub,
            len(cands.pt),
        )

    def own_index(self, candidate: I64) -> I64:
        """Local index in this list of the given candidates of the source batch (-1: not in it)."""
        local = np.full(self.n_source, -1, dtype=np.int64)
        local[self.source] = np.arange(len(self.source)) - self.offsets[event_index(self.offsets)]
        return local[candidate]

    def sums(
        self,
        offsets: I64,
        pt: F64,
        eta: F64,
        phi: F64,
        own: I64,
        rho: F64,
        spec: IsolationSpec,
    ) -> IsolationSums:
        """Isolation sums of objects (flat + offsets) in this list; *own*: their own entry or -1."""
        return isolation(
            offsets,
            pt,
            eta,
            phi,
            own,
            self.offsets,
            self.pt,
            self.eta,
            self.phi,
            self.cls,
            rho,
            delta_r_max=spec.delta_r_max,
            pt_min=spec.pt_min,
        )


def select(event: I64, keep: npt.NDArray[np.bool_], n_events: int) -> tuple[I64, I64]:
    """Indices of the kept entries and the offsets of the selection (entries grouped by event)."""
    idx = np.flatnonzero(keep)
    order = idx[np.argsort(event[idx], kind="stable")]
    return order, offsets_from_counts(np.bincount(event[order], minlength=n_events))


def ehad_over_eem(ecal: CaloTowers, hcal: CaloTowers, event: I64, eta: F64, phi: F64) -> F64:
    """HCAL over ECAL measured tower energy at (eta, phi) in each event (0 when ECAL is empty)."""
    e_em = ecal.energy_at(event, eta, phi)
    e_had = hcal.energy_at(event, eta, phi)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(e_em > 0, e_had / np.where(e_em > 0, e_em, 1.0), 0.0)


def match_photons(
    event: I64, pt: F64, eta: F64, phi: F64, gen: GenParticles, *, delta_r: float, pt_ratio: float
) -> npt.NDArray[np.bool_]:
    """Whether each photon candidate matches a generated non-pileup final-state photon.

    Match: dR <= *delta_r* and |pT - pT_gen| / pT_gen <= *pt_ratio* (Delphes ``PhotonID``).
    """
    g = np.flatnonzero((gen.pid == 22) & (gen.status == 1) & (gen.is_pu == 0))
    matched = np.zeros(len(pt), dtype=bool)
    if len(g) == 0 or len(pt) == 0:
        return matched
    g_event = gen.event[g]
    order = np.argsort(g_event, kind="stable")
    g, g_event = g[order], g_event[order]
    g_off = offsets_from_counts(np.bincount(g_event, minlength=gen.n_events))
    for i in range(len(pt)):
        lo, hi = g_off[event[i]], g_off[event[i] + 1]
        if hi == lo:
            continue
        gi = g[lo:hi]
        dphi = wrap_phi(phi[i] - gen.phi[gi])
        dr2 = (eta[i] - gen.eta[gi]) ** 2 + dphi**2
        ok = (dr2 <= delta_r**2) & (np.abs(pt[i] - gen.pt[gi]) <= pt_ratio * gen.pt[gi])
        matched[i] = bool(ok.any())
    return matched


def keep_with(
    efficiency: BinnedFunction, pt: F64, eta: F64, rng: np.random.Generator
) -> npt.NDArray[np.bool_]:
    """Bernoulli draws with the card's efficiency."""
    return rng.random(len(pt)) < efficiency(pt, eta)
