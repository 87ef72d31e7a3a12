"""Hand-made MLPF evaluation events shared by the study and report tests.

Events of two back-to-back "jets" of two charged pions and a photon each, plus
soft charged pileup. Every charged particle has a track, every photon its own
tower, so each generator particle is its own target. The rule-based PF
columns are the generator particles with a 2 % pT smear (PF: all; PF+CHS:
charged pileup removed; PUPPI: pileup weighted 0.05).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from l1scout._jagged import offsets_from_counts
from l1scout.tasks.mlpf.study import MLPFEvaluationSettings
from l1scout.tasks.mlpf.targets import MLPFTargets, mlpf_targets

VIEW = "FullReco"
SETTINGS = MLPFEvaluationSettings(
    pt_edges=(20.0, 60.0, 200.0), eta_max=2.5, particle_pt_edges=(0.0, 5.0, 500.0), n_bootstrap=50
)
PION_MASS = 0.13957


def events(n_events: int, seed: int = 3) -> dict[str, Any]:
    """Per-particle rows: pid, charge, pt, eta, phi, mass, is_pu, and per-event counts."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[int, int, float, float, float, float, int]] = []
    counts = []
    for _ in range(n_events):
        n = 0
        phi0 = rng.uniform(-np.pi, np.pi)
        for phi_jet in (phi0, phi0 + np.pi):
            eta_jet, pt_jet = rng.uniform(-1.5, 1.5), rng.uniform(25.0, 180.0)
            for frac, pid, charge in ((0.5, 211, 1), (0.3, -211, -1), (0.2, 22, 0)):
                eta = eta_jet + rng.uniform(-0.05, 0.05)
                phi = float(np.angle(np.exp(1j * (phi_jet + rng.uniform(-0.05, 0.05)))))
                mass = PION_MASS if charge else 0.0
                rows.append((pid, charge, frac * pt_jet, eta, phi, mass, 0))
                n += 1
        for _ in range(4):  # soft charged pileup
            rows.append(
                (
                    211,
                    1,
                    rng.uniform(0.5, 3.0),
                    rng.uniform(-2.4, 2.4),
                    rng.uniform(-3, 3),
                    PION_MASS,
                    1,
                )
            )
            n += 1
        counts.append(n)
    cols = list(zip(*rows, strict=True))
    return {
        "offsets": offsets_from_counts(counts),
        "pid": np.array(cols[0], dtype=np.int64),
        "charge": np.array(cols[1], dtype=np.int64),
        "pt": np.array(cols[2]),
        "eta": np.array(cols[3]),
        "phi": np.array(cols[4]),
        "mass": np.array(cols[5]),
        "is_pu": np.array(cols[6], dtype=np.int64),
    }


def local(offsets: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-event offsets of the masked particles and their index within their event."""
    ev = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    local = np.arange(len(ev)) - offsets[ev]
    return offsets_from_counts(np.bincount(ev[mask], minlength=len(offsets) - 1)), local[mask]


def targets(g: dict[str, Any]) -> MLPFTargets:
    off = g["offsets"]
    trk_off, trk_gi = local(off, g["charge"] != 0)
    twr_off, twr_gi = local(off, g["charge"] == 0)
    energy = np.hypot(g["pt"] * np.cosh(g["eta"]), g["mass"])[g["charge"] == 0]
    return mlpf_targets(
        gen_offsets=off,
        gen_pid=g["pid"],
        gen_status=np.ones_like(g["pid"]),
        gen_charge=g["charge"],
        gen_pt=g["pt"],
        gen_eta=g["eta"],
        gen_phi=g["phi"],
        gen_mass=g["mass"],
        gen_is_pu=g["is_pu"],
        track_offsets=trk_off,
        track_gen_index=trk_gi,
        tower_offsets=twr_off,
        contrib_offsets=twr_off,
        contrib_tower=np.arange(len(twr_gi))
        - twr_off[np.repeat(np.arange(len(twr_off) - 1), np.diff(twr_off))],
        contrib_gen_index=twr_gi,
        contrib_energy=energy,
    )


def columns(g: dict[str, Any], smear: float = 0.02, seed: int = 5) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    off = g["offsets"]
    cols: dict[str, Any] = {}
    gen = {
        "PID": g["pid"],
        "Status": np.ones_like(g["pid"]),
        "Charge": g["charge"],
        "PT": g["pt"],
        "Eta": g["eta"],
        "Phi": g["phi"],
        "Mass": g["mass"],
        "IsPU": g["is_pu"],
    }
    cols.update({f"Gen_Part_{k}": (off, v) for k, v in gen.items()})
    pt = g["pt"] * (1.0 + smear * rng.standard_normal(len(g["pt"])))
    pf = {
        "PT": pt,
        "Eta": g["eta"],
        "Phi": g["phi"],
        "E": pt * np.cosh(g["eta"]),
        "PID": g["pid"],
        "Charge": g["charge"],
        "IsPU": g["is_pu"],
        "PuppiW": np.where(g["is_pu"] == 1, 0.05, 1.0),
        "IsRecoPU": g["is_pu"],
    }
    cols.update({f"{VIEW}_PUPPIPart_{k}": (off, v) for k, v in pf.items()})
    chs = (g["is_pu"] == 0) | (g["charge"] == 0)
    chs_off, _ = local(off, chs)
    cols.update({f"{VIEW}_PFPart_{k}": (chs_off, v[chs]) for k, v in pf.items()})
    return cols


def perfect(t: MLPFTargets) -> dict[str, np.ndarray]:
    el = t.elements
    return {
        "particle_score": el.is_particle.astype(np.float64),
        "cls": el.cls.astype(np.int64),
        "pt": el.pt,
        "eta": el.eta,
        "phi": np.arctan2(el.sin_phi, el.cos_phi),
        "energy": el.energy,
        "pileup_score": el.is_pu.astype(np.float64),
    }
