"""Particle collections for the MLPF evaluation: one type for every reconstruction.

:class:`Particles` holds per-event offsets plus pT, eta, phi and energy, with
an optional class and pileup score. The MLPF output
(:func:`particles_from_elements`), the MLPF targets
(:func:`particles_from_targets`), the rule-based particle flow, PF+CHS and
PUPPI read from a file (:func:`particles_from_columns`) and the generator
particles (:func:`gen_particles_from_columns`) all become one, so that
:mod:`l1scout.tasks.mlpf.metrics` compares them alike;
:func:`applied_pileup_flag` removes (or down-weights) the particles a pileup
score flags. Momenta and energies in GeV, angles in rad.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from l1scout._arrays import flat_array
from l1scout._jagged import (
    Jagged,
    PtEtaPhiBatch,
    check_offsets,
    offsets_from_counts,
)
from l1scout._types import F64, I64, B
from l1scout.detector.particles import INVISIBLE_PIDS
from l1scout.errors import ConfigError, DataFormatError
from l1scout.tasks.mlpf.targets import CLASS_NAMES, ElementTargets, particle_class

__all__ = [
    "Particles",
    "applied_pileup_flag",
    "check_same_events",
    "gen_particles_from_columns",
    "particles_from_columns",
    "particles_from_elements",
    "particles_from_targets",
]

# |eta| from which a pseudorapidity is Delphes' +-999.9 of a pT = 0 particle
_ETA_ALONG_BEAM = 100.0


# ---------------------------------------------------------------- particle collections


@dataclass(frozen=True, eq=False)
class Particles(PtEtaPhiBatch):
    """A particle collection of a batch: flat arrays over all events plus offsets.

    Checked and converted on construction (float64; ``cls`` int8).

    Attributes:
        offsets: per-event offsets (n_events + 1).
        pt: transverse momentum (GeV, >= 0).
        eta: pseudorapidity (+-999.9 for pT = 0: then pz = 0).
        phi: azimuth (rad).
        energy: energy (GeV, >= 0).
        cls: class code of :data:`l1scout.tasks.mlpf.targets.CLASS_NAMES`, or None.
        pu_score: per-particle pileup score (higher: more pileup-like), or None.

    Raises:
        ConfigError: malformed offsets.
        DataFormatError: a column of another length, NaN or infinite values,
            negative pT or energy, a class outside 0..5.

    >>> p = Particles(np.array([0, 2]), [3.0, 4.0], [0.0, 0.0], [0.0, np.pi / 2], [3.0, 4.0])
    >>> p.n_events, p.px.round(6).tolist(), p.py.round(6).tolist()
    (1, [3.0, 0.0], [0.0, 4.0])
    """

    offsets: I64
    pt: F64
    eta: F64
    phi: F64
    energy: F64
    cls: npt.NDArray[np.int8] | None = None
    pu_score: F64 | None = None

    def __post_init__(self) -> None:
        """Check and convert the columns (see the class docstring)."""
        off = check_offsets(self.offsets, "particles.offsets")
        n = int(off[-1])
        cols: dict[str, Any] = {"offsets": off}
        for name in ("pt", "eta", "phi", "energy"):
            cols[name] = flat_array(getattr(self, name), f"particles.{name}", n)
        for name in ("pt", "energy"):
            if np.any(cols[name] < 0):
                msg = f"particles.{name}: expected values >= 0 GeV, got a minimum of {cols[name].min():g}"
                raise DataFormatError(msg)
        if self.cls is not None:
            cls = flat_array(self.cls, "particles.cls", n, dtype=np.int64)
            if np.any((cls < 0) | (cls >= len(CLASS_NAMES))):
                msg = f"particles.cls: expected class codes 0..{len(CLASS_NAMES) - 1}"
                raise DataFormatError(msg)
            cols["cls"] = cls.astype(np.int8)
        if self.pu_score is not None:
            cols["pu_score"] = flat_array(self.pu_score, "particles.pu_score", n)
        for name, value in cols.items():
            object.__setattr__(self, name, value)

    def take(self, keep: B) -> Particles:
        """The particles where *keep* (a bool mask over all particles) is True."""
        counts = np.bincount(self.event[keep], minlength=self.n_events)
        return Particles(
            offsets_from_counts(counts),
            self.pt[keep],
            self.eta[keep],
            self.phi[keep],
            self.energy[keep],
            None if self.cls is None else self.cls[keep],
            None if self.pu_score is None else self.pu_score[keep],
        )

    def scaled(self, weight: F64) -> Particles:
        """Four-momenta scaled by *weight* (>= 0, one per particle); zero weights dropped."""
        keep = weight > 0
        w = np.where(keep, weight, 0.0)
        out = Particles(
            self.offsets, self.pt * w, self.eta, self.phi, self.energy * w, self.cls, self.pu_score
        )
        return out.take(keep)


def particles_from_elements(
    offsets: npt.ArrayLike,
    is_particle: npt.ArrayLike,
    pt: npt.ArrayLike,
    eta: npt.ArrayLike,
    sin_phi: npt.ArrayLike,
    cos_phi: npt.ArrayLike,
    energy: npt.ArrayLike,
    *,
    cls: npt.ArrayLike | None = None,
    pu_score: npt.ArrayLike | None = None,
) -> Particles:
    """The particles of per-element outputs (MLPF's layout): the elements with ``is_particle``.

    phi is ``arctan2(sin_phi, cos_phi)``; the columns are per element (offsets:
    elements per event).

    >>> p = particles_from_elements([0, 3], [1, 0, 1], [5.0, 0.0, 2.0], [0.0, 0.0, 1.0],
    ...                             [0.0, 0.0, 1.0], [1.0, 1.0, 0.0], [5.0, 0.0, 3.1])
    >>> p.offsets.tolist(), p.pt.tolist(), round(float(p.phi[1]), 4)
    ([0, 2], [5.0, 2.0], 1.5708)
    """
    off = check_offsets(offsets, "elements offsets")
    n = int(off[-1])
    keep = flat_array(is_particle, "is_particle", n, dtype=np.int64) != 0
    phi = np.arctan2(flat_array(sin_phi, "sin_phi", n), flat_array(cos_phi, "cos_phi", n))
    el = Particles(
        off,
        flat_array(pt, "pt", n),
        flat_array(eta, "eta", n),
        phi,
        flat_array(energy, "energy", n),
        None if cls is None else flat_array(cls, "cls", n, dtype=np.int64).astype(np.int8),
        None if pu_score is None else flat_array(pu_score, "pu_score", n),
    )
    return el.take(keep)


def particles_from_targets(targets: ElementTargets) -> Particles:
    """The target particles of :class:`~l1scout.tasks.mlpf.targets.ElementTargets`.

    The pileup score is the target's pileup energy fraction.
    """
    return particles_from_elements(
        targets.offsets,
        targets.is_particle,
        targets.pt,
        targets.eta,
        targets.sin_phi,
        targets.cos_phi,
        targets.energy,
        cls=targets.cls,
        pu_score=targets.pu_fraction,
    )


def _columns(columns: Mapping[str, Jagged], prefix: str, fields: Sequence[str]) -> list[Any]:
    """The shared offsets and flat values of ``{prefix}_{field}`` columns."""
    missing = [f"{prefix}_{f}" for f in fields if f"{prefix}_{f}" not in columns]
    if missing:
        msg = f"columns missing for the MLPF metrics: {', '.join(missing)}"
        raise DataFormatError(msg)
    offsets = np.asarray(columns[f"{prefix}_{fields[0]}"][0], dtype=np.int64)
    out: list[Any] = [offsets]
    for f in fields:
        off, val = columns[f"{prefix}_{f}"]
        if not np.array_equal(np.asarray(off), offsets):
            msg = f"{prefix}_{f}: expected the same offsets as {prefix}_{fields[0]}"
            raise DataFormatError(msg)
        out.append(np.asarray(val))
    return out


def particles_from_columns(
    columns: Mapping[str, Jagged], collection: str, *, chs: bool = False, puppi: bool = False
) -> Particles:
    """A particle-flow collection of a file (``<View>_PFPart`` or ``<View>_PUPPIPart``).

    Reads ``{collection}_{PT, Eta, Phi, E, PID, Charge}``; the class is the
    candidate's (:func:`l1scout.tasks.mlpf.targets.particle_class`: tracks by
    their true PDG id, ECAL neutrals photons, HCAL neutrals neutral hadrons).
    The pileup score is ``1 - PuppiW`` when the collection has ``PuppiW``.

    * ``<View>_PFPart`` is already PF+CHS (candidates flagged ``IsRecoPU``
      removed, ``l1scout.reco.chs``); ``<View>_PUPPIPart`` holds every
      candidate, unweighted: PF without CHS.
    * ``chs=True`` drops the candidates with ``IsRecoPU == 1`` (PF+CHS from
      ``PUPPIPart``).
    * ``puppi=True`` scales each four-momentum by ``PuppiW`` and drops the
      zero weights (PUPPI, as the PUPPI jets and MET are made).

    Raises:
        DataFormatError: a column missing, or columns with different offsets.
    """
    fields = ["PT", "Eta", "Phi", "E", "PID", "Charge"]
    fields += ["IsRecoPU"] if chs else []
    has_w = puppi or f"{collection}_PuppiW" in columns
    fields += ["PuppiW"] if has_w else []
    off, pt, eta, phi, energy, pid, charge, *rest = _columns(columns, collection, fields)
    w = flat_array(rest[-1], f"{collection}_PuppiW", len(pt)) if has_w else None
    out = Particles(
        off, pt, eta, phi, energy, particle_class(pid, charge), None if w is None else 1.0 - w
    )
    keep = np.ones(len(out.pt), dtype=bool)
    if chs:
        keep &= flat_array(rest[0], f"{collection}_IsRecoPU", len(keep), dtype=np.int64) == 0
    if puppi and w is not None:
        return out.scaled(np.where(keep, w, 0.0))
    return out.take(keep)


def gen_particles_from_columns(
    columns: Mapping[str, Jagged], *, hard_only: bool = True
) -> Particles:
    """The generator reference: visible stable ``Gen_Part`` entries (of the hard collision).

    Visible stable is the rule of the MLPF targets (``Status`` 1, not in
    ``INVISIBLE_PIDS`` nor a hidden-valley state); ``hard_only`` keeps
    ``IsPU == 0`` only, as generator jets and MET carry no pileup (CMS,
    arXiv:2601.17554). The class is the particle's own
    (:func:`~l1scout.tasks.mlpf.targets.particle_class`); the pileup score is
    ``IsPU``. Energy is ``sqrt(p^2 + m^2)``.
    """
    fields = ["PID", "Status", "Charge", "PT", "Eta", "Phi", "Mass", "IsPU"]
    off, pid, status, charge, pt, eta, phi, mass, is_pu = _columns(columns, "Gen_Part", fields)
    n = int(check_offsets(off, "Gen_Part offsets")[-1])
    pt, eta, mass = (
        flat_array(a, name, n) for a, name in ((pt, "PT"), (eta, "Eta"), (mass, "Mass"))
    )
    along = np.abs(eta) >= _ETA_ALONG_BEAM
    pz = np.where(along, 0.0, pt * np.sinh(np.where(along, 0.0, eta)))
    apid = np.abs(np.asarray(pid, dtype=np.int64))
    invisible = np.isin(apid, np.fromiter(INVISIBLE_PIDS, dtype=np.int64))
    invisible |= (apid >= 4_900_000) & (apid < 5_000_000)
    keep = (np.asarray(status) == 1) & ~invisible
    if hard_only:
        keep &= np.asarray(is_pu) == 0
    out = Particles(
        off,
        pt,
        eta,
        phi,
        np.sqrt(pt * pt + pz * pz + mass * mass),
        particle_class(pid, charge),
        np.asarray(is_pu, dtype=np.float64),
    )
    return out.take(keep)


def check_same_events(a: Particles, b: Particles, names: str) -> None:
    """Refuse two collections of different event counts (*names* names them in the message)."""
    if a.n_events != b.n_events:
        msg = f"{names}: expected the same number of events, got {a.n_events} and {b.n_events}"
        raise DataFormatError(msg)


def applied_pileup_flag(
    particles: Particles,
    pu_score: npt.ArrayLike | None = None,
    threshold: float = 0.5,
    *,
    mode: Literal["drop", "weight"] = "drop",
) -> Particles:
    """*particles* with the ones flagged as pileup (``score > threshold``) removed.

    "MLPF with its pileup flag applied". *pu_score* defaults to
    ``particles.pu_score``; with the MLPF head's pileup probability and
    ``threshold = 0.5`` the flag is the head's argmax. ``mode="weight"``
    additionally scales the four-momentum of each kept particle by
    ``1 - score`` (the score read as a pileup probability, as PUPPI weights
    read ``1 - PuppiW``; scores must lie in [0, 1]); ``threshold = 1`` then
    gives pure weighting.

    Raises:
        ConfigError: no score, a threshold that is not finite, an unknown mode.
        DataFormatError: a score of the wrong length, NaN, or outside [0, 1] when weighting.

    >>> p = Particles(np.array([0, 3]), [1.0, 2.0, 3.0], [0.0] * 3, [0.0] * 3, [1.0, 2.0, 3.0])
    >>> applied_pileup_flag(p, [0.9, 0.2, 0.5]).pt.tolist()
    [2.0, 3.0]
    >>> applied_pileup_flag(p, [0.9, 0.2, 0.5], 1.0, mode="weight").pt.round(6).tolist()
    [0.1, 1.6, 1.5]
    """
    raw = particles.pu_score if pu_score is None else pu_score
    if raw is None:
        msg = "pu_score: expected a score per particle (the collection has none)"
        raise ConfigError(msg)
    if not np.isfinite(threshold):
        msg = f"threshold: expected a finite number, got {threshold}"
        raise ConfigError(msg)
    n = len(particles.pt)
    s = flat_array(raw, "pu_score", n)
    if mode == "drop":
        return particles.take(s <= threshold)
    if mode != "weight":
        msg = f"mode: expected 'drop' or 'weight', got {mode!r}"
        raise ConfigError(msg)
    if np.any((s < 0) | (s > 1)):
        msg = "pu_score: expected probabilities in [0, 1] to weight by 1 - score"
        raise DataFormatError(msg)
    return particles.scaled(np.where(s <= threshold, 1.0 - s, 0.0))
