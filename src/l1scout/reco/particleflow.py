"""Particle-flow candidates: tracks plus the neutral excess of the calorimeter towers.

Every reconstructed track is a charged candidate with its measured momentum,
the true PDG id and mass (Delphes ``EFlowMerger`` of the energy-flow tracks);
every tower excess is a neutral candidate (``PID`` 22 from ECAL and the
card's id, 0 in Delphes, from HCAL), massless. Candidates are sorted by pT
in each event and, when the card says so (the L1T view), cut to the
``max_candidates`` highest-pT ones.

``fUniqueID`` identifies a candidate within its event: ``1 + index`` of the
generated particle for tracks (so a track leads back to ``Gen_Part``), and
``2^31 + 2^30 * calorimeter + n`` for the n-th neutral of ECAL (0) or HCAL (1).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from l1scout._jagged import PtEtaPhiBatch, offsets_from_counts
from l1scout._sort import sort_within_events
from l1scout._types import F64, I64
from l1scout.detector.calorimeter import NeutralCandidates
from l1scout.detector.particles import GenParticles
from l1scout.detector.tracking import Tracks

__all__ = ["Candidates", "build_candidates"]


_NEUTRAL_BASE = np.uint32(1 << 31)


@dataclass(frozen=True)
class Candidates(PtEtaPhiBatch):
    """A batch of particle-flow candidates (flat arrays grouped by event).

    Momenta and energies in GeV, impact parameters in mm. ``gen`` is the global
    index of the generated particle of a track (-1 for neutrals); ``puppi_w``
    and ``is_reco_pu`` are filled by PUPPI and CHS.
    """

    offsets: I64
    uid: npt.NDArray[np.uint32]
    pid: npt.NDArray[np.int32]
    charge: npt.NDArray[np.int8]
    pt: F64
    eta: F64
    phi: F64
    energy: F64
    mass: F64
    d0: F64
    dz: F64
    err_d0: F64
    err_dz: F64
    is_pu: npt.NDArray[np.int8]
    gen: I64
    is_reco_pu: npt.NDArray[np.int32]
    puppi_w: npt.NDArray[np.float32]

    @cached_property
    def is_lepton(self) -> npt.NDArray[np.bool_]:
        """Electron and muon tracks (PUPPI and isolation leave them out)."""
        return np.asarray((self.charge != 0) & np.isin(np.abs(self.pid), (11, 13)), dtype=np.bool_)

    @cached_property
    def rapidity(self) -> F64:
        """Rapidity."""
        pz = self.pz
        e = np.maximum(self.energy, np.abs(pz) + 1e-12)
        return 0.5 * np.log((e + pz) / (e - pz))

    def take(self, keep: npt.NDArray[np.bool_]) -> Candidates:
        """The candidates where *keep* is true, in the same order and events."""
        counts = np.bincount(self.event[keep], minlength=self.n_events)
        fields = {
            f.name: getattr(self, f.name)[keep]
            for f in dataclasses.fields(self)
            if f.name != "offsets"
        }
        return Candidates(offsets=offsets_from_counts(counts), **fields)

    def replace(self, **changes: npt.NDArray[Any]) -> Candidates:
        """A copy with some fields replaced."""
        return dataclasses.replace(self, **changes)


def build_candidates(
    gen: GenParticles,
    tracks: Tracks,
    ecal: NeutralCandidates,
    hcal: NeutralCandidates,
    *,
    photon_pid: int,
    neutral_hadron_pid: int,
    max_candidates: int,
) -> Candidates:
    """Merge tracks and neutrals into sorted candidates, cut to *max_candidates* (0: no cut)."""
    n_ev = gen.n_events
    t_event = gen.event[tracks.gen]
    parts: dict[str, tuple[npt.NDArray[Any], ...]] = {
        "event": (t_event, ecal.event, hcal.event),
        "pt": (
            tracks.pt,
            ecal.energy / np.cosh(ecal.eta),
            hcal.energy / np.cosh(hcal.eta),
        ),
        "eta": (tracks.eta, ecal.eta, hcal.eta),
        "phi": (tracks.phi, ecal.phi, hcal.phi),
        "energy": (tracks.energy, ecal.energy, hcal.energy),
        "mass": (tracks.mass, np.zeros(len(ecal.eta)), np.zeros(len(hcal.eta))),
        "pid": (
            tracks.pid,
            np.full(len(ecal.eta), photon_pid, np.int32),
            np.full(len(hcal.eta), neutral_hadron_pid, np.int32),
        ),
        "charge": (
            tracks.charge,
            np.zeros(len(ecal.eta), np.int8),
            np.zeros(len(hcal.eta), np.int8),
        ),
        "d0": (tracks.d0, np.zeros(len(ecal.eta)), np.zeros(len(hcal.eta))),
        "dz": (tracks.dz, np.zeros(len(ecal.eta)), np.zeros(len(hcal.eta))),
        "err_d0": (tracks.err_d0, np.zeros(len(ecal.eta)), np.zeros(len(hcal.eta))),
        "err_dz": (tracks.err_dz, np.zeros(len(ecal.eta)), np.zeros(len(hcal.eta))),
        "is_pu": (tracks.is_pu, ecal.is_pu, hcal.is_pu),
        "gen": (
            tracks.gen,
            np.full(len(ecal.eta), -1, np.int64),
            np.full(len(hcal.eta), -1, np.int64),
        ),
    }
    flat: dict[str, npt.NDArray[Any]] = {k: np.concatenate(v) for k, v in parts.items()}
    ecal_n = (
        np.arange(len(ecal.event))
        - offsets_from_counts(np.bincount(ecal.event, minlength=n_ev))[ecal.event]
    )
    hcal_n = (
        np.arange(len(hcal.event))
        - offsets_from_counts(np.bincount(hcal.event, minlength=n_ev))[hcal.event]
    )
    uid = np.concatenate(
        [
            (tracks.gen - gen.offsets[gen.event[tracks.gen]] + 1).astype(np.uint32),
            (_NEUTRAL_BASE + ecal_n).astype(np.uint32),
            (_NEUTRAL_BASE + np.uint32(1 << 30) + hcal_n).astype(np.uint32),
        ]
    )
    event = flat.pop("event")
    by_event = np.argsort(event, kind="stable")
    grouped = offsets_from_counts(np.bincount(event, minlength=n_ev))
    perm, _ = sort_within_events(grouped, flat["pt"][by_event])
    order = by_event[perm]  # = np.lexsort((-pt, event)), a radix sort per event
    event = event[order]
    counts = np.bincount(event, minlength=n_ev)
    offsets = offsets_from_counts(counts)
    if max_candidates > 0:
        rank = np.arange(len(event)) - offsets[event]
        keep = rank < max_candidates
        order, event = order[keep], event[keep]
        offsets = offsets_from_counts(np.bincount(event, minlength=n_ev))
    n = len(order)
    return Candidates(
        offsets=offsets,
        uid=uid[order],
        pid=flat["pid"][order].astype(np.int32),
        charge=flat["charge"][order].astype(np.int8),
        pt=flat["pt"][order],
        eta=flat["eta"][order],
        phi=flat["phi"][order],
        energy=flat["energy"][order],
        mass=flat["mass"][order],
        d0=flat["d0"][order],
        dz=flat["dz"][order],
        err_d0=flat["err_d0"][order],
        err_dz=flat["err_dz"][order],
        is_pu=flat["is_pu"][order].astype(np.int8),
        gen=flat["gen"][order].astype(np.int64),
        is_reco_pu=np.zeros(n, np.int32),
        puppi_w=np.ones(n, np.float32),
    )
