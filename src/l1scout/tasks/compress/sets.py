"""PUPPI candidates of scouting events as padded particle sets, the learned codecs' input and output.

:class:`ParticleSets` holds ``n`` events as a float32 array ``[n, k, F]`` and
a bool mask ``[n, k]`` (True: a real candidate; the first ``count`` slots, by
decreasing pT as :class:`~l1scout.tasks.scouting.events.StreamEvents` orders
them). The ``F`` = 14 features (:data:`FEATURE_NAMES`), each an O(1) number:

=============  =================================================================
``log_pt``     ln(pT / 1 GeV) - :data:`LOG_PT_OFFSET` (pT unweighted, as the stream)
``eta``        eta / :data:`ETA_SCALE`
``cos_phi``    cos(phi)
``sin_phi``    sin(phi) (the pair has no wrap-around at +-pi)
``z0``         DZ / :data:`Z0_SCALE_MM` for charged candidates, 0 for neutrals
``puppi_w``    the PUPPI weight, in [0, 1]
``code0..7``   one-hot of the 3-bit particle code of the Phase-2 PUPPI word
               (:func:`~l1scout.tasks.scouting.words.puppi_code`: type and charge
               in one: 0 neutral hadron, 1 photon, 2/3 pi-/pi+, 4/5 e-/e+, 6/7 mu-/mu+)
=============  =================================================================

Padded slots are all zero. :meth:`ParticleSets.to_columns` inverts the scaling
(pT = exp(log_pt + offset), eta, phi = atan2(sin, cos), the code from the
largest of the eight code entries, PID = :data:`~l1scout.tasks.scouting.words.PDG_CODES`
of the code, its charge, DZ only for charged codes, the weight clipped to [0, 1],
D0 = 0: D0 is not part of the compressed payload, issue 21's field list) and
sorts each event's candidates by decreasing pT. The round trip is exact up to
float32 rounding of the scaling (tested).

Example:
    >>> from l1scout.tasks.scouting.encode import _example_events
    >>> sets = ParticleSets.from_events(_example_events(), k=3)
    >>> sets.features.shape, sets.mask.tolist()
    ((2, 3, 14), [[True, True, False], [False, False, False]])
    >>> off, cols = sets.to_columns()
    >>> off.tolist(), cols["pt"].round(3).tolist(), cols["pid"].tolist(), cols["d0"].tolist()
    ([0, 2, 2], [20.0, 3.0], [211, 22], [0.0, 0.0])
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from l1scout._jagged import event_index, offsets_from_counts
from l1scout._types import F32, I64, B
from l1scout.errors import ConfigError, DataFormatError
from l1scout.io.ragged import top_k
from l1scout.tasks.compress._columns import CHARGE_OF_CODE
from l1scout.tasks.scouting.events import StreamEvents
from l1scout.tasks.scouting.words import PDG_CODES, puppi_code

__all__ = [
    "ETA_SCALE",
    "FEATURE_NAMES",
    "LOG_PT_OFFSET",
    "N_CODES",
    "N_FEATURES",
    "Z0_SCALE_MM",
    "ParticleSets",
    "with_particles",
]

#: ln(pT / GeV) offset of the ``log_pt`` feature (ln 7.4 GeV: pileup-200 sets start at about 4 GeV).
LOG_PT_OFFSET = 2.0
#: eta scale of the ``eta`` feature (the PUPPI candidates reach |eta| = 5).
ETA_SCALE = 2.5
#: DZ scale (mm) of the ``z0`` feature (the luminous region is about 50 mm long).
Z0_SCALE_MM = 100.0
#: The 3-bit particle codes.
N_CODES = 8
#: The features of a slot, in order (module docstring).
FEATURE_NAMES: tuple[str, ...] = (
    "log_pt",
    "eta",
    "cos_phi",
    "sin_phi",
    "z0",
    "puppi_w",
    *(f"code{c}" for c in range(N_CODES)),
)
N_FEATURES = len(FEATURE_NAMES)
#: The continuous features come first; the code one-hot starts here.
CODE_START = 6
#: Largest ln(pT / GeV) a decoded slot may have (e^10 GeV = 22 TeV): keeps exp finite.
_MAX_LOG_PT = 10.0


@dataclass(frozen=True)
class ParticleSets:
    """Padded PUPPI candidate sets of ``n`` events (module docstring).

    Attributes:
        features: float32 ``[n, k, F]`` (:data:`FEATURE_NAMES`); zero in padded slots.
        mask: bool ``[n, k]``, True for real candidates (the first slots for
            sets made by :meth:`from_events`; any slots for decoded sets).
    """

    features: F32
    mask: B

    def __post_init__(self) -> None:
        f, m = self.features, self.mask
        if f.ndim != 3 or f.shape[2] != N_FEATURES or m.shape != f.shape[:2]:
            msg = (
                f"ParticleSets: expected features [n, k, {N_FEATURES}] and a mask [n, k], "
                f"got {f.shape} and {m.shape}"
            )
            raise DataFormatError(msg)

    @property
    def n_events(self) -> int:
        """Events held."""
        return int(self.features.shape[0])

    @property
    def k(self) -> int:
        """Slots per event."""
        return int(self.features.shape[1])

    def subset(self, idx: npt.ArrayLike) -> ParticleSets:
        """The events *idx* (integer indices or a bool mask)."""
        i = np.asarray(idx)
        return ParticleSets(self.features[i], self.mask[i])

    def packed(self) -> F32:
        """The encoders' (and their ONNX graphs') input ``[n, k * (F + 1)]``: per slot the features, then the mask flag."""
        n, k, _ = self.features.shape
        out = np.concatenate([self.features, self.mask[..., None].astype(np.float32)], axis=-1)
        return np.ascontiguousarray(out.reshape(n, k * (N_FEATURES + 1)), dtype=np.float32)

    @classmethod
    def from_events(cls, events: StreamEvents, k: int = 128) -> ParticleSets:
        """The *k* highest-pT PUPPI candidates of every event of *events*, scaled (module docstring).

        Raises:
            ConfigError: *k* < 1.
        """
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            msg = f"k: expected a positive number of slots, got {k!r}"
            raise ConfigError(msg)
        p = events.puppi
        idx, mask = top_k(events.puppi_offsets, p["pt"], k)
        n = events.n_events
        feats = np.zeros((n, k, N_FEATURES), dtype=np.float32)
        if len(p["pt"]) == 0:
            return cls(feats, mask)
        sel = idx[mask]
        pt = p["pt"][sel].astype(np.float64)
        phi = p["phi"][sel].astype(np.float64)
        q = p["charge"][sel]
        code = puppi_code(p["pid"][sel], q)
        rows = np.zeros((len(sel), N_FEATURES), dtype=np.float64)
        rows[:, 0] = np.log(np.maximum(pt, 1e-3)) - LOG_PT_OFFSET
        rows[:, 1] = p["eta"][sel] / ETA_SCALE
        rows[:, 2] = np.cos(phi)
        rows[:, 3] = np.sin(phi)
        rows[:, 4] = np.where(q != 0, p["dz"][sel], 0.0) / Z0_SCALE_MM
        rows[:, 5] = np.clip(p["puppi_w"][sel], 0.0, 1.0)
        rows[np.arange(len(sel)), CODE_START + code.astype(np.int64)] = 1.0
        feats[mask] = rows
        return cls(feats, mask)

    def to_columns(self) -> tuple[I64, dict[str, np.ndarray]]:
        """The real slots as :class:`StreamEvents` PUPPI offsets and columns, each event by decreasing pT.

        The slots' features need not be one-hot or unit (cos, sin): the code is
        the largest code entry, phi the angle of (cos, sin).
        """
        counts = self.mask.sum(axis=1)
        offsets = offsets_from_counts(counts)
        rows = self.features[self.mask].astype(np.float64)
        ev = event_index(offsets)
        log_pt = np.minimum(rows[:, 0], _MAX_LOG_PT)
        order = np.lexsort((-log_pt, ev))  # by event, then decreasing pT
        rows, log_pt = rows[order], log_pt[order]
        code = np.argmax(rows[:, CODE_START:], axis=1)
        charge = CHARGE_OF_CODE[code]
        cols: dict[str, np.ndarray] = {
            "pt": np.exp(log_pt + LOG_PT_OFFSET).astype(np.float32),
            "eta": (rows[:, 1] * ETA_SCALE).astype(np.float32),
            "phi": np.arctan2(rows[:, 3], rows[:, 2]).astype(np.float32),
            "pid": np.asarray(PDG_CODES, dtype=np.int32)[code],
            "charge": charge,
            "dz": np.where(charge != 0, rows[:, 4] * Z0_SCALE_MM, 0.0).astype(np.float32),
            "d0": np.zeros(len(rows), dtype=np.float32),
            "puppi_w": np.clip(rows[:, 5], 0.0, 1.0).astype(np.float32),
        }
        return offsets, cols


def with_particles(events: StreamEvents, sets: ParticleSets) -> StreamEvents:
    """*events* with its PUPPI candidates replaced by those of *sets* (everything else kept).

    Raises:
        DataFormatError: *sets* holds a different number of events.
    """
    if sets.n_events != events.n_events:
        msg = f"particle sets: {sets.n_events} events, expected {events.n_events}"
        raise DataFormatError(msg)
    offsets, cols = sets.to_columns()
    return dataclasses.replace(events, puppi_offsets=offsets, puppi=cols)
