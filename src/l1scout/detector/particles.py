"""The generated particles of a batch of events, as the detector simulation reads them.

:class:`GenParticles` holds the ``Gen_Part_*`` columns of a batch (flat arrays
plus per-event offsets), in float64, with the four-momentum derived once. It is
built from the columns :func:`l1scout.generate.event.assemble_columns` returns
or from a file's columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from l1scout._jagged import PtEtaPhiBatch
from l1scout._types import F64, I64
from l1scout.errors import DataFormatError

__all__ = ["INVISIBLE_PIDS", "GenParticles"]


#: Particles no detector sees: neutrinos, the lightest neutralino, gravitino,
#: hidden-valley / dark-sector states (Pythia 49xxxxx), heavy neutral leptons.
INVISIBLE_PIDS = frozenset({12, 14, 16, 18, 1000022, 1000039, 9900012, 9900014, 9900016})

_NEEDED = ("PID", "Status", "PT", "Eta", "Phi", "Mass", "Charge", "IsPU", "X", "Y", "Z", "T")


@dataclass(frozen=True)
class GenParticles(PtEtaPhiBatch):
    """Generated particles of a batch: flat arrays over all events plus offsets.

    Momenta in GeV, positions in mm, times in s. ``index`` is each particle's
    position in its event's ``Gen_Part`` list.
    """

    offsets: I64
    pid: npt.NDArray[np.int32]
    status: npt.NDArray[np.int8]
    pt: F64
    eta: F64
    phi: F64
    mass: F64
    charge: npt.NDArray[np.int8]
    is_pu: npt.NDArray[np.int8]
    x: F64
    y: F64
    z: F64
    t: F64
    vertex_index: npt.NDArray[np.int32]

    @classmethod
    def from_columns(
        cls, cols: Mapping[str, tuple[npt.NDArray[Any], npt.NDArray[Any]]]
    ) -> GenParticles:
        """Build from ``Gen_Part_*`` (offsets, values) columns of one batch."""
        missing = [f"Gen_Part_{n}" for n in _NEEDED if f"Gen_Part_{n}" not in cols]
        if missing:
            msg = f"generator columns missing for the detector simulation: {', '.join(missing)}"
            raise DataFormatError(msg)
        offsets = np.asarray(cols["Gen_Part_PT"][0], dtype=np.int64)

        def get(name: str, dtype: npt.DTypeLike) -> npt.NDArray[Any]:
            return np.asarray(cols[f"Gen_Part_{name}"][1], dtype=dtype)

        vidx = (
            get("VertexIndex", np.int32)
            if "Gen_Part_VertexIndex" in cols
            else np.zeros(int(offsets[-1]), np.int32)
        )
        return cls(
            offsets=offsets,
            pid=get("PID", np.int32),
            status=get("Status", np.int8),
            pt=get("PT", np.float64),
            eta=get("Eta", np.float64),
            phi=get("Phi", np.float64),
            mass=get("Mass", np.float64),
            charge=get("Charge", np.int8),
            is_pu=get("IsPU", np.int8),
            x=get("X", np.float64),
            y=get("Y", np.float64),
            z=get("Z", np.float64),
            t=get("T", np.float64),
            vertex_index=vidx,
        )

    @cached_property
    def index(self) -> I64:
        """Local index of every particle within its event."""
        return np.arange(len(self.pt), dtype=np.int64) - self.offsets[self.event]

    @cached_property
    def energy(self) -> F64:
        """Energy (GeV)."""
        return np.sqrt(self.px**2 + self.py**2 + self.pz**2 + self.mass**2)

    @cached_property
    def hard(self) -> I64:
        """Global indices of the particles of the hard collision (``IsPU`` 0)."""
        return np.flatnonzero(self.is_pu == 0)

    @cached_property
    def visible(self) -> npt.NDArray[np.bool_]:
        """Final-state particles a detector can see (not in :data:`INVISIBLE_PIDS`)."""
        apid = np.abs(self.pid)
        invisible = np.isin(apid, np.fromiter(INVISIBLE_PIDS, dtype=np.int64)) | (
            (apid >= 4_900_000) & (apid < 5_000_000)
        )
        return np.asarray((self.status == 1) & ~invisible, dtype=np.bool_)
